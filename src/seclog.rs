//! The security log: one line per denial, in a stable format fail2ban parses
//! (`fail2ban/filter.d/mcp-gateway.conf`), written before the client is answered.
//!
//! ```text
//! 2026-11-22T10:30:00.123Z mcp-gateway[1234]: DENY stage=geo reason=country_blocked ip=203.0.113.7 client=- country=KP
//! 2026-11-22T10:30:01.456Z mcp-gateway[1234]: ALLOW stage=tls ip=10.8.0.7 client=agent-42
//! ```
//!
//! Fields come in a fixed order: `stage`, `reason` (DENY only), `ip` (always a
//! parsed address), `client`, then optional `country` and `detail`. Every value a
//! client can influence is escaped by [`escape`], so no client can split a line
//! or forge a field.

use crate::denial::{Denial, Stage};
use crate::logsink::LogSink;
use std::net::IpAddr;
use std::path::Path;

/// Where security lines go.
pub struct SecurityLog {
    /// The file or stderr.
    sink: LogSink,
}

impl SecurityLog {
    /// Appends to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path) -> std::io::Result<SecurityLog> {
        Ok(SecurityLog {
            sink: LogSink::open(path, "security")?,
        })
    }

    /// Writes to stderr.
    pub fn stderr() -> SecurityLog {
        SecurityLog {
            sink: LogSink::stderr("security"),
        }
    }

    /// Records a denial of `ip` (and `client`, once known).
    pub fn deny(&self, denial: &Denial, ip: IpAddr, client: Option<&str>) {
        let mut line = self.sink.prefix("DENY");
        line.push_str(&format!(
            " stage={} reason={} ip={} client={}",
            denial.reason.stage().label(),
            denial.reason.label(),
            ip,
            client.map(escape).unwrap_or_else(|| "-".to_owned())
        ));
        if let Some(country) = &denial.country {
            line.push_str(&format!(" country={}", escape(country)));
        }
        if let Some(detail) = &denial.detail {
            line.push_str(&format!(" detail={}", escape(detail)));
        }
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

/// A log-safe rendering of a client-influenced value: kept as is when it holds
/// only `[A-Za-z0-9._:/@+,-]`, otherwise double-quoted with `"`, `\`, control
/// and non-ASCII characters escaped, so it can never end the line or a field.
pub fn escape(value: &str) -> String {
    if !value.is_empty() && value.chars().all(is_plain) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::escape;
    use proptest::prelude::{any, proptest};

    #[test]
    fn plain_values_stay_plain_and_others_are_quoted() {
        assert_eq!(escape("spiffe://corp/agent-42"), "spiffe://corp/agent-42");
        assert_eq!(escape(""), "\"\"");
        assert_eq!(escape("a b"), "\"a b\"");
        assert_eq!(escape("x\nDENY ip=1.2.3.4"), "\"x\\u{a}DENY ip=1.2.3.4\"");
        assert_eq!(escape("q\"\\"), "\"q\\\"\\\\\"");
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
