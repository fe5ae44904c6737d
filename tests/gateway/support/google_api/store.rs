//! The emulator's event store: calendars holding single events, series
//! masters and their exceptions (keyed by instance id, as Google exposes
//! them), with recurrence expanded on read.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use mcp_gateway::calendar::model::EventDateTime;
use mcp_gateway::calendar::series::{Series, instance_id, parse_instance_id};
use mcp_gateway::calendar::time::{When, render, resolve};

/// One calendar: its name, zone and stored events (masters, singles, exceptions).
#[derive(Debug, Clone)]
pub struct CalendarData {
    /// Display name.
    pub summary: String,
    /// IANA zone.
    pub time_zone: String,
    /// Stored events by id.
    pub events: BTreeMap<String, Value>,
}

impl CalendarData {
    /// An empty calendar.
    pub fn new(summary: &str, zone: &str) -> CalendarData {
        CalendarData {
            summary: summary.into(),
            time_zone: zone.into(),
            events: BTreeMap::new(),
        }
    }

    /// The calendar's zone (UTC when unparseable).
    pub(super) fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

pub(super) fn when(value: &Value) -> Option<When> {
    let parsed: EventDateTime = serde_json::from_value(value.clone()).ok()?;
    resolve("t", &parsed).ok()
}

pub(super) fn event_zone(event: &Value, fallback: Tz) -> Tz {
    event["start"]["timeZone"]
        .as_str()
        .and_then(|z| z.parse().ok())
        .unwrap_or(fallback)
}

pub(super) fn span(event: &Value, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let zone = event_zone(event, zone);
    Some((
        when(&event["start"])?.instant(zone),
        when(&event["end"])?.instant(zone),
    ))
}

pub(super) fn series_of(master: &Value, zone: Tz) -> Option<Series> {
    let zone = event_zone(master, zone);
    let lines: Vec<String> = serde_json::from_value(master["recurrence"].clone()).ok()?;
    Series::new(when(&master["start"])?, when(&master["end"])?, zone, &lines).ok()
}

pub(super) fn is_master(event: &Value) -> bool {
    event["recurrence"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

pub(super) fn cancelled(event: &Value) -> bool {
    event["status"] == "cancelled"
}

pub(super) fn instance(master: &Value, series: &Series, start: When, end: When) -> Value {
    let mut event = master.clone();
    let id = instance_id(master["id"].as_str().unwrap_or_default(), &start);
    event["id"] = json!(id);
    event["recurringEventId"] = master["id"].clone();
    event["originalStartTime"] = json!(render(&start, series.zone));
    event["start"] = json!(render(&start, series.zone));
    event["end"] = json!(render(&end, series.zone));
    event.as_object_mut().unwrap().remove("recurrence");
    event
}

/// Every live single event, exception and expanded instance overlapping the window.
pub(super) fn expand(cal: &CalendarData, min: DateTime<Utc>, max: DateTime<Utc>) -> Vec<Value> {
    let zone = cal.zone();
    let mut out = Vec::new();
    for event in cal.events.values() {
        if is_master(event) {
            let Some(series) = series_of(event, zone) else {
                continue;
            };
            for occurrence in series.occurrences(min, max).unwrap_or_default() {
                let one = instance(event, &series, occurrence.start, occurrence.end);
                if !cal.events.contains_key(one["id"].as_str().unwrap()) {
                    out.push(one);
                }
            }
        } else if !cancelled(event)
            && let Some((start, end)) = span(event, zone)
            && end > min
            && start < max
        {
            out.push(event.clone());
        }
    }
    out.sort_by_key(|e| span(e, zone).map(|s| s.0));
    out
}

/// The event `id` addresses: stored, or an instance the rule places.
pub(super) fn find(cal: &CalendarData, id: &str) -> Option<Value> {
    if let Some(event) = cal.events.get(id) {
        return Some(event.clone());
    }
    let (series_id, original) = parse_instance_id(id)?;
    let master = cal.events.get(&series_id).filter(|m| is_master(m))?;
    let series = series_of(master, cal.zone())?;
    let at = original.instant(series.zone);
    let occurrence = series
        .occurrences(at, at + Duration::seconds(1))
        .ok()?
        .into_iter()
        .find(|o| o.start.instant(series.zone) == at)?;
    Some(instance(master, &series, occurrence.start, occurrence.end))
}

pub(super) fn matches(event: &Value, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let mut fields = vec![
        event["summary"].as_str(),
        event["description"].as_str(),
        event["location"].as_str(),
    ];
    for a in event["attendees"].as_array().into_iter().flatten() {
        fields.push(a["email"].as_str());
        fields.push(a["displayName"].as_str());
    }
    fields
        .into_iter()
        .flatten()
        .any(|f| f.to_lowercase().contains(&needle))
}
