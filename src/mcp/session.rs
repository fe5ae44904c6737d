//! MCP sessions, as the gateway holds them: each `Mcp-Session-Id` is bound to
//! the client identity that created it (rmcp treats the id as a bearer secret;
//! here another client presenting it gets 404, as if it did not exist), the
//! number of sessions is capped per identity and in total, and a session idle
//! for `mcp.session_idle_timeout` is closed in rmcp too, so its memory returns.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, StatusCode};

use crate::denial::{Denial, Reason};

/// The session header of the streamable HTTP transport.
pub const SESSION_HEADER: http::HeaderName = crate::mcp::header_names::SESSION_ID;

/// The caps and the idle time, from `[mcp]`.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Sessions held at once, all identities together.
    pub max_total: usize,
    /// Sessions one identity may hold at once.
    pub max_per_client: usize,
    /// Unused this long, a session is closed.
    pub idle: Duration,
}

/// A live session: who owns it, when it was last used, and the JSON-RPC ids
/// of its requests in flight.
struct Owned {
    identity: String,
    last_used: Instant,
    in_flight: HashSet<String>,
}

/// The sessions and the slots reserved for sessions being created.
#[derive(Default)]
struct Table {
    sessions: HashMap<String, Owned>,
    /// Identity → sessions being created right now (an `initialize` in flight),
    /// counted against the caps so that parallel requests cannot overshoot them.
    pending: HashMap<String, usize>,
}

impl Table {
    fn held_by(&self, identity: &str) -> usize {
        let pending = self.pending.get(identity).copied().unwrap_or(0);
        pending
            + self
                .sessions
                .values()
                .filter(|o| o.identity == identity)
                .count()
    }

    fn total(&self) -> usize {
        self.sessions.len() + self.pending.values().sum::<usize>()
    }
}

/// The owner of every live session, and the caps.
pub struct SessionOwners {
    table: Mutex<Table>,
    limits: SessionLimits,
}

/// What to do with a request, given its session header.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// No session yet (e.g. `initialize`), or the caller owns it.
    Proceed,
    /// Unknown session, or another client's: answer 404.
    NotFound,
}

/// A place held for a session being created; released when dropped (after
/// [`SessionOwners::record`] has bound the new id, or when creation failed).
pub struct SessionSlot<'a> {
    owners: &'a SessionOwners,
    identity: String,
}

impl Drop for SessionSlot<'_> {
    fn drop(&mut self) {
        let mut table = self.owners.lock();
        if let Some(count) = table.pending.get_mut(&self.identity) {
            *count -= 1;
            if *count == 0 {
                table.pending.remove(&self.identity);
            }
        }
    }
}

/// A request id in flight in a session; released when dropped (when its
/// response has been sent, or abandoned).
pub struct RequestInFlight {
    owners: Arc<SessionOwners>,
    session: String,
    id: String,
}

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        let mut table = self.owners.lock();
        if let Some(owned) = table.sessions.get_mut(&self.session) {
            owned.in_flight.remove(&self.id);
            owned.last_used = Instant::now();
        }
    }
}

impl SessionOwners {
    /// An empty table with these caps.
    pub fn new(limits: SessionLimits) -> SessionOwners {
        SessionOwners {
            table: Mutex::new(Table::default()),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds a place for a new session of `identity`, or refuses past a cap.
    pub fn reserve(&self, identity: &str) -> Result<SessionSlot<'_>, Denial> {
        let mut table = self.lock();
        if table.held_by(identity) >= self.limits.max_per_client {
            return Err(
                Denial::new(Reason::TooManySessionsForClient).with_detail(format!(
                    "{} sessions held; end one (DELETE) or let one expire",
                    self.limits.max_per_client
                )),
            );
        }
        if table.total() >= self.limits.max_total {
            return Err(Denial::new(Reason::TooManySessions)
                .with_detail(format!("{} sessions held", self.limits.max_total)));
        }
        *table.pending.entry(identity.to_owned()).or_default() += 1;
        Ok(SessionSlot {
            owners: self,
            identity: identity.to_owned(),
        })
    }

    /// Marks request `id` as in flight in `session`, or refuses it when a
    /// request with the same id is: rmcp matches answers to requests by id, so
    /// one of the two would never be answered and would hold its connection.
    pub fn begin_request(
        self: &Arc<Self>,
        session: &str,
        id: &serde_json::Value,
    ) -> Result<RequestInFlight, Denial> {
        let id = id.to_string();
        let mut table = self.lock();
        if let Some(owned) = table.sessions.get_mut(session)
            && !owned.in_flight.insert(id.clone())
        {
            return Err(Denial::new(Reason::DuplicateRequestId)
                .with_detail(id.chars().take(64).collect::<String>()));
        }
        Ok(RequestInFlight {
            owners: Arc::clone(self),
            session: session.to_owned(),
            id,
        })
    }

    /// Checks the session a request names against the identity making it.
    pub fn check(&self, session: Option<&HeaderValue>, identity: &str) -> SessionCheck {
        let Some(session) = session else {
            return SessionCheck::Proceed;
        };
        let Ok(session) = session.to_str() else {
            return SessionCheck::NotFound;
        };
        let mut table = self.lock();
        match table.sessions.get_mut(session) {
            Some(owned) if owned.identity == identity => {
                owned.last_used = Instant::now();
                SessionCheck::Proceed
            }
            _ => SessionCheck::NotFound,
        }
    }

    /// Records the outcome of a request: a new session is bound to `identity`;
    /// a successful DELETE ends the binding. A session issued for a request
    /// that held no [`SessionSlot`] (`reserved` false) is not bound: its id is
    /// returned for the caller to close in rmcp and refuse. The caps are
    /// thereby enforced on every session rmcp makes, whatever the gateway's
    /// own reading of the request concluded.
    pub fn record(
        &self,
        method: &Method,
        requested: Option<&HeaderValue>,
        status: StatusCode,
        issued: Option<&HeaderValue>,
        identity: &str,
        reserved: bool,
    ) -> Result<(), String> {
        let mut table = self.lock();
        if requested.is_none()
            && let Some(new) = issued.and_then(|v| v.to_str().ok())
        {
            if !reserved {
                return Err(new.to_owned());
            }
            let owned = Owned {
                identity: identity.to_owned(),
                last_used: Instant::now(),
                in_flight: HashSet::new(),
            };
            table.sessions.insert(new.to_owned(), owned);
            crate::telemetry::sessions_open(table.sessions.len());
        }
        if method == Method::DELETE
            && status.is_success()
            && let Some(old) = requested.and_then(|v| v.to_str().ok())
        {
            table.sessions.remove(old);
            crate::telemetry::sessions_open(table.sessions.len());
        }
        Ok(())
    }

    /// Removes the sessions idle longer than the limit and returns their ids,
    /// for the caller to close in rmcp.
    pub fn take_expired(&self) -> Vec<String> {
        let mut table = self.lock();
        let idle = self.limits.idle;
        let expired: Vec<String> = table
            .sessions
            .iter()
            .filter(|(_, o)| o.in_flight.is_empty() && o.last_used.elapsed() >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            table.sessions.remove(id);
        }
        crate::telemetry::sessions_open(table.sessions.len());
        expired
    }

    /// Sessions held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{
        HeaderValue, Method, Reason, SessionCheck, SessionLimits, SessionOwners, StatusCode,
    };
    use std::time::Duration;

    fn owners(max_total: usize, max_per_client: usize, idle: Duration) -> SessionOwners {
        SessionOwners::new(SessionLimits {
            max_total,
            max_per_client,
            idle,
        })
    }

    #[test]
    fn only_the_creator_may_use_a_session() {
        let owners = owners(10, 5, Duration::from_secs(300));
        let id = HeaderValue::from_static("s-1");
        owners
            .record(
                &Method::POST,
                None,
                StatusCode::OK,
                Some(&id),
                "alice",
                true,
            )
            .unwrap();
        assert_eq!(owners.check(Some(&id), "alice"), SessionCheck::Proceed);
        assert_eq!(owners.check(Some(&id), "bob"), SessionCheck::NotFound);
        assert_eq!(
            owners.check(Some(&HeaderValue::from_static("s-2")), "alice"),
            SessionCheck::NotFound
        );
        owners
            .record(
                &Method::DELETE,
                Some(&id),
                StatusCode::ACCEPTED,
                None,
                "alice",
                true,
            )
            .unwrap();
        assert_eq!(owners.check(Some(&id), "alice"), SessionCheck::NotFound);
    }

    #[test]
    fn caps_count_sessions_and_creations_in_flight() {
        let owners = owners(3, 2, Duration::from_secs(300));
        let first = owners.reserve("alice").unwrap();
        let second = owners.reserve("alice").unwrap();
        // Two creations in flight already fill alice's share.
        assert_eq!(
            owners.reserve("alice").err().map(|d| d.reason),
            Some(Reason::TooManySessionsForClient)
        );
        owners
            .record(
                &Method::POST,
                None,
                StatusCode::OK,
                Some(&HeaderValue::from_static("a1")),
                "alice",
                true,
            )
            .unwrap();
        drop(first);
        drop(second);
        let _bob = owners.reserve("bob").unwrap();
        let _bob2 = owners.reserve("bob").unwrap();
        assert_eq!(
            owners.reserve("carol").err().map(|d| d.reason),
            Some(Reason::TooManySessions)
        );
    }

    #[test]
    fn a_session_made_without_a_reserved_place_is_handed_back_unbound() {
        let owners = owners(10, 5, Duration::from_secs(300));
        let id = HeaderValue::from_static("sneaked");
        let refused = owners.record(
            &Method::POST,
            None,
            StatusCode::OK,
            Some(&id),
            "alice",
            false,
        );
        assert_eq!(refused, Err("sneaked".to_owned()));
        assert!(owners.is_empty());
        assert_eq!(owners.check(Some(&id), "alice"), SessionCheck::NotFound);
    }

    #[test]
    fn idle_sessions_expire_and_are_handed_back_for_closing() {
        let owners = owners(10, 5, Duration::from_millis(1));
        owners
            .record(
                &Method::POST,
                None,
                StatusCode::OK,
                Some(&HeaderValue::from_static("old")),
                "alice",
                true,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(owners.take_expired(), vec!["old".to_owned()]);
        assert!(owners.is_empty());
        assert_eq!(
            owners.check(Some(&HeaderValue::from_static("old")), "alice"),
            SessionCheck::NotFound
        );
    }
}
