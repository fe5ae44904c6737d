//! One simulated MCP client: its own certificate and bound token, stateless
//! (2026-07-28) tool calls over a keep-alive connection, a mix of creates,
//! reads of what it created, and listings; every acknowledged create is kept
//! so it can be read back at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::gateway::Credentials;

/// Longest wait for one answer: a request past it is an error, never a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The stateless protocol version the clients speak.
const VERSION: &str = "2026-07-28";

/// What kind of call a request was, for latencies per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Get,
    List,
}

/// One acknowledged create: the id the gateway answered and what was sent.
#[derive(Clone, Debug)]
pub struct Written {
    pub id: String,
    pub summary: String,
}

/// Everything one client saw.
#[derive(Default)]
pub struct Record {
    /// (kind, microseconds) of every answered call.
    pub latencies: Vec<(Kind, u64)>,
    /// Creates the gateway acknowledged.
    pub written: Vec<Written>,
    /// Calls that failed outside an outage, with what went wrong.
    pub errors: Vec<String>,
    /// Calls that failed while the gateway was down (kill -9 runs).
    pub interrupted: u64,
    /// Calls answered by the restarted gateway (kill -9 runs).
    pub after_restart: u64,
}

/// One client's connection and credentials.
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    /// The outage generation `http` was built in: a new one after a restart
    /// drops the pooled connections to the killed process.
    built_in: u64,
    ca_pem: String,
    credentials: Credentials,
}

impl Client {
    pub fn new(url: String, ca_pem: String, credentials: Credentials) -> anyhow::Result<Self> {
        let token = credentials.token.clone();
        Ok(Client {
            http: http_client(&ca_pem, &credentials)?,
            url,
            token,
            built_in: 0,
            ca_pem,
            credentials,
        })
    }

    /// Calls `tool` with `arguments`; the structured result, or what went wrong.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<Value, String> {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {
                "name": tool, "arguments": arguments,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": { "name": "load-mixed", "version": "1" }
                }
            }
        });
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{tool}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{tool}: {e}"))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| format!("{tool}: status {status}, not JSON: {text:.200}"))?;
        let result = &answer["result"];
        if status != 200 || result.is_null() || result["isError"] == true {
            return Err(format!("{tool}: status {status}: {answer:.300}"));
        }
        Ok(result["structuredContent"].clone())
    }

    /// Runs the mix until `end`: of every ten calls, `writes_in_ten` creates,
    /// the rest alternating reads of an earlier create and short listings.
    /// `outage` is odd while the gateway is down, and grows by one at each
    /// kill and each restart.
    pub async fn run(
        &mut self,
        number: usize,
        writes_in_ten: u64,
        end: Instant,
        outage: Arc<AtomicU64>,
    ) -> Record {
        let mut record = Record::default();
        let mut n: u64 = 0;
        while Instant::now() < end {
            n += 1;
            let generation = outage.load(Ordering::Relaxed);
            if generation != self.built_in && generation.is_multiple_of(2) {
                self.rebuild(generation);
            }
            let (kind, outcome) = self.one_call(number, n, writes_in_ten, &record).await;
            let started_in = generation;
            match outcome {
                Ok((micros, written)) => {
                    record.latencies.push((kind, micros));
                    record.after_restart += u64::from(started_in >= 2);
                    record.written.extend(written);
                }
                Err(_) if outage.load(Ordering::Relaxed) != started_in || started_in % 2 == 1 => {
                    record.interrupted += 1;
                    // The gateway is down: do not spin on refused connections.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => record.errors.push(e),
            }
        }
        record
    }

    /// The `n`th call of client `number`: its kind, and its latency and
    /// acknowledged write, or the error.
    async fn one_call(
        &self,
        number: usize,
        n: u64,
        writes_in_ten: u64,
        record: &Record,
    ) -> (Kind, Result<(u64, Option<Written>), String>) {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_micros() as u64;
        if n % 10 < writes_in_ten || record.written.is_empty() {
            let summary = format!("load {number}-{n}");
            // Each client writes in its own year, each call in its own hour
            // (wrapping after 8,064 calls: overlapping events are allowed anyway).
            let start = chrono_like(2040 + number as u64, n);
            let end = chrono_like(2040 + number as u64, n + 1);
            let arguments = json!({
                "summary": summary,
                "start": { "dateTime": start },
                "end": { "dateTime": end },
            });
            let outcome = match timeout(self.call("create_event", arguments)).await {
                Ok(created) => match created["id"].as_str() {
                    Some(id) => Ok((
                        elapsed(started),
                        Some(Written {
                            id: id.to_owned(),
                            summary,
                        }),
                    )),
                    None => Err(format!("create_event: no id in {created}")),
                },
                Err(e) => Err(e),
            };
            return (Kind::Create, outcome);
        }
        if n.is_multiple_of(2) {
            let earlier = &record.written[(n as usize * 7919) % record.written.len()];
            let outcome = match timeout(self.read_back(earlier)).await {
                Ok(()) => Ok((elapsed(started), None)),
                Err(e) => Err(e),
            };
            return (Kind::Get, outcome);
        }
        let arguments = json!({
            "timeMin": chrono_like(2040 + number as u64, n.saturating_sub(20)),
            "maxResults": 10,
        });
        let outcome = timeout(self.call("list_events", arguments))
            .await
            .map(|_| (elapsed(started), None));
        (Kind::List, outcome)
    }

    /// Reads `written` back: it must be there, with what was sent.
    pub async fn read_back(&self, written: &Written) -> Result<(), String> {
        let event = self
            .call("get_event", json!({ "eventId": written.id }))
            .await?;
        if event["summary"] != written.summary.as_str() {
            return Err(format!(
                "get_event {}: summary {} instead of {:?}",
                written.id, event["summary"], written.summary
            ));
        }
        Ok(())
    }

    fn rebuild(&mut self, generation: u64) {
        if let Ok(http) = http_client(&self.ca_pem, &self.credentials) {
            self.http = http;
            self.built_in = generation;
        }
    }
}

/// An RFC 3339 instant: hour `hour` of `year` (hours past a year's end roll
/// into the next days of it, which is all a unique slot needs).
fn chrono_like(year: u64, hour: u64) -> String {
    let day = 1 + (hour / 24) % 28;
    let month = 1 + (hour / (24 * 28)) % 12;
    format!("{year}-{month:02}-{day:02}T{:02}:00:00Z", hour % 24)
}

async fn timeout<T>(call: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_TIMEOUT:?}")))
}

/// An HTTP/1.1 keep-alive client presenting `credentials`' certificate.
fn http_client(ca_pem: &str, credentials: &Credentials) -> anyhow::Result<reqwest::Client> {
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", credentials.cert.cert_pem, credentials.cert.key_pem).as_bytes(),
    )?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes())?])
        .identity(identity)
        .http1_only()
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}
