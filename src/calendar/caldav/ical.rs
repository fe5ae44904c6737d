//! Reading the values of the iCalendar properties the backend understands
//! (RFC 5545 §3.2, §3.3): a property's parameters (quoted or not), TEXT
//! values unescaped, and DATE / DATE-TIME values as a [`When`] — UTC, in
//! the `TZID` zone (an IANA name, or a Windows one), or floating (in the
//! calendar's zone).

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::caldav::content::unfold;
use crate::calendar::time::When;

/// One property line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    /// Its name, upper-cased.
    pub name: String,
    /// Its parameters, names upper-cased, values unquoted.
    pub params: Vec<(String, String)>,
    /// Its value, as written (escapes kept: see [`unescape_text`]).
    pub value: String,
}

impl Prop {
    /// The parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a content line (folded or not); `None` when it has no `:`.
pub fn read_prop(raw: &str) -> Option<Prop> {
    let line = unfold(raw);
    let mut params = Vec::new();
    let mut quoted = false;
    let mut segment_start = 0;
    let mut name: Option<String> = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' | ':' if !quoted => {
                let segment = &line[segment_start..i];
                match &name {
                    None => name = Some(segment.to_ascii_uppercase()),
                    Some(_) => {
                        let (param, value) = segment.split_once('=')?;
                        params.push((param.to_ascii_uppercase(), value.replace('"', "")));
                    }
                }
                segment_start = i + 1;
                if c == ':' {
                    return Some(Prop {
                        name: name?,
                        params,
                        value: line[i + 1..].to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// A TEXT value with its escapes undone (`\n`, `\,`, `\;`, `\\`).
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A DATE or DATE-TIME property (`DTSTART`, `DTEND`, `RECURRENCE-ID`) as a
/// [`When`]: a date for `VALUE=DATE` (or eight digits), an instant for a
/// date-time — in UTC with `Z`, in its `TZID` zone, or, floating, in
/// `calendar_zone`. `field` names the property in errors.
pub fn read_when(prop: &Prop, calendar_zone: Tz, field: &str) -> Result<When, CalendarError> {
    let value = prop.value.trim();
    let invalid = |problem: String| CalendarError::Backend(format!("{field}: {problem}"));
    if prop
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || value.len() == 8
    {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d")
            .map_err(|_| invalid(format!("`{value}` is not a DATE")))?;
        return Ok(When::AllDay(date));
    }
    let (local, utc) = match value.strip_suffix('Z') {
        Some(local) => (local, true),
        None => (value, false),
    };
    let naive = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S")
        .map_err(|_| invalid(format!("`{value}` is not a DATE-TIME")))?;
    if utc {
        return Ok(When::Timed {
            at: Utc.from_utc_datetime(&naive),
            zone: None,
        });
    }
    let zone = match prop.param("TZID") {
        Some(name) => named_zone(name).ok_or_else(|| {
            invalid(format!(
                "time zone `{name}` is not a zone the gateway knows"
            ))
        })?,
        None => calendar_zone,
    };
    let at = match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        // A time a DST change skips: RFC 5545 §3.3.5 reads it with the
        // offset from before the gap, which is the instant one hour later.
        chrono::LocalResult::None => naive
            .checked_add_signed(chrono::Duration::hours(1))
            .and_then(|later| zone.from_local_datetime(&later).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid(format!("`{value}` does not exist in {zone}")))?,
    };
    Ok(When::Timed {
        at,
        zone: Some(zone),
    })
}

/// The zone a `TZID` names: an IANA name, a `/`-prefixed global one
/// (`/softwarestudio.org/Olson_20011030_5/America/Chicago`), or a Windows
/// name as Outlook and Exchange write (`W. Europe Standard Time`) — mapped
/// by `calcard`, as CalConnect recommends, rather than read from the
/// object's `VTIMEZONE` rules.
pub fn named_zone(tzid: &str) -> Option<Tz> {
    match tzid.parse::<calcard::common::timezone::Tz>() {
        Ok(calcard::common::timezone::Tz::Tz(zone)) => Some(zone),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use chrono_tz::Tz;

    use super::{Prop, read_prop, read_when, unescape_text};
    use crate::calendar::time::When;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn when(line: &str) -> When {
        read_when(&read_prop(line).unwrap(), BERLIN, "DTSTART").unwrap()
    }

    #[test]
    fn parameters_are_read_with_quotes_and_colons_inside() {
        let prop = read_prop("ATTENDEE;CN=\"Bob: B.\";PARTSTAT=ACCEPTED:mailto:bob@x").unwrap();
        assert_eq!(
            prop,
            Prop {
                name: "ATTENDEE".to_owned(),
                params: vec![
                    ("CN".to_owned(), "Bob: B.".to_owned()),
                    ("PARTSTAT".to_owned(), "ACCEPTED".to_owned())
                ],
                value: "mailto:bob@x".to_owned(),
            }
        );
        assert_eq!(prop.param("partstat"), Some("ACCEPTED"));
        assert_eq!(
            read_prop("SUMMARY:a\r\n  folded").unwrap().value,
            "a folded"
        );
        assert!(read_prop("NO-VALUE").is_none());
    }

    #[test]
    fn text_escapes_are_undone() {
        assert_eq!(unescape_text("a\\, b\\; c\\\\d\\ne"), "a, b; c\\d\ne");
    }

    #[test]
    fn dates_and_times_in_each_form() {
        assert_eq!(
            when("DTSTART;VALUE=DATE:20261224"),
            When::AllDay(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap())
        );
        assert_eq!(
            when("DTSTART:20261202T080000Z"),
            When::Timed {
                at: Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap(),
                zone: None
            }
        );
        let new_york: Tz = chrono_tz::America::New_York;
        assert_eq!(
            when("DTSTART;TZID=America/New_York:20261202T090000"),
            When::Timed {
                at: Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap(),
                zone: Some(new_york)
            }
        );
        // Floating: the calendar's zone.
        assert_eq!(
            when("DTSTART:20260702T090000"),
            When::Timed {
                at: Utc.with_ymd_and_hms(2026, 7, 2, 7, 0, 0).unwrap(),
                zone: Some(BERLIN)
            }
        );
        // Outlook's Windows names and global ids map to their IANA zones.
        assert_eq!(
            when("DTSTART;TZID=W. Europe Standard Time:20261202T090000"),
            when("DTSTART;TZID=Europe/Berlin:20261202T090000")
        );
        assert_eq!(
            when(
                "DTSTART;TZID=/softwarestudio.org/Olson_20011030_5/America/Chicago:20261202T090000"
            ),
            when("DTSTART;TZID=America/Chicago:20261202T090000")
        );
        let unknown = read_when(
            &read_prop("DTSTART;TZID=Nowhere Standard Time:20261202T090000").unwrap(),
            BERLIN,
            "DTSTART",
        )
        .unwrap_err();
        // The detail goes to the log; what the client is told is the
        // backend's mapping.
        assert!(
            format!("{unknown:?}").contains("not a zone the gateway knows"),
            "{unknown:?}"
        );
    }
}
