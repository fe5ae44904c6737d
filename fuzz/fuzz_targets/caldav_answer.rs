//! What a CalDAV server sends, on arbitrary text: a multistatus answer, and
//! a calendar object resource read line by line, into the event model and
//! expanded over a year. The server is not trusted: nothing panics, an
//! answer never lists more resources than the cap, a series expands within
//! its budget, and an object the backend accepted renders to text that
//! reads back as the same object (what an edit writes back is what it read).
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mcp_gateway::calendar::caldav::content::Content;
use mcp_gateway::calendar::caldav::expand::in_window;
use mcp_gateway::calendar::caldav::multistatus::{MAX_RESPONSES, parse};
use mcp_gateway::calendar::caldav::vevent::read_object;

fuzz_target!(|input: (&str, &str)| {
    let (xml, object) = input;
    if let Ok(resources) = parse(xml) {
        assert!(resources.len() <= MAX_RESPONSES);
    }
    let Ok(content) = Content::parse(object) else {
        return;
    };
    let text = content.render();
    let again = Content::parse(&text).expect("a rendered object reads back");
    assert_eq!(again, content);
    if let Ok(Some(events)) = read_object(&content, "x.ics", "\"1\"", chrono_tz::UTC) {
        let from = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let _ = in_window(
            vec![events],
            from,
            from + chrono::Duration::days(366),
            chrono_tz::UTC,
        );
    }
});
