//! The `[rate_limits]` and `[bans]` tables: how much one address or one client
//! may ask, and when an address is banned in-process.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Problem, duration};

/// The budgets, from `[rate_limits]`; `None` switches that limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBudgets {
    /// HTTP requests per second from one address (also its burst).
    pub requests_per_second_per_address: Option<NonZeroU32>,
    /// Read tool calls per minute by one identity (also its burst).
    pub reads_per_minute_per_client: Option<NonZeroU32>,
    /// Write tool calls per minute by one identity (also its burst).
    pub writes_per_minute_per_client: Option<NonZeroU32>,
}

/// The ban rule, from `[bans]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BanRule {
    /// Ban-worthy refusals that ban an address...
    pub after: usize,
    /// ...when they fall within this window.
    pub within: Duration,
    /// How long a ban lasts.
    pub ban_for: Duration,
    /// Most addresses tracked at once (memory bound).
    pub max_addresses: usize,
    /// Where the replicas publish their bans to each other (`bans.shared_dir`).
    pub shared_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRateLimits {
    requests_per_second_per_address: u32,
    reads_per_minute_per_client: u32,
    writes_per_minute_per_client: u32,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        RawRateLimits {
            requests_per_second_per_address: 50,
            reads_per_minute_per_client: 600,
            writes_per_minute_per_client: 120,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawBans {
    enabled: bool,
    shared_dir: Option<std::path::PathBuf>,
    after: usize,
    within: String,
    ban_for: String,
    max_addresses: usize,
}

impl Default for RawBans {
    fn default() -> Self {
        RawBans {
            enabled: false,
            shared_dir: None,
            after: 5,
            within: "10m".into(),
            ban_for: "1h".into(),
            max_addresses: 10_000,
        }
    }
}

pub(super) fn rate_limits(raw: RawRateLimits) -> RateBudgets {
    // 0 switches a limit off.
    RateBudgets {
        requests_per_second_per_address: NonZeroU32::new(raw.requests_per_second_per_address),
        reads_per_minute_per_client: NonZeroU32::new(raw.reads_per_minute_per_client),
        writes_per_minute_per_client: NonZeroU32::new(raw.writes_per_minute_per_client),
    }
}

pub(super) fn bans(
    raw: RawBans,
    base: &std::path::Path,
    problems: &mut Vec<Problem>,
) -> Option<BanRule> {
    let shared_dir = raw.shared_dir.map(|dir| base.join(dir));
    if let Some(dir) = &shared_dir
        && !dir.is_dir()
    {
        problems.push(Problem::new(
            "bans.shared_dir",
            format!("{} is not a folder", dir.display()),
        ));
    }
    let within = duration("bans.within", &raw.within, problems);
    let ban_for = duration("bans.ban_for", &raw.ban_for, problems);
    if raw.after == 0 {
        problems.push(Problem::new("bans.after", "must be at least 1"));
    }
    if raw.max_addresses == 0 {
        problems.push(Problem::new("bans.max_addresses", "must be at least 1"));
    }
    raw.enabled.then_some(BanRule {
        after: raw.after.max(1),
        within,
        ban_for,
        max_addresses: raw.max_addresses.max(1),
        shared_dir,
    })
}
