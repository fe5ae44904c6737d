//! The security log: one line per refusal, in a stable format fail2ban parses
//! (`fail2ban/filter.d/mcp-gateway.conf`), written before the client is answered.
//!
//! ```text
//! 2026-11-22T10:30:00.123Z mcp-gateway[1234]: DENY stage=geo reason=country_blocked ip=203.0.113.7 client=- country=KP
//! 2026-11-22T10:30:00.511Z mcp-gateway[1234]: REFUSE stage=scope reason=permission_missing ip=10.8.0.7 client=agent-42 detail="delete_event needs deleteEvents"
//! 2026-11-22T10:30:00.902Z mcp-gateway[1234]: REFUSE stage=proxy reason=missing_proxy_header peer=10.0.0.5 client=-
//! 2026-11-22T10:30:01.456Z mcp-gateway[1234]: ALLOW stage=tls ip=10.8.0.7 client=agent-42
//! ```
//!
//! The event word says what fail2ban may do: `DENY` for refusals an attacker
//! causes ([`crate::denial::Reason::ban_worthy`]), `REFUSE` for the others, so
//! the filter stays one regex on `DENY`. Fields come in a fixed order: `stage`,
//! `reason`, `ip` (always a parsed address; `peer` instead when the refusal is
//! about a trusted load balancer's own traffic), `client`, then optional
//! `country` and `detail`. Every value a client can influence is escaped and
//! bounded by [`escape`], so no client can split a line, forge a field or
//! grow a line without limit.

use crate::denial::{Denial, Stage};
use crate::logsink::LogSink;
use std::net::IpAddr;
use std::path::Path;

/// Where security lines go.
pub struct SecurityLog {
    /// The file or stderr.
    sink: LogSink,
    /// In-process bans fed by the ban-worthy refusals, when `[bans]` is on.
    bans: Option<std::sync::Arc<crate::bans::Bans>>,
}

impl SecurityLog {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path) -> std::io::Result<SecurityLog> {
        Ok(SecurityLog {
            sink: LogSink::open(path, "security")?,
            bans: None,
        })
    }

    /// Reopens the file (SIGHUP after log rotation); nothing for stderr.
    pub fn reopen(&self) {
        self.sink.reopen();
    }

    /// Whether security lines are being written (see [`LogSink::writable`]).
    pub fn writable(&self) -> bool {
        self.sink.writable()
    }

    /// Writes to stderr.
    pub fn stderr() -> SecurityLog {
        SecurityLog {
            sink: LogSink::stderr("security"),
            bans: None,
        }
    }

    /// Feeds every ban-worthy refusal to `bans` from now on.
    pub fn with_bans(mut self, bans: std::sync::Arc<crate::bans::Bans>) -> SecurityLog {
        self.bans = Some(bans);
        self
    }

    /// Whether `ip` is banned in-process now; a ban that has just expired is
    /// lifted and its `UNBAN` line written.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        let Some(bans) = &self.bans else {
            return false;
        };
        match bans.is_banned(ip, std::time::Instant::now()) {
            (true, _) => true,
            (false, true) => {
                self.unbanned(ip);
                false
            }
            (false, false) => false,
        }
    }

    /// Records that `ip` is banned here for `left` because the replica whose
    /// shared ban file is `from` banned it.
    pub fn banned_elsewhere(&self, ip: IpAddr, left: std::time::Duration, from: &str) {
        self.banned(ip, left, Some(from));
    }

    /// The BAN line (its own event word: fail2ban's filter matches DENY lines
    /// only), naming the replica's ban file when the ban came from another.
    fn banned(&self, ip: IpAddr, period: std::time::Duration, from: Option<&str>) {
        crate::telemetry::banned();
        let mut line = self.sink.prefix("BAN");
        line.push_str(&format!(" ip={ip} for={}s", period.as_secs()));
        if let Some(from) = from {
            line.push_str(&format!(" from={}", escape(from)));
        }
        self.sink.write(line);
    }

    /// Records that `ip` is no longer banned (its ban expired).
    fn unbanned(&self, ip: IpAddr) {
        let mut line = self.sink.prefix("UNBAN");
        line.push_str(&format!(" ip={ip}"));
        self.sink.write(line);
    }

    /// Records a refusal of `ip` (and `client`, once known).
    pub fn deny(&self, denial: &Denial, ip: IpAddr, client: Option<&str>) {
        crate::telemetry::denial(denial);
        let event = if denial.ban_worthy() {
            "DENY"
        } else {
            "REFUSE"
        };
        let address = if denial.concerns_balancer() {
            "peer"
        } else {
            "ip"
        };
        let mut line = self.sink.prefix(event);
        line.push_str(&format!(
            " stage={} reason={} {address}={ip} client={}",
            denial.reason.stage().label(),
            denial.reason.label(),
            client.map(escape).unwrap_or_else(|| "-".to_owned())
        ));
        if let Some(country) = &denial.country {
            line.push_str(&format!(" country={}", escape(country)));
        }
        if let Some(detail) = &denial.detail {
            line.push_str(&format!(" detail={}", escape(detail)));
        }
        self.sink.write(line);
        if let Some(bans) = &self.bans
            && denial.ban_worthy()
            && let crate::bans::Strike::Banned(period) = bans.strike(ip, std::time::Instant::now())
        {
            self.banned(ip, period, None);
        }
    }

    /// Records a reload that widened access, naming each widened setting (a
    /// WIDEN line: no fail2ban filter matches it; an operator's alert should).
    pub fn widened(&self, keys: &[&str]) {
        let mut line = self.sink.prefix("WIDEN");
        line.push_str(&format!(" stage=reload keys={}", escape(&keys.join(","))));
        self.sink.write(line);
    }

    /// Records that `client` at `ip` passed `stage` (a word no fail2ban filter matches).
    pub fn allow(&self, stage: Stage, ip: IpAddr, client: &str) {
        let mut line = self.sink.prefix("ALLOW");
        line.push_str(&format!(
            " stage={} ip={ip} client={}",
            stage.label(),
            escape(client)
        ));
        self.sink.write(line);
    }
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@' | '+' | '-' | ',')
}

/// Most characters of one client-influenced value written to a log; the rest
/// is replaced by a count, so a 60 KB certificate name costs a short line.
pub const MAX_VALUE_CHARS: usize = 256;

/// A log-safe rendering of a client-influenced value: kept as is when it holds
/// only `[A-Za-z0-9._:/@+,-]`, otherwise double-quoted with `"`, `\`, control
/// and non-ASCII characters escaped, so it can never end the line or a field.
/// Values longer than [`MAX_VALUE_CHARS`] are cut, and say by how much.
pub fn escape(value: &str) -> String {
    escape_with(value, is_plain)
}

/// Like [`escape`], for one item of a comma-separated list: an item holding a
/// comma (or being `-`, which stands for an empty list) is quoted, so the
/// list reads back as exactly the items written.
pub fn escape_item(value: &str) -> String {
    if value == "-" {
        return "\"-\"".to_owned();
    }
    escape_with(value, |c| c != ',' && is_plain(c))
}

fn escape_with(value: &str, plain: impl Fn(char) -> bool) -> String {
    // The common case, a short plain value (an address, an identity), in one pass.
    if !value.is_empty() && value.len() <= MAX_VALUE_CHARS && value.chars().all(plain) {
        return value.to_owned();
    }
    let total = value.chars().count();
    let kept: String = value.chars().take(MAX_VALUE_CHARS).collect();
    let cut = total - total.min(MAX_VALUE_CHARS);
    let mut out = String::with_capacity(kept.len() + 24);
    out.push('"');
    push_escaped(&mut out, &kept);
    if cut > 0 {
        out.push_str(&format!("...[{cut} more chars]"));
    }
    out.push('"');
    out
}

/// Appends `text` with `"`, `\`, control and non-ASCII characters escaped:
/// the one character rule every log sink uses (security and audit lines, and
/// the diagnostic log on stderr).
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_VALUE_CHARS, escape};
    use proptest::prelude::{any, proptest};

    #[test]
    fn plain_values_stay_plain_and_others_are_quoted() {
        assert_eq!(escape("spiffe://corp/agent-42"), "spiffe://corp/agent-42");
        assert_eq!(escape(""), "\"\"");
        assert_eq!(escape("a b"), "\"a b\"");
        assert_eq!(escape("x\nDENY ip=1.2.3.4"), "\"x\\u{a}DENY ip=1.2.3.4\"");
        assert_eq!(escape("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(
            escape("\u{1b}[31m\u{2028}\u{85}\r"),
            "\"\\u{1b}[31m\\u{2028}\\u{85}\\u{d}\""
        );
    }

    #[test]
    fn long_values_are_cut_and_say_so() {
        let cn = "A".repeat(60_000);
        let logged = escape(&cn);
        assert_eq!(
            logged,
            format!(
                "\"{}...[{} more chars]\"",
                "A".repeat(MAX_VALUE_CHARS),
                60_000 - MAX_VALUE_CHARS
            )
        );
    }

    proptest! {
        #[test]
        fn escaped_values_are_one_token_or_one_quoted_string(value in any::<String>()) {
            let escaped = escape(&value);
            // Printable ASCII only: no newline, no other line breaks.
            assert!(escaped.chars().all(|c| (' '..='~').contains(&c)), "{escaped:?}");
            if escaped.starts_with('"') {
                // The only unescaped quote is the closing one.
                let inner = &escaped[1..escaped.len() - 1];
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    assert_ne!(c, '"', "{escaped:?}");
                    if c == '\\' {
                        chars.next();
                    }
                }
                assert!(escaped.ends_with('"') && escaped.len() >= 2);
            } else {
                assert!(!escaped.contains(' ') && !escaped.contains('='), "{escaped:?}");
            }
        }
    }
}
