//! A line-oriented log destination shared by the security and audit logs: a
//! file opened for appending (each line one `write`, so lines never interleave)
//! or stderr, and the common line prefix `<UTC time> mcp-gateway[<pid>]: <EVENT>`.
//! A sink that failed to write says so ([`LogSink::writable`]) until a line
//! gets through again, so the gateway can refuse what it cannot record; the
//! first line that gets through is `LOST lines=<n>`, the count of lines lost.
//! Also [`EscapingStderr`], the writer of the diagnostic (tracing) log, which
//! escapes every line the same way, so nothing a client sends can start a line
//! on stderr where fail2ban might read it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use chrono::Utc;

use crate::observe::escape::push_escaped;

/// Where lines go.
pub struct LogSink {
    /// The open log file and its path (to reopen it after rotation), or
    /// `None` for stderr. No lock around it: see [`write_once`].
    file: Option<(PathBuf, ArcSwap<File>)>,
    /// Process id written in every line, as syslog-style tools expect.
    pid: u32,
    /// What follows the time in every text line: ` mcp-gateway[<pid>]: `.
    tag: String,
    /// Names the log in the error reported when a line cannot be written.
    name: &'static str,
    /// Lines lost since the last line that was written; 0 while writing works.
    lost: AtomicU64,
    /// A failed write left part of a line in the file (a disk full mid-line).
    cut: AtomicBool,
    /// Lines are JSON objects (`log.audit_format = "json"`), the `LOST`
    /// line included, instead of the syslog-style text line.
    json: bool,
    /// The last reopen failed (the rotated file is not the service user's,
    /// say): lines would go to the old file, which nobody watches any more.
    /// Nothing is written, the sink says it is not writable (so requests are
    /// refused and `/ready` is 503), and every look tries the reopen again.
    stale: AtomicBool,
}

impl LogSink {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path, name: &'static str) -> std::io::Result<LogSink> {
        let file = ArcSwap::from_pointee(append_to(path)?);
        Ok(LogSink::writing_to(Some((path.to_owned(), file)), name))
    }

    /// Writes to stderr.
    pub fn stderr(name: &'static str) -> LogSink {
        LogSink::writing_to(None, name)
    }

    fn writing_to(file: Option<(PathBuf, ArcSwap<File>)>, name: &'static str) -> LogSink {
        let pid = std::process::id();
        LogSink {
            file,
            pid,
            tag: format!(" mcp-gateway[{pid}]: "),
            name,
            lost: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            json: false,
        }
    }

    /// The same sink writing JSON lines ([`LogSink::json_event`]).
    pub fn as_json(mut self) -> LogSink {
        self.json = true;
        self
    }

    /// Opens the path again (after logrotate moved the file away): later lines
    /// go to the new file. A reopen that fails is loud: an error on stderr, a
    /// metric, and the sink not writable until a reopen succeeds (the old
    /// file is no longer the one fail2ban reads: a line written there is as
    /// good as lost).
    pub fn reopen(&self) -> bool {
        let Some((path, file)) = &self.file else {
            return true;
        };
        match append_to(path) {
            Ok(fresh) => {
                file.store(Arc::new(fresh));
                self.cut.store(false, Ordering::Relaxed);
                if self.stale.swap(false, Ordering::Relaxed) {
                    tracing::warn!(log = self.name, path = %path.display(), "the log is reopened");
                }
                true
            }
            Err(e) => {
                if !self.stale.swap(true, Ordering::Relaxed) {
                    crate::telemetry::log_reopen_failure(self.name);
                    tracing::error!(error = %e, log = self.name, path = %path.display(), "cannot reopen the log after rotation: nothing is served until it can be (is the new file the service user's? logrotate's `create` must name it)");
                }
                false
            }
        }
    }

    /// The start of a line for `event` (`DENY`, `ALLOW`, `AUDIT`), in a
    /// buffer with room for the whole line (this runs for every call).
    pub fn prefix(&self, event: &str) -> String {
        let mut line = String::with_capacity(LINE_CAPACITY);
        push_line_time(&mut line, SystemTime::now());
        line.push_str(&self.tag);
        line.push_str(event);
        line
    }

    /// The start of a JSON line for `event`: the same time, process id and
    /// event word as [`LogSink::prefix`], as fields.
    pub fn json_event(&self, event: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("timestamp".into(), line_time(Utc::now()).into());
        fields.insert("process".into(), "mcp-gateway".into());
        fields.insert("pid".into(), self.pid.into());
        fields.insert("event".into(), event.into());
        fields
    }

    /// Writes one complete line; a line that cannot be written is counted as
    /// lost (metric, diagnostic log, and the next `LOST` line).
    pub fn write(&self, line: String) {
        if !self.writable() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::log_write_failure(self.name);
            return;
        }
        if let Err(e) = self.append(line) {
            self.lost.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::log_write_failure(self.name);
            tracing::error!(error = %e, log = self.name, "cannot write a log line");
        }
    }

    /// Whether lines are being written. After a failure, each call tries to
    /// write the `LOST lines=<n>` line, so the answer turns true as soon as
    /// the disk takes lines again and the log itself says what is missing.
    /// After a line cut short by a full disk, that line starts with a
    /// newline: the cut line is ended there, never continued by the next.
    pub fn writable(&self) -> bool {
        if self.stale.load(Ordering::Relaxed) && !self.reopen() {
            return false;
        }
        let lost = self.lost.load(Ordering::Relaxed);
        if lost == 0 {
            return true;
        }
        let end_cut_line = if self.cut.load(Ordering::Relaxed) {
            "\n"
        } else {
            ""
        };
        let line = if self.json {
            let mut fields = self.json_event("LOST");
            fields.insert("lines".into(), lost.into());
            format!("{end_cut_line}{}", serde_json::Value::Object(fields))
        } else {
            format!("{end_cut_line}{} lines={lost}", self.prefix("LOST"))
        };
        match self.append(line) {
            Ok(()) => {
                self.cut.store(false, Ordering::Relaxed);
                self.lost.fetch_sub(lost, Ordering::Relaxed);
                tracing::warn!(log = self.name, lost, "the log is written again");
                true
            }
            Err(_) => false,
        }
    }

    /// `line` and its newline, in one write (noting a line left cut).
    fn append(&self, mut line: String) -> std::io::Result<()> {
        line.push('\n');
        let written = match &self.file {
            Some((_, file)) => write_once(&mut &**file.load(), line.as_bytes()),
            None => write_whole(&mut std::io::stderr(), line.as_bytes()),
        };
        written.map_err(|(e, cut)| {
            if cut {
                self.cut.store(true, Ordering::Relaxed);
            }
            e
        })
    }
}

/// Writes `bytes` (one line) to a file opened for appending in one `write`,
/// without a lock: the kernel places each such write whole at the end of the
/// file, so lines from the two worker threads never interleave. A lock held
/// across the write made the threads queue for it on every call (a futex
/// wait and wake per call under load, bench/README.md). A write that takes
/// only part of the line (a disk filling up) is not continued: the part
/// stays as a cut line, ended by the next `LOST` line, and the line counts
/// as lost — a continuation could land after another thread's line and
/// start a line with the middle of this one, client text included. On
/// failure, also whether some bytes went out.
fn write_once(out: &mut impl Write, bytes: &[u8]) -> Result<(), (std::io::Error, bool)> {
    loop {
        match out.write(bytes) {
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(n) => {
                let error = std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("only {n} of the line's {} bytes were written", bytes.len()),
                );
                return Err((error, n > 0));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((e, false)),
        }
    }
}

/// Writes all of `bytes` to stderr (which locks itself); on failure, also
/// whether some of them went out (leaving a cut line behind).
fn write_whole(out: &mut impl Write, bytes: &[u8]) -> Result<(), (std::io::Error, bool)> {
    let mut done = 0;
    while done < bytes.len() {
        match out.write(&bytes[done..]) {
            Ok(0) => return Err((std::io::ErrorKind::WriteZero.into(), done > 0)),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((e, done > 0)),
        }
    }
    out.flush().map_err(|e| (e, false))
}

/// A line's time, `2026-03-02T09:00:00.123Z` (what the fail2ban filter's
/// `datepattern` reads), without parsing a format string for every line.
fn line_time(at: chrono::DateTime<Utc>) -> String {
    let mut text = String::new();
    push_line_time(&mut text, at.into());
    text
}

/// Appends `at` as RFC 3339 UTC with milliseconds (`2026-03-02T09:00:00.123Z`),
/// formatted by humantime into a buffer of its own, without chrono's format machinery.
fn push_line_time(out: &mut String, at: SystemTime) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}", humantime::format_rfc3339_millis(at));
}

/// Room for a whole typical line, so writing one does not grow its buffer.
const LINE_CAPACITY: usize = 256;

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
    use super::{diagnostic_line, line_time, write_once, write_whole};

    /// Takes `room` bytes, at most `chunk` per write, then fails as a full
    /// disk does.
    struct Disk {
        room: usize,
        chunk: usize,
        taken: Vec<u8>,
    }

    impl std::io::Write for Disk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room).min(self.chunk);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_the_disk_cuts_short_is_known_as_cut() {
        let line = b"DENY stage=jwt reason=bad_signature ip=10.0.0.12 client=x\n";
        for (room, cut) in [(0, false), (1, true), (30, true), (line.len() - 1, true)] {
            let mut disk = Disk {
                room,
                chunk: 7,
                taken: Vec::new(),
            };
            let (error, was_cut) = write_whole(&mut disk, line).unwrap_err();
            assert_eq!(error.raw_os_error(), Some(28));
            assert_eq!(was_cut, cut, "room {room}");
            assert_eq!(disk.taken, line[..room]);
        }
        let mut disk = Disk {
            room: 1000,
            chunk: 7,
            taken: Vec::new(),
        };
        assert!(write_whole(&mut disk, line).is_ok());
        assert_eq!(disk.taken, line);
    }

    /// A log file's line goes out in one write or is left cut, never
    /// continued by a second write (which could follow another thread's line).
    #[test]
    fn a_file_line_is_one_write_or_a_cut_line() {
        let line = b"AUDIT tool=list_events client=x outcome=ok ms=1\n";
        let disk = |room, chunk| Disk {
            room,
            chunk,
            taken: Vec::new(),
        };
        let mut whole = disk(1000, usize::MAX);
        assert!(write_once(&mut whole, line).is_ok());
        assert_eq!(whole.taken, line);
        for (room, chunk, cut) in [
            (0, usize::MAX, false),
            (10, usize::MAX, true),
            (1000, 7, true),
        ] {
            let mut disk = disk(room, chunk);
            let (_, was_cut) = write_once(&mut disk, line).unwrap_err();
            assert_eq!(was_cut, cut, "room {room} chunk {chunk}");
            assert_eq!(disk.taken, line[..room.min(chunk)], "one write only");
        }
    }

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
