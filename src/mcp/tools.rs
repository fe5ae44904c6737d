//! The calendar tools. Each validates its arguments (errors name the field),
//! calls the [`CalendarBackend`], and returns JSON plus a short summary.

use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use serde_json::json;

use crate::admission::grant::CalendarScope;
use crate::calendar::model::Event;
use crate::calendar::slots::{WorkingHours, free_slots};
use crate::calendar::time::{format_in, format_utc, parse_instant, parse_zone};
use crate::calendar::{CalendarError, EventQuery};
use crate::mcp::output::{describe, event_in_zone, failure, success};
use crate::mcp::params::{
    AccessInfoParams, Checked, CreateEventParams, CurrentTimeParams, DeleteEventParams,
    FreeBusyParams, FreeSlotsParams, GetEventParams, ListCalendarsParams, ListEventsParams,
    RespondParams, UpdateEventParams, WorkingHoursParams,
};
use crate::mcp::{CalendarServer, grant_of};

/// Longest window `get_freebusy` and `find_free_slots` accept.
const MAX_FREEBUSY_DAYS: i64 = 90;
/// Most calendars one free/busy query may name.
const MAX_CALENDARS_PER_QUERY: usize = 50;

type ToolResult = Result<CallToolResult, ErrorData>;

/// Turns a backend outcome into a tool result: errors become tool errors, never protocol errors.
fn finish(outcome: Result<CallToolResult, CalendarError>) -> ToolResult {
    Ok(outcome.unwrap_or_else(|e| failure(&e)))
}

fn window(
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

fn check_calendar_list(ids: &[String]) -> Result<(), CalendarError> {
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

fn weekday(field: &str, name: &str) -> Result<Weekday, CalendarError> {
    name.parse::<Weekday>()
        .map_err(|_| CalendarError::invalid(field, format!("`{name}` is not a weekday (mon..sun)")))
}

fn working_hours(raw: &WorkingHoursParams, zone: Tz) -> Result<WorkingHours, CalendarError> {
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
fn event_result(verb: &str, event: Event, zone: Tz) -> CallToolResult {
    let event = event_in_zone(event, zone);
    success(format!("{verb} {}", describe(&event)), json!(event))
}

impl CalendarServer {
    async fn output_zone(
        &self,
        calendar_id: &str,
        requested: Option<&str>,
    ) -> Result<Tz, CalendarError> {
        match requested {
            Some(name) => parse_zone("timeZone", name),
            None => {
                let calendar = self.backend.get_calendar(calendar_id).await?;
                parse_zone("timeZone", &calendar.time_zone)
            }
        }
    }

    async fn list_events_inner(
        &self,
        p: ListEventsParams,
    ) -> Result<CallToolResult, CalendarError> {
        let zone = self
            .output_zone(&p.calendar_id, p.time_zone.as_deref())
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
        let page = self.backend.list_events(&p.calendar_id, query).await?;
        let items: Vec<_> = page
            .items
            .into_iter()
            .map(|e| event_in_zone(e, zone))
            .collect();
        let more = if page.next_page_token.is_some() {
            " (more: pass nextPageToken)"
        } else {
            ""
        };
        let summary = format!("{} event(s) in {}{more}", items.len(), p.calendar_id);
        Ok(success(
            summary,
            json!({ "items": items, "nextPageToken": page.next_page_token, "timeZone": zone.name() }),
        ))
    }
}

#[tool_router(vis = "pub(crate)")]
impl CalendarServer {
    #[tool(
        description = "Who this client is and what its token allows: identity, permissions, calendars, token and certificate expiry. Call it first when a request is refused.",
        annotations(read_only_hint = true)
    )]
    async fn get_access_info(
        &self,
        Parameters(Checked(_)): Parameters<Checked<AccessInfoParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let grant = grant_of(&context.extensions)?;
        let permissions: Vec<&str> = grant.permissions().iter().map(|p| p.name()).collect();
        let calendars = match grant.calendars() {
            CalendarScope::All => json!(["*"]),
            CalendarScope::Only(ids) => json!(ids),
        };
        let identity = grant.identity();
        let value = json!({
            "identity": identity.id,
            "clientIp": grant.client_ip().to_string(),
            "permissions": permissions,
            "calendars": calendars,
            "tokenExpiresAt": format_utc(grant.expires_at()),
            "certificateExpiresAt": format_utc(identity.not_after),
            "certificateSha256": identity.fingerprint_sha256,
        });
        let summary = format!(
            "{} may {} on {}",
            identity.id,
            permissions.join(", "),
            calendars
        );
        Ok(success(summary, value))
    }

    #[tool(
        description = "List the calendars this client can use, with their ids and time zones.",
        annotations(read_only_hint = true)
    )]
    async fn list_calendars(
        &self,
        Parameters(Checked(_)): Parameters<Checked<ListCalendarsParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let grant = grant_of(&context.extensions)?;
        finish(
            async {
                let mut calendars = self.backend.list_calendars().await?;
                // Only the calendars this token reaches: the others stay unknown to it.
                calendars.retain(|c| grant.calendars().allows(&c.id));
                Ok(success(
                    format!("{} calendar(s)", calendars.len()),
                    json!({ "calendars": calendars }),
                ))
            }
            .await,
        )
    }

    #[tool(
        description = "List events in a time window (recurring events expanded into instances), optionally filtered by text. Returns nextPageToken when more match.",
        annotations(read_only_hint = true)
    )]
    async fn list_events(
        &self,
        Parameters(Checked(p)): Parameters<Checked<ListEventsParams>>,
    ) -> ToolResult {
        finish(self.list_events_inner(p).await)
    }

    #[tool(
        description = "Get one event or recurring-event instance by id.",
        annotations(read_only_hint = true)
    )]
    async fn get_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<GetEventParams>>,
    ) -> ToolResult {
        finish(
            async {
                let zone = self
                    .output_zone(&p.calendar_id, p.time_zone.as_deref())
                    .await?;
                let event = self.backend.get_event(&p.calendar_id, &p.event_id).await?;
                Ok(event_result("event", event, zone))
            }
            .await,
        )
    }

    #[tool(
        description = "Create an event: timed ({dateTime, timeZone}) or all-day ({date}, exclusive end date), with optional attendees, reminders and RRULE recurrence."
    )]
    async fn create_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<CreateEventParams>>,
    ) -> ToolResult {
        finish(
            async {
                let zone = self
                    .output_zone(&p.calendar_id, p.time_zone.as_deref())
                    .await?;
                let event = self
                    .backend
                    .create_event(&p.calendar_id, p.fields())
                    .await?;
                Ok(event_result("created", event, zone))
            }
            .await,
        )
    }

    #[tool(
        description = "Change fields of an event (only the fields given). For recurring events choose scope: thisInstance, thisAndFollowing or all."
    )]
    async fn update_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<UpdateEventParams>>,
    ) -> ToolResult {
        finish(
            async {
                let zone = self
                    .output_zone(&p.calendar_id, p.time_zone.as_deref())
                    .await?;
                let event = self
                    .backend
                    .update_event(&p.calendar_id, &p.event_id, p.patch(), p.scope)
                    .await?;
                Ok(event_result("updated", event, zone))
            }
            .await,
        )
    }

    #[tool(
        description = "Delete an event. For recurring events choose scope: thisInstance, thisAndFollowing or all.",
        annotations(destructive_hint = true)
    )]
    async fn delete_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<DeleteEventParams>>,
    ) -> ToolResult {
        finish(
            async {
                self.backend
                    .delete_event(&p.calendar_id, &p.event_id, p.scope)
                    .await?;
                Ok(success(
                    format!("deleted {}", p.event_id),
                    json!({ "deleted": p.event_id, "calendarId": p.calendar_id }),
                ))
            }
            .await,
        )
    }

    #[tool(
        description = "Record an attendee's RSVP (accepted, declined or tentative) with an optional comment."
    )]
    async fn respond_to_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<RespondParams>>,
    ) -> ToolResult {
        finish(
            async {
                let zone = self
                    .output_zone(&p.calendar_id, p.time_zone.as_deref())
                    .await?;
                let event = self
                    .backend
                    .respond_to_event(
                        &p.calendar_id,
                        &p.event_id,
                        &p.attendee_email,
                        p.response,
                        p.comment,
                    )
                    .await?;
                let verb = format!("{} {}", p.attendee_email, p.response.as_status());
                Ok(event_result(&verb, event, zone))
            }
            .await,
        )
    }

    #[tool(
        description = "Busy intervals of several calendars in one window (at most 90 days).",
        annotations(read_only_hint = true)
    )]
    async fn get_freebusy(
        &self,
        Parameters(Checked(p)): Parameters<Checked<FreeBusyParams>>,
    ) -> ToolResult {
        finish(async {
            check_calendar_list(&p.calendar_ids)?;
            let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
            let (min, max) = window(&p.time_min, &p.time_max, Some(MAX_FREEBUSY_DAYS))?;
            let busy = self.backend.free_busy(&p.calendar_ids, min, max).await?;
            let calendars: serde_json::Map<String, serde_json::Value> = busy
                .iter()
                .map(|(id, list)| {
                    let list: Vec<_> = list.iter().map(|(s, e)| json!({ "start": format_in(*s, zone), "end": format_in(*e, zone) })).collect();
                    (id.clone(), json!({ "busy": list }))
                })
                .collect();
            let count: usize = busy.values().map(Vec::len).sum();
            Ok(success(
                format!("{count} busy interval(s) across {} calendar(s)", busy.len()),
                json!({ "timeMin": format_in(min, zone), "timeMax": format_in(max, zone), "calendars": calendars }),
            ))
        }
        .await)
    }

    #[tool(
        description = "Find time slots of at least durationMinutes when all the given calendars are free, optionally within working hours in a time zone.",
        annotations(read_only_hint = true)
    )]
    async fn find_free_slots(
        &self,
        Parameters(Checked(p)): Parameters<Checked<FreeSlotsParams>>,
    ) -> ToolResult {
        finish(async {
            check_calendar_list(&p.calendar_ids)?;
            if !(1..=1440).contains(&p.duration_minutes) {
                return Err(CalendarError::invalid("durationMinutes", "must be between 1 and 1440"));
            }
            let limit = p.max_results.unwrap_or(20);
            if !(1..=500).contains(&limit) {
                return Err(CalendarError::invalid("maxResults", "must be between 1 and 500"));
            }
            let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
            let hours = p.working_hours.as_ref().map(|h| working_hours(h, zone)).transpose()?;
            let (min, max) = window(&p.time_min, &p.time_max, Some(MAX_FREEBUSY_DAYS))?;
            let busy: Vec<_> = self.backend.free_busy(&p.calendar_ids, min, max).await?.into_values().flatten().collect();
            let length = Duration::minutes(i64::from(p.duration_minutes));
            let slots = free_slots((min, max), &busy, length, hours.as_ref(), limit as usize);
            let out: Vec<_> = slots
                .iter()
                .map(|(s, e)| json!({ "start": format_in(*s, zone), "end": format_in(*e, zone), "minutes": (*e - *s).num_minutes() }))
                .collect();
            Ok(success(format!("{} free slot(s) of at least {} minutes", out.len(), p.duration_minutes), json!({ "slots": out, "timeZone": zone.name() })))
        }
        .await)
    }

    #[tool(
        description = "The current date and time in a time zone (default UTC).",
        annotations(read_only_hint = true)
    )]
    async fn get_current_time(
        &self,
        Parameters(Checked(p)): Parameters<Checked<CurrentTimeParams>>,
    ) -> ToolResult {
        finish((|| {
            let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
            let now = Utc::now().with_timezone(&zone);
            let text = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            Ok(success(
                format!("{text} ({})", zone.name()),
                json!({ "dateTime": text, "timeZone": zone.name(), "weekday": now.format("%A").to_string(), "utcOffset": now.format("%:z").to_string() }),
            ))
        })())
    }
}
