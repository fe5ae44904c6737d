//! The audit log: one line per tool call, whatever its outcome, so an operator
//! can answer "who did what to which calendar, when". The token itself is never
//! written, only its `jti`.
//!
//! ```text
//! 2026-11-22T10:31:00.004Z mcp-gateway[1234]: AUDIT tool=create_event client=agent-42 ip=10.8.0.7 jti=5f0c… calendars=team outcome=ok ms=3
//! ```

use std::net::IpAddr;
use std::path::Path;

use crate::logsink::LogSink;
use crate::seclog::escape;

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The tool ran and succeeded.
    Ok,
    /// The tool ran and reported an error to the caller (bad input, not found).
    ToolError,
    /// The scope check refused the call; the tool did not run.
    Refused,
    /// The call failed at the protocol level (unknown tool, malformed arguments).
    Failed,
}

impl Outcome {
    /// The word audit lines and metrics use.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One tool call, as the audit line records it.
pub struct ToolCall<'a> {
    /// The tool name the client sent.
    pub tool: &'a str,
    /// The certificate identity.
    pub client: &'a str,
    /// The client address.
    pub ip: IpAddr,
    /// The token id.
    pub token_id: &'a str,
    /// The calendars the call addressed.
    pub calendars: &'a [String],
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub millis: u128,
}

/// Where audit lines go.
pub struct AuditLog {
    /// The file or stderr.
    sink: LogSink,
}

impl AuditLog {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        Ok(AuditLog {
            sink: LogSink::open(path, "audit")?,
        })
    }

    /// Reopens the file (SIGHUP after log rotation); nothing for stderr.
    pub fn reopen(&self) {
        self.sink.reopen();
    }

    /// Whether audit lines are being written (see [`LogSink::writable`]).
    pub fn writable(&self) -> bool {
        self.sink.writable()
    }

    /// Writes to stderr.
    pub fn stderr() -> AuditLog {
        AuditLog {
            sink: LogSink::stderr("audit"),
        }
    }

    /// Records one tool call.
    pub fn record(&self, call: &ToolCall<'_>) {
        let calendars = if call.calendars.is_empty() {
            "-".to_owned()
        } else {
            escape(&call.calendars.join(","))
        };
        let mut line = self.sink.prefix("AUDIT");
        line.push_str(&format!(
            " tool={} client={} ip={} jti={} calendars={calendars} outcome={} ms={}",
            escape(call.tool),
            escape(call.client),
            call.ip,
            escape(call.token_id),
            call.outcome.label(),
            call.millis
        ));
        self.sink.write(line);
    }
}
