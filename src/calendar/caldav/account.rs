//! One CalDAV account as a [`CalendarBackend`]. Calendars come from
//! [`Collections`]; an event's id is the name of its calendar object
//! resource (the last segment of its path, as the server wrote it), and an
//! occurrence's is `<name>_<original start>` as on every backend. Like
//! calendar ids, event ids are only looked up among the names the server
//! listed in that collection, never turned into paths. Reads before a write
//! fetch the object itself (GET: its exact bytes and entity tag). The
//! tools' operations are in `backend.rs`, the writes in `writes.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use http::header::ACCEPT;
use http::{Method, StatusCode};
use tokio::sync::Mutex;

use crate::calendar::CalendarError;
use crate::calendar::caldav::collections::{Collection, Collections};
use crate::calendar::caldav::content::Content;
use crate::calendar::caldav::dav::{DavClient, DavError};
use crate::calendar::caldav::expand::in_window;
use crate::calendar::caldav::failure::{from_dav, from_status};
use crate::calendar::caldav::objects::in_range;
use crate::calendar::caldav::vevent::{ObjectEvents, read_object};
use crate::calendar::edits::plan::Addressed;
use crate::calendar::edits::{Stored, materialise};
use crate::calendar::series::parse_instance_id;
use crate::calendar::time::When;
use crate::policy::grant::CalendarRef;

/// Most resource names remembered per calendar (a multistatus holds at most
/// as many responses).
const MAX_NAMES: usize = crate::calendar::caldav::multistatus::MAX_RESPONSES;

/// A CalDAV account the gateway acts as.
pub struct CalDavAccount {
    /// The configured name, for messages (never a credential).
    pub(super) name: String,
    pub(super) client: DavClient,
    pub(super) collections: Collections,
    /// Where discovery starts: what a readiness probe asks for.
    start: String,
    /// Per calendar path: resource name → href, as the server listed them.
    names: Mutex<HashMap<String, HashMap<String, String>>>,
}

/// A calendar object resource read for a write: its exact text and tag.
pub(super) struct Loaded {
    /// Its path on the server.
    pub(super) href: String,
    /// Its entity tag: the precondition of the write.
    pub(super) etag: String,
    /// Its text, line by line.
    pub(super) content: Content,
    /// Its series (or one-off event), analysed.
    pub(super) master: Stored,
    /// Its overridden occurrences: where the rule placed each, as it is now.
    pub(super) overrides: Vec<(When, Stored)>,
}

/// One occurrence of a series, in its object.
pub(super) struct Occurrence {
    /// The object holding the series.
    pub(super) object: Loaded,
    /// Where the rule places the occurrence (its id's time).
    pub(super) original: When,
    /// Its override, when it was edited or cancelled.
    pub(super) edited: Option<Stored>,
}

impl Occurrence {
    /// The occurrence as it stands: its override, or as the rule places it.
    pub(super) fn current(&self, id: &str) -> Result<Stored, CalendarError> {
        match &self.edited {
            Some(edited) if edited.event.is_cancelled() => Err(CalendarError::event_not_found(id)),
            Some(edited) => Ok(edited.clone()),
            None => Ok(materialise(&self.object.master, self.original)),
        }
    }
}

impl CalDavAccount {
    /// The account `name` over `client`.
    pub fn new(
        name: &str,
        client: DavClient,
        start: &str,
        collections: Collections,
    ) -> CalDavAccount {
        CalDavAccount {
            name: name.to_owned(),
            client,
            collections,
            start: start.to_owned(),
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the server answers (any status); why not, naming the account.
    pub(super) async fn probe(&self) -> Result<(), String> {
        match self
            .client
            .propfind(&self.start, 0, "<D:resourcetype/>")
            .await
        {
            Ok(_) | Err(DavError::Garbage(_) | DavError::TooLarge) => Ok(()),
            Err(e) => Err(format!("account `{}`: {e}", self.name)),
        }
    }

    /// The calendar a checked reference names.
    pub(super) async fn collection(
        &self,
        calendar: &CalendarRef,
    ) -> Result<Collection, CalendarError> {
        self.collections.find(&self.client, calendar.id()).await
    }

    /// Remembers that `hrefs` are in `collection` (one lock for a whole
    /// listing), returning their names; `None` for an href that is not a
    /// direct member (a server's odd answer).
    pub(super) async fn remember(
        &self,
        collection: &Collection,
        hrefs: &[&str],
    ) -> Vec<Option<String>> {
        let mut names = self.names.lock().await;
        let known = names.entry(collection.href.clone()).or_default();
        hrefs
            .iter()
            .map(|href| {
                let name = member_name(&collection.href, href)?;
                if known.len() < MAX_NAMES || known.contains_key(&name) {
                    known.insert(name.clone(), (*href).to_owned());
                }
                Some(name)
            })
            .collect()
    }

    /// Forgets a name whose resource is gone.
    pub(super) async fn forget(&self, collection: &Collection, name: &str) {
        if let Some(known) = self.names.lock().await.get_mut(&collection.href) {
            known.remove(name);
        }
    }

    /// The href of resource `name` in `collection`, asking the server for
    /// the collection's members when the name is not known yet.
    async fn href_of(
        &self,
        collection: &Collection,
        name: &str,
    ) -> Result<Option<String>, CalendarError> {
        let known = |names: &HashMap<String, HashMap<String, String>>| {
            names.get(&collection.href)?.get(name).cloned()
        };
        if let Some(href) = known(&*self.names.lock().await) {
            return Ok(Some(href));
        }
        let members = self
            .client
            .propfind(&collection.href, 1, "<D:getetag/>")
            .await
            .map_err(|e| from_dav(&self.name, e))?
            .map_err(|status| from_status(&self.name, &what_calendar(collection), status))?;
        let mut fresh = HashMap::new();
        for member in members.iter().take(MAX_NAMES) {
            if let Some(member_name) = member_name(&collection.href, &member.href) {
                fresh.insert(member_name, member.href.clone());
            }
        }
        let href = fresh.get(name).cloned();
        self.names
            .lock()
            .await
            .insert(collection.href.clone(), fresh);
        Ok(href)
    }

    /// The object named `name`, fetched whole, or `None` when there is none.
    pub(super) async fn load(
        &self,
        collection: &Collection,
        name: &str,
    ) -> Result<Option<Loaded>, CalendarError> {
        let Some(href) = self.href_of(collection, name).await? else {
            return Ok(None);
        };
        let answer = self
            .client
            .send(
                Method::GET,
                &href,
                &[(ACCEPT, "text/calendar")],
                String::new(),
            )
            .await
            .map_err(|e| from_dav(&self.name, e))?;
        if matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            self.forget(collection, name).await;
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(from_status(
                &self.name,
                &format!("event {name}"),
                answer.status,
            ));
        }
        let unusable = |why: String| {
            CalendarError::Unavailable(format!(
                "the CalDAV server of account `{}` sent event {name} in a form the gateway cannot use ({why})",
                self.name
            ))
        };
        let etag = answer
            .etag
            .ok_or_else(|| unusable("no entity tag".to_owned()))?;
        let text = String::from_utf8(answer.body.to_vec())
            .map_err(|_| unusable("not UTF-8".to_owned()))?;
        let content = Content::parse(&text).map_err(|e| unusable(e.to_string()))?;
        let Some(events) = read_object(&content, name, &etag, collection.zone)? else {
            return Ok(None);
        };
        let ObjectEvents { master, overrides } = events;
        let master = Stored::analyse(master, collection.zone)?;
        let overrides = overrides
            .into_iter()
            .map(|(original, event)| Ok((original, Stored::analyse(event, collection.zone)?)))
            .collect::<Result<Vec<_>, CalendarError>>()?;
        Ok(Some(Loaded {
            href,
            etag,
            content,
            master,
            overrides,
        }))
    }

    /// What `id` addresses in `collection`: a one-off event, a series, or
    /// one occurrence; not-found when it names nothing live.
    pub(super) async fn locate(
        &self,
        collection: &Collection,
        id: &str,
    ) -> Result<Addressed<Loaded, Occurrence>, CalendarError> {
        if let Some(object) = self.load(collection, id).await? {
            if object.master.event.is_cancelled() {
                return Err(CalendarError::event_not_found(id));
            }
            return Ok(if object.master.series.is_some() {
                Addressed::Series(object)
            } else {
                Addressed::Single(object)
            });
        }
        let (series_id, original) =
            parse_instance_id(id).ok_or_else(|| CalendarError::event_not_found(id))?;
        let object = self
            .load(collection, &series_id)
            .await?
            .ok_or_else(|| CalendarError::event_not_found(id))?;
        let Some(series) = &object.master.series else {
            return Err(CalendarError::event_not_found(id));
        };
        let zone = object.master.zone;
        let at = original.instant(zone);
        let edited = object
            .overrides
            .iter()
            .find(|(placed, _)| placed.instant(zone) == at)
            .map(|(_, edited)| edited.clone());
        if object.master.event.is_cancelled()
            || (edited.is_none() && !series.has_occurrence(&original)?)
        {
            return Err(CalendarError::event_not_found(id));
        }
        let original = match (original, object.master.start) {
            (When::Timed { at, .. }, When::Timed { zone, .. }) => When::Timed { at, zone },
            (other, _) => other,
        };
        Ok(Addressed::Instance(Occurrence {
            object,
            original,
            edited,
        }))
    }

    /// Every event of `collection` overlapping `[from, to)`, expanded and sorted.
    pub(super) async fn window(
        &self,
        collection: &Collection,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Stored>, CalendarError> {
        let objects = in_range(&self.client, &collection.href, from, to)
            .await
            .map_err(|e| from_dav(&self.name, e))?
            .map_err(|status| from_status(&self.name, &what_calendar(collection), status))?;
        let mut read = Vec::with_capacity(objects.len());
        let hrefs: Vec<&str> = objects.iter().map(|o| o.href.as_str()).collect();
        let names = self.remember(collection, &hrefs).await;
        for (object, name) in objects.iter().zip(names) {
            let Some(name) = name else {
                continue;
            };
            // One object another client wrote badly must not hide the rest.
            let events = Content::parse(&object.data)
                .map_err(|e| CalendarError::Backend(e.to_string()))
                .and_then(|content| read_object(&content, &name, &object.etag, collection.zone));
            match events {
                Ok(Some(events)) => read.push(events),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    account = %self.name,
                    calendar = %collection.calendar.id,
                    event = %name,
                    "CalDAV object left out of a listing: {e}"
                ),
            }
        }
        in_window(read, from, to, collection.zone)
    }
}

/// `calendar <id>`, for messages.
pub(super) fn what_calendar(collection: &Collection) -> String {
    format!("calendar {}", collection.calendar.id)
}

/// The name of `href` when it is a direct member of the collection at
/// `collection_href` (paths compared, a URL reduced to its path), decoded:
/// servers differ in what they percent-encode (`@` is `%40` in one and
/// itself in another), and an id must not depend on it.
pub(super) fn member_name(collection_href: &str, href: &str) -> Option<String> {
    let path = |h: &str| -> String {
        match h.find("://") {
            Some(i) => h[i + 3..]
                .find('/')
                .map_or_else(|| "/".to_owned(), |p| h[i + 3 + p..].to_owned()),
            None => h.to_owned(),
        }
    };
    let collection = path(collection_href);
    let collection = collection.trim_end_matches('/');
    let member = path(href);
    let raw = member.strip_prefix(collection)?.strip_prefix('/')?;
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    let valid = !name.is_empty()
        && !name.contains('/')
        && !name.chars().any(char::is_control)
        && name != "."
        && name != "..";
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::member_name;

    #[test]
    fn only_direct_members_of_the_collection_have_names() {
        let cal = "/alice/team/";
        assert_eq!(
            member_name(cal, "/alice/team/a.ics").as_deref(),
            Some("a.ics")
        );
        assert_eq!(
            member_name(cal, "http://127.0.0.1:5232/alice/team/b%20c%40d.ics").as_deref(),
            Some("b c@d.ics")
        );
        assert_eq!(
            member_name(cal, "/alice/team/b c@d.ics").as_deref(),
            Some("b c@d.ics")
        );
        for outside in [
            "/alice/team/",
            "/alice/team",
            "/alice/teamx/a.ics",
            "/alice/team/sub/a.ics",
            "/bob/team/a.ics",
            "/alice/team/..",
            "/alice/team/%2E%2E",
            "/alice/team/a%2Fb.ics",
            "/alice/team/a%0Ab.ics",
            "/alice/team/%FF.ics",
        ] {
            assert_eq!(member_name(cal, outside), None, "{outside}");
        }
    }
}
