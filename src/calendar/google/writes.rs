//! Writes on a Google account: events.insert, patch and delete, with the three
//! scopes of a recurring edit mapped as Google's own clients do — this
//! instance: edit the instance; all: patch the master; this and following:
//! end the master with UNTIL and insert the rest as a new series. Every write
//! is checked first with the same rules as the embedded store.

use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::edits::creation::{CreationId, answer_repeat, deleted_since};
use crate::calendar::edits::plan::{Addressed, SeriesPlan};
use crate::calendar::edits::{
    Stored, answer_invitation, check_instance_patch, materialise, move_series_with_instance,
    new_event, patched,
};
use crate::calendar::google::account::GoogleAccount;
use crate::calendar::google::convert::{as_patch, event_from_api, patch_to_api};
use crate::calendar::google::failure::Target;
use crate::calendar::model::{Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::time::{When, resolve};

/// One occurrence of a series, as Google returns it.
struct Occurrence {
    /// The occurrence (its `originalStartTime` says where the rule places it).
    event: Event,
    /// The series it belongs to.
    series_id: String,
}

impl GoogleAccount {
    async fn addressed(
        &self,
        calendar_id: &str,
        event_id: &str,
        zone: Tz,
    ) -> Result<Addressed<Event, Occurrence>, CalendarError> {
        let event = self.live_event(calendar_id, event_id, zone).await?;
        Ok(
            match (&event.recurring_event_id, event.recurrence.is_empty()) {
                (Some(series), _) => Addressed::Instance(Occurrence {
                    series_id: series.clone(),
                    event,
                }),
                (None, false) => Addressed::Series(event),
                (None, true) => Addressed::Single(event),
            },
        )
    }

    /// Inserts a checked new event under its own (client-chosen) id.
    async fn insert(&self, calendar_id: &str, event: &Event) -> Result<Event, CalendarError> {
        let zone = self.zone(calendar_id).await?;
        let id = event.id.clone();
        let mut body = patch_to_api(&as_patch(event))?;
        body.id = Some(id.clone());
        let cal = calendar_id.to_owned();
        let target = Target::event(calendar_id, &id);
        let created = self
            .api
            .call(target, move |hub, mut hints| {
                let (cal, body) = (cal.clone(), body.clone());
                Box::pin(async move {
                    let reply = hub
                        .events()
                        .insert(body, &cal)
                        .delegate(&mut hints)
                        .doit()
                        .await;
                    (reply, hints)
                })
            })
            .await;
        match created {
            Ok(event) => event_from_api(event, zone),
            // The id is ours and random: a duplicate means an earlier attempt
            // that timed out did land, so that event is the answer.
            Err(CalendarError::Conflict(_)) => self.live_event(calendar_id, &id, zone).await,
            Err(other) => Err(other),
        }
    }

    async fn patch(
        &self,
        calendar_id: &str,
        event_id: &str,
        patch: &EventPatch,
    ) -> Result<Event, CalendarError> {
        let zone = self.zone(calendar_id).await?;
        let body = patch_to_api(patch)?;
        let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
        let target = Target::event(calendar_id, event_id);
        let changed = self
            .api
            .call(target, move |hub, mut hints| {
                let (cal, id, body) = (cal.clone(), id.clone(), body.clone());
                Box::pin(async move {
                    let reply = hub
                        .events()
                        .patch(body, &cal, &id)
                        .delegate(&mut hints)
                        .doit()
                        .await;
                    (reply, hints)
                })
            })
            .await?;
        event_from_api(changed, zone)
    }

    async fn remove(&self, calendar_id: &str, event_id: &str) -> Result<(), CalendarError> {
        let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
        let target = Target::event(calendar_id, event_id);
        let removed = self
            .api
            .call(target, move |hub, mut hints| {
                let (cal, id) = (cal.clone(), id.clone());
                Box::pin(async move {
                    let reply = hub
                        .events()
                        .delete(&cal, &id)
                        .delegate(&mut hints)
                        .doit()
                        .await
                        .map(|response| (response, ()));
                    (reply, hints)
                })
            })
            .await;
        match removed {
            // A retried delete whose first attempt landed finds the event gone.
            Err(CalendarError::Gone(_)) => Ok(()),
            other => other,
        }
    }

    async fn master(
        &self,
        calendar_id: &str,
        series_id: &str,
        zone: Tz,
    ) -> Result<Stored, CalendarError> {
        let master = self.live_event(calendar_id, series_id, zone).await?;
        Stored::analyse(master, zone)
    }

    /// Creates an event with a client-chosen id, so a retried insert cannot duplicate it.
    pub(super) async fn create(
        &self,
        calendar_id: &str,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError> {
        let zone = self.zone(calendar_id).await?;
        let mut stored = new_event(fields, zone)?;
        let Some(creation) = creation else {
            return self.insert(calendar_id, &stored.event).await;
        };
        // The key's id is Google's client-chosen event id: a repeat meets
        // the first event (insert answers 409, and that event is read).
        stored.event.id = creation.as_str().to_owned();
        match self.insert(calendar_id, &stored.event).await {
            Ok(event) => answer_repeat(event, &stored),
            // Google keeps a deleted event's id: it reads as not found.
            Err(CalendarError::NotFound { .. }) => Err(deleted_since()),
            Err(other) => Err(other),
        }
    }

    /// Patches an event, an instance, or part of a series.
    pub(super) async fn update(
        &self,
        calendar_id: &str,
        event_id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let zone = self.zone(calendar_id).await?;
        match self
            .addressed(calendar_id, event_id, zone)
            .await?
            .plan(scope)?
        {
            SeriesPlan::Single(event) | SeriesPlan::Series(event) => {
                patched(event, patch.clone(), zone)?;
                self.patch(calendar_id, event_id, &patch).await
            }
            SeriesPlan::Instance(Occurrence { event, .. }) => {
                check_instance_patch(&patch)?;
                patched(event, patch.clone(), zone)?;
                self.patch(calendar_id, event_id, &patch).await
            }
            SeriesPlan::SeriesOf(Occurrence { event, series_id }) => {
                let original = original_start(&event)?;
                let master = self.master(calendar_id, &series_id, zone).await?;
                self.update_series(calendar_id, master, original, patch, zone)
                    .await
            }
            SeriesPlan::Following(Occurrence { event, series_id }) => {
                let original = original_start(&event)?;
                let master = self.master(calendar_id, &series_id, zone).await?;
                self.split(calendar_id, master, original, patch, zone).await
            }
        }
    }

    /// Patches the whole series, moved by as much as `patch` moves the
    /// instance originally at `original`.
    async fn update_series(
        &self,
        calendar_id: &str,
        master: Stored,
        original: When,
        mut patch: EventPatch,
        zone: Tz,
    ) -> Result<Event, CalendarError> {
        move_series_with_instance(&master, original, &mut patch)?;
        let series_id = master.event.id.clone();
        patched(master.event, patch.clone(), zone)?;
        self.patch(calendar_id, &series_id, &patch).await
    }

    /// Ends the series before `original` and inserts the rest, `patch` applied,
    /// as a new series. The new series goes in first: if ending the old one
    /// then fails, the new one is removed again, so nothing is lost or doubled.
    async fn split(
        &self,
        calendar_id: &str,
        master: Stored,
        original: When,
        patch: EventPatch,
        zone: Tz,
    ) -> Result<Event, CalendarError> {
        if master.starts_at_or_after(&original) {
            return self
                .update_series(calendar_id, master, original, patch, zone)
                .await;
        }
        let series = master.rule()?;
        let mut tail = materialise(&master, original).event;
        tail.recurring_event_id = None;
        tail.original_start_time = None;
        tail.recurrence = series.lines_from(&original)?;
        let tail =
            new_event(as_patch(&tail), zone).and_then(|fresh| patched(fresh.event, patch, zone))?;
        let created = self.insert(calendar_id, &tail.event).await?;
        if let Err(e) = self
            .end_series_before(calendar_id, &master, &original)
            .await
        {
            if let Err(undo) = self.remove(calendar_id, &created.id).await {
                tracing::error!(series = %master.event.id, new = %created.id, %undo, "split left both series in place");
            }
            return Err(e);
        }
        Ok(created)
    }

    /// Ends `master`'s rule just before the occurrence originally at `original`.
    async fn end_series_before(
        &self,
        calendar_id: &str,
        master: &Stored,
        original: &When,
    ) -> Result<Event, CalendarError> {
        let head = EventPatch {
            recurrence: Some(master.rule()?.lines_ending_before(original)),
            ..EventPatch::default()
        };
        self.patch(calendar_id, &master.event.id, &head).await
    }

    /// Deletes an event, an instance, or part of a series.
    pub(super) async fn delete(
        &self,
        calendar_id: &str,
        event_id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError> {
        let zone = self.zone(calendar_id).await?;
        match self
            .addressed(calendar_id, event_id, zone)
            .await?
            .plan(scope)?
        {
            SeriesPlan::Single(_) | SeriesPlan::Series(_) | SeriesPlan::Instance(_) => {
                self.remove(calendar_id, event_id).await
            }
            SeriesPlan::SeriesOf(Occurrence { series_id, .. }) => {
                self.remove(calendar_id, &series_id).await
            }
            SeriesPlan::Following(Occurrence { event, series_id }) => {
                let original = original_start(&event)?;
                let master = self.master(calendar_id, &series_id, zone).await?;
                if master.starts_at_or_after(&original) {
                    return self.remove(calendar_id, &series_id).await;
                }
                self.end_series_before(calendar_id, &master, &original)
                    .await
                    .map(drop)
            }
        }
    }

    /// Records an attendee's answer on an event or one instance.
    pub(super) async fn respond(
        &self,
        calendar_id: &str,
        event_id: &str,
        email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError> {
        let zone = self.zone(calendar_id).await?;
        let event = self.live_event(calendar_id, event_id, zone).await?;
        let patch = EventPatch {
            attendees: Some(answer_invitation(event.attendees, email, answer, comment)?),
            ..EventPatch::default()
        };
        self.patch(calendar_id, event_id, &patch).await
    }
}

fn original_start(instance: &Event) -> Result<When, CalendarError> {
    let original = instance.original_start_time.as_ref().ok_or_else(|| {
        CalendarError::Backend(format!("instance {} lacks originalStartTime", instance.id))
    })?;
    resolve("originalStartTime", original)
}
