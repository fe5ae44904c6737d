//! Finding an account's calendars (RFC 4791 §6.2.1, RFC 5397, RFC 6764): the
//! principal the server says the account is, that principal's
//! `calendar-home-set`, and the calendar collections in it that hold events.

use http::StatusCode;

use crate::calendar::caldav::dav::{DavClient, DavError};
use crate::calendar::caldav::multistatus::{APPLE_ICAL, CALDAV, DAV, Resource};

/// A calendar collection of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCalendar {
    /// Its path on the server (the calendar's id).
    pub href: String,
    /// Its display name (the last path segment when it has none).
    pub name: String,
    /// Its colour (`#RRGGBB`), when the server keeps one.
    pub color: Option<String>,
    /// Its time zone (a `VCALENDAR` holding one `VTIMEZONE`), when set.
    pub time_zone: Option<String>,
}

/// Why the calendars could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The exchange failed.
    #[error(transparent)]
    Dav(#[from] DavError),
    /// The server refused a step with this status.
    #[error("the CalDAV server answered {status} when asked for {what}{hint}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// What was asked (`the current user's principal`...).
        what: &'static str,
        /// What the status usually means here.
        hint: &'static str,
    },
    /// The server answered without the property asked for.
    #[error("the CalDAV server did not say {0}")]
    Missing(&'static str),
}

/// The account's calendars that hold events, found from `start` (the
/// configured URL's path: the server root, a principal, or a home set).
pub async fn discover(
    client: &DavClient,
    start: &str,
) -> Result<Vec<FoundCalendar>, DiscoveryError> {
    let principal = one_href(
        client,
        start,
        "<D:current-user-principal/>",
        DAV,
        "current-user-principal",
        "the current user's principal",
    )
    .await?;
    let home = one_href(
        client,
        &principal,
        "<C:calendar-home-set/>",
        CALDAV,
        "calendar-home-set",
        "the principal's calendar home",
    )
    .await?;
    let props = "<D:resourcetype/><D:displayname/><A:calendar-color/>\
                 <C:supported-calendar-component-set/><C:calendar-timezone/>";
    let resources = client
        .propfind(&home, 1, props)
        .await?
        .map_err(|status| refused(status, "the calendars in the home"))?;
    Ok(resources.iter().filter_map(calendar_of).collect())
}

/// The one href property `name` of `href` holds.
async fn one_href(
    client: &DavClient,
    href: &str,
    prop: &str,
    namespace: &str,
    name: &'static str,
    what: &'static str,
) -> Result<String, DiscoveryError> {
    let resources = client
        .propfind(href, 0, prop)
        .await?
        .map_err(|status| refused(status, what))?;
    resources
        .iter()
        .find_map(|r| r.prop(namespace, name)?.hrefs.first().cloned())
        .ok_or(DiscoveryError::Missing(what))
}

/// A calendar collection that holds events, or `None` for anything else
/// (the home itself, a task list, an address book).
fn calendar_of(resource: &Resource) -> Option<FoundCalendar> {
    let kinds = &resource.prop(DAV, "resourcetype")?.children;
    if !kinds.iter().any(|k| k == "calendar") {
        return None;
    }
    // Without the property a calendar may hold every component (RFC 4791 §5.2.3).
    if let Some(components) = resource.prop(CALDAV, "supported-calendar-component-set")
        && !components
            .children
            .iter()
            .any(|c| c.eq_ignore_ascii_case("VEVENT"))
    {
        return None;
    }
    let last_segment = resource
        .href
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let non_empty = |p: Option<&crate::calendar::caldav::multistatus::Property>| {
        p.map(|p| p.text.clone()).filter(|t| !t.is_empty())
    };
    Some(FoundCalendar {
        href: resource.href.clone(),
        name: non_empty(resource.prop(DAV, "displayname")).unwrap_or(last_segment),
        color: non_empty(resource.prop(APPLE_ICAL, "calendar-color")),
        time_zone: non_empty(resource.prop(CALDAV, "calendar-timezone")),
    })
}

/// The refusal of a step, with what its status usually means.
fn refused(status: StatusCode, what: &'static str) -> DiscoveryError {
    let hint = match status {
        StatusCode::UNAUTHORIZED => ": the username or password is wrong",
        StatusCode::FORBIDDEN => ": the account may not read it",
        StatusCode::NOT_FOUND => ": the URL is not a CalDAV path on this server",
        StatusCode::METHOD_NOT_ALLOWED => ": the URL is not a WebDAV resource",
        _ => "",
    };
    DiscoveryError::Refused { status, what, hint }
}
