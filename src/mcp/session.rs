//! Binds each `Mcp-Session-Id` to the client identity that created it. rmcp
//! treats the id as a bearer secret; here another client presenting it gets 404,
//! as if the session did not exist, so ids leak nothing across clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, StatusCode};

/// The session header of the streamable HTTP transport.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// How long an unused binding is kept; matches rmcp's session keep-alive, after
/// which rmcp has dropped the session too.
const IDLE_EXPIRY: Duration = Duration::from_secs(300);

/// The owner of every live session.
#[derive(Default)]
pub struct SessionOwners {
    /// Session id → (owner identity, last use).
    owners: Mutex<HashMap<String, (String, Instant)>>,
}

/// What to do with a request, given its session header.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// No session yet (e.g. `initialize`), or the caller owns it.
    Proceed,
    /// Unknown session, or another client's: answer 404.
    NotFound,
}

impl SessionOwners {
    /// Checks the session a request names against the identity making it.
    pub fn check(&self, session: Option<&HeaderValue>, identity: &str) -> SessionCheck {
        let Some(session) = session else {
            return SessionCheck::Proceed;
        };
        let Ok(session) = session.to_str() else {
            return SessionCheck::NotFound;
        };
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        match owners.get_mut(session) {
            Some((owner, last_used)) if owner == identity => {
                *last_used = Instant::now();
                SessionCheck::Proceed
            }
            _ => SessionCheck::NotFound,
        }
    }

    /// Records the outcome of a request: a new session is bound to `identity`;
    /// a successful DELETE ends the binding.
    pub fn record(
        &self,
        method: &Method,
        requested: Option<&HeaderValue>,
        status: StatusCode,
        issued: Option<&HeaderValue>,
        identity: &str,
    ) {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if requested.is_none()
            && let Some(new) = issued.and_then(|v| v.to_str().ok())
        {
            owners.retain(|_, (_, last)| last.elapsed() < IDLE_EXPIRY);
            owners.insert(new.to_owned(), (identity.to_owned(), Instant::now()));
        }
        if method == Method::DELETE
            && status.is_success()
            && let Some(old) = requested.and_then(|v| v.to_str().ok())
        {
            owners.remove(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HeaderValue, Method, SessionCheck, SessionOwners, StatusCode};

    #[test]
    fn only_the_creator_may_use_a_session() {
        let owners = SessionOwners::default();
        let id = HeaderValue::from_static("s-1");
        owners.record(&Method::POST, None, StatusCode::OK, Some(&id), "alice");
        assert_eq!(owners.check(Some(&id), "alice"), SessionCheck::Proceed);
        assert_eq!(owners.check(Some(&id), "bob"), SessionCheck::NotFound);
        assert_eq!(
            owners.check(Some(&HeaderValue::from_static("s-2")), "alice"),
            SessionCheck::NotFound
        );
        owners.record(
            &Method::DELETE,
            Some(&id),
            StatusCode::ACCEPTED,
            None,
            "alice",
        );
        assert_eq!(owners.check(Some(&id), "alice"), SessionCheck::NotFound);
    }
}
