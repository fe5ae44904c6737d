//! What one authenticated connection is doing, so that it cannot be held open
//! for free: requests in flight (a request lasts until its response body has
//! been sent, SSE streams included), and when it was last busy. The server cuts
//! a connection that sends no first request within `listen.first_request_timeout`
//! of its handshake, or that stays idle for `listen.idle_timeout` — whatever the
//! protocol, HTTP/2 PINGs included.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::denial::{Denial, Reason};

/// In-flight requests and the last change, shared by a connection's requests.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Wakes the connection's loop: when the last request in flight ends (the
    /// idle deadline counts from then, not from whenever the loop looked
    /// next), and when the connection must close.
    changed: tokio::sync::Notify,
    /// Set when the connection must end gracefully: its address was banned
    /// while it was open, and an HTTP/2 client would otherwise keep it.
    closing: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    /// Whether any request has started on this connection.
    served: bool,
    /// When the connection last became idle (or was established).
    idle_since: Instant,
}

/// Held for as long as one request (and its response body) is in flight.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.0.changed.notify_one();
        }
    }
}

/// When to look again, or why to cut the connection now.
#[derive(Debug, PartialEq, Eq)]
pub enum IdleVerdict {
    /// Nothing to do before `deadline`.
    WaitUntil {
        /// The first-request or idle deadline.
        deadline: Instant,
        /// When the last request ended (`None` before the first): an idle
        /// HTTP/1.1 connection is set aside from then (`transport::serving`).
        idle_after_request_since: Option<Instant>,
    },
    /// Busy: check again after the idle period.
    Busy,
    /// Cut the connection, for this reason.
    Cut(Denial),
}

impl Activity {
    /// A connection that has just finished its handshake.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                served: false,
                idle_since: Instant::now(),
            }),
            changed: tokio::sync::Notify::new(),
            closing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Resolves when the last request in flight has ended or [`Activity::close`]
    /// was called (at once if either happened since the previous call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Asks the connection to end gracefully (no line: whoever asks logged why).
    pub fn close(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Whether [`Activity::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a request as started; it ends when the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.in_flight += 1;
        state.served = true;
        InFlight(Arc::clone(self))
    }

    /// Whether any request has started on this connection.
    pub fn has_served(&self) -> bool {
        self.lock().served
    }

    /// Whether the connection must be cut at `now`, given the two deadlines.
    pub fn verdict(&self, now: Instant, first_request: Duration, idle: Duration) -> IdleVerdict {
        let state = self.lock();
        if state.in_flight > 0 {
            return IdleVerdict::Busy;
        }
        let (limit, reason) = if state.served {
            (idle, Reason::IdleTimeout)
        } else {
            (first_request, Reason::FirstRequestTimeout)
        };
        let deadline = state.idle_since + limit;
        if now >= deadline {
            let detail = format!("nothing for {}s", limit.as_secs_f32());
            IdleVerdict::Cut(Denial::new(reason).with_detail(detail))
        } else {
            IdleVerdict::WaitUntil {
                deadline,
                idle_after_request_since: state.served.then_some(state.idle_since),
            }
        }
    }
}

/// A response body that holds a guard (its request counted as in flight, say)
/// until the body ends or is dropped.
pub struct Tracked<G> {
    inner: BoxBody<Bytes, Infallible>,
    _guard: G,
}

impl<G: Send + Sync + Unpin + 'static> Tracked<G> {
    /// Wraps `inner`, holding `guard` until the body is dropped.
    pub fn boxed(inner: BoxBody<Bytes, Infallible>, guard: G) -> BoxBody<Bytes, Infallible> {
        Tracked {
            inner,
            _guard: guard,
        }
        .boxed()
    }
}

impl<G: Unpin> Body for Tracked<G> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::{Activity, IdleVerdict, Instant, Reason};
    use std::time::Duration;

    #[test]
    fn first_request_then_idle_deadlines() {
        let (first, idle) = (Duration::from_secs(10), Duration::from_secs(60));
        let activity = Activity::new();
        let start = Instant::now();
        assert!(matches!(
            activity.verdict(start, first, idle),
            IdleVerdict::WaitUntil { .. }
        ));
        match activity.verdict(start + Duration::from_secs(11), first, idle) {
            IdleVerdict::Cut(denial) => assert_eq!(denial.reason, Reason::FirstRequestTimeout),
            other => panic!("{other:?}"),
        }
        let request = activity.begin();
        assert_eq!(
            activity.verdict(start + Duration::from_secs(500), first, idle),
            IdleVerdict::Busy
        );
        drop(request);
        let after = Instant::now();
        assert!(matches!(
            activity.verdict(after + Duration::from_secs(30), first, idle),
            IdleVerdict::WaitUntil { .. }
        ));
        match activity.verdict(after + Duration::from_secs(61), first, idle) {
            IdleVerdict::Cut(denial) => assert_eq!(denial.reason, Reason::IdleTimeout),
            other => panic!("{other:?}"),
        }
    }
}
