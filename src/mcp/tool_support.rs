//! What the tools share: argument checks that name the field, output-zone
//! selection, and the shapes of results. Kept apart from `tools.rs` so that
//! file reads as the list of tools.

use crate::calendar::edits::creation::CreationId;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};

use crate::calendar::listed::ListedEvent;
use crate::calendar::model::Event;
use crate::calendar::slots::WorkingHours;
use crate::calendar::time::{parse_instant, parse_zone};
use crate::calendar::{CalendarBackend, CalendarError, EventQuery};
use crate::mcp::output::{OutputZone, describe, event_in_zone, failure, success};
use crate::mcp::params::{ListEventsParams, WorkingHoursParams};
use crate::mcp::results::EventList;
use crate::mcp::{CalendarServer, grant_of};
use crate::policy::grant::CalendarRef;

/// Longest window `get_freebusy` and `find_free_slots` accept.
pub(super) const MAX_FREEBUSY_DAYS: i64 = 90;
/// Most calendars one free/busy query may name.
pub(super) const MAX_CALENDARS_PER_QUERY: usize = 50;

pub(super) type ToolResult = Result<CallToolResult, ErrorData>;

/// Turns a backend outcome into a tool result: errors become tool errors, never protocol errors.
pub(super) fn finish(outcome: Result<CallToolResult, CalendarError>) -> ToolResult {
    Ok(outcome.unwrap_or_else(|e| failure(&e)))
}

pub(super) fn window(
    min: &str,
    max: &str,
    limit_days: Option<i64>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), CalendarError> {
    let min = parse_instant("timeMin", min)?;
    let max = parse_instant("timeMax", max)?;
    if max <= min {
        return Err(CalendarError::invalid("timeMax", "must be after timeMin"));
    }
    if let Some(days) = limit_days
        && max - min > Duration::days(days)
    {
        return Err(CalendarError::invalid(
            "timeMax",
            format!("window is longer than {days} days; split the query"),
        ));
    }
    Ok((min, max))
}

pub(super) fn check_calendar_list(ids: &[String]) -> Result<(), CalendarError> {
    if ids.is_empty() {
        return Err(CalendarError::invalid(
            "calendarIds",
            "name at least one calendar",
        ));
    }
    if ids.len() > MAX_CALENDARS_PER_QUERY {
        return Err(CalendarError::invalid(
            "calendarIds",
            format!("at most {MAX_CALENDARS_PER_QUERY} calendars"),
        ));
    }
    Ok(())
}

pub(super) fn weekday(field: &str, name: &str) -> Result<Weekday, CalendarError> {
    name.parse::<Weekday>()
        .map_err(|_| CalendarError::invalid(field, format!("`{name}` is not a weekday (mon..sun)")))
}

pub(super) fn working_hours(
    raw: &WorkingHoursParams,
    zone: Tz,
) -> Result<WorkingHours, CalendarError> {
    let time = |field: &str, text: &str| {
        NaiveTime::parse_from_str(text, "%H:%M")
            .map_err(|_| CalendarError::invalid(field, format!("`{text}` is not a time HH:MM")))
    };
    let start = time("workingHours.start", &raw.start)?;
    let end = time("workingHours.end", &raw.end)?;
    if end <= start {
        return Err(CalendarError::invalid(
            "workingHours.end",
            "must be after workingHours.start",
        ));
    }
    let days = match &raw.days {
        None => vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        Some(names) => names
            .iter()
            .enumerate()
            .map(|(i, n)| weekday(&format!("workingHours.days[{i}]"), n))
            .collect::<Result<_, _>>()?,
    };
    Ok(WorkingHours {
        start,
        end,
        days,
        zone,
    })
}

/// The result of a tool that returns one event: the event in `zone`, and
/// `verb` plus a description as the summary.
pub(super) fn event_result(verb: &str, event: Event, zone: OutputZone) -> CallToolResult {
    let event = event_in_zone(event, zone);
    success(format!("{verb} {}", describe(&event)), &event)
}

impl CalendarServer {
    /// The backend this caller's calls go to (for Google: its mapped account).
    pub(super) fn backend_for(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Arc<dyn CalendarBackend>, CalendarError> {
        let grant = grant_of(&context.extensions)
            .map_err(|_| CalendarError::PermissionDenied("no verified client identity".into()))?;
        self.accounts.for_client(grant.identity().id())
    }

    /// The event id a create with idempotency `key` gives its event, bound
    /// to the calling client and the calendar.
    pub(super) fn creation_id(
        &self,
        context: &RequestContext<RoleServer>,
        calendar: &CalendarRef,
        key: Option<&str>,
    ) -> Result<Option<CreationId>, CalendarError> {
        let Some(key) = key else {
            return Ok(None);
        };
        let grant = grant_of(&context.extensions)
            .map_err(|_| CalendarError::PermissionDenied("no verified client identity".into()))?;
        CreationId::derive(grant.identity().id(), calendar.id(), key).map(Some)
    }

    pub(super) async fn output_zone(
        &self,
        backend: &dyn CalendarBackend,
        calendar: &CalendarRef,
        requested: Option<&str>,
    ) -> Result<OutputZone, CalendarError> {
        Ok(match requested {
            Some(name) => OutputZone {
                zone: parse_zone("timeZone", name)?,
                requested: true,
            },
            None => {
                let calendar = backend.get_calendar(calendar).await?;
                OutputZone {
                    zone: parse_zone("timeZone", &calendar.time_zone)?,
                    requested: false,
                }
            }
        })
    }

    pub(super) async fn list_events_inner(
        &self,
        backend: &dyn CalendarBackend,
        calendar: &CalendarRef,
        p: ListEventsParams,
    ) -> Result<CallToolResult, CalendarError> {
        let zone = self
            .output_zone(backend, calendar, p.time_zone.as_deref())
            .await?;
        let time_min = p
            .time_min
            .as_deref()
            .map(|t| parse_instant("timeMin", t))
            .transpose()?
            .unwrap_or_else(Utc::now);
        let time_max = match p.time_max.as_deref() {
            Some(t) => parse_instant("timeMax", t)?,
            None => time_min + Duration::days(365),
        };
        if time_max <= time_min {
            return Err(CalendarError::invalid("timeMax", "must be after timeMin"));
        }
        let max_results = p.max_results.unwrap_or(250);
        if !(1..=2500).contains(&max_results) {
            return Err(CalendarError::invalid(
                "maxResults",
                "must be between 1 and 2500",
            ));
        }
        let query = EventQuery {
            time_min,
            time_max,
            text: p.query,
            max_results: max_results as usize,
            page_token: p.page_token,
        };
        let page = backend.list_events(calendar, query).await?;
        // Text in normal form is what `event_in_zone` would write unless
        // the caller asked for a zone (calendar::listed): passed on as it is.
        let items = page
            .items
            .into_iter()
            .map(|listed| match listed {
                ListedEvent::Normal(_) if !zone.requested => Ok(listed),
                other => Ok(ListedEvent::from(event_in_zone(other.into_event()?, zone))),
            })
            .collect::<Result<Vec<_>, CalendarError>>()?;
        let more = if page.next_page_token.is_some() {
            " (more: pass nextPageToken)"
        } else {
            ""
        };
        let summary = format!("{} event(s) in {}{more}", items.len(), calendar.id());
        let list = EventList {
            items,
            next_page_token: page.next_page_token,
            time_zone: zone.zone.name().to_owned(),
        };
        Ok(success(summary, &list))
    }
}
