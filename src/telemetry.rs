//! Prometheus metrics: every family named and described here, recorded through
//! the `metrics` facade, rendered by `metrics-exporter-prometheus` on a listener
//! of its own ([`crate::gateway::metrics_server`]). Label values are always from closed sets (stages,
//! reasons, tool names the gateway serves, status codes): never a string a
//! client chose.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Duration;

use ::metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::denial::{Denial, Reason};

/// Bucket bounds (seconds) of every latency histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms are compacted when nothing else renders them.
pub(crate) const UPKEEP: Duration = Duration::from_secs(5);

/// The process's one recorder (the `metrics` facade is process-wide), and its handle.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .map(PrometheusBuilder::build_recorder);
            let recorder = match recorder {
                Ok(recorder) => recorder,
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            // Another recorder already installed (a test harness): keep ours
            // rendering what it records, which is then nothing.
            let _ = ::metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_histogram!(
        "mcp_gateway_backend_duration_seconds",
        Unit::Seconds,
        "Time one backend operation took (a store transaction, or a Calendar API call with its retries), by backend."
    );
    describe_gauge!(
        "mcp_gateway_signing_key_created_timestamp_seconds",
        Unit::Seconds,
        "When the token signing key file was last written (Unix time), for a rotation-age alert."
    );
    describe_counter!(
        "mcp_gateway_server_certificate_updates_total",
        "Server certificates put in force or refused (key mismatch, expiry, a name not covered...), by source (files, acme), outcome and reason."
    );
    describe_counter!(
        "mcp_gateway_acme_orders_total",
        "ACME certificate orders, by outcome (success, failure) and reason of a failure (directory, account, dns_update, challenge, finalize, storage...)."
    );
    describe_gauge!(
        "mcp_gateway_acme_next_renewal_timestamp_seconds",
        Unit::Seconds,
        "When the built-in ACME client next tries to renew (Unix time)."
    );
    describe_gauge!(
        "mcp_gateway_acme_consecutive_failures",
        "ACME orders failed in a row since the last success (0 when the last one succeeded)."
    );
    describe_counter!(
        "mcp_gateway_acme_challenges_answered_total",
        "TLS-ALPN-01 handshakes answered with a challenge certificate (then closed)."
    );
    describe_counter!(
        "mcp_gateway_token_renewals_total",
        "Token renewals at /token/renew, by outcome (renewed, refused)."
    );
    describe_counter!(
        "mcp_gateway_config_reloads_total",
        "Configuration reloads, by result."
    );
    describe_gauge!(
        "mcp_gateway_bans_active",
        "Addresses banned in-process now."
    );
    describe_counter!(
        "mcp_gateway_bans_total",
        "Addresses banned in-process, since start."
    );
    describe_counter!(
        "mcp_gateway_connections_accepted_total",
        "TCP connections accepted."
    );
    describe_gauge!(
        "mcp_gateway_connections_open",
        "Connections open now, past the address checks."
    );
    describe_counter!(
        "mcp_gateway_denials_total",
        "Refusals, by pipeline stage and reason; ban says whether fail2ban may count it."
    );
    describe_counter!(
        "mcp_gateway_tls_handshakes_total",
        "TLS handshakes, by outcome."
    );
    describe_histogram!(
        "mcp_gateway_tls_handshake_duration_seconds",
        Unit::Seconds,
        "Time from accept to a finished (or failed) TLS handshake."
    );
    describe_gauge!("mcp_gateway_sessions_open", "MCP sessions held now.");
    describe_counter!(
        "mcp_gateway_http_requests_total",
        "HTTP requests answered, by status code."
    );
    describe_counter!(
        "mcp_gateway_tokens_accepted_total",
        "Bearer tokens that passed every check."
    );
    describe_counter!(
        "mcp_gateway_tool_calls_total",
        "Tool calls, by tool and outcome."
    );
    describe_histogram!(
        "mcp_gateway_tool_duration_seconds",
        Unit::Seconds,
        "Time a tool call took, backend included, by tool."
    );
    describe_counter!(
        "mcp_gateway_backend_errors_total",
        "Tool calls that ended in a backend error, by kind."
    );
    describe_counter!(
        "mcp_gateway_backend_retries_total",
        "Calendar API requests retried."
    );
    describe_counter!(
        "mcp_gateway_balancer_checks_total",
        "Health checks of trusted balancers: connections closed before TLS without a client address."
    );
    describe_counter!(
        "mcp_gateway_connections_parked_total",
        "Idle HTTP/1.1 keep-alive connections taken out of the HTTP stack until their next request, which frees its buffers."
    );
    describe_counter!(
        "mcp_gateway_silent_probes_total",
        "Client connections closed before sending a byte (TCP health probes): never a ban, never a log line."
    );
    describe_counter!(
        "mcp_gateway_log_reopen_failures_total",
        "Logs that could not be reopened after rotation (nothing is served until they can be), by log."
    );
    describe_counter!(
        "mcp_gateway_log_write_failures_total",
        "Lines a log could not write, by log."
    );
    describe_gauge!(
        "mcp_gateway_certificate_expiry_timestamp_seconds",
        Unit::Seconds,
        "When a certificate stops being valid (Unix time), by which one."
    );
    describe_gauge!(
        "mcp_gateway_crl_next_update_timestamp_seconds",
        Unit::Seconds,
        "When a CRL is past its nextUpdate and refuses every certificate it covers (Unix time), by config key."
    );
}

/// One refusal, by stage and reason (called by the security log, the one sink of every denial).
pub fn denial(denial: &Denial) {
    let reason: Reason = denial.reason;
    counter!(
        "mcp_gateway_denials_total",
        "stage" => reason.stage().label(),
        "reason" => reason.label(),
        "ban" => if denial.ban_worthy() { "yes" } else { "no" }
    )
    .increment(1);
}

/// A trusted balancer's health check ended (a connection closed without a
/// byte, or after a PROXY LOCAL header): no refusal, so no security line.
pub fn balancer_check() {
    counter!("mcp_gateway_balancer_checks_total").increment(1);
}

/// An idle HTTP/1.1 connection was taken out of hyper.
pub fn connection_parked() {
    counter!("mcp_gateway_connections_parked_total").increment(1);
}

/// A client connection closed before sending a byte (a TCP health probe).
pub fn silent_probe() {
    counter!("mcp_gateway_silent_probes_total").increment(1);
}

/// A TCP connection was accepted.
pub fn connection_accepted() {
    counter!("mcp_gateway_connections_accepted_total").increment(1);
}

/// Counts a connection as open until dropped.
pub struct OpenConnection(());

impl OpenConnection {
    /// One more open connection.
    pub fn count() -> OpenConnection {
        gauge!("mcp_gateway_connections_open").increment(1.0);
        OpenConnection(())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!("mcp_gateway_connections_open").decrement(1.0);
    }
}

/// How a TLS handshake ended: its `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// The client is authenticated.
    Ok,
    /// rustls refused it (no certificate, an unknown CA, a revoked one...).
    Refused,
    /// It did not finish within `listen.handshake_timeout`.
    Timeout,
}

impl Handshake {
    fn label(self) -> &'static str {
        match self {
            Handshake::Ok => "ok",
            Handshake::Refused => "refused",
            Handshake::Timeout => "timeout",
        }
    }
}

/// A TLS handshake ended with `outcome` after `took`.
pub fn handshake(outcome: Handshake, took: Duration) {
    counter!("mcp_gateway_tls_handshakes_total", "outcome" => outcome.label()).increment(1);
    histogram!("mcp_gateway_tls_handshake_duration_seconds").record(took.as_secs_f64());
}

/// MCP sessions held now.
pub fn sessions_open(count: usize) {
    gauge!("mcp_gateway_sessions_open").set(count as f64);
}

/// An HTTP answer left with `status`.
pub fn http_request(status: StatusCode) {
    static BY_STATUS: Registered<u16, Counter> = Registered::new();
    BY_STATUS
        .handle(
            status.as_u16(),
            || counter!("mcp_gateway_http_requests_total", "status" => status.as_str().to_owned()),
        )
        .increment(1);
}

/// A token renewal ended: `renewed`, or `refused` (its denial is counted too).
pub fn token_renewal(renewed: bool) {
    let outcome = if renewed { "renewed" } else { "refused" };
    counter!("mcp_gateway_token_renewals_total", "outcome" => outcome).increment(1);
}

/// A bearer token passed.
pub fn token_accepted() {
    static ACCEPTED: Registered<(), Counter> = Registered::new();
    ACCEPTED
        .handle((), || counter!("mcp_gateway_tokens_accepted_total"))
        .increment(1);
}

/// A tool call ended with `outcome` after `took`. `tool` is a name the
/// gateway serves, or `unknown` (the caller maps it), so that a client cannot
/// mint label values.
pub fn tool_call(tool: &'static str, outcome: &'static str, took: Duration) {
    static CALLS: Registered<(&str, &str), Counter> = Registered::new();
    static DURATIONS: Registered<&str, Histogram> = Registered::new();
    CALLS
        .handle(
            (tool, outcome),
            || counter!("mcp_gateway_tool_calls_total", "tool" => tool, "outcome" => outcome),
        )
        .increment(1);
    DURATIONS
        .handle(
            tool,
            || histogram!("mcp_gateway_tool_duration_seconds", "tool" => tool),
        )
        .record(took.as_secs_f64());
}

/// The handles of one metric family, by label values, each taken from the
/// recorder on first use and kept: the `counter!` and `histogram!` macros
/// build the key (a vector of labels) and look it up in the recorder's
/// registry on every call, about 1.7k instructions each on the path of every
/// admitted call (bench/README.md). Only families whose label values come
/// from closed sets use it, so the table stays small.
///
/// The table hashes with foldhash, not the standard library's SipHash: its
/// keys are the gateway's own label values, never a client's text, so there
/// is no flooding to resist, and SipHash cost 0.7k of a call's 90k
/// instructions in the three lookups each call makes.
struct Registered<K, H> {
    handles: RwLock<Option<HashMap<K, H, foldhash::fast::FixedState>>>,
}

impl<K: Eq + Hash, H: Clone> Registered<K, H> {
    const fn new() -> Registered<K, H> {
        Registered {
            handles: RwLock::new(None),
        }
    }

    /// The handle for `labels`, registered by `register` the first time.
    fn handle(&self, labels: K, register: impl FnOnce() -> H) -> H {
        let known = self.handles.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = known.as_ref().and_then(|handles| handles.get(&labels)) {
            return handle.clone();
        }
        drop(known);
        // The recorder first: a handle taken before it is installed would
        // record nothing, for good.
        let _ = handle();
        let mut known = self.handles.write().unwrap_or_else(PoisonError::into_inner);
        known
            .get_or_insert_with(HashMap::default)
            .entry(labels)
            .or_insert_with(register)
            .clone()
    }
}

/// A tool call ended in a backend error of `kind` (its error code).
pub fn backend_error(kind: &'static str) {
    counter!("mcp_gateway_backend_errors_total", "kind" => kind).increment(1);
}

/// A calendar backend: its `backend` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store.
    Embedded,
    /// Google Calendar.
    Google,
    /// A CalDAV server.
    CalDav,
}

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Google => "google",
            Backend::CalDav => "caldav",
        }
    }
}

/// One operation of `backend` took `took`.
pub fn backend_call(backend: Backend, took: Duration) {
    histogram!("mcp_gateway_backend_duration_seconds", "backend" => backend.label())
        .record(took.as_secs_f64());
}

/// When the signing key was last written (Unix seconds).
pub fn signing_key_created(unix_seconds: i64) {
    gauge!("mcp_gateway_signing_key_created_timestamp_seconds").set(unix_seconds as f64);
}

/// A Calendar API request is tried again.
pub fn backend_retry() {
    counter!("mcp_gateway_backend_retries_total").increment(1);
}

/// A reload ended: `success`, or `failure` (the old configuration stays).
pub fn reload(succeeded: bool) {
    let result = if succeeded { "success" } else { "failure" };
    counter!("mcp_gateway_config_reloads_total", "result" => result).increment(1);
}

/// Addresses banned in-process now.
pub fn bans_active(count: usize) {
    gauge!("mcp_gateway_bans_active").set(count as f64);
}

/// An address was banned in-process.
pub fn banned() {
    counter!("mcp_gateway_bans_total").increment(1);
}

/// A log could not be reopened after rotation (counted once per failure, not per retry).
pub fn log_reopen_failure(log: &'static str) {
    counter!("mcp_gateway_log_reopen_failures_total", "log" => log).increment(1);
}

/// A line could not be written to `log`.
pub fn log_write_failure(log: &'static str) {
    counter!("mcp_gateway_log_write_failures_total", "log" => log).increment(1);
}

/// A certificate whose expiry an alert watches: its `certificate` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchedCertificate {
    /// The gateway's own (`tls.certificate`).
    Server,
    /// The CA client certificates chain to (`tls.client_ca`).
    ClientCa,
}

impl WatchedCertificate {
    fn label(self) -> &'static str {
        match self {
            WatchedCertificate::Server => "server",
            WatchedCertificate::ClientCa => "client_ca",
        }
    }
}

/// When `which` certificate expires.
pub fn certificate_expiry(which: WatchedCertificate, unix_seconds: i64) {
    gauge!("mcp_gateway_certificate_expiry_timestamp_seconds", "certificate" => which.label())
        .set(unix_seconds as f64);
}

/// A server certificate candidate (from `source`: files, acme) put in
/// force or refused (`reason`: a [`crate::transport::certificate::PairProblem`] label).
pub fn server_certificate_update(
    source: &'static str,
    outcome: &'static str,
    reason: &'static str,
) {
    counter!(
        "mcp_gateway_server_certificate_updates_total",
        "source" => source,
        "outcome" => outcome,
        "reason" => reason
    )
    .increment(1);
}

/// A TLS-ALPN-01 validator was shown a challenge certificate.
pub fn acme_challenge_answered() {
    counter!("mcp_gateway_acme_challenges_answered_total").increment(1);
}

/// An ACME order ended: `reason` is `none` for a success.
pub fn acme_order(success: bool, reason: &'static str, failures_in_a_row: u32) {
    let outcome = if success { "success" } else { "failure" };
    counter!("mcp_gateway_acme_orders_total", "outcome" => outcome, "reason" => reason)
        .increment(1);
    acme_failures_in_a_row(failures_in_a_row);
}

/// The ACME client's failures in a row, set back to 0 once the CA answers again.
pub fn acme_failures_in_a_row(count: u32) {
    gauge!("mcp_gateway_acme_consecutive_failures").set(f64::from(count));
}

/// When the ACME client next tries to renew.
pub fn acme_next_renewal(unix_seconds: i64) {
    gauge!("mcp_gateway_acme_next_renewal_timestamp_seconds").set(unix_seconds as f64);
}

/// When the CRL at config key `key` (`tls.crls[0]`) goes stale.
pub fn crl_next_update(key: String, unix_seconds: i64) {
    gauge!("mcp_gateway_crl_next_update_timestamp_seconds", "crl" => key).set(unix_seconds as f64);
}
