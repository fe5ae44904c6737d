//! The token's life as `connect` looks after it, in the background: its
//! expiry told on stderr when it is read and again shortly before it lapses;
//! a renewable token (`renewableUntil`) renewed at about two thirds of its
//! life at the gateway's renewal path, and the fresh token written to the
//! token file (atomically, 0600) so that the next start uses it too. A
//! refused renewal is not asked again for the same token; an unreachable
//! gateway is asked again with back-off until the token lapses.

use std::sync::Arc;
use std::time::Duration;

use crate::connect::clock::{describe, now};
use crate::connect::failure::{Failure, Setting};
use crate::connect::token_file::{Held, TokenFile};
use crate::connect::upstream::Upstream;

/// How often the token file is looked at between events.
const LOOK_EVERY: i64 = 30;
/// How long before expiry the last warning comes, at most.
const WARN_BEFORE: i64 = 600;

/// What happened to the token held.
#[derive(Default)]
struct Seen {
    /// The `jti` last described on stderr.
    described: Option<String>,
    /// The `jti` whose expiry warning was given.
    warned: Option<String>,
    /// The `jti` whose renewal was refused: not asked again.
    refused: Option<String>,
    /// Renewal tries in a row that did not reach the gateway.
    failures: u32,
}

/// When to renew `claims`: about two thirds into its life; `None` when it
/// may not be renewed (no limit, or the limit has passed).
pub fn renew_at(exp: i64, iat: Option<i64>, renewable_until: Option<i64>, now: i64) -> Option<i64> {
    let until = renewable_until?;
    if until <= now {
        return None;
    }
    let issued = iat.unwrap_or(now).min(exp);
    Some(issued + (exp - issued) * 2 / 3)
}

/// Looks after the token until the process ends.
pub async fn look_after(token: Arc<TokenFile>, upstream: Arc<Upstream>, setting: Setting) {
    let mut seen = Seen::default();
    loop {
        let wait = match token.current() {
            Ok(held) => step(&held, &token, &upstream, &setting, &mut seen).await,
            Err(why) => {
                tracing::warn!("{why}");
                LOOK_EVERY
            }
        };
        tokio::time::sleep(Duration::from_secs(wait.clamp(1, LOOK_EVERY) as u64)).await;
    }
}

/// One look at the held token; how many seconds until the next.
async fn step(
    held: &Held,
    file: &TokenFile,
    upstream: &Upstream,
    setting: &Setting,
    seen: &mut Seen,
) -> i64 {
    let claims = &held.claims;
    let jti = claims.jti.clone().unwrap_or_default();
    let now = now();
    if seen.described.as_ref() != Some(&jti) {
        let renewal = match claims.renewable_until {
            Some(until) => format!("renewed by connect until {}", describe(until)),
            None => "not renewable: replace the token file before then".to_owned(),
        };
        tracing::info!(jti = %jti, "token expires {}; {renewal}", describe(claims.exp));
        seen.described = Some(jti.clone());
        seen.failures = 0;
    }
    let renewal_due = renew_at(claims.exp, claims.iat, claims.renewable_until, now)
        .filter(|_| seen.refused.as_ref() != Some(&jti) && claims.exp > now);
    if let Some(at) = renewal_due
        && at <= now
    {
        return match renew(held, file, upstream).await {
            Ok(()) => 1,
            Err(failure) if failure.retryable() => {
                seen.failures += 1;
                let wait = (5i64 << seen.failures.min(6)).min(LOOK_EVERY);
                tracing::warn!(
                    reason = failure.label(),
                    "renewal failed, trying again in {wait}s: {}",
                    failure.describe(setting)
                );
                wait
            }
            Err(failure) => {
                tracing::warn!(
                    reason = failure.label(),
                    "renewal refused: {}",
                    failure.describe(setting)
                );
                seen.refused = Some(jti);
                1
            }
        };
    }
    let warn_at = claims.exp - WARN_BEFORE.min((claims.exp - claims.iat.unwrap_or(claims.exp)) / 6);
    if now >= warn_at && seen.warned.as_ref() != Some(&jti) {
        if claims.exp > now {
            tracing::warn!(jti = %jti, file = %file.path().display(), "the token expires {}: write a fresh one to the token file", describe(claims.exp));
        } else {
            tracing::warn!(jti = %jti, file = %file.path().display(), "the token expired {}: calls are refused until the token file holds a fresh one", describe(claims.exp));
        }
        seen.warned = Some(jti);
    }
    let next_event = [renewal_due, Some(warn_at), Some(claims.exp)]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .min()
        .unwrap_or(now + LOOK_EVERY);
    next_event - now
}

/// Renews the held token and writes the fresh one to the file.
async fn renew(held: &Held, file: &TokenFile, upstream: &Upstream) -> Result<(), Failure> {
    let answer = upstream.renew(&held.token).await?;
    let token = answer["token"]
        .as_str()
        .ok_or_else(|| Failure::Garbled("the renewal answer holds no token".into()))?;
    if let Err(e) = file.replace(token) {
        // The fresh token cannot be kept: the old one serves until it lapses.
        return Err(Failure::Token(format!(
            "cannot write the renewed token to {}: {e}",
            file.path().display()
        )));
    }
    tracing::info!(
        jti = answer["jti"].as_str().unwrap_or("-"),
        "token renewed: expires {}, renewable until {}",
        answer["expiresAt"].as_str().unwrap_or("-"),
        answer["renewableUntil"].as_str().unwrap_or("-")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::renew_at;

    #[test]
    fn renewal_comes_two_thirds_into_the_life_and_only_within_the_limit() {
        assert_eq!(renew_at(160, Some(100), Some(1000), 110), Some(140));
        assert_eq!(renew_at(160, Some(100), None, 110), None);
        assert_eq!(renew_at(160, Some(100), Some(100), 110), None);
    }
}
