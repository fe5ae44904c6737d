//! Calendar object resources on the server: the ones with an event in a
//! time range (a `calendar-query` REPORT, RFC 4791 §7.8), and writing or
//! removing one under a precondition on its entity tag, so that a change a
//! person made meanwhile is never overwritten (RFC 7232).

use chrono::{DateTime, Utc};
use http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{Method, StatusCode};

use crate::calendar::caldav::dav::{DavClient, DavError};
use crate::calendar::caldav::multistatus::{CALDAV, DAV};

/// One calendar object resource as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its path on the server.
    pub href: String,
    /// Its entity tag, the precondition of a later write.
    pub etag: String,
    /// Its iCalendar text.
    pub data: String,
}

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Done; the new entity tag when the server sent one.
    Done(Option<String>),
    /// The precondition failed (412): the resource exists already (a
    /// create) or changed since it was read (an update or a delete).
    Changed,
    /// Refused with this status (401, 403, 404, 507...).
    Refused(StatusCode),
}

/// When a write may happen.
#[derive(Debug, Clone, Copy)]
pub enum Precondition<'a> {
    /// Only if nothing is at the href yet (`If-None-Match: *`): a retried
    /// create cannot make a second resource.
    Absent,
    /// Only if the resource still has this entity tag (`If-Match`).
    Unchanged(&'a str),
}

/// The objects of the calendar at `collection` with an event in
/// `[from, to)` — a series counts when any occurrence does; or the status
/// the query was refused with.
pub async fn in_range(
    client: &DavClient,
    collection: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Result<Vec<Object>, StatusCode>, DavError> {
    let stamp = |at: DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{}" end="{}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        stamp(from),
        stamp(to)
    );
    let report = Method::from_bytes(b"REPORT").expect("a valid method");
    let resources = match client.multistatus(report, collection, "1", body).await? {
        Ok(resources) => resources,
        Err(status) => return Ok(Err(status)),
    };
    Ok(Ok(resources
        .into_iter()
        .filter_map(|resource| {
            let data = resource.prop(CALDAV, "calendar-data")?.text.clone();
            let etag = resource.prop(DAV, "getetag")?.text.clone();
            Some(Object {
                href: resource.href,
                etag,
                data,
            })
        })
        .collect()))
}

/// Writes `data` (an iCalendar object) at `href` under `precondition`.
pub async fn put(
    client: &DavClient,
    href: &str,
    data: String,
    precondition: Precondition<'_>,
) -> Result<Written, DavError> {
    let condition = match precondition {
        Precondition::Absent => (IF_NONE_MATCH, "*"),
        Precondition::Unchanged(etag) => (IF_MATCH, etag),
    };
    let answer = client
        .send(
            Method::PUT,
            href,
            &[condition, (CONTENT_TYPE, "text/calendar; charset=utf-8")],
            data,
        )
        .await?;
    Ok(written(answer.status, answer.etag))
}

/// Removes the resource at `href` if it still has entity tag `etag`.
pub async fn delete(client: &DavClient, href: &str, etag: &str) -> Result<Written, DavError> {
    let answer = client
        .send(Method::DELETE, href, &[(IF_MATCH, etag)], String::new())
        .await?;
    Ok(written(answer.status, None))
}

fn written(status: StatusCode, etag: Option<String>) -> Written {
    match status {
        status if status.is_success() => Written::Done(etag),
        StatusCode::PRECONDITION_FAILED => Written::Changed,
        status => Written::Refused(status),
    }
}
