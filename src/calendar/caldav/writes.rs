//! The CalDAV account's writes. Every one is conditional: a create only
//! where nothing is (`If-None-Match: *`), an update or delete only of the
//! object as it was read (`If-Match`), so a change a person made meanwhile
//! is a clear error, never overwritten. What "this / this and following /
//! all" means comes from the one series-edit plan; an edit rewrites only the
//! properties it changes ([`crate::calendar::caldav::edit`]).

use chrono::{DateTime, Utc};
use http::header::ACCEPT;
use http::{Method, StatusCode};

use crate::calendar::CalendarError;
use crate::calendar::caldav::account::{CalDavAccount, Loaded, Occurrence};
use crate::calendar::caldav::collections::Collection;
use crate::calendar::caldav::compose::new_object;
use crate::calendar::caldav::edit::{Addressed as Target, apply_patch};
use crate::calendar::caldav::failure::{from_dav, from_status};
use crate::calendar::caldav::objects::{Precondition, Written, delete, put};
use crate::calendar::edits::creation::{CreationId, answer_repeat, deleted_since};
use crate::calendar::edits::plan::{Addressed, SeriesPlan};
use crate::calendar::edits::{Stored, answer_invitation, check_instance_patch, new_event, patched};
use crate::calendar::model::{Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::time::format_utc;

impl CalDavAccount {
    /// Creates an event as a new object named after its UID: the
    /// `creation` id when the client sent an idempotency key, else a fresh
    /// one. Where something is at that name already, it is the first
    /// attempt of this create (a re-send with the same key, or a retry
    /// after an answer that was lost), and the answer is that event.
    pub(super) async fn create(
        &self,
        collection: &Collection,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError> {
        let now = Utc::now();
        let mut stored = new_event(fields, collection.zone)?;
        if let Some(creation) = &creation {
            stored.event.id = creation.as_str().to_owned();
        }
        let uid = stored.event.id.clone();
        if let Some((event, _)) = self.put_new(collection, stored.clone(), &uid, now).await? {
            return Ok(event);
        }
        match self.load(collection, &format!("{uid}.ics")).await? {
            Some(first) => answer_repeat(first.master.event, &stored),
            None => Err(deleted_since()),
        }
    }

    /// Writes `stored` as a new object `<uid>.ics`; the event as written
    /// and its href, or `None` when something is at that name already.
    pub(super) async fn put_new(
        &self,
        collection: &Collection,
        mut stored: Stored,
        uid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Event, String)>, CalendarError> {
        let name = format!("{uid}.ics");
        let href = format!("{}/{name}", collection.href.trim_end_matches('/'));
        let data = new_object(&stored, uid, now)?;
        let what = format!("event {name}");
        let etag = match put(&self.client, &href, data, Precondition::Absent)
            .await
            .map_err(|e| from_dav(&self.name, e))?
        {
            Written::Done(etag) => etag,
            Written::Changed => return Ok(None),
            Written::Refused(status) => return Err(from_status(&self.name, &what, status)),
        };
        self.remember(collection, &[&href]).await;
        stored.event.id = name;
        stored.event.etag = match etag {
            Some(etag) => etag,
            None => self.current_etag(&href, &what).await?,
        };
        stored.event.updated = format_utc(now);
        Ok(Some((stored.event, href)))
    }

    /// Patches an event, an occurrence, or part of a series.
    pub(super) async fn update(
        &self,
        collection: &Collection,
        id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let addressed = self.locate(collection, id).await?;
        self.update_addressed(collection, id, addressed, patch, scope)
            .await
    }

    /// Patches what `id` was found to address: the write is conditional on
    /// the object as it was read then.
    async fn update_addressed(
        &self,
        collection: &Collection,
        id: &str,
        addressed: Addressed<Loaded, Occurrence>,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let now = Utc::now();
        match addressed.plan(scope)? {
            SeriesPlan::Single(object) | SeriesPlan::Series(object) => {
                self.rewrite_master(collection, object, patch, now).await
            }
            SeriesPlan::Instance(occurrence) => {
                check_instance_patch(&patch)?;
                self.rewrite_occurrence(collection, occurrence, id, patch, now)
                    .await
            }
            SeriesPlan::SeriesOf(occurrence) => {
                self.rewrite_whole_series(collection, occurrence, patch, now)
                    .await
            }
            SeriesPlan::Following(occurrence) => {
                if occurrence
                    .object
                    .master
                    .starts_at_or_after(&occurrence.original)
                {
                    return self
                        .rewrite_whole_series(collection, occurrence, patch, now)
                        .await;
                }
                self.split(collection, occurrence, patch, now).await
            }
        }
    }

    /// The series (or one-off event) with `patch` applied.
    pub(super) async fn rewrite_master(
        &self,
        collection: &Collection,
        mut object: Loaded,
        patch: EventPatch,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let zone = collection.zone;
        let changed = patched(object.master.event.clone(), patch.clone(), zone)?;
        apply_patch(
            &mut object.content,
            Target::Master,
            &patch,
            &changed,
            zone,
            now,
        )?;
        self.write_back(&object, changed.event, now).await
    }

    /// Deletes an event, an occurrence, or part of a series.
    pub(super) async fn delete(
        &self,
        collection: &Collection,
        id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError> {
        let now = Utc::now();
        match self.locate(collection, id).await?.plan(scope)? {
            SeriesPlan::Single(object) | SeriesPlan::Series(object) => {
                self.remove(collection, &object).await
            }
            SeriesPlan::SeriesOf(occurrence) => self.remove(collection, &occurrence.object).await,
            SeriesPlan::Instance(occurrence) => {
                occurrence.current(id)?;
                self.exclude(collection, occurrence, now).await
            }
            SeriesPlan::Following(occurrence) => {
                if occurrence
                    .object
                    .master
                    .starts_at_or_after(&occurrence.original)
                {
                    return self.remove(collection, &occurrence.object).await;
                }
                self.end_before(collection, occurrence, now).await.map(drop)
            }
        }
    }

    /// Removes a whole object, if it is still as it was read.
    pub(super) async fn remove(
        &self,
        collection: &Collection,
        object: &Loaded,
    ) -> Result<(), CalendarError> {
        let what = format!("event {}", object.master.event.id);
        match delete(&self.client, &object.href, &object.etag)
            .await
            .map_err(|e| from_dav(&self.name, e))?
        {
            // Gone already: a retried DELETE whose first attempt landed, or
            // someone else's delete — either way what was asked holds.
            Written::Done(_) | Written::Refused(StatusCode::NOT_FOUND | StatusCode::GONE) => {
                self.forget(collection, &object.master.event.id).await;
                Ok(())
            }
            Written::Changed => Err(from_status(
                &self.name,
                &what,
                StatusCode::PRECONDITION_FAILED,
            )),
            Written::Refused(status) => Err(from_status(&self.name, &what, status)),
        }
    }

    /// Records an attendee's answer on an event or one occurrence.
    pub(super) async fn respond(
        &self,
        collection: &Collection,
        id: &str,
        email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError> {
        // One read serves the answer and the write: the attendee list is
        // written back only over the object it was taken from (If-Match), so
        // a change to it meanwhile is a conflict, never overwritten.
        let addressed = self.locate(collection, id).await?;
        let current = match &addressed {
            Addressed::Single(object) | Addressed::Series(object) => object.master.event.clone(),
            Addressed::Instance(occurrence) => occurrence.current(id)?.event,
        };
        let attendees = answer_invitation(current.attendees, email, answer, comment)?;
        let patch = EventPatch {
            attendees: Some(attendees),
            ..EventPatch::default()
        };
        self.update_addressed(collection, id, addressed, patch, None)
            .await
    }

    /// Writes `object`'s edited content back if it is unchanged since read;
    /// `event` as written, with its new entity tag.
    pub(super) async fn write_back(
        &self,
        object: &Loaded,
        mut event: Event,
        now: DateTime<Utc>,
    ) -> Result<Event, CalendarError> {
        let what = format!("event {}", object.master.event.id);
        let data = object.content.render();
        let written = put(
            &self.client,
            &object.href,
            data,
            Precondition::Unchanged(&object.etag),
        )
        .await
        .map_err(|e| from_dav(&self.name, e))?;
        let etag = match written {
            Written::Done(etag) => etag,
            Written::Changed => {
                return Err(from_status(
                    &self.name,
                    &what,
                    StatusCode::PRECONDITION_FAILED,
                ));
            }
            Written::Refused(status) => return Err(from_status(&self.name, &what, status)),
        };
        event.etag = match etag {
            Some(etag) => etag,
            None => self.current_etag(&object.href, &what).await?,
        };
        event.updated = format_utc(now);
        Ok(event)
    }

    /// The entity tag of `href` now, for a server that sent none with a write.
    async fn current_etag(&self, href: &str, what: &str) -> Result<String, CalendarError> {
        let answer = self
            .client
            .send(
                Method::GET,
                href,
                &[(ACCEPT, "text/calendar")],
                String::new(),
            )
            .await
            .map_err(|e| from_dav(&self.name, e))?;
        if !answer.status.is_success() {
            return Err(from_status(&self.name, what, answer.status));
        }
        answer.etag.ok_or_else(|| {
            CalendarError::Unavailable(format!(
                "the CalDAV server of account `{}` gives {what} no entity tag",
                self.name
            ))
        })
    }
}
