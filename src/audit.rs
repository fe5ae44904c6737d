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
use crate::seclog::{escape, escape_item};

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
        // Each id escaped on its own: `ceo,primary` is two calendars,
        // `"ceo,primary"` one whose id holds a comma.
        let calendars = if call.calendars.is_empty() {
            "-".to_owned()
        } else {
            let items: Vec<String> = call.calendars.iter().map(|c| escape_item(c)).collect();
            items.join(",")
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

#[cfg(test)]
mod tests {
    use super::escape_item;
    use proptest::prelude::proptest;

    /// Reads a `calendars=` value back into its ids: items split at commas
    /// outside quotes, quoted items unescaped.
    fn read_back(field: &str) -> Vec<String> {
        if field == "-" {
            return Vec::new();
        }
        let mut items = Vec::new();
        let mut chars = field.chars().peekable();
        loop {
            let mut item = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('u') => {
                                let code: String =
                                    chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                                item.push(
                                    char::from_u32(u32::from_str_radix(&code, 16).unwrap())
                                        .unwrap(),
                                );
                            }
                            Some(other) => item.push(other),
                            None => panic!("dangling escape in {field}"),
                        },
                        c => item.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                    item.push(c);
                    chars.next();
                }
            }
            items.push(item);
            match chars.next() {
                Some(',') => continue,
                None => return items,
                Some(other) => panic!("unexpected {other:?} in {field}"),
            }
        }
    }

    fn field(ids: &[String]) -> String {
        if ids.is_empty() {
            return "-".to_owned();
        }
        ids.iter()
            .map(|c| escape_item(c))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn a_comma_in_an_id_is_not_a_second_calendar() {
        let one = vec!["ceo,primary".to_owned()];
        let two = vec!["ceo".to_owned(), "primary".to_owned()];
        assert_eq!(field(&one), "\"ceo,primary\"");
        assert_eq!(field(&two), "ceo,primary");
        assert_eq!(field(&["-".to_owned()]), "\"-\"");
    }

    proptest! {
        #[test]
        fn every_calendars_field_reads_back_as_the_ids_used(
            ids in proptest::collection::vec("(?s).{0,64}", 0..5)
        ) {
            let written = field(&ids);
            // One token on the line: printable, and no space outside quotes.
            proptest::prop_assert!(written.chars().all(|c| (' '..='~').contains(&c)), "{}", written);
            proptest::prop_assert_eq!(read_back(&written), ids);
        }
    }
}
