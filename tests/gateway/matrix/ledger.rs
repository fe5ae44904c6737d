//! The bookkeeping of the admission matrix: each row's outcome against what
//! was expected, the one security line it must write (or none), and at the
//! end the shipped fail2ban filter, run by the real `fail2ban-regex` over every
//! line the rows wrote: it must match exactly the rows marked ban-worthy.

use std::fmt;
use std::time::Duration;

use crate::common::TestGateway;

/// What a client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The connection or handshake failed: no HTTP answer at all.
    NoAnswer,
    /// An HTTP status other than 200.
    Status(u16),
    /// HTTP 200 with a JSON-RPC error of this code.
    RpcError(i64),
    /// HTTP 200 with a tool result the tool marked as an error.
    ToolError,
    /// HTTP 200 with a result.
    Ok,
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The security line a row must write.
#[derive(Debug, Clone, Copy)]
pub enum Line<'a> {
    /// No refusal line (an `ALLOW stage=tls` line for a new connection is not one).
    None,
    /// One line starting with this text; fail2ban must not match it.
    Refuse(&'a str),
    /// One line starting with this text; fail2ban must match it.
    Deny(&'a str),
}

/// One checked row.
struct Checked {
    name: String,
    lines: Vec<String>,
    ban_worthy: bool,
}

/// The rows of one family of the matrix, checked as they run.
pub struct Ledger {
    family: &'static str,
    rows: Vec<Checked>,
    mark: usize,
    /// Every row that went wrong, reported together at the end.
    failures: Vec<String>,
}

/// Raw security log lines (with their time stamp and pid prefix).
fn raw_lines(gw: &TestGateway) -> Vec<String> {
    std::fs::read_to_string(gw.security_log_path())
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The part of a raw line after its prefix.
fn message(raw: &str) -> &str {
    raw.split_once("]: ").map_or(raw, |(_, rest)| rest)
}

impl Ledger {
    /// An empty ledger for `family`, starting after the lines `gw` holds now.
    pub fn new(family: &'static str, gw: &TestGateway) -> Ledger {
        Ledger {
            family,
            rows: Vec::new(),
            mark: raw_lines(gw).len(),
            failures: Vec::new(),
        }
    }

    /// Checks row `name`: `seen` must be `expected`, and the security lines
    /// written since the previous row must be `line` (plus, at most, the
    /// `ALLOW` line of a new connection).
    pub async fn row(
        &mut self,
        gw: &TestGateway,
        name: &str,
        seen: Seen,
        expected: Seen,
        line: Line<'_>,
    ) {
        let mut wrong = Vec::new();
        if seen != expected {
            wrong.push(format!("saw {seen}, expected {expected}"));
        }
        let (prefix, ban_worthy) = match line {
            Line::None => (None, false),
            Line::Refuse(prefix) => (Some(prefix), false),
            Line::Deny(prefix) => (Some(prefix), true),
        };
        // A refusal line may be written just after the answer left.
        let mut new = Vec::new();
        for _ in 0..80 {
            let lines = raw_lines(gw);
            new = lines[self.mark.min(lines.len())..].to_vec();
            let refusals = new.iter().filter(|l| !is_allow(l)).count();
            if prefix.is_none() || refusals >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.mark += new.len();
        let refusals: Vec<&str> = new
            .iter()
            .filter(|l| !is_allow(l))
            .map(|l| message(l))
            .collect();
        match prefix {
            None if refusals.is_empty() => {}
            None => wrong.push(format!("no refusal line expected, got {refusals:?}")),
            Some(prefix) if refusals.len() == 1 && refusals[0].starts_with(prefix) => {}
            Some(prefix) => wrong.push(format!("expected one line {prefix:?}, got {refusals:?}")),
        }
        if !wrong.is_empty() {
            self.failures.push(format!("{name}: {}", wrong.join("; ")));
        }
        self.rows.push(Checked {
            name: name.to_owned(),
            lines: new,
            ban_worthy,
        });
    }

    /// Runs the shipped filter over every line the rows wrote: it must match
    /// the ban-worthy rows' lines and nothing else. Checks that no secret
    /// reached the security or audit log. Prints the case count.
    pub fn finish(self, gw: &TestGateway) -> usize {
        assert!(
            self.failures.is_empty(),
            "[{}] {} of {} rows went wrong:\n{}",
            self.family,
            self.failures.len(),
            self.rows.len(),
            self.failures.join("\n")
        );
        let log = gw.dir_path().join(format!("matrix-{}.log", self.family));
        let all: Vec<&String> = self.rows.iter().flat_map(|row| &row.lines).collect();
        let text: String = all.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let mut matched = fail2ban_matched(&log);
        for row in &self.rows {
            for line in &row.lines {
                let hit = matched.iter().position(|m| m == message(line));
                let must = row.ban_worthy && !is_allow(line);
                match (hit, must) {
                    (Some(at), true) => {
                        matched.swap_remove(at);
                    }
                    (None, false) => {}
                    (Some(_), false) => panic!(
                        "[{}] {}: fail2ban matched a line it must not: {line}",
                        self.family, row.name
                    ),
                    (None, true) => panic!(
                        "[{}] {}: fail2ban missed a ban-worthy line: {line}",
                        self.family, row.name
                    ),
                }
            }
        }
        // Whatever the rows sent, no secret reaches a log: no token (every
        // JWT starts `eyJ`), no Authorization header, no key.
        for log in ["security.log", "audit.log"] {
            let text = std::fs::read_to_string(gw.dir_path().join(log)).unwrap_or_default();
            for secret in ["eyJ", "Bearer", "PRIVATE KEY"] {
                assert!(
                    !text.contains(secret),
                    "[{}] {log} holds {secret:?}",
                    self.family
                );
            }
        }
        println!(
            "admission matrix, {}: {} cases, {} ban-worthy",
            self.family,
            self.rows.len(),
            self.rows.iter().filter(|r| r.ban_worthy).count()
        );
        self.rows.len()
    }
}

fn is_allow(raw: &str) -> bool {
    message(raw).starts_with("ALLOW ")
}

/// The lines (after their prefix) the shipped filter matches in `log`.
fn fail2ban_matched(log: &std::path::Path) -> Vec<String> {
    crate::common::fail2ban_regex(log, "msg")
        .iter()
        .map(|line| message(line).to_owned())
        .collect()
}
