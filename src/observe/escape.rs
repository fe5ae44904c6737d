//! How a value a client can influence is written into any log line: as one
//! plain token or one quoted string, bounded, with nothing that could end
//! the line or forge a field. The security log, the audit log and the
//! diagnostic log on stderr all write through these functions.

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
    let mut out = String::new();
    push_value(&mut out, value);
    out
}

/// Appends [`escape`]'s rendering of `value` to a line being written.
pub fn push_value(out: &mut String, value: &str) {
    push_with(out, value, is_plain);
}

/// Like [`push_value`], for one item of a comma-separated list: an item
/// holding a comma (or being `-`, which stands for an empty list) is quoted,
/// so the list reads back as exactly the items written.
pub fn push_item(out: &mut String, value: &str) {
    if value == "-" {
        return out.push_str("\"-\"");
    }
    push_with(out, value, |c| c != ',' && is_plain(c));
}

fn push_with(out: &mut String, value: &str, plain: impl Fn(char) -> bool) {
    // The common case, a short plain value (an address, an identity), in one pass.
    if !value.is_empty() && value.len() <= MAX_VALUE_CHARS && value.chars().all(plain) {
        return out.push_str(value);
    }
    let total = value.chars().count();
    let kept: String = value.chars().take(MAX_VALUE_CHARS).collect();
    let cut = total - total.min(MAX_VALUE_CHARS);
    out.reserve(kept.len() + 24);
    out.push('"');
    push_escaped(out, &kept);
    if cut > 0 {
        out.push_str(&format!("...[{cut} more chars]"));
    }
    out.push('"');
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
