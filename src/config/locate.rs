//! Where things are in the config text, so that every problem can say
//! `gateway.toml:27: log.audit-deny: ...`: the dotted key at a byte offset
//! (for TOML's own errors, which carry a span), the line of a dotted key (for
//! the validation problems, which carry a key), and the byte range of a whole
//! `key = value` entry (blanked to look for the next problem).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Line (1-based) of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// What was found at an offset: the dotted key, and the range of its entry.
struct Found {
    key: String,
    entry: Range<usize>,
}

fn search(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<Found> {
    for (key, value) in table.iter() {
        let name = format!("{prefix}{}", key.get_ref());
        let (key_span, value_span) = (key.span(), value.span());
        let entry = key_span.start.min(value_span.start)..key_span.end.max(value_span.end);
        let deeper =
            match value.get_ref() {
                DeValue::Table(inner) => search(inner, offset, &format!("{name}.")),
                DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| match item
                    .get_ref()
                {
                    DeValue::Table(inner) => search(inner, offset, &format!("{name}[{i}]."))
                        .or_else(|| {
                            item.span().contains(&offset).then(|| Found {
                                key: format!("{name}[{i}]"),
                                entry: entry.clone(),
                            })
                        }),
                    _ => item.span().contains(&offset).then(|| Found {
                        key: format!("{name}[{i}]"),
                        entry: entry.clone(),
                    }),
                }),
                _ => None,
            };
        if deeper.is_some() {
            return deeper;
        }
        if key_span.contains(&offset) || value_span.contains(&offset) {
            return Some(Found { key: name, entry });
        }
    }
    None
}

/// The dotted key (`log.audit-deny`, `tls.crls[0]`) whose entry holds byte
/// `offset`, and that entry's byte range.
pub fn key_at(text: &str, offset: usize) -> Option<(String, Range<usize>)> {
    let document = DeTable::parse(text).ok()?;
    search(document.get_ref(), offset, "").map(|f| (f.key, f.entry))
}

/// The line of the dotted `key` (`jwt.algorithms[0]`, `backend.embedded.path`):
/// of the key itself, or of the closest table that holds it.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut line = None;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((found_key, value)) = table.iter().find(|(k, _)| k.get_ref() == name) else {
            return line;
        };
        line = Some(line_at(text, found_key.span().start));
        let value = match (value.get_ref(), index) {
            (DeValue::Array(items), Some(i)) => match items.get(i) {
                Some(item) => {
                    line = Some(line_at(text, item.span().start));
                    item.get_ref()
                }
                None => return line,
            },
            (other, _) => other,
        };
        match value {
            DeValue::Table(inner) => table = inner,
            _ => return line,
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::{key_at, line_of_key};

    const TEXT: &str = "[listen]\naddress = \"x\"\n\n[log]\naudit-deny = true\n\n[tls]\ncrls = [\"a\", \"b\"]\n\n[[backend.embedded.calendars]]\nid = \"team\"\n";

    #[test]
    fn keys_and_lines_are_found_both_ways() {
        let offset = TEXT.find("audit-deny").unwrap();
        let (key, entry) = key_at(TEXT, offset).unwrap();
        assert_eq!(key, "log.audit-deny");
        assert_eq!(&TEXT[entry], "audit-deny = true");
        assert_eq!(
            key_at(TEXT, TEXT.find("\"b\"").unwrap()).unwrap().0,
            "tls.crls[1]"
        );
        assert_eq!(line_of_key(TEXT, "log.audit-deny"), Some(5));
        assert_eq!(line_of_key(TEXT, "tls.crls[1]"), Some(8));
        assert_eq!(
            line_of_key(TEXT, "backend.embedded.calendars[0].id"),
            Some(11)
        );
        assert_eq!(line_of_key(TEXT, "listen.max_connections"), Some(1));
        assert_eq!(line_of_key(TEXT, "jwt.jwks"), None);
    }
}
