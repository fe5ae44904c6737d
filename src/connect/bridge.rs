//! The stdio side of `connect`: JSON-RPC messages, one per line, read from
//! stdin and carried to the gateway; every answer, notification and
//! server-initiated message written back to stdout, one per line, by one
//! writer (nothing else ever writes to stdout). `initialize` and `ping` are
//! answered here; everything else goes to the gateway. Messages are handled
//! concurrently, at most [`MAX_IN_FLIGHT`] at once; a line longer than
//! [`MAX_LINE`] is refused without being held.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{RwLock, Semaphore, mpsc};

use crate::connect::failure::{Failure, Setting};
use crate::connect::lifecycle::{self, Agreed, Generation, LocalClient};
use crate::connect::options::ProtocolChoice;
use crate::connect::token_file::TokenFile;
use crate::connect::upstream::Upstream;

/// Longest line read from stdin.
pub const MAX_LINE: usize = 4 * 1024 * 1024;
/// Messages handled at once.
pub const MAX_IN_FLIGHT: usize = 64;
/// Waits between tries to reach an unreachable gateway (then the call fails).
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(8),
];

/// Everything a message needs on its way.
pub struct Bridge {
    /// The gateway (shared with the renewal task).
    pub upstream: Arc<Upstream>,
    /// The token file.
    pub token: Arc<TokenFile>,
    /// What `--gateway-protocol` allows.
    pub choice: ProtocolChoice,
    /// What the messages refer the user to.
    pub setting: Setting,
    /// The generation agreed with the gateway, once it is.
    agreed: RwLock<Option<Agreed>>,
    /// Who the local client is.
    local: Mutex<Arc<LocalClient>>,
    /// Lines for stdout.
    out: mpsc::Sender<Bytes>,
}

impl Bridge {
    /// A bridge writing to `out`.
    pub fn new(
        upstream: Arc<Upstream>,
        token: Arc<TokenFile>,
        choice: ProtocolChoice,
        setting: Setting,
        out: mpsc::Sender<Bytes>,
    ) -> Bridge {
        Bridge {
            upstream,
            token,
            choice,
            setting,
            agreed: RwLock::new(None),
            local: Mutex::new(Arc::new(LocalClient::default())),
            out,
        }
    }

    async fn write(&self, message: Value) {
        // Compact JSON has no raw newline: one message, one line.
        self.write_line(Bytes::from(message.to_string())).await;
    }

    /// Writes one line (a message already known to be one line of JSON).
    async fn write_line(&self, line: Bytes) {
        let _ = self.out.send(line).await;
    }

    async fn write_error(&self, id: &Value, error: Value) {
        self.write(json!({ "jsonrpc": "2.0", "id": id, "error": error }))
            .await;
    }

    /// Who the local client is (shared: every stateless request reads it).
    fn local(&self) -> Arc<LocalClient> {
        Arc::clone(&self.local.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Handles one line from stdin.
    pub async fn handle_line(self: Arc<Self>, line: String) {
        let message: Value = match serde_json::from_str(&line) {
            Ok(message @ Value::Object(_)) => message,
            _ => {
                let error = json!({ "code": -32700, "message": "not a JSON-RPC message (one JSON object per line)" });
                return self.write_error(&Value::Null, error).await;
            }
        };
        let id = message.get("id").cloned();
        match (message["method"].as_str(), id) {
            (Some("initialize"), Some(id)) => self.answer_initialize(&message, &id).await,
            (Some("ping"), Some(id)) => {
                self.write(json!({ "jsonrpc": "2.0", "id": id, "result": {} }))
                    .await
            }
            // The gateway's session was initialised by connect itself.
            (Some("notifications/initialized"), None) => {}
            (Some(_), Some(id)) => {
                if let Err(failure) = self.forward(&message, Bytes::from(line)).await {
                    let failure = self.explain(failure);
                    tracing::warn!(
                        reason = failure.label(),
                        "{}",
                        failure.describe(&self.setting)
                    );
                    self.write_error(&id, failure.rpc_error(&self.setting))
                        .await;
                }
            }
            // Notifications, and answers to the gateway's own requests.
            _ => {
                if let Err(failure) = self.forward(&message, Bytes::from(line)).await {
                    tracing::warn!(
                        reason = failure.label(),
                        "a notification did not reach the gateway: {}",
                        failure.describe(&self.setting)
                    );
                }
            }
        }
    }

    /// An expired token whose renewal limit has passed is told as such: not
    /// "write a fresh one" but "renewal is over, ask for a new one".
    fn explain(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Refused {
                status,
                reason,
                code,
                message,
            } if reason == "token_expired"
                && self.token.current().is_ok_and(|held| {
                    held.claims
                        .renewable_until
                        .is_some_and(|until| until <= crate::connect::clock::now())
                }) =>
            {
                Failure::Refused {
                    status,
                    reason: "renewal_limit_reached".into(),
                    code,
                    message,
                }
            }
            other => other,
        }
    }

    /// The local `initialize`, answered from what the gateway declares; if
    /// it cannot be asked now, from what it always declares (the calls then
    /// say why they fail, where the user sees it).
    async fn answer_initialize(&self, message: &Value, id: &Value) {
        {
            let mut local = LocalClient::default();
            let params = &message["params"];
            if params["capabilities"].is_object() {
                local.capabilities = params["capabilities"].clone();
            }
            if params["clientInfo"].is_object() {
                local.info = params["clientInfo"].clone();
            }
            *self.local.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(local);
        }
        let declared = match self.agreed().await {
            Ok(agreed) => Some(agreed.declared),
            Err(failure) => {
                tracing::warn!(
                    reason = failure.label(),
                    "{}",
                    failure.describe(&self.setting)
                );
                None
            }
        };
        let result = lifecycle::initialize_result(
            message["params"]["protocolVersion"].as_str(),
            declared.as_ref(),
        );
        self.write(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
            .await;
    }

    /// The agreed generation, agreeing one first if none is.
    async fn agreed(&self) -> Result<Agreed, Failure> {
        if let Some(agreed) = self.agreed.read().await.as_ref() {
            return Ok(agreed.clone());
        }
        let mut slot = self.agreed.write().await;
        if let Some(agreed) = slot.as_ref() {
            return Ok(agreed.clone());
        }
        let token = self.token.current().map_err(Failure::Token)?;
        let agreed =
            lifecycle::agree(&self.upstream, &token.token, self.choice, &self.local()).await?;
        match &agreed.generation {
            Generation::Stateless => tracing::info!(
                "speaking {} (stateless) to the gateway",
                lifecycle::STATELESS
            ),
            Generation::Session { version, .. } => {
                tracing::info!("speaking {version} with a session to the gateway")
            }
        }
        *slot = Some(agreed.clone());
        Ok(agreed)
    }

    /// Forgets a session the gateway no longer knows (only if it is still
    /// the one held: a concurrent call may have replaced it already).
    async fn forget_session(&self, gone: &Generation) {
        let mut slot = self.agreed.write().await;
        if slot.as_ref().is_some_and(|a| a.generation == *gone) {
            *slot = None;
        }
    }

    /// Carries `message` (the line `raw`) to the gateway and its answers
    /// back, retrying an unreachable gateway with back-off and a forgotten
    /// session once.
    async fn forward(&self, message: &Value, raw: Bytes) -> Result<(), Failure> {
        let mut tries = 0;
        let mut renewed_session = false;
        loop {
            let attempt = self.forward_once(message, raw.clone()).await;
            match attempt {
                Err(failure) if failure.retryable() && tries < BACKOFF.len() => {
                    tracing::info!(
                        reason = failure.label(),
                        "gateway unreachable; trying again in {:?}",
                        BACKOFF[tries]
                    );
                    tokio::time::sleep(BACKOFF[tries]).await;
                    tries += 1;
                }
                Err(Failure::Refused {
                    status: 404,
                    ref reason,
                    ..
                }) if reason == "session_not_found" && !renewed_session => {
                    tracing::info!(
                        "the gateway forgot the session (restarted?): initializing again"
                    );
                    renewed_session = true;
                }
                other => return other,
            }
        }
    }

    async fn forward_once(&self, message: &Value, raw: Bytes) -> Result<(), Failure> {
        let agreed = self.agreed().await?;
        let token = self.token.current().map_err(Failure::Token)?;
        let (body, headers) = lifecycle::prepare(message, raw, &agreed.generation, &self.local());
        let answer = match self.upstream.post(body, &token.token, &headers).await {
            Err(Failure::Refused { status: 404, .. })
                if agreed.generation != Generation::Stateless =>
            {
                self.forget_session(&agreed.generation).await;
                return Err(Failure::Refused {
                    status: 404,
                    reason: "session_not_found".into(),
                    code: -32600,
                    message: "session not found".into(),
                });
            }
            other => other?,
        };
        answer
            .messages(|line| self.write_line(line))
            .await
            .map(|_| ())
    }
}

/// Reads stdin line by line (each at most [`MAX_LINE`]) and hands each line
/// to the bridge, until stdin closes; then waits for the messages in flight.
pub async fn serve_stdin(bridge: Arc<Bridge>) {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let mut line = Vec::new();
        let read = (&mut stdin)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            tracing::warn!("a line longer than {MAX_LINE} bytes was refused");
            skip_rest_of_line(&mut stdin).await;
            let error = json!({ "code": -32600, "message": format!("message longer than {MAX_LINE} bytes") });
            bridge.write_error(&Value::Null, error).await;
            continue;
        }
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let bridge = Arc::clone(&bridge);
        tasks.spawn(async move {
            bridge.handle_line(text).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

use tokio::io::AsyncReadExt;

/// Drops input up to the end of the current line.
async fn skip_rest_of_line(stdin: &mut BufReader<tokio::io::Stdin>) {
    loop {
        let mut chunk = Vec::new();
        match stdin.take(64 * 1024).read_until(b'\n', &mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(_) if chunk.ends_with(b"\n") => return,
            Ok(_) => {}
        }
    }
}

/// Writes each line to stdout as it comes, until every sender is gone.
pub async fn write_stdout(mut lines: mpsc::Receiver<Bytes>) {
    let mut stdout = tokio::io::stdout();
    while let Some(line) = lines.recv().await {
        let written = async {
            stdout.write_all(&line).await?;
            stdout.write_all(b"\n").await?;
            stdout.flush().await
        };
        if written.await.is_err() {
            return;
        }
    }
}
