//! The writes that reshape a series in its object: one occurrence's
//! override, the whole series through one occurrence, "this and following"
//! (a new series, the old one ended before it), and an occurrence removed
//! (`EXDATE`). Each is one conditional write of the object as read, as in
//! `writes.rs`.

use chrono::{DateTime, Utc};

use crate::calendar::CalendarError;
use crate::calendar::caldav::account::{CalDavAccount, Occurrence};
use crate::calendar::caldav::collections::Collection;
use crate::calendar::caldav::compose::when_line;
use crate::calendar::caldav::content::{Component, Content};
use crate::calendar::caldav::edit::{Addressed as Target, add_override, apply_patch};
use crate::calendar::caldav::ical::{read_prop, read_when};
use crate::calendar::caldav::objects::delete;
use crate::calendar::edits::{materialise, move_series_with_instance, patched};
use crate::calendar::model::{Event, EventPatch};
use crate::calendar::time::{When, format_utc};

impl CalDavAccount {
    /// One occurrence with `patch` applied, in its override (made first when
    /// the occurrence has none).
    pub(super) async fn rewrite_occurrence(
        &self,
        collection: &Collection,
        mut occurrence: Occurrence,
        id: &str,
        patch: EventPatch,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let zone = collection.zone;
        let base = occurrence.current(id)?;
        let changed = patched(base.event.clone(), patch.clone(), zone)?;
        let content = &mut occurrence.object.content;
        if occurrence.edited.is_none() {
            let uid = uid_of(content)?;
            add_override(content, &uid, occurrence.original, &base, now);
        }
        let target = Target::Override(occurrence.original);
        apply_patch(content, target, &patch, &changed, zone, now)?;
        self.write_back(&occurrence.object, changed.event, now)
            .await
    }

    /// The whole series through one occurrence: moving it moves every one,
    /// and overrides tied to the old times go.
    pub(super) async fn rewrite_whole_series(
        &self,
        collection: &Collection,
        mut occurrence: Occurrence,
        mut patch: EventPatch,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let object = &mut occurrence.object;
        if move_series_with_instance(&object.master, occurrence.original, &mut patch)? {
            remove_overrides(&mut object.content, collection, |_| true)?;
        }
        self.rewrite_master(collection, occurrence.object, patch, now)
            .await
    }

    /// "This and following": a new series from the occurrence on (with the
    /// patch), then the old one ended before it. The new object is written
    /// first and removed again if the old one cannot be ended, so that a
    /// failure leaves the calendar as it was.
    pub(super) async fn split(
        &self,
        collection: &Collection,
        occurrence: Occurrence,
        patch: EventPatch,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let zone = collection.zone;
        let master = &occurrence.object.master;
        let mut tail = materialise(master, occurrence.original).event;
        let uid = uuid::Uuid::new_v4().simple().to_string();
        tail.id = uid.clone();
        tail.recurring_event_id = None;
        tail.original_start_time = None;
        tail.recurrence = master.rule()?.lines_from(&occurrence.original)?;
        tail.created = format_utc(now);
        let tail = patched(tail, patch, zone)?;
        let (event, tail_href) = self
            .put_new(collection, tail, &uid, now)
            .await?
            .ok_or_else(|| CalendarError::Conflict(format!("event {uid}.ics exists already")))?;
        if let Err(e) = self.end_before(collection, occurrence, now).await {
            // Best effort: the error that matters is the one returned.
            let _ = delete(&self.client, &tail_href, &event.etag).await;
            return Err(e);
        }
        Ok(event)
    }

    /// Ends the series of `occurrence` just before it (its overrides from
    /// there on go too).
    pub(super) async fn end_before(
        &self,
        collection: &Collection,
        occurrence: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let Occurrence {
            mut object,
            original,
            ..
        } = occurrence;
        let cut = original.instant(object.master.zone);
        remove_overrides(&mut object.content, collection, |at| at >= cut)?;
        let patch = EventPatch {
            recurrence: Some(object.master.rule()?.lines_ending_before(&original)),
            ..EventPatch::default()
        };
        self.rewrite_master(collection, object, patch, now).await
    }

    /// Removes one occurrence: an `EXDATE` on the series, its override gone.
    pub(super) async fn exclude(
        &self,
        collection: &Collection,
        occurrence: Occurrence,
        now: DateTime<Utc>,
    ) -> Result<(), CalendarError> {
        let Occurrence {
            mut object,
            original,
            ..
        } = occurrence;
        let zone = object.master.zone;
        let at = original.instant(zone);
        remove_overrides(&mut object.content, collection, |placed| placed == at)?;
        let mut recurrence = object.master.event.recurrence.clone();
        recurrence.push(when_line("EXDATE", &original, zone));
        let patch = EventPatch {
            recurrence: Some(recurrence),
            ..EventPatch::default()
        };
        self.rewrite_master(collection, object, patch, now)
            .await
            .map(drop)
    }
}

/// The `UID` of the object's series.
fn uid_of(content: &Content) -> Result<String, CalendarError> {
    let components = content
        .components()
        .map_err(|e| CalendarError::Backend(e.to_string()))?;
    components
        .iter()
        .filter(|c| c.kind == "VEVENT")
        .find_map(|c| {
            let raw = content.properties(c, "UID").first().copied()?;
            read_prop(raw).map(|p| p.value)
        })
        .ok_or_else(|| CalendarError::Backend("a VEVENT without UID".to_owned()))
}

/// Removes the overrides whose original start (`RECURRENCE-ID`) `matches`.
fn remove_overrides(
    content: &mut Content,
    collection: &Collection,
    matches: impl Fn(DateTime<Utc>) -> bool,
) -> Result<(), CalendarError> {
    let components = content
        .components()
        .map_err(|e| CalendarError::Backend(e.to_string()))?;
    let doomed: Vec<Component> = components
        .into_iter()
        .filter(|c| c.kind == "VEVENT")
        .filter(|c| {
            content
                .properties(c, "RECURRENCE-ID")
                .first()
                .and_then(|raw| read_prop(raw))
                .and_then(|p| read_when(&p, collection.zone, "RECURRENCE-ID").ok())
                .is_some_and(|original: When| matches(original.instant(collection.zone)))
        })
        .collect();
    // Last first: removing one leaves the places of those before it.
    for component in doomed.iter().rev() {
        content.remove_component(component);
    }
    Ok(())
}
