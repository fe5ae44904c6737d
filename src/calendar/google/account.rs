//! One Google account as a [`CalendarBackend`]: every tool maps to a Calendar
//! API method (calendarList.list/get, events.list with singleEvents and
//! orderBy=startTime, events.get, events.instances for instance ids,
//! freebusy.query here; the writes in `writes.rs`).

use crate::policy::grant::CalendarRef;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use google_calendar3::api;
use tokio::sync::Mutex;

use crate::calendar::edits::creation::CreationId;
use crate::calendar::google::call::Api;
use crate::calendar::google::convert::{calendar_from_api, event_from_api};
use crate::calendar::google::failure::Target;
use crate::calendar::listed::ListedEvent;
use crate::calendar::model::{Calendar, Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::series::parse_instance_id;
use crate::calendar::slots::merge;
use crate::calendar::time::{When, parse_zone};
use crate::calendar::{BusyMap, CalendarBackend, CalendarError, EventPage, EventQuery};

/// How long a calendar's name and zone are reused before asking Google again:
/// nearly every tool needs the zone, and it almost never changes.
const CALENDAR_CACHE: Duration = Duration::from_secs(300);
/// Most calendar-list pages read for one `list_calendars`.
const MAX_LIST_PAGES: usize = 40;

/// A Google account the gateway acts as.
pub struct GoogleAccount {
    /// The API as this account sees it.
    pub(super) api: Api,
    calendars: Mutex<HashMap<String, (Calendar, Instant)>>,
}

impl GoogleAccount {
    /// The account over `api`.
    pub fn new(api: Api) -> GoogleAccount {
        GoogleAccount {
            api,
            calendars: Mutex::new(HashMap::new()),
        }
    }

    /// One calendar of this account, cached for a while (its zone rarely changes).
    async fn calendar_entry(&self, calendar_id: &str) -> Result<Calendar, CalendarError> {
        if let Some((calendar, at)) = self.calendars.lock().await.get(calendar_id)
            && at.elapsed() < CALENDAR_CACHE
        {
            return Ok(calendar.clone());
        }
        let id = calendar_id.to_owned();
        let target = Target::calendar(calendar_id);
        let entry = self
            .api
            .call(target, move |hub, mut hints| {
                let id = id.clone();
                Box::pin(async move {
                    let reply = hub
                        .calendar_list()
                        .get(&id)
                        .delegate(&mut hints)
                        .doit()
                        .await;
                    (reply, hints)
                })
            })
            .await?;
        let calendar = calendar_from_api(entry)?;
        self.calendars
            .lock()
            .await
            .insert(calendar_id.to_owned(), (calendar.clone(), Instant::now()));
        Ok(calendar)
    }

    /// The zone of `calendar_id`, for events that carry none.
    pub(super) async fn zone(&self, calendar_id: &str) -> Result<Tz, CalendarError> {
        let calendar = self.calendar_entry(calendar_id).await?;
        parse_zone("calendar.timeZone", &calendar.time_zone)
    }

    /// An event that exists and is not cancelled. An instance id
    /// (`<seriesId>_<originalStart>`) is looked up as Google documents for
    /// instances: events.instances of its series at that original start.
    pub(super) async fn live_event(
        &self,
        calendar_id: &str,
        event_id: &str,
        zone: Tz,
    ) -> Result<Event, CalendarError> {
        let found = match parse_instance_id(event_id) {
            Some((series_id, original)) => {
                self.instance(calendar_id, event_id, &series_id, &original)
                    .await?
            }
            None => {
                let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
                let target = Target::event(calendar_id, event_id);
                self.api
                    .call(target, move |hub, mut hints| {
                        let (cal, id) = (cal.clone(), id.clone());
                        Box::pin(async move {
                            let reply = hub
                                .events()
                                .get(&cal, &id)
                                .delegate(&mut hints)
                                .doit()
                                .await;
                            (reply, hints)
                        })
                    })
                    .await?
            }
        };
        let event = event_from_api(found, zone)?;
        if event.is_cancelled() {
            return Err(CalendarError::event_not_found(event_id));
        }
        Ok(event)
    }
}

impl GoogleAccount {
    async fn instance(
        &self,
        calendar_id: &str,
        instance_id: &str,
        series_id: &str,
        original: &When,
    ) -> Result<api::Event, CalendarError> {
        let stamp = match original {
            When::AllDay(date) => date.format("%Y-%m-%d").to_string(),
            When::Timed { at, .. } => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let (cal, series) = (calendar_id.to_owned(), series_id.to_owned());
        let target = Target::event(calendar_id, instance_id);
        let page = self
            .api
            .call(target, move |hub, mut hints| {
                let (cal, series, stamp) = (cal.clone(), series.clone(), stamp.clone());
                Box::pin(async move {
                    let reply = hub
                        .events()
                        .instances(&cal, &series)
                        .original_start(&stamp)
                        .max_results(1)
                        .delegate(&mut hints)
                        .doit()
                        .await;
                    (reply, hints)
                })
            })
            .await?;
        page.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| CalendarError::event_not_found(instance_id))
    }
}

#[async_trait]
impl CalendarBackend for GoogleAccount {
    async fn list_calendars(&self) -> Result<Vec<Calendar>, CalendarError> {
        let mut calendars = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let token = page.clone();
            let target = Target::calendar("primary");
            let list = self
                .api
                .call(target, move |hub, mut hints| {
                    let token = token.clone();
                    Box::pin(async move {
                        let mut call = hub.calendar_list().list().max_results(250);
                        if let Some(token) = &token {
                            call = call.page_token(token);
                        }
                        let reply = call.delegate(&mut hints).doit().await;
                        (reply, hints)
                    })
                })
                .await?;
            for entry in list.items.unwrap_or_default() {
                if entry.deleted != Some(true) {
                    calendars.push(calendar_from_api(entry)?);
                }
            }
            page = list.next_page_token;
            if page.is_none() {
                return Ok(calendars);
            }
        }
        Err(CalendarError::Backend(format!(
            "calendar list longer than {MAX_LIST_PAGES} pages"
        )))
    }

    async fn get_calendar(&self, calendar: &CalendarRef) -> Result<Calendar, CalendarError> {
        self.calendar_entry(calendar.id()).await
    }

    async fn list_events(
        &self,
        calendar: &CalendarRef,
        query: EventQuery,
    ) -> Result<EventPage, CalendarError> {
        let calendar_id = calendar.id();
        let zone = self.zone(calendar_id).await?;
        let cal = calendar_id.to_owned();
        let target = Target::calendar(calendar_id);
        let page = self
            .api
            .call(target, move |hub, mut hints| {
                let (cal, query) = (cal.clone(), query.clone());
                Box::pin(async move {
                    let mut call = hub
                        .events()
                        .list(&cal)
                        .single_events(true)
                        .order_by("startTime")
                        .time_min(query.time_min)
                        .time_max(query.time_max)
                        .max_results(i32::try_from(query.max_results).unwrap_or(2500));
                    if let Some(text) = &query.text {
                        call = call.q(text);
                    }
                    if let Some(token) = &query.page_token {
                        call = call.page_token(token);
                    }
                    let reply = call.delegate(&mut hints).doit().await;
                    (reply, hints)
                })
            })
            .await?;
        let items = page
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|e| event_from_api(e, zone).map(ListedEvent::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EventPage {
            items,
            next_page_token: page.next_page_token,
        })
    }

    async fn get_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        let zone = self.zone(calendar_id).await?;
        self.live_event(calendar_id, event_id, zone).await
    }

    async fn create_event(
        &self,
        calendar: &CalendarRef,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        self.create(calendar_id, fields, creation).await
    }

    async fn update_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        self.update(calendar_id, event_id, patch, scope).await
    }

    async fn delete_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError> {
        let calendar_id = calendar.id();
        self.delete(calendar_id, event_id, scope).await
    }

    async fn respond_to_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        attendee_email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        self.respond(calendar_id, event_id, attendee_email, answer, comment)
            .await
    }

    async fn free_busy(
        &self,
        calendars: &[CalendarRef],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<BusyMap, CalendarError> {
        let calendar_ids: Vec<String> = calendars.iter().map(|c| c.id().to_owned()).collect();
        let calendar_ids = calendar_ids.as_slice();
        let request = api::FreeBusyRequest {
            items: Some(
                calendar_ids
                    .iter()
                    .map(|id| api::FreeBusyRequestItem {
                        id: Some(id.clone()),
                    })
                    .collect(),
            ),
            time_min: Some(time_min),
            time_max: Some(time_max),
            ..api::FreeBusyRequest::default()
        };
        let target = Target::calendar(calendar_ids.first().map(String::as_str).unwrap_or_default());
        let reply = self
            .api
            .call(target, move |hub, mut hints| {
                let request = request.clone();
                Box::pin(async move {
                    let reply = hub
                        .freebusy()
                        .query(request)
                        .delegate(&mut hints)
                        .doit()
                        .await;
                    (reply, hints)
                })
            })
            .await?;
        let mut found = reply.calendars.unwrap_or_default();
        let mut busy = BusyMap::new();
        for id in calendar_ids {
            let calendar = found.remove(id).ok_or_else(|| {
                CalendarError::Backend(format!("free/busy reply lacks calendar `{id}`"))
            })?;
            if let Some(error) = calendar.errors.unwrap_or_default().first() {
                return Err(match error.reason.as_deref() {
                    Some("notFound") => CalendarError::calendar_not_found(id),
                    _ => CalendarError::PermissionDenied(format!(
                        "the Google account has no access to calendar `{id}`"
                    )),
                });
            }
            let intervals = calendar
                .busy
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| Some((p.start?, p.end?)))
                .collect();
            busy.insert(id.clone(), merge(intervals));
        }
        Ok(busy)
    }
}
