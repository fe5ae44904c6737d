//! An account's calendars as the tools address them: each calendar
//! collection found by discovery, under the last segment of its path as its
//! id (`/alice/team/` is `team`), with `primary` naming the configured one
//! (or the first). A calendar id is only ever looked up among the
//! collections the server listed, never turned into a path, so no id —
//! `../bob`, a URL, percent-escapes — reaches anything else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use tokio::sync::Mutex;

use crate::calendar::CalendarError;
use crate::calendar::caldav::content::unfold;
use crate::calendar::caldav::dav::DavClient;
use crate::calendar::caldav::discovery::{FoundCalendar, discover};
use crate::calendar::caldav::failure::from_discovery;
use crate::calendar::caldav::ical::named_zone;
use crate::calendar::model::{Calendar, rgb_color};

/// How long a discovery is reused: calendars are rarely added or renamed.
const FRESH_FOR: Duration = Duration::from_secs(60);
/// An unknown id asks the server again only when the list is older than
/// this, so a client cannot make every call a discovery.
const RECHECK_AFTER: Duration = Duration::from_secs(10);

/// One calendar of the account.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Its path on the server.
    pub href: String,
    /// The calendar as the tools show it (`id` is the path's last segment).
    pub calendar: Calendar,
    /// Its zone: the one it states, else the configured default.
    pub zone: Tz,
}

/// The account's calendars, found once and refreshed now and then.
pub struct Collections {
    /// The configured name of the account, for messages.
    account: String,
    /// Where discovery starts (the configured URL).
    start: String,
    /// The collection `primary` names.
    primary: Option<String>,
    /// The zone of calendars that state none.
    default_zone: Tz,
    found: Mutex<Option<(Arc<Vec<Collection>>, Instant)>>,
}

impl Collections {
    /// Nothing found yet: the first call discovers.
    pub fn new(account: &str, start: &str, primary: Option<String>, default_zone: Tz) -> Self {
        Collections {
            account: account.to_owned(),
            start: start.to_owned(),
            primary,
            default_zone,
            found: Mutex::new(None),
        }
    }

    /// Every calendar that holds events: the primary, then path order.
    pub async fn all(&self, client: &DavClient) -> Result<Arc<Vec<Collection>>, CalendarError> {
        self.fresh(client, FRESH_FOR).await
    }

    /// The calendar `id` names (`primary` included); an id not among them
    /// is not found, after asking the server again if the list is not new.
    pub async fn find(&self, client: &DavClient, id: &str) -> Result<Collection, CalendarError> {
        let listed = self.all(client).await?;
        if let Some(found) = self.pick(&listed, id) {
            return Ok(found);
        }
        let relisted = self.fresh(client, RECHECK_AFTER).await?;
        self.pick(&relisted, id)
            .ok_or_else(|| CalendarError::calendar_not_found(id))
    }

    fn pick(&self, listed: &[Collection], id: &str) -> Option<Collection> {
        let wanted = match (id, &self.primary) {
            ("primary", Some(primary)) => primary.as_str(),
            ("primary", None) => return listed.first().cloned(),
            (id, _) => id,
        };
        listed.iter().find(|c| c.calendar.id == wanted).cloned()
    }

    /// The list, discovered again when older than `age`.
    async fn fresh(
        &self,
        client: &DavClient,
        age: Duration,
    ) -> Result<Arc<Vec<Collection>>, CalendarError> {
        let mut found = self.found.lock().await;
        if let Some((listed, at)) = found.as_ref()
            && at.elapsed() < age
        {
            return Ok(Arc::clone(listed));
        }
        let discovered = discover(client, &self.start)
            .await
            .map_err(|e| from_discovery(&self.account, e))?;
        let mut listed: Vec<Collection> = discovered
            .into_iter()
            .filter_map(|found| self.collection(found))
            .collect();
        // The primary calendar first (as the other backends list it), then
        // the others in path order.
        let primary = self.primary.as_deref();
        listed.sort_by(|a, b| {
            let rank = |c: &Collection| (Some(c.calendar.id.as_str()) != primary, c.href.clone());
            rank(a).cmp(&rank(b))
        });
        let listed = Arc::new(listed);
        *found = Some((Arc::clone(&listed), Instant::now()));
        Ok(listed)
    }

    fn collection(&self, found: FoundCalendar) -> Option<Collection> {
        let segment = found.href.trim_end_matches('/').rsplit('/').next()?;
        // Decoded, as event names are: servers differ in what they escape.
        let id = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .ok()?;
        if id.is_empty() || id.chars().any(char::is_control) {
            return None;
        }
        let zone = found
            .time_zone
            .as_deref()
            .and_then(zone_of_timezone_property)
            .unwrap_or(self.default_zone);
        Some(Collection {
            calendar: Calendar {
                id: id.into_owned(),
                summary: found.name,
                time_zone: zone.name().to_owned(),
                color: found.color.as_deref().and_then(rgb_color),
            },
            href: found.href,
            zone,
        })
    }
}

/// The zone a `calendar-timezone` property names (a `VCALENDAR` holding
/// one `VTIMEZONE`): its `TZID`, mapped as event zones are.
fn zone_of_timezone_property(text: &str) -> Option<Tz> {
    // Through XML the line ends arrive as LF: unfold either kind.
    let unfolded = unfold(&text.replace("\r\n", "\n").replace('\n', "\r\n"));
    unfolded
        .lines()
        .find_map(|line| line.trim().strip_prefix("TZID:"))
        .and_then(|tzid| named_zone(tzid.trim()))
}

#[cfg(test)]
mod tests {
    use super::zone_of_timezone_property;

    #[test]
    fn a_calendar_zone_is_read_from_its_vtimezone() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Ber\r\n lin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        assert_eq!(
            zone_of_timezone_property(text),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            zone_of_timezone_property(
                "BEGIN:VCALENDAR\nTZID:W. Europe Standard Time\nEND:VCALENDAR"
            ),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(zone_of_timezone_property("nothing"), None);
    }
}
