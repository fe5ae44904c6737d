//! The CalDAV backend with other clients on the same calendars, on real
//! Radicale and Xandikos: an event made through the gateway reads back the
//! same in the independent Python `caldav` client; a series that client
//! wrote — override, exception, alarm, `X-` property, attendee parameters —
//! is listed right through the gateway, and editing one occurrence leaves
//! every line the edit did not touch as it was. A person's change made while
//! the gateway writes is a conflict, never overwritten; and a client mapped
//! to one account reaches no other account's calendar by any id.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::caldav_servers::USERS;
use crate::caldav_servers::xandikos_empty;
use crate::caldav_setup::{
    alice, caldav_tables, caldav_tables_at, caldav_tables_for, shared_calendars,
};
use crate::common::{McpClient, TestGateway, call_err, call_ok};
use crate::fault_proxy::{Fault, FaultProxy};
use crate::google_setup::Backend;

async fn gateway_on(backend: Backend) -> (TestGateway, &'static str) {
    let (server, home) = shared_calendars(backend).await;
    let tables = caldav_tables(&server, &[], "");
    let mut gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    gw.caldav = Some(server);
    (gw, home)
}

async fn list(client: &McpClient, min: &str, max: &str) -> Vec<Value> {
    let page = call_ok(
        client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": min, "timeMax": max, "timeZone": "Europe/Berlin" }),
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn made_by_the_gateway_reads_back_in_another_client(backend: Backend) {
    let (gw, home) = gateway_on(backend).await;
    let server = gw.caldav.as_ref().unwrap();
    server
        .set_color(alice(backend), &format!("{home}team/"), "#1e90ffff")
        .await;
    let client = gw.mcp("agent-a").await;
    let calendars = call_ok(&client, "list_calendars", json!({})).await;
    let team = &calendars["calendars"][2];
    assert_eq!(
        (
            &team["id"],
            &team["summary"],
            &team["timeZone"],
            &team["color"]
        ),
        (
            &json!("team"),
            &json!("Team"),
            &json!("Europe/Berlin"),
            &json!("#1E90FF")
        ),
        "{calendars}"
    );
    let created = call_ok(
        &client,
        "create_event",
        json!({
            "calendarId": "team",
            "summary": "Quarterly planning",
            "start": { "dateTime": "2030-01-07T09:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2030-01-07T10:30:00", "timeZone": "Europe/Berlin" },
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
            "attendees": [{ "email": "bob@example.org", "displayName": "Bob" }]
        }),
    )
    .await;
    let uid = created["id"].as_str().unwrap().trim_end_matches(".ics");
    let events = server.python_client(
        "read_events.py",
        &format!("{home}team/"),
        alice(backend),
        "",
    );
    let event = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == uid)
        .unwrap_or_else(|| panic!("{events}"));
    assert_eq!(event["summary"], "Quarterly planning");
    assert_eq!(event["start"], "2030-01-07T09:00:00+01:00");
    assert_eq!(event["end"], "2030-01-07T10:30:00+01:00");
    assert_eq!(event["zone"], "Europe/Berlin");
    assert_eq!(event["rrule"], "FREQ=WEEKLY;COUNT=4");
    assert_eq!(event["attendees"], json!(["mailto:bob@example.org"]));
}

/// A series as another calendar app writes it: Mondays 09:00 Berlin, the
/// second moved to 11:00, the third removed, an alarm, a private property,
/// an attendee with parameters the gateway has no field for.
const ANOTHER_CLIENTS_SERIES: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Another calendar app//EN\r\n\
BEGIN:VEVENT\r\n\
UID:sync-3b7e@another.example\r\n\
DTSTAMP:20291201T100000Z\r\n\
DTSTART;TZID=Europe/Berlin:20300107T090000\r\n\
DTEND;TZID=Europe/Berlin:20300107T100000\r\n\
SUMMARY:Sync\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\n\
EXDATE;TZID=Europe/Berlin:20300121T090000\r\n\
ATTENDEE;CN=Carol;PARTSTAT=ACCEPTED;RSVP=TRUE;CUTYPE=INDIVIDUAL:mailto:carol@example.org\r\n\
X-ANOTHER-APP-COLOR:teal\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:Sync\r\n\
TRIGGER:-PT15M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:sync-3b7e@another.example\r\n\
DTSTAMP:20291201T100000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20300114T090000\r\n\
DTSTART;TZID=Europe/Berlin:20300114T110000\r\n\
DTEND;TZID=Europe/Berlin:20300114T120000\r\n\
SUMMARY:Sync (moved)\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// The content lines of an object, unfolded, line ends ignored.
fn lines_of(text: &str) -> BTreeSet<String> {
    text.replace("\r\n", "\n")
        .replace("\n ", "")
        .replace("\n\t", "")
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn written_by_another_client_is_listed_and_survives_an_edit(backend: Backend) {
    let (gw, home) = gateway_on(backend).await;
    let server = gw.caldav.as_ref().unwrap();
    let collection = format!("{home}team/");
    let url = server.python_client(
        "write_event.py",
        &collection,
        alice(backend),
        ANOTHER_CLIENTS_SERIES,
    );
    let url = url.as_str().unwrap().to_owned();
    let client = gw.mcp("agent-a").await;
    let items = list(&client, "2030-01-01T00:00:00Z", "2030-03-01T00:00:00Z").await;
    let seen: Vec<(&str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["start"]["dateTime"].as_str().unwrap(),
                e["summary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("2030-01-07T09:00:00+01:00", "Sync"),
            ("2030-01-14T11:00:00+01:00", "Sync (moved)"),
            ("2030-01-28T09:00:00+01:00", "Sync"),
            ("2030-02-04T09:00:00+01:00", "Sync"),
            ("2030-02-11T09:00:00+01:00", "Sync"),
        ],
        "{items:?}"
    );
    assert_eq!(items[0]["reminders"]["overrides"][0]["minutes"], 15);
    assert_eq!(items[0]["attendees"][0]["responseStatus"], "accepted");

    let before = server.object_text(&url, alice(backend)).await;
    let series = items[0]["recurringEventId"].as_str().unwrap();
    assert_eq!(series, "sync-3b7e@another.example.ics");
    let occurrence = format!("{series}_20300128T080000Z");
    let edited = call_ok(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": occurrence, "summary": "Sync (short)", "scope": "thisInstance" }),
    )
    .await;
    assert_eq!(edited["summary"], "Sync (short)");
    let after = server.object_text(&url, alice(backend)).await;
    let (before_lines, after_lines) = (lines_of(&before), lines_of(&after));
    let lost: Vec<&String> = before_lines.difference(&after_lines).collect();
    assert!(lost.is_empty(), "lines lost by the edit: {lost:?}\n{after}");
    let items = list(&client, "2030-01-27T00:00:00Z", "2030-01-29T00:00:00Z").await;
    assert_eq!(items[0]["summary"], "Sync (short)");
    // The other client sees the edit as an override of that occurrence.
    let events = server.python_client("read_events.py", &collection, alice(backend), "");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["summary"] == "Sync (short)" && e["start"] == "2030-01-28T09:00:00+01:00"),
        "{events}"
    );
}

#[tokio::test]
async fn made_by_the_gateway_reads_back_in_another_client_on_radicale() {
    made_by_the_gateway_reads_back_in_another_client(Backend::Radicale).await;
}

#[tokio::test]
async fn made_by_the_gateway_reads_back_in_another_client_on_xandikos() {
    made_by_the_gateway_reads_back_in_another_client(Backend::Xandikos).await;
}

#[tokio::test]
async fn written_by_another_client_is_listed_and_survives_an_edit_on_radicale() {
    written_by_another_client_is_listed_and_survives_an_edit(Backend::Radicale).await;
}

#[tokio::test]
async fn written_by_another_client_is_listed_and_survives_an_edit_on_xandikos() {
    written_by_another_client_is_listed_and_survives_an_edit(Backend::Xandikos).await;
}

/// A person edits the event in their app while the gateway's write is on
/// its way (held by the proxy): the write is refused by its entity tag,
/// the tool says so, and the person's edit stands.
async fn a_change_made_meanwhile_is_a_conflict_not_overwritten(backend: Backend) {
    let (server, home) = shared_calendars(backend).await;
    let proxy = FaultProxy::start(&server.url).await;
    let tables = caldav_tables_at(&proxy.url, &[], "");
    let gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    let client = gw.mcp("agent-a").await;
    let created = call_ok(
        &client,
        "create_event",
        json!({
            "calendarId": "team", "summary": "Budget",
            "start": { "dateTime": "2030-03-04T10:00:00Z" }, "end": { "dateTime": "2030-03-04T11:00:00Z" }
        }),
    )
    .await;
    let href = format!("{home}team/{}", created["id"].as_str().unwrap());
    proxy.inject("PUT", Fault::Slow(Duration::from_millis(1500)), 1);
    let update = call_err(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": created["id"], "summary": "Budget (gateway)" }),
    );
    let person = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let text = server.object_text(&href, alice(backend)).await;
        let changed = text.replace("SUMMARY:Budget", "SUMMARY:Budget (person)");
        server.put_text(&href, alice(backend), changed).await;
    };
    let (refused, ()) = tokio::join!(update, person);
    assert!(
        refused.contains("changed on the CalDAV server since it was read; read it again"),
        "{refused}"
    );
    let now = server.object_text(&href, alice(backend)).await;
    assert!(now.contains("SUMMARY:Budget (person)"), "{now}");
    let fetched = call_ok(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": created["id"] }),
    )
    .await;
    assert_eq!(fetched["summary"], "Budget (person)");
}

/// Alice's client, by any calendar or event id, reaches none of Bob's
/// calendars (on the same server or another); the audit line names the
/// calendar.
async fn one_account_reaches_no_other_by_any_id(backend: Backend) {
    // Radicale: both users on one server. Xandikos serves one principal, so
    // Bob's is a second server, with his `primary` at the same path.
    let (server, _) = shared_calendars(backend).await;
    let (bobs_server, bobs_home) = match backend {
        Backend::Radicale => (None, "/bob/"),
        _ => {
            let bobs = xandikos_empty().await;
            bobs.make_zoned_calendar(USERS[1], "/user/calendars/primary/", "Bob", "VEVENT", None)
                .await;
            (Some(bobs), "/user/calendars/")
        }
    };
    let bobs_url = bobs_server.as_ref().unwrap_or(&server).url.clone();
    let tables = caldav_tables_for(&server.url, &bobs_url, &["agent-b"], "");
    let gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    let (a, b) = (gw.mcp("agent-a").await, gw.mcp("agent-b").await);
    let bobs = call_ok(
        &b,
        "create_event",
        json!({
            "summary": "Bob's dentist",
            "start": { "dateTime": "2030-03-05T10:00:00Z" }, "end": { "dateTime": "2030-03-05T11:00:00Z" }
        }),
    )
    .await;
    let bobs_id = bobs["id"].as_str().unwrap();
    let window = |calendar: &str| json!({ "calendarId": calendar, "timeMin": "2030-03-01T00:00:00Z", "timeMax": "2030-04-01T00:00:00Z" });
    for calendar in [
        "../bob/primary",
        "../../bob/primary/",
        "/bob/primary/",
        &format!("{bobs_url}{bobs_home}primary/"),
        &format!("{bobs_home}primary/"),
        "%2E%2E%2Fbob%2Fprimary",
        "bob%2Fprimary",
        "primary/../../bob/primary",
        "bob",
    ] {
        let refused = call_err(&a, "list_events", window(calendar)).await;
        assert!(
            refused.contains("calendar not found"),
            "{calendar}: {refused}"
        );
    }
    for event in [
        bobs_id.to_owned(),
        format!("../../bob/primary/{bobs_id}"),
        format!("%2E%2E%2F%2E%2E%2Fbob%2Fprimary%2F{bobs_id}"),
        format!("{bobs_url}{bobs_home}primary/{bobs_id}"),
    ] {
        let refused = call_err(
            &a,
            "get_event",
            json!({ "calendarId": "primary", "eventId": event }),
        )
        .await;
        assert!(refused.contains("event not found"), "{event}: {refused}");
        let refused = call_err(
            &a,
            "delete_event",
            json!({ "calendarId": "primary", "eventId": event }),
        )
        .await;
        assert!(refused.contains("event not found"), "{event}: {refused}");
    }
    // Bob's event is still his, untouched.
    let page = call_ok(&b, "list_events", window("primary")).await;
    assert_eq!(page["items"][0]["summary"], "Bob's dentist");
    let audit = gw.audit_lines();
    assert!(
        audit
            .iter()
            .any(|l| l.contains("tool=list_events client=agent-b")
                && l.contains("calendars=primary")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_change_made_meanwhile_is_a_conflict_not_overwritten_on_radicale() {
    a_change_made_meanwhile_is_a_conflict_not_overwritten(Backend::Radicale).await;
}

#[tokio::test]
async fn a_change_made_meanwhile_is_a_conflict_not_overwritten_on_xandikos() {
    a_change_made_meanwhile_is_a_conflict_not_overwritten(Backend::Xandikos).await;
}

#[tokio::test]
async fn one_account_reaches_no_other_by_any_id_on_radicale() {
    one_account_reaches_no_other_by_any_id(Backend::Radicale).await;
}

#[tokio::test]
async fn one_account_reaches_no_other_by_any_id_on_xandikos() {
    one_account_reaches_no_other_by_any_id(Backend::Xandikos).await;
}

/// An account that starts at `/.well-known/caldav` (RFC 6764; what
/// `domain` configures, on https) is redirected by Radicale to its root and
/// finds its calendars there.
#[tokio::test]
async fn discovery_follows_the_well_known_redirect() {
    let (server, _) = shared_calendars(Backend::Radicale).await;
    let start = format!("{}/.well-known/caldav", server.url);
    let tables = caldav_tables_at(&start, &[], "");
    let gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    let client = gw.mcp("agent-a").await;
    let calendars = call_ok(&client, "list_calendars", json!({})).await;
    let ids: Vec<&str> = calendars["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["primary", "ny", "team"], "{}", server.log());
}
