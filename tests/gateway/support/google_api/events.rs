//! The emulator's Calendar API methods: calendarList.list and get,
//! events.list (singleEvents, orderBy=startTime, q, pagination), get, insert,
//! patch, delete, instances, and freebusy.query.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http_body_util::Full;
use hyper::{Method, Response};
use serde_json::{Map, Value, json};

use mcp_gateway::calendar::time::{When, format_utc};

use crate::google_api::store::{
    CalendarData, cancelled, expand, find, is_master, matches, series_of, span, when,
};
use crate::google_api::{Role, State, google_error, json_reply};

type Reply = Response<Full<Bytes>>;

fn page(items: Vec<Value>, query: &HashMap<String, String>, extra: Value) -> Reply {
    let size: usize = query
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250)
        .min(2500);
    let offset: usize = match query.get("pageToken") {
        None => 0,
        Some(token) => match token.strip_prefix("offset-").and_then(|t| t.parse().ok()) {
            Some(offset) => offset,
            None => return invalid_parameter("pageToken", "Invalid page token value."),
        },
    };
    let mut body = extra;
    let end = (offset + size).min(items.len());
    body["items"] = json!(items.get(offset..end).unwrap_or_default());
    if end < items.len() {
        body["nextPageToken"] = json!(format!("offset-{end}"));
    }
    json_reply(200, &body)
}

/// Google's 400 for a bad query parameter, naming it in `location`.
fn invalid_parameter(name: &str, message: &str) -> Reply {
    json_reply(
        400,
        &json!({ "error": {
            "code": 400, "message": message, "status": "INVALID_ARGUMENT",
            "errors": [{ "domain": "global", "reason": "invalid", "message": message,
                          "locationType": "parameter", "location": name }],
        }}),
    )
}

fn instant(query: &HashMap<String, String>, key: &str) -> Option<DateTime<Utc>> {
    query
        .get(key)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn stamp(event: &mut Value) {
    event["etag"] = json!(format!("\"{}\"", uuid::Uuid::new_v4().simple()));
    event["updated"] = json!(format_utc(Utc::now()));
}

/// Resolves `primary` and checks the user's role; the error reply otherwise.
fn access(state: &State, user: &str, cal: &str, write: bool) -> Result<String, Box<Reply>> {
    let id = if cal == "primary" { user } else { cal };
    match state.users.get(user).and_then(|u| u.calendars.get(id)) {
        None => Err(Box::new(google_error(404, "notFound", "Not Found"))),
        Some(Role::Reader) if write => Err(Box::new(google_error(
            403,
            "forbidden",
            "You need to have writer access to this calendar.",
        ))),
        Some(_) => Ok(id.to_owned()),
    }
}

fn list_entry(state: &State, user: &str, id: &str, role: Role) -> Value {
    let cal = &state.calendars[id];
    json!({
        "kind": "calendar#calendarListEntry", "etag": "\"1\"", "id": id,
        "summary": cal.summary, "timeZone": cal.time_zone,
        "accessRole": if role == Role::Owner { "owner" } else { "reader" },
        "primary": id == user,
    })
}

/// Dispatches one authenticated API request.
pub fn route(
    state: &mut State,
    user: &str,
    method: &Method,
    path: &[&str],
    query: &HashMap<String, String>,
    body: Value,
) -> Reply {
    match (method, path) {
        (&Method::GET, ["users", "me", "calendarList"]) => {
            let roles = state.users[user].calendars.clone();
            let items = roles
                .iter()
                .map(|(id, role)| list_entry(state, user, id, *role))
                .collect();
            page(items, query, json!({ "kind": "calendar#calendarList" }))
        }
        (&Method::GET, ["users", "me", "calendarList", cal]) => {
            let id = if *cal == "primary" { user } else { cal };
            match state.users[user].calendars.get(id) {
                Some(role) => json_reply(200, &list_entry(state, user, id, *role)),
                None => google_error(404, "notFound", "Not Found"),
            }
        }
        (&Method::POST, ["freeBusy"]) => free_busy(state, user, &body),
        (_, ["calendars", cal, "events", rest @ ..]) => {
            let write = !matches!(method, &Method::GET);
            let id = match access(state, user, cal, write) {
                Ok(id) => id,
                Err(reply) => return *reply,
            };
            let cal = state.calendars.get_mut(&id).unwrap();
            events(cal, method, rest, query, body)
        }
        _ => google_error(404, "notFound", "Not Found"),
    }
}

fn events(
    cal: &mut CalendarData,
    method: &Method,
    rest: &[&str],
    query: &HashMap<String, String>,
    body: Value,
) -> Reply {
    let head =
        json!({ "kind": "calendar#events", "summary": cal.summary, "timeZone": cal.time_zone });
    match (method, rest) {
        (&Method::GET, []) => {
            let min = instant(query, "timeMin").unwrap_or(DateTime::UNIX_EPOCH);
            let max = instant(query, "timeMax").unwrap_or(Utc::now() + Duration::days(3650));
            let mut items = expand(cal, min, max);
            if let Some(q) = query.get("q") {
                items.retain(|e| matches(e, q));
            }
            page(items, query, head)
        }
        (&Method::POST, []) => insert(cal, body),
        (&Method::GET, [id]) => match find(cal, id) {
            Some(event) => json_reply(200, &event),
            None => google_error(404, "notFound", "Not Found"),
        },
        (&Method::PATCH, [id]) => patch(cal, id, body),
        (&Method::DELETE, [id]) => delete(cal, id),
        (&Method::GET, [id, "instances"]) => {
            let Some(master) = cal.events.get(*id).filter(|m| is_master(m)).cloned() else {
                return google_error(404, "notFound", "Not Found");
            };
            let first = span(&master, cal.zone()).map_or_else(Utc::now, |(start, _)| start);
            let min = instant(query, "timeMin").unwrap_or(first);
            let max = instant(query, "timeMax").unwrap_or(first + Duration::days(3650));
            let mut items = expand(cal, min, max);
            items.retain(|e| e["recurringEventId"] == master["id"]);
            if let Some(original) = query.get("originalStart") {
                let key = if original.len() == 10 {
                    "date"
                } else {
                    "dateTime"
                };
                let Some(wanted) = when(&json!({ key: original })) else {
                    return invalid_parameter("originalStart", "Invalid value for originalStart.");
                };
                items.retain(|e| same_start(when(&e["originalStartTime"]), wanted));
            }
            page(items, query, head)
        }
        _ => google_error(404, "notFound", "Not Found"),
    }
}

/// Whether an instance's original start is `wanted` (instants for timed ones).
fn same_start(found: Option<When>, wanted: When) -> bool {
    match (found, wanted) {
        (Some(When::AllDay(a)), When::AllDay(b)) => a == b,
        (Some(When::Timed { at: a, .. }), When::Timed { at: b, .. }) => a == b,
        _ => false,
    }
}

fn insert(cal: &mut CalendarData, mut event: Value) -> Reply {
    let id = match event["id"].as_str() {
        Some(id) => {
            let valid = (5..=1024).contains(&id.len())
                && id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9'));
            if !valid {
                return google_error(400, "invalid", "Invalid resource id value.");
            }
            if cal.events.contains_key(id) {
                return google_error(409, "duplicate", "The requested identifier already exists.");
            }
            id.to_owned()
        }
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    if when(&event["start"]).is_none() || when(&event["end"]).is_none() {
        return google_error(400, "required", "Missing or invalid start or end time.");
    }
    event["id"] = json!(id);
    event["kind"] = json!("calendar#event");
    event["status"] = json!("confirmed");
    event["created"] = json!(format_utc(Utc::now()));
    stamp(&mut event);
    cal.events.insert(id, event.clone());
    json_reply(200, &event)
}

fn patch(cal: &mut CalendarData, id: &str, body: Value) -> Reply {
    let Some(mut event) = find(cal, id).filter(|e| !cancelled(e)) else {
        return google_error(404, "notFound", "Not Found");
    };
    let Value::Object(fields) = body else {
        return google_error(400, "parseError", "Parse Error");
    };
    let target: &mut Map<String, Value> = event.as_object_mut().unwrap();
    for (key, value) in fields {
        target.insert(key, value);
    }
    if when(&event["start"]).is_none() || when(&event["end"]).is_none() {
        return google_error(400, "invalid", "Invalid start or end time.");
    }
    stamp(&mut event);
    cal.events.insert(id.to_owned(), event.clone());
    if is_master(&event) {
        drop_orphaned_exceptions(cal, id);
    }
    json_reply(200, &event)
}

/// Exceptions the (changed) rule no longer places go, as in Google.
fn drop_orphaned_exceptions(cal: &mut CalendarData, series_id: &str) {
    let zone = cal.zone();
    let series = cal.events.get(series_id).and_then(|m| series_of(m, zone));
    cal.events.retain(|_, e| {
        if e["recurringEventId"].as_str() != Some(series_id) {
            return true;
        }
        let Some(original) = when(&e["originalStartTime"]) else {
            return false;
        };
        series
            .as_ref()
            .is_some_and(|s| s.has_occurrence(&original).unwrap_or(false))
    });
}

fn delete(cal: &mut CalendarData, id: &str) -> Reply {
    let Some(mut event) = find(cal, id) else {
        return google_error(404, "notFound", "Not Found");
    };
    if cancelled(&event) {
        return google_error(410, "deleted", "Resource has been deleted");
    }
    if is_master(&event) {
        cal.events
            .retain(|_, e| e["recurringEventId"].as_str() != Some(id));
    }
    event["status"] = json!("cancelled");
    event.as_object_mut().unwrap().remove("recurrence");
    stamp(&mut event);
    cal.events.insert(id.to_owned(), event);
    Response::builder()
        .status(204)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn free_busy(state: &State, user: &str, body: &Value) -> Reply {
    let parse = |key: &str| {
        body[key]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(min), Some(max)) = (parse("timeMin"), parse("timeMax")) else {
        return google_error(400, "badRequest", "Bad Request");
    };
    let mut calendars = Map::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let requested = item["id"].as_str().unwrap_or_default();
        let answer = match access(state, user, requested, false) {
            Err(_) => {
                json!({ "errors": [{ "domain": "global", "reason": "notFound" }], "busy": [] })
            }
            Ok(id) => {
                let cal = &state.calendars[&id];
                let busy: Vec<Value> = expand(cal, min, max)
                    .iter()
                    .filter(|e| e["transparency"] != "transparent")
                    .filter_map(|e| span(e, cal.zone()))
                    .map(|(s, e)| json!({ "start": format_utc(s.max(min)), "end": format_utc(e.min(max)) }))
                    .collect();
                json!({ "busy": busy })
            }
        };
        calendars.insert(requested.to_owned(), answer);
    }
    json_reply(
        200,
        &json!({ "kind": "calendar#freeBusy", "timeMin": format_utc(min), "timeMax": format_utc(max), "calendars": calendars }),
    )
}
