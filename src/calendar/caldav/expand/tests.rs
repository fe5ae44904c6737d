use chrono::{TimeZone, Utc};

use super::in_window;
use crate::calendar::caldav::content::Content;
use crate::calendar::caldav::vevent::{ObjectEvents, read_object};

const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// Wednesdays 09:00 Berlin from 2 December, ten times; the 16th excluded;
/// the 9th moved to 11:00; the 23rd cancelled; the 6 January occurrence
/// moved back to 31 December.
const SERIES: &str = "BEGIN:VCALENDAR\r\n\
BEGIN:VEVENT\r\n\
UID:s\r\n\
DTSTART;TZID=Europe/Berlin:20261202T090000\r\n\
DTEND;TZID=Europe/Berlin:20261202T100000\r\n\
SUMMARY:Weekly\r\n\
RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n\
EXDATE;TZID=Europe/Berlin:20261216T090000\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:s\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261209T110000\r\n\
DTEND;TZID=Europe/Berlin:20261209T120000\r\n\
SUMMARY:Moved\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:s\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261223T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261223T090000\r\n\
DTEND;TZID=Europe/Berlin:20261223T100000\r\n\
STATUS:CANCELLED\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:s\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20270106T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261231T090000\r\n\
DTEND;TZID=Europe/Berlin:20261231T100000\r\n\
SUMMARY:Pulled forward\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

const ONE_OFF: &str = "BEGIN:VCALENDAR\r\n\
BEGIN:VEVENT\r\n\
UID:o\r\n\
DTSTART:20261202T080000Z\r\n\
DTEND:20261202T083000Z\r\n\
SUMMARY:Same start\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn object(text: &str, id: &str) -> ObjectEvents {
    read_object(&Content::parse(text).unwrap(), id, "e", BERLIN)
        .unwrap()
        .unwrap()
}

fn listed(from: (i32, u32, u32), to: (i32, u32, u32)) -> Vec<(String, String, String)> {
    let objects = vec![object(SERIES, "s"), object(ONE_OFF, "o")];
    in_window(
        objects,
        Utc.with_ymd_and_hms(from.0, from.1, from.2, 0, 0, 0)
            .unwrap(),
        Utc.with_ymd_and_hms(to.0, to.1, to.2, 0, 0, 0).unwrap(),
        BERLIN,
    )
    .unwrap()
    .into_iter()
    .map(|s| {
        (
            s.event.id.clone(),
            s.start.instant(s.zone).format("%m-%d %H:%M").to_string(),
            s.event.summary.clone().unwrap_or_default(),
        )
    })
    .collect()
}

#[test]
fn occurrences_overrides_exclusions_and_cancellations_in_one_list() {
    let december = listed((2026, 12, 1), (2027, 1, 1));
    let expected = [
        ("o", "12-02 08:00", "Same start"),
        ("s_20261202T080000Z", "12-02 08:00", "Weekly"),
        ("s_20261209T080000Z", "12-09 10:00", "Moved"),
        ("s_20261230T080000Z", "12-30 08:00", "Weekly"),
        ("s_20270106T080000Z", "12-31 08:00", "Pulled forward"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(december, expected);
}

#[test]
fn an_occurrence_moved_out_of_the_window_is_not_in_it() {
    // 9 December 08:00-09:00 UTC is where the rule placed the moved one.
    let objects = vec![object(SERIES, "s")];
    let found = in_window(
        objects,
        Utc.with_ymd_and_hms(2026, 12, 9, 8, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 9, 9, 0, 0).unwrap(),
        BERLIN,
    )
    .unwrap();
    assert!(found.is_empty(), "{found:?}");
    // January: the 6th was pulled into December; the 13th is there.
    let january = listed((2027, 1, 1), (2027, 1, 14));
    let ids: Vec<&str> = january.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["s_20270113T080000Z"]);
}
