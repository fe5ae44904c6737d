//! One Google API call with the failure handling a production service needs:
//! a timeout on every attempt, one token refresh when the API refuses the
//! access token, and retries of transient failures (429, 5xx, rate-limit 403s,
//! network errors, timeouts) with exponential backoff and jitter, honouring
//! `Retry-After`, bounded by a number of attempts and a total deadline.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use google_calendar3::CalendarHub;
use google_calendar3::common::{Delegate, Response, Result as ApiResult, Retry};
use serde_json::Value;

use crate::calendar::CalendarError;
use crate::calendar::google::auth::AccessTokens;
use crate::calendar::google::failure::{Failure, Target, classify};
use crate::calendar::google::http::{ApiClient, Connector};
use crate::calendar::retry::{RetryPolicy, backoff, retry_after};
use crate::telemetry::Backend;

/// What a failed reply said besides its body: google-calendar3 keeps only the
/// JSON, so this delegate notes `Retry-After` and lets the call fail; the
/// retry decision stays in [`Api::call`].
#[derive(Default)]
pub struct Hints {
    retry_after: Option<Duration>,
}

impl Delegate for Hints {
    fn http_failure(&mut self, response: &Response, _error: Option<&Value>) -> Retry {
        self.retry_after = retry_after(response.headers(), chrono::Utc::now());
        Retry::Abort
    }
}

/// One attempt of a call: the reply, and the hints its delegate collected.
pub type Attempt<T> = Pin<Box<dyn Future<Output = (ApiResult<(Response, T)>, Hints)> + Send>>;

/// The Calendar API as one account sees it.
pub struct Api {
    /// Account name, for messages.
    pub account: String,
    client: ApiClient,
    base_url: String,
    tokens: AccessTokens,
    policy: RetryPolicy,
}

impl Api {
    /// An API handle for `account`.
    pub fn new(
        account: &str,
        client: ApiClient,
        base_url: &str,
        tokens: AccessTokens,
        policy: RetryPolicy,
    ) -> Api {
        Api {
            account: account.to_owned(),
            client,
            base_url: base_url.to_owned(),
            tokens,
            policy,
        }
    }

    fn hub(&self, token: String) -> CalendarHub<Connector> {
        // A hub per attempt costs a clone of the pooled client; it lets the
        // token be chosen here (refreshed on a 401) instead of inside the hub.
        let mut hub = CalendarHub::new(self.client.clone(), token);
        hub.base_url(self.base_url.clone());
        hub
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry bounds are reached.
    pub async fn call<T, F>(&self, target: Target<'_>, attempt: F) -> Result<T, CalendarError>
    where
        F: Fn(CalendarHub<Connector>, Hints) -> Attempt<T>,
    {
        let started = Instant::now();
        let outcome = self.attempts(target, attempt, started).await;
        crate::telemetry::backend_call(Backend::Google, started.elapsed());
        outcome
    }

    async fn attempts<T, F>(
        &self,
        target: Target<'_>,
        attempt: F,
        started: Instant,
    ) -> Result<T, CalendarError>
    where
        F: Fn(CalendarHub<Connector>, Hints) -> Attempt<T>,
    {
        let mut tries = 0u32;
        let mut refreshed = false;
        let mut fresh_token = false;
        loop {
            tries += 1;
            let (failure, retry_after) = match self.tokens.token(fresh_token).await {
                Err(failure) => (failure, None),
                Ok(token) => {
                    let reply = tokio::time::timeout(
                        self.policy.timeout,
                        attempt(self.hub(token), Hints::default()),
                    )
                    .await;
                    match reply {
                        Ok((Ok((_, value)), _)) => return Ok(value),
                        Ok((Err(error), hints)) => (classify(&error, target), hints.retry_after),
                        Err(_) => (
                            Failure::Transient(format!(
                                "no reply within {}s",
                                self.policy.timeout.as_secs_f32()
                            )),
                            None,
                        ),
                    }
                }
            };
            fresh_token = false;
            let why = match failure {
                Failure::Final(error) => return Err(error),
                Failure::Unauthorized if !refreshed => {
                    // The token expired or was revoked early: one fresh token, not a retry.
                    refreshed = true;
                    fresh_token = true;
                    tries -= 1;
                    continue;
                }
                Failure::Unauthorized => {
                    return Err(CalendarError::Reauthorize(format!(
                        "Google refused a freshly issued access token of account `{}`: re-authorize the account",
                        self.account
                    )));
                }
                Failure::Transient(why) => why,
            };
            let delay = backoff(self.policy.base_delay, tries).max(retry_after.unwrap_or_default());
            let elapsed = started.elapsed();
            if tries >= self.policy.max_attempts || elapsed + delay > self.policy.deadline {
                tracing::warn!(account = %self.account, tries, %why, "Google Calendar call given up");
                return Err(CalendarError::Unavailable(format!(
                    "Google Calendar did not answer successfully: gave up after {tries} attempt(s) in {:.1}s (last: {why}); try again later",
                    elapsed.as_secs_f32()
                )));
            }
            crate::telemetry::backend_retry();
            tokio::time::sleep(delay).await;
        }
    }
}
