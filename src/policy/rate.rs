//! Rate limits (token buckets, by `governor`): requests per client address,
//! and tool calls per client identity with separate budgets for reads and
//! writes. Over a limit: 429 with `Retry-After` (a JSON-RPC error for a tool
//! call), one `stage=rate` line, a metric. Buckets of keys gone quiet are
//! dropped by [`RateLimits::upkeep`], so the tables stay bounded.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use crate::config::RateBudgets;
use crate::denial::{Denial, Reason};
use crate::policy::address::ClientIp;

/// The buckets of one set of budgets.
struct Buckets {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    reads: Option<DefaultKeyedRateLimiter<String>>,
    writes: Option<DefaultKeyedRateLimiter<String>>,
}

/// The limits in force; a reload swaps in new budgets (with fresh buckets).
pub struct RateLimits {
    buckets: ArcSwap<Buckets>,
    clock: DefaultClock,
}

impl Buckets {
    fn new(budgets: RateBudgets) -> Buckets {
        Buckets {
            per_address: budgets
                .requests_per_second_per_address
                .map(|n| RateLimiter::keyed(Quota::per_second(n))),
            reads: budgets
                .reads_per_minute_per_client
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            writes: budgets
                .writes_per_minute_per_client
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }
}

fn limited(what: &str, wait: Duration) -> Denial {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Denial::new(Reason::RateLimited)
        .with_detail(format!("{what}; retry after {}s", seconds.max(1)))
        .with_retry_after(Duration::from_secs(seconds.max(1)))
}

impl RateLimits {
    /// Buckets for `budgets`.
    pub fn new(budgets: RateBudgets) -> RateLimits {
        RateLimits {
            buckets: ArcSwap::from_pointee(Buckets::new(budgets)),
            clock: DefaultClock::default(),
        }
    }

    /// Puts `budgets` in force (a reload), with fresh buckets.
    pub fn replace(&self, budgets: RateBudgets) {
        self.buckets.store(Arc::new(Buckets::new(budgets)));
    }

    /// One HTTP request from `ip`.
    pub fn check_request(&self, client: ClientIp) -> Result<(), Denial> {
        let ip = client.ip();
        match &self.buckets.load().per_address {
            Some(limiter) => limiter.check_key(&ip).map_err(|not_until| {
                limited(
                    "requests from this address",
                    not_until.wait_time_from(self.clock.now()),
                )
            }),
            None => Ok(()),
        }
    }

    /// One tool call by `identity`; `write` picks the budget.
    pub fn check_tool(&self, identity: &str, write: bool) -> Result<(), Denial> {
        let buckets = self.buckets.load();
        let (limiter, what) = match write {
            true => (&buckets.writes, "write tool calls by this client"),
            false => (&buckets.reads, "read tool calls by this client"),
        };
        match limiter {
            Some(limiter) => limiter
                .check_key(&identity.to_owned())
                .map_err(|not_until| limited(what, not_until.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    /// Drops the buckets of keys that have refilled, every minute, until `shutdown`.
    pub async fn upkeep(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(60)) => {}
                () = shutdown.cancelled() => return,
            }
            let buckets = self.buckets.load();
            if let Some(limiter) = &buckets.per_address {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            for limiter in [&buckets.reads, &buckets.writes].into_iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::{ClientIp, RateBudgets, RateLimits, Reason};

    #[test]
    fn each_key_and_each_budget_has_its_own_bucket() {
        let limits = RateLimits::new(RateBudgets {
            requests_per_second_per_address: NonZeroU32::new(2),
            reads_per_minute_per_client: NonZeroU32::new(3),
            writes_per_minute_per_client: NonZeroU32::new(1),
        });
        let client = |text: &str| ClientIp::canonical(text.parse().unwrap());
        let (a, b) = (client("10.0.0.1"), client("10.0.0.2"));
        assert!(limits.check_request(a).is_ok() && limits.check_request(a).is_ok());
        let refused = limits.check_request(a).unwrap_err();
        assert_eq!(refused.reason, Reason::RateLimited);
        assert!(refused.retry_after.is_some());
        assert!(
            limits.check_request(b).is_ok(),
            "another address has its own bucket"
        );
        assert!(limits.check_tool("alice", true).is_ok());
        assert!(
            limits.check_tool("alice", true).is_err(),
            "one write a minute"
        );
        assert!(
            limits.check_tool("alice", false).is_ok(),
            "reads have their own budget"
        );
        assert!(limits.check_tool("bob", true).is_ok());
    }
}
