//! The tools' operations on a CalDAV account ([`CalendarBackend`]): each
//! finds its calendar among the discovered ones, then reads
//! (`account.rs`) or writes (`writes.rs`, `series_writes.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::calendar::caldav::account::CalDavAccount;
use crate::calendar::edits::creation::CreationId;
use crate::calendar::edits::plan::Addressed;
use crate::calendar::model::{Calendar, Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::paging::page;
use crate::calendar::slots::merge;
use crate::calendar::{BusyMap, CalendarBackend, CalendarError, EventPage, EventQuery};
use crate::policy::grant::CalendarRef;

#[async_trait]
impl CalendarBackend for CalDavAccount {
    async fn list_calendars(&self) -> Result<Vec<Calendar>, CalendarError> {
        let listed = self.collections.all(&self.client).await?;
        Ok(listed.iter().map(|c| c.calendar.clone()).collect())
    }

    async fn get_calendar(&self, calendar: &CalendarRef) -> Result<Calendar, CalendarError> {
        Ok(self.collection(calendar).await?.calendar)
    }

    async fn list_events(
        &self,
        calendar: &CalendarRef,
        query: EventQuery,
    ) -> Result<EventPage, CalendarError> {
        let collection = self.collection(calendar).await?;
        let sorted = self
            .window(&collection, query.time_min, query.time_max)
            .await?;
        page(sorted, &query)
    }

    async fn get_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
    ) -> Result<Event, CalendarError> {
        let collection = self.collection(calendar).await?;
        match self.locate(&collection, event_id).await? {
            Addressed::Single(object) | Addressed::Series(object) => Ok(object.master.event),
            Addressed::Instance(occurrence) => Ok(occurrence.current(event_id)?.event),
        }
    }

    async fn create_event(
        &self,
        calendar: &CalendarRef,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError> {
        let collection = self.collection(calendar).await?;
        self.create(&collection, fields, creation).await
    }

    async fn update_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let collection = self.collection(calendar).await?;
        self.update(&collection, event_id, patch, scope).await
    }

    async fn delete_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError> {
        let collection = self.collection(calendar).await?;
        self.delete(&collection, event_id, scope).await
    }

    async fn respond_to_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        attendee_email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError> {
        let collection = self.collection(calendar).await?;
        self.respond(&collection, event_id, attendee_email, answer, comment)
            .await
    }

    async fn free_busy(
        &self,
        calendars: &[CalendarRef],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<BusyMap, CalendarError> {
        let mut busy = BusyMap::new();
        for calendar in calendars {
            let collection = self.collection(calendar).await?;
            let intervals = self
                .window(&collection, time_min, time_max)
                .await?
                .iter()
                .map(|s| {
                    (
                        s.start.instant(s.zone).max(time_min),
                        s.end.instant(s.zone).min(time_max),
                    )
                })
                .collect();
            busy.insert(calendar.id().to_owned(), merge(intervals));
        }
        Ok(busy)
    }
}
