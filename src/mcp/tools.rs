//! The calendar tools. Each validates its arguments (errors name the field),
//! calls the [`CalendarBackend`], and returns JSON plus a short summary.

use chrono::{DateTime, Duration, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use crate::calendar::CalendarError;
use crate::calendar::slots::free_slots;
use crate::calendar::time::{format_in, format_utc, parse_zone};
use crate::mcp::output::success;
use crate::mcp::params::{
    AccessInfoParams, Checked, CreateEventParams, CurrentTimeParams, DeleteEventParams,
    FreeBusyParams, FreeSlotsParams, GetEventParams, ListCalendarsParams, ListEventsParams,
    RespondParams, UpdateEventParams,
};
use crate::mcp::results::{
    AccessInfo, Busy, CalendarList, CurrentTime, Deleted, FreeBusy, FreeSlot, FreeSlots, Interval,
};
use crate::mcp::tool_support::{
    MAX_FREEBUSY_DAYS, ToolResult, check_calendar_list, event_result, finish, window, working_hours,
};
use crate::mcp::{CalendarServer, grant_of};
use crate::policy::grant::CalendarScope;

#[tool_router(vis = "pub(crate)")]
impl CalendarServer {
    #[tool(
        description = "Who this client is and what its token allows: identity, permissions, calendars, token and certificate expiry. Call it first when a request is refused."
    )]
    async fn get_access_info(
        &self,
        Parameters(Checked(_)): Parameters<Checked<AccessInfoParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let grant = grant_of(&context.extensions)?;
        let permissions: Vec<String> = grant
            .permissions()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        let calendars = match grant.calendars() {
            CalendarScope::All => vec!["*".to_owned()],
            CalendarScope::Only(ids) => ids.iter().cloned().collect(),
        };
        let identity = grant.identity();
        let summary = format!(
            "{} may {} on {}",
            identity.id(),
            permissions.join(", "),
            calendars.join(", ")
        );
        let info = AccessInfo {
            identity: identity.id().to_owned(),
            client_ip: grant.client_ip().to_string(),
            permissions,
            calendars,
            token_expires_at: format_utc(grant.expires_at()),
            certificate_expires_at: format_utc(identity.not_after()),
            certificate_sha256: identity.fingerprint_sha256().to_owned(),
        };
        Ok(success(summary, &info))
    }

    #[tool(description = "List the calendars this client can use, with their ids and time zones.")]
    async fn list_calendars(
        &self,
        Parameters(Checked(_)): Parameters<Checked<ListCalendarsParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let grant = grant_of(&context.extensions)?;
        finish(
            async {
                let backend = self.accounts.for_client(grant.identity().id())?;
                let mut calendars = backend.list_calendars().await?;
                // Only the calendars this token reaches: the others stay unknown to it.
                calendars.retain(|c| grant.calendars().allows(&c.id));
                Ok(success(
                    format!("{} calendar(s)", calendars.len()),
                    &CalendarList { calendars },
                ))
            }
            .await,
        )
    }

    #[tool(
        description = "List events in a time window (recurring events expanded into instances), optionally filtered by text. Returns nextPageToken when more match."
    )]
    async fn list_events(
        &self,
        Parameters(Checked(p)): Parameters<Checked<ListEventsParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                self.list_events_inner(&*backend, &calendar, p).await
            }
            .await,
        )
    }

    #[tool(description = "Get one event or recurring-event instance by id.")]
    async fn get_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<GetEventParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                let zone = self
                    .output_zone(&*backend, &calendar, p.time_zone.as_deref())
                    .await?;
                let event = backend.get_event(&calendar, &p.event_id).await?;
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
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                let zone = self
                    .output_zone(&*backend, &calendar, p.time_zone.as_deref())
                    .await?;
                let creation =
                    self.creation_id(&context, &calendar, p.idempotency_key.as_deref())?;
                let event = backend
                    .create_event(&calendar, p.fields(), creation)
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
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                let zone = self
                    .output_zone(&*backend, &calendar, p.time_zone.as_deref())
                    .await?;
                let event = backend
                    .update_event(&calendar, &p.event_id, p.patch(), p.scope)
                    .await?;
                Ok(event_result("updated", event, zone))
            }
            .await,
        )
    }

    #[tool(
        description = "Delete an event. For recurring events choose scope: thisInstance, thisAndFollowing or all."
    )]
    async fn delete_event(
        &self,
        Parameters(Checked(p)): Parameters<Checked<DeleteEventParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                backend
                    .delete_event(&calendar, &p.event_id, p.scope)
                    .await?;
                Ok(success(
                    format!("deleted {}", p.event_id),
                    &Deleted {
                        deleted: p.event_id.clone(),
                        calendar_id: calendar.id().to_owned(),
                    },
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
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendar = self.calendar(&context, &p.calendar_id)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                let zone = self
                    .output_zone(&*backend, &calendar, p.time_zone.as_deref())
                    .await?;
                let event = backend
                    .respond_to_event(
                        &calendar,
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

    #[tool(description = "Busy intervals of several calendars in one window (at most 90 days).")]
    async fn get_freebusy(
        &self,
        Parameters(Checked(p)): Parameters<Checked<FreeBusyParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendars = self.calendars(&context, &p.calendar_ids)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                check_calendar_list(&p.calendar_ids)?;
                let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
                let (min, max) = window(&p.time_min, &p.time_max, Some(MAX_FREEBUSY_DAYS))?;
                let busy = backend.free_busy(&calendars, min, max).await?;
                let interval = |(s, e): &(DateTime<Utc>, DateTime<Utc>)| Interval {
                    start: format_in(*s, zone),
                    end: format_in(*e, zone),
                };
                let count: usize = busy.values().map(Vec::len).sum();
                let summary = format!("{count} busy interval(s) across {} calendar(s)", busy.len());
                let calendars = busy
                    .iter()
                    .map(|(id, list)| {
                        (
                            id.clone(),
                            Busy {
                                busy: list.iter().map(interval).collect(),
                            },
                        )
                    })
                    .collect();
                let result = FreeBusy {
                    time_min: format_in(min, zone),
                    time_max: format_in(max, zone),
                    calendars,
                };
                Ok(success(summary, &result))
            }
            .await,
        )
    }

    #[tool(
        description = "Find time slots of at least durationMinutes when all the given calendars are free, optionally within working hours in a time zone."
    )]
    async fn find_free_slots(
        &self,
        Parameters(Checked(p)): Parameters<Checked<FreeSlotsParams>>,
        context: RequestContext<RoleServer>,
    ) -> ToolResult {
        let calendars = self.calendars(&context, &p.calendar_ids)?;
        finish(
            async {
                let backend = self.backend_for(&context)?;
                check_calendar_list(&p.calendar_ids)?;
                if !(1..=1440).contains(&p.duration_minutes) {
                    return Err(CalendarError::invalid(
                        "durationMinutes",
                        "must be between 1 and 1440",
                    ));
                }
                let limit = p.max_results.unwrap_or(20);
                if !(1..=500).contains(&limit) {
                    return Err(CalendarError::invalid(
                        "maxResults",
                        "must be between 1 and 500",
                    ));
                }
                let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
                let hours = p
                    .working_hours
                    .as_ref()
                    .map(|h| working_hours(h, zone))
                    .transpose()?;
                let (min, max) = window(&p.time_min, &p.time_max, Some(MAX_FREEBUSY_DAYS))?;
                let busy: Vec<_> = backend
                    .free_busy(&calendars, min, max)
                    .await?
                    .into_values()
                    .flatten()
                    .collect();
                let length = Duration::minutes(i64::from(p.duration_minutes));
                let slots = free_slots((min, max), &busy, length, hours.as_ref(), limit as usize);
                let out: Vec<FreeSlot> = slots
                    .iter()
                    .map(|(s, e)| FreeSlot {
                        start: format_in(*s, zone),
                        end: format_in(*e, zone),
                        minutes: (*e - *s).num_minutes(),
                    })
                    .collect();
                let summary = format!(
                    "{} free slot(s) of at least {} minutes",
                    out.len(),
                    p.duration_minutes
                );
                Ok(success(
                    summary,
                    &FreeSlots {
                        slots: out,
                        time_zone: zone.name().to_owned(),
                    },
                ))
            }
            .await,
        )
    }

    #[tool(description = "The current date and time in a time zone (default UTC).")]
    async fn get_current_time(
        &self,
        Parameters(Checked(p)): Parameters<Checked<CurrentTimeParams>>,
    ) -> ToolResult {
        finish((|| {
            let zone = parse_zone("timeZone", p.time_zone.as_deref().unwrap_or("UTC"))?;
            let time = CurrentTime::at(Utc::now(), zone);
            Ok(success(
                format!("{} ({})", time.date_time, time.time_zone),
                &time,
            ))
        })())
    }
}
