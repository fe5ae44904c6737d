//! A line-oriented log destination shared by the security and audit logs: a
//! file opened for appending (each line one `write`, so lines never interleave)
//! or stderr, and the common line prefix `<UTC time> mcp-gateway[<pid>]: <EVENT>`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use chrono::Utc;

/// Where lines go.
pub struct LogSink {
    /// The open log file, or `None` for stderr.
    file: Option<Mutex<File>>,
    /// Process id written in every line, as syslog-style tools expect.
    pid: u32,
    /// Names the log in the error reported when a line cannot be written.
    name: &'static str,
}

impl LogSink {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path, name: &'static str) -> std::io::Result<LogSink> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)?;
        Ok(LogSink {
            file: Some(Mutex::new(file)),
            pid: std::process::id(),
            name,
        })
    }

    /// Writes to stderr.
    pub fn stderr(name: &'static str) -> LogSink {
        LogSink {
            file: None,
            pid: std::process::id(),
            name,
        }
    }

    /// The start of a line for `event` (`DENY`, `ALLOW`, `AUDIT`).
    pub fn prefix(&self, event: &str) -> String {
        format!(
            "{} mcp-gateway[{}]: {event}",
            Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.pid
        )
    }

    /// Writes one complete line.
    pub fn write(&self, mut line: String) {
        line.push('\n');
        let result = match &self.file {
            Some(file) => {
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(line.as_bytes()).and_then(|()| file.flush())
            }
            None => std::io::stderr().write_all(line.as_bytes()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, log = self.name, "cannot write a log line");
        }
    }
}
