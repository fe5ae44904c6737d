//! A request body and the tool arguments in it, on arbitrary bytes: the
//! gateway's head parse, the plain reading (which must give the checks the
//! head the usual reading gives) and the direct-call check, then
//! the argument parsers (instants, zones, instance ids, recurrence rules and
//! their expansion). Refusals are clean errors that name their argument;
//! nothing panics, and a series never expands past its cap.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mcp_gateway::calendar::series::{Series, parse_instance_id};
use mcp_gateway::calendar::time::{When, parse_instant, parse_zone};
use mcp_gateway::http::checks::{MessageHead, read_message};
use mcp_gateway::mcp::direct::direct_call;
use mcp_gateway::mcp::plain_request::PlainRequest;

fn plain_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "list_events"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    headers
}

fuzz_target!(|input: (&[u8], String, String, Vec<String>)| {
    let (body, text, zone, lines) = input;
    let usual = read_message(&http::Method::POST, body);
    if let Some(plain) = PlainRequest::read(body) {
        let usual = usual.expect("a body read plainly passes the usual reading");
        assert_eq!(MessageHead::of_plain(&plain), usual);
        let _ = direct_call(&plain_headers(), plain);
    }
    if let Err(e) = parse_instant("timeMin", &text) {
        assert!(e.to_string().contains("timeMin"), "{e}");
    }
    if let Err(e) = parse_zone("timeZone", &zone) {
        assert!(e.to_string().contains("timeZone"), "{e}");
    }
    let _ = parse_instance_id(&text);
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
    let timed = |at| When::Timed { at, zone: None };
    if let Ok(series) = Series::new(
        timed(start),
        timed(start + chrono::Duration::hours(1)),
        chrono_tz::UTC,
        &lines,
    ) {
        let _ = series.occurrences(start, start + chrono::Duration::days(366));
    }
});
