//! An iCalendar object (RFC 5545) as its content lines, kept exactly as the
//! server sent them, so that an edit rewrites only the properties it changes:
//! every line it does not touch goes back byte for byte, folding included.
//! `calcard` reads the values; its writer normalises what it writes (the
//! parts of an `RRULE` reordered, lines refolded), which would rewrite
//! properties other clients own, so writing is done here, line by line.

use std::fmt::Write as _;
use std::ops::Range;

/// Most content lines one object may hold: a bound on what a server's
/// answer can make the gateway keep.
pub const MAX_LINES: usize = 20_000;

/// Longest line RFC 5545 §3.1 wants, in octets, before folding.
const FOLD_AT: usize = 75;

/// One content line: its text as received (folds included, no final line
/// break) and its property name, upper-cased, for lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    raw: String,
    name: String,
}

/// Why text is not an iCalendar object this module can edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// More than [`MAX_LINES`] content lines.
    #[error("more than {MAX_LINES} content lines")]
    TooLong,
    /// A line without a property name, or `BEGIN`/`END` that do not pair.
    #[error("malformed iCalendar at line {line}: {problem}")]
    Malformed {
        /// The content line, counted from 1.
        line: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

/// One component: where its lines are (`BEGIN` to `END`, both included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `VEVENT`, `VALARM`, `VTIMEZONE`...
    pub kind: String,
    /// Its lines in the object, `BEGIN` and `END` included.
    lines: Range<usize>,
    /// How deep it sits (`VCALENDAR` is 0, a `VEVENT` in it 1).
    depth: usize,
}

impl Component {
    /// Whether this component sits inside `outer` (a `VALARM` in its `VEVENT`).
    pub fn is_inside(&self, outer: &Component) -> bool {
        outer.lines.start < self.lines.start && self.lines.end <= outer.lines.end
    }

    /// Whether both begin on the same line: the same component, found
    /// again after lines inside it changed.
    pub fn same_start(&self, other: &Component) -> bool {
        self.lines.start == other.lines.start
    }
}

/// An iCalendar object, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    lines: Vec<Line>,
}

impl Content {
    /// Splits `text` into content lines (CRLF or LF; a line starting with a
    /// space or a tab continues the one before) and checks that `BEGIN` and
    /// `END` pair up.
    pub fn parse(text: &str) -> Result<Content, ContentError> {
        let mut lines: Vec<Line> = Vec::new();
        for (i, physical) in text.split('\n').enumerate() {
            let physical = physical.strip_suffix('\r').unwrap_or(physical);
            if physical.starts_with([' ', '\t']) {
                let Some(last) = lines.last_mut() else {
                    return Err(ContentError::Malformed {
                        line: i + 1,
                        problem: "a continuation before any line",
                    });
                };
                last.raw.push_str("\r\n");
                last.raw.push_str(physical);
                continue;
            }
            if physical.is_empty() {
                continue;
            }
            if lines.len() == MAX_LINES {
                return Err(ContentError::TooLong);
            }
            let name = property_name(physical).ok_or(ContentError::Malformed {
                line: lines.len() + 1,
                problem: "no property name",
            })?;
            lines.push(Line {
                raw: physical.to_owned(),
                name,
            });
        }
        let content = Content { lines };
        content.components()?;
        Ok(content)
    }

    /// The object as text: every line as received, each ended by CRLF.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.raw.len() + 2).sum());
        for line in &self.lines {
            out.push_str(&line.raw);
            out.push_str("\r\n");
        }
        out
    }

    /// Every component, in order of their `BEGIN` lines.
    pub fn components(&self) -> Result<Vec<Component>, ContentError> {
        let mut open: Vec<(String, usize)> = Vec::new();
        let mut found = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            match line.name.as_str() {
                "BEGIN" => open.push((value_of(&line.raw).to_ascii_uppercase(), i)),
                "END" => {
                    let kind = value_of(&line.raw).to_ascii_uppercase();
                    let malformed = ContentError::Malformed {
                        line: i + 1,
                        problem: "END without its BEGIN",
                    };
                    let (begun, start) = open.pop().ok_or(malformed.clone())?;
                    if begun != kind {
                        return Err(malformed);
                    }
                    found.push(Component {
                        kind,
                        lines: start..i + 1,
                        depth: open.len(),
                    });
                }
                _ if open.is_empty() => {
                    return Err(ContentError::Malformed {
                        line: i + 1,
                        problem: "a property outside any component",
                    });
                }
                _ => {}
            }
        }
        if let Some((_, start)) = open.last() {
            return Err(ContentError::Malformed {
                line: start + 1,
                problem: "BEGIN without its END",
            });
        }
        found.sort_by_key(|c| c.lines.start);
        Ok(found)
    }

    /// The lines of `component`'s own properties named `name` (not those of
    /// its subcomponents), as received.
    pub fn properties(&self, component: &Component, name: &str) -> Vec<&str> {
        self.own_lines(component)
            .filter(|&i| self.lines[i].name.eq_ignore_ascii_case(name))
            .map(|i| self.lines[i].raw.as_str())
            .collect()
    }

    /// Replaces every property `name` of `component` with `lines` (each a
    /// whole content line, e.g. from [`content_line`]); none when `lines` is
    /// empty. The first replaced line's place is kept; a property the
    /// component did not have goes before its first subcomponent (or its
    /// `END`). Every other line is untouched. Components found before the
    /// change may have moved: find them again with [`Content::components`].
    pub fn set_property(&mut self, component: &Component, name: &str, lines: Vec<String>) {
        let present: Vec<usize> = self
            .own_lines(component)
            .filter(|&i| self.lines[i].name.eq_ignore_ascii_case(name))
            .collect();
        let at = present
            .first()
            .copied()
            .unwrap_or_else(|| self.end_of_own_properties(component));
        for &i in present.iter().rev() {
            self.lines.remove(i);
        }
        self.insert(at, lines);
    }

    /// The lines of `component`, `BEGIN` to `END`, as received.
    pub fn component_lines(&self, component: &Component) -> Vec<String> {
        self.lines[component.lines.clone()]
            .iter()
            .map(|line| line.raw.clone())
            .collect()
    }

    /// Adds `lines` (whole content lines) as the last ones inside
    /// `component`, before its `END`.
    pub fn insert_before_end(&mut self, component: &Component, lines: Vec<String>) {
        let at = component.lines.end - 1;
        self.insert(at, lines);
    }

    /// Removes `component`, its subcomponents with it.
    pub fn remove_component(&mut self, component: &Component) {
        self.lines.drain(component.lines.clone());
    }

    /// Adds a component (whole content lines, `BEGIN` to `END`) as the last
    /// child of the outermost one (`VCALENDAR`).
    pub fn append_component(&mut self, lines: Vec<String>) {
        let at = self.lines.len().saturating_sub(1);
        self.insert(at, lines);
    }

    /// Puts whole content lines at index `at`.
    fn insert(&mut self, at: usize, lines: Vec<String>) {
        let new = lines.into_iter().map(|raw| Line {
            name: property_name(&raw).unwrap_or_default(),
            raw,
        });
        self.lines.splice(at..at, new);
    }

    /// The indexes of `component`'s own property lines (between its `BEGIN`
    /// and `END`, outside its subcomponents).
    fn own_lines(&self, component: &Component) -> impl Iterator<Item = usize> + '_ {
        let inner = component.lines.start + 1..component.lines.end - 1;
        let mut depth = 0usize;
        inner.filter(move |&i| match self.lines[i].name.as_str() {
            "BEGIN" => {
                depth += 1;
                false
            }
            "END" => {
                depth -= 1;
                false
            }
            _ => depth == 0,
        })
    }

    /// Where a new property of `component` goes: before its first
    /// subcomponent, or before its `END`.
    fn end_of_own_properties(&self, component: &Component) -> usize {
        (component.lines.start + 1..component.lines.end - 1)
            .find(|&i| self.lines[i].name == "BEGIN")
            .unwrap_or(component.lines.end - 1)
    }
}

/// The property name of an unfolded line: what comes before the first `;`
/// or `:`, upper-cased; `None` when it is empty or not a name.
fn property_name(line: &str) -> Option<String> {
    let end = line.find([';', ':'])?;
    let name = &line[..end];
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| name.to_ascii_uppercase())
}

/// The value of a line: what follows the first `:` outside a quoted
/// parameter value (unfolded).
pub fn value_of(raw: &str) -> String {
    let unfolded = unfold(raw);
    let mut quoted = false;
    for (i, c) in unfolded.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return unfolded[i + 1..].to_owned(),
            _ => {}
        }
    }
    String::new()
}

/// A folded line made whole again (RFC 5545 §3.1).
pub fn unfold(raw: &str) -> String {
    raw.replace("\r\n ", "").replace("\r\n\t", "")
}

/// A content line `NAME;PARAM=VALUE:value`, folded at 75 octets (never
/// inside a UTF-8 character). `params` are written as given: quote a
/// parameter value holding `:`, `;` or `,` with [`quote_param`].
pub fn content_line(name: &str, params: &[(&str, String)], value: &str) -> String {
    let mut whole = name.to_owned();
    for (param, param_value) in params {
        let _ = write!(whole, ";{param}={param_value}");
    }
    whole.push(':');
    whole.push_str(value);
    fold(&whole)
}

/// `text` as an iCalendar TEXT value: backslash, semicolon, comma and line
/// breaks escaped (RFC 5545 §3.3.11).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// A parameter value, double-quoted when it holds a character that would
/// end it (`:`, `;`, `,`); a `"` inside, which RFC 5545 cannot carry, is
/// dropped.
pub fn quote_param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Folds a whole line into lines of at most 75 octets, each continuation
/// starting with a space.
fn fold(whole: &str) -> String {
    let mut out = String::with_capacity(whole.len() + whole.len() / FOLD_AT * 3);
    let mut width = 0;
    for c in whole.chars() {
        if width + c.len_utf8() > FOLD_AT {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests;
