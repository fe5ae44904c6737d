//! The audit log: one line per tool call, whatever its outcome, so an operator
//! can answer "who did what to which calendar, when". The token itself is never
//! written, only its `jti`.
//!
//! ```text
//! 2026-11-22T10:31:00.004Z mcp-gateway[1234]: AUDIT tool=create_event client=agent-42 ip=10.8.0.7 jti=5f0c… calendars=team outcome=ok ms=3
//! ```
//!
//! With `log.audit_format = "json"`, the same fields as one JSON object a
//! line, every value escaped by the JSON encoder and client-influenced text
//! cut as in the text line:
//!
//! ```text
//! {"timestamp":"2026-11-22T10:31:00.004Z","process":"mcp-gateway","pid":1234,"event":"AUDIT","tool":"create_event","client":"agent-42","ip":"10.8.0.7","jti":"5f0c…","calendars":["team"],"outcome":"ok","ms":3}
//! ```

use std::fmt::Write;
use std::path::Path;

use crate::config::AuditFormat;
use crate::observe::escape::{MAX_VALUE_CHARS, push_item, push_value};
use crate::observe::logsink::LogSink;
use crate::policy::address::ClientIp;

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
    pub ip: ClientIp,
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
    /// Text or JSON lines.
    format: AuditFormat,
}

impl AuditLog {
    /// Appends `format` lines to `path`, creating it (mode 0640) when missing.
    pub fn open(path: &Path, format: AuditFormat) -> std::io::Result<AuditLog> {
        Ok(AuditLog::with(LogSink::open(path, "audit")?, format))
    }

    fn with(sink: LogSink, format: AuditFormat) -> AuditLog {
        let sink = match format {
            AuditFormat::Text => sink,
            AuditFormat::Json => sink.as_json(),
        };
        AuditLog { sink, format }
    }

    /// Reopens the file (SIGHUP after log rotation); nothing for stderr.
    pub fn reopen(&self) {
        self.sink.reopen();
    }

    /// Whether audit lines are being written (see [`LogSink::writable`]).
    pub fn writable(&self) -> bool {
        self.sink.writable()
    }

    /// Writes `format` lines to stderr.
    pub fn stderr(format: AuditFormat) -> AuditLog {
        AuditLog::with(LogSink::stderr("audit"), format)
    }

    /// Records one tool call.
    pub fn record(&self, call: &ToolCall<'_>) {
        self.record_with(call, None);
    }

    /// Records a token renewal: one line like a tool call's (`tool=token_renewal`,
    /// the old token's `jti`), plus the `jti` of the token it issued, so that
    /// an operator can follow a renewal chain in the audit log.
    pub fn record_renewal(&self, call: &ToolCall<'_>, issued_jti: &str) {
        self.record_with(call, Some(issued_jti));
    }

    fn record_with(&self, call: &ToolCall<'_>, issued_jti: Option<&str>) {
        if self.format == AuditFormat::Json {
            let mut line = self.json_fields(call);
            if let Some(issued) = issued_jti {
                line.insert("issued_jti".into(), bounded(issued).into());
            }
            return self.sink.write(serde_json::Value::Object(line).to_string());
        }
        // Written into the line itself, piece by piece (a String's `write!`
        // cannot fail): this runs for every call.
        let mut line = self.sink.prefix("AUDIT");
        line.push_str(" tool=");
        push_value(&mut line, call.tool);
        line.push_str(" client=");
        push_value(&mut line, call.client);
        let _ = write!(line, " ip={} jti=", call.ip);
        push_value(&mut line, call.token_id);
        line.push_str(" calendars=");
        push_calendars(&mut line, call.calendars);
        line.push_str(" outcome=");
        line.push_str(call.outcome.label());
        let _ = write!(line, " ms={}", call.millis);
        if let Some(issued) = issued_jti {
            line.push_str(" issued_jti=");
            push_value(&mut line, issued);
        }
        self.sink.write(line);
    }

    /// The JSON line of `call`: the text line's fields, every value escaped by
    /// the JSON encoder, client-influenced text cut as the text line cuts it.
    fn json_fields(&self, call: &ToolCall<'_>) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = self.sink.json_event("AUDIT");
        fields.insert("tool".into(), bounded(call.tool).into());
        fields.insert("client".into(), bounded(call.client).into());
        fields.insert("ip".into(), call.ip.to_string().into());
        fields.insert("jti".into(), bounded(call.token_id).into());
        let calendars: Vec<serde_json::Value> =
            call.calendars.iter().map(|c| bounded(c).into()).collect();
        fields.insert("calendars".into(), calendars.into());
        fields.insert("outcome".into(), call.outcome.label().into());
        fields.insert("ms".into(), (call.millis as u64).into());
        fields
    }
}

/// The `calendars=` value: `-` for none, else each id escaped on its own
/// (`ceo,primary` is two calendars, `"ceo,primary"` one whose id holds a comma).
fn push_calendars(line: &mut String, ids: &[String]) {
    if ids.is_empty() {
        line.push('-');
    }
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_item(line, id);
    }
}

/// `value` cut to [`MAX_VALUE_CHARS`] characters, saying how many went.
fn bounded(value: &str) -> String {
    let total = value.chars().count();
    if total <= MAX_VALUE_CHARS {
        return value.to_owned();
    }
    let kept: String = value.chars().take(MAX_VALUE_CHARS).collect();
    format!("{kept}...[{} more chars]", total - MAX_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::push_calendars;
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
        let mut field = String::new();
        push_calendars(&mut field, ids);
        field
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

#[cfg(test)]
mod json_tests {
    use super::{AuditLog, Outcome, ToolCall};
    use crate::config::AuditFormat;
    use crate::policy::address::ClientIp;
    use proptest::prelude::proptest;

    proptest! {
        /// Whatever the client sent, a JSON audit line is one line that
        /// parses back to exactly the values of the call (short ones whole).
        #[test]
        fn json_lines_read_back_exactly(
            tool in "(?s).{0,80}",
            calendars in proptest::collection::vec("(?s).{0,40}", 0..4),
        ) {
            let dir = tempfile::TempDir::new().unwrap();
            let path = dir.path().join("audit.log");
            let log = AuditLog::open(&path, AuditFormat::Json).unwrap();
            log.record(&ToolCall {
                tool: &tool,
                client: "agent-a",
                ip: ClientIp::canonical("10.8.0.7".parse().unwrap()),
                token_id: "jti-1",
                calendars: &calendars,
                outcome: Outcome::Refused,
                millis: 7,
            });
            let text = std::fs::read_to_string(&path).unwrap();
            proptest::prop_assert_eq!(text.matches('\n').count(), 1);
            let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
            proptest::prop_assert_eq!(&line["tool"], &serde_json::json!(tool));
            proptest::prop_assert_eq!(&line["calendars"], &serde_json::json!(calendars));
            proptest::prop_assert_eq!(&line["event"], "AUDIT");
            proptest::prop_assert_eq!(&line["outcome"], "refused");
            proptest::prop_assert_eq!(&line["ip"], "10.8.0.7");
            proptest::prop_assert_eq!(&line["ms"], 7);
        }
    }

    #[test]
    fn long_values_are_cut_and_say_so() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path, AuditFormat::Json).unwrap();
        let tool = "t".repeat(10_000);
        log.record(&ToolCall {
            tool: &tool,
            client: "agent-a",
            ip: ClientIp::canonical("10.8.0.7".parse().unwrap()),
            token_id: "jti-1",
            calendars: &[],
            outcome: Outcome::Failed,
            millis: 0,
        });
        let line: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim_end()).unwrap();
        let logged = line["tool"].as_str().unwrap();
        assert!(
            logged.len() < 400 && logged.ends_with("more chars]"),
            "{logged}"
        );
    }
}
