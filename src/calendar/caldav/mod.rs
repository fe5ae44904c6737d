//! The CalDAV backend (RFC 4791), being built (issue 23); not yet a
//! `[backend]` choice. So far:
//!
//! - [`dav`]: the HTTP side — one client per account, Basic authentication,
//!   a deadline per request, answers bounded in size, requests kept on the
//!   account's server.
//! - [`multistatus`]: reading WebDAV `multistatus` answers.
//! - [`discovery`]: from the configured URL to the account's principal, its
//!   calendar home and the calendars in it that hold events; [`failure`]:
//!   what a failed exchange or status becomes for the tool caller.
//! - [`objects`]: the calendar object resources with an event in a time
//!   range, and conditional writes and deletes (entity tags); [`expand`]:
//!   the events of a window from them, series expanded by the gateway's own
//!   engine with their overrides and cancellations.
//! - [`content`]: an iCalendar object kept line by line, so that an edit
//!   rewrites only what it changes; [`ical`]: the values of the properties
//!   the backend reads (parameters, TEXT, DATE and DATE-TIME); [`vevent`]:
//!   a calendar object resource read into the event model (the series and
//!   its overridden occurrences); [`compose`]: the model written as
//!   iCalendar, a new object with the `VTIMEZONE`s `calcard` builds;
//!   [`edit`]: an update written into an existing object, the series or one
//!   occurrence's override, touching only the properties the patch sets.
//!
//! Crates: `calcard` (Stalwart's iCalendar library) builds `VTIMEZONE`s from
//! the zone database; its writer normalises what it writes (an `RRULE`'s
//! parts reordered), so objects are edited line by line here instead.
//! Why the requests are by hand and not `libdav`: its requests run over a service whose
//! answers must be hyper's own body type, read whole with no size bound, so
//! a server answering gigabytes would be held in memory; the requests the
//! backend needs are few, and `roxmltree` reads their answers.

pub mod compose;
pub mod content;
pub mod dav;
pub mod discovery;
pub mod edit;
pub mod expand;
pub mod failure;
pub mod ical;
pub mod multistatus;
pub mod objects;
pub mod vevent;
