//! The serving threads: one per core, each with a single-threaded tokio
//! runtime of its own that accepts from the one listening socket and runs
//! the connections it accepted to their end (nginx's worker model).
//!
//! Why not tokio's multi-thread runtime: its second worker wakes only when
//! two tasks are ready at once, so clients that send one request at a time
//! per connection kept one core busy and the other idle (bench/README.md
//! measures it). Here every thread waits on the socket in its own epoll:
//! whichever is idle takes the next connection, and a busy thread takes
//! none.
//!
//! Why one socket and not one per thread with `SO_REUSEPORT`: with that
//! option, a second process of the same user could bind the same port and
//! silently take a share of the connections (a stale instance, say).
//!
//! What stays global, whichever thread accepts: the connection cap (one
//! semaphore), the caps per address (in [`Shared`]), the policy in force,
//! and the drain (one task tracker). A connection stays on the thread that
//! accepted it; store calls run on that runtime's blocking pool, so a long
//! one does not hold the thread.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::transport::connection::{accept, serve_connection};
use crate::transport::shared::Shared;

/// How long, once the drain is over, a runtime's blocking work (a store or
/// file call) may take before the runtime is dropped anyway.
const STRAGGLERS: Duration = Duration::from_secs(1);

/// What every serving thread shares.
#[derive(Clone)]
struct Common {
    shared: Arc<Shared>,
    /// The gateway's shutdown: connections finish their requests and close.
    shutdown: CancellationToken,
    /// Stops the accept loops: the shutdown, or the gateway's owner gone.
    stop_accepting: CancellationToken,
    /// Told once the drain is over: each thread then drops its runtime.
    released: CancellationToken,
    /// One slot per open connection (`listen.max_connections`).
    slots: Arc<Semaphore>,
    /// Every connection task on every thread, for the drain.
    connections: TaskTracker,
}

/// How many serving threads: one per core this process may use (the
/// cgroup's CPU quota counts).
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Starts the serving threads on `listener`, named `serve-<port>-<n>` (as
/// `top -H` shows them). The task returned finishes once
/// `shutdown` has stopped every accept loop and the connections have
/// drained (or `listen.drain_timeout` has cut them). Dropping that task
/// (the runtime that started the gateway ending) stops the threads too.
pub(crate) async fn start(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> io::Result<JoinHandle<()>> {
    let listener = listener.into_std()?;
    let port = listener.local_addr()?.port();
    let common = Common {
        slots: Arc::new(Semaphore::new(shared.config.listen.max_connections)),
        shared,
        stop_accepting: shutdown.child_token(),
        shutdown,
        released: CancellationToken::new(),
        connections: TaskTracker::new(),
    };
    // Stops whatever has started if a later thread cannot.
    let unwind = (
        common.stop_accepting.clone().drop_guard(),
        common.released.clone().drop_guard(),
    );
    // Closed once every accept loop has returned.
    let (loop_running, mut loops_ended) = mpsc::channel::<()>(1);
    let mut threads = Vec::new();
    for index in 0..thread_count() {
        let socket = listener.try_clone()?;
        let (ready, started) = oneshot::channel();
        let common = common.clone();
        let loop_running = loop_running.clone();
        let thread = std::thread::Builder::new()
            // At most 15 bytes (Linux's limit): `serve-65535-127`.
            .name(format!("serve-{port}-{index}"))
            .spawn(move || serve_on_this_thread(socket, common, loop_running, ready))?;
        started
            .await
            .map_err(|_| io::Error::other("a serving thread ended while starting"))??;
        threads.push(thread);
    }
    drop(loop_running);
    Ok(tokio::spawn(async move {
        let _unwind = unwind;
        let _ = loops_ended.recv().await;
        common.connections.close();
        let drain = common.shared.config.listen.drain_timeout;
        if tokio::time::timeout(drain, common.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the drain timeout; closing them");
        }
        common.released.cancel();
        let _ = tokio::task::spawn_blocking(move || join(threads)).await;
    }))
}

/// One serving thread: its runtime, its registration of the socket, its
/// accept loop; then it waits for the drain to end and drops the runtime.
fn serve_on_this_thread(
    socket: std::net::TcpListener,
    common: Common,
    loop_running: mpsc::Sender<()>,
    ready: oneshot::Sender<io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    runtime.block_on(async {
        let listener = match TcpListener::from_std(socket) {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        accept_loop(&listener, &common).await;
        drop(listener);
        drop(loop_running);
        common.released.cancelled().await;
    });
    shut_down(runtime);
}

/// Takes a connection slot, accepts, and spawns the connection on this
/// thread's runtime, until the accept loops are told to stop.
async fn accept_loop(listener: &TcpListener, common: &Common) {
    loop {
        // Take a connection slot before accepting, so excess clients wait in the
        // kernel backlog instead of costing a task and a handshake each.
        let permit = tokio::select! {
            permit = Arc::clone(&common.slots).acquire_owned() => permit.expect("semaphore is never closed"),
            () = common.stop_accepting.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(listener) => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = common.stop_accepting.cancelled() => break,
        };
        let shared = Arc::clone(&common.shared);
        let shutdown = common.shutdown.clone();
        common.connections.spawn(async move {
            serve_connection(stream, peer, shared, shutdown).await;
            drop(permit);
        });
    }
}

/// Drops a runtime once the drain is over (with any connection the drain
/// timeout cut). A task on its blocking pool (a store call waiting on a
/// lock, say) would keep the runtime, and the process, alive for as long as
/// it runs: dropping the runtime waits for it. It is cut instead, and said so.
pub fn shut_down(runtime: Runtime) {
    let started = Instant::now();
    runtime.shutdown_timeout(STRAGGLERS);
    if started.elapsed() >= STRAGGLERS {
        tracing::warn!(
            "exiting with work still running on the blocking pool (a store or file call); it was cut"
        );
    }
}

fn join(threads: Vec<ThreadHandle<()>>) {
    for thread in threads {
        if thread.join().is_err() {
            tracing::error!("a serving thread panicked");
        }
    }
}
