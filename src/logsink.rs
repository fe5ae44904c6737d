//! A line-oriented log destination shared by the security and audit logs: a
//! file opened for appending (each line one `write`, so lines never interleave)
//! or stderr, and the common line prefix `<UTC time> mcp-gateway[<pid>]: <EVENT>`.
//! Also [`EscapingStderr`], the writer of the diagnostic (tracing) log, which
//! escapes every line the same way, so nothing a client sends can start a line
//! on stderr where fail2ban might read it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::Utc;

use crate::seclog::push_escaped;

/// Where lines go.
pub struct LogSink {
    /// The open log file and its path (to reopen it after rotation), or `None` for stderr.
    file: Option<(PathBuf, Mutex<File>)>,
    /// Process id written in every line, as syslog-style tools expect.
    pid: u32,
    /// Names the log in the error reported when a line cannot be written.
    name: &'static str,
}

impl LogSink {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path, name: &'static str) -> std::io::Result<LogSink> {
        Ok(LogSink {
            file: Some((path.to_owned(), Mutex::new(append_to(path)?))),
            pid: std::process::id(),
            name,
        })
    }

    /// Opens the path again (after logrotate moved the file away): later lines
    /// go to the new file. On failure the old file is kept, and the error said.
    pub fn reopen(&self) {
        let Some((path, file)) = &self.file else {
            return;
        };
        match append_to(path) {
            Ok(fresh) => *file.lock().unwrap_or_else(|p| p.into_inner()) = fresh,
            Err(e) => {
                tracing::error!(error = %e, log = self.name, path = %path.display(), "cannot reopen the log; still writing to the old file");
            }
        }
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
            line_time(Utc::now()),
            self.pid
        )
    }

    /// Writes one complete line.
    pub fn write(&self, mut line: String) {
        line.push('\n');
        let result = match &self.file {
            Some((_, file)) => {
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(line.as_bytes()).and_then(|()| file.flush())
            }
            None => std::io::stderr().write_all(line.as_bytes()),
        };
        if let Err(e) = result {
            crate::telemetry::log_write_failure(self.name);
            tracing::error!(error = %e, log = self.name, "cannot write a log line");
        }
    }
}

/// A line's time, `2026-03-02T09:00:00.123Z` (what the fail2ban filter's
/// `datepattern` reads), without parsing a format string for every line.
fn line_time(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `path` opened for appending, created mode 0640 when missing.
fn append_to(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Longest diagnostic line written to stderr, in characters; the rest is cut.
const MAX_DIAGNOSTIC_CHARS: usize = 4096;

/// The diagnostic log's writer: stderr, one escaped and bounded line per event.
/// tracing formats each event into one buffer and writes it at once, so each
/// `write` here is a whole event.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapingStderr;

/// One event's worth of writing, see [`EscapingStderr`].
pub struct EscapingLine;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapingStderr {
    type Writer = EscapingLine;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingLine
    }
}

/// `event` as one safe line: control and non-ASCII characters escaped (a
/// newline inside a field cannot start a forged line), cut to a bound.
pub fn diagnostic_line(event: &[u8]) -> String {
    let text = String::from_utf8_lossy(event);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let kept: String = text.chars().take(MAX_DIAGNOSTIC_CHARS).collect();
    let mut line = String::with_capacity(kept.len() + 16);
    push_escaped(&mut line, &kept);
    if kept.len() < text.len() {
        line.push_str("...[cut]");
    }
    line.push('\n');
    line
}

impl Write for EscapingLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(diagnostic_line(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::{diagnostic_line, line_time};

    #[test]
    fn line_times_keep_their_format() {
        for text in [
            "2026-03-02T09:00:00.123Z",
            "2026-12-31T23:59:59.999Z",
            "2027-01-01T00:00:00.000Z",
        ] {
            let at = chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();
            assert_eq!(line_time(at), text);
            assert_eq!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), text);
        }
    }

    #[test]
    fn diagnostic_lines_cannot_be_split_or_grown() {
        let forged = "INFO client=x\n2026-01-01T00:00:00.000Z mcp-gateway[1]: DENY stage=ip reason=ip_not_allowed ip=10.66.66.66 client=-\n";
        let line = diagnostic_line(forged.as_bytes());
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert!(
            line.ends_with('\n') && line.contains("\\u{a}2026"),
            "{line:?}"
        );
        for sneaky in ["\u{1b}[2J", "\u{2028}", "\u{85}", "\r"] {
            let line = diagnostic_line(format!("a{sneaky}b").as_bytes());
            assert!(
                line.trim_end().chars().all(|c| (' '..='~').contains(&c)),
                "{line:?}"
            );
        }
        let long = "x".repeat(60_000);
        assert!(diagnostic_line(long.as_bytes()).len() < 5_000);
    }
}
