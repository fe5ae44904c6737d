//! Calendar backends: the [`CalendarBackend`] trait every tool calls, the shared
//! event model, and the three backends: the embedded SQLite store (the
//! default), Google Calendar and CalDAV.

pub mod accounts;
pub mod caldav;
pub mod edits;
pub mod embedded;
pub mod google;
pub mod listed;
pub mod model;
pub mod paging;
pub mod retry;
pub mod series;
pub mod slots;
pub mod time;

use crate::policy::grant::CalendarRef;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::calendar::edits::creation::CreationId;
use crate::calendar::listed::ListedEvent;
use crate::calendar::model::{Calendar, Event, EventPatch, Rsvp, SeriesScope};

/// Why a calendar operation failed; the tool layer turns each into an MCP tool error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A client-supplied argument is wrong; `field` names it.
    #[error("{field}: {problem}")]
    InvalidArgument {
        /// The argument path, e.g. `start.dateTime` or `recurrence[0]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The calendar or event does not exist (or is not visible to the caller).
    #[error("{kind} not found: {id}")]
    NotFound {
        /// `calendar` or `event`.
        kind: &'static str,
        /// The id the client sent.
        id: String,
    },
    /// The account may not reach this calendar or event.
    #[error("{0}")]
    PermissionDenied(String),
    /// The write clashes with the current state: a duplicate, or a change since it was read.
    #[error("{0}")]
    Conflict(String),
    /// The event or calendar existed but has been deleted.
    #[error("{0}")]
    Gone(String),
    /// The backend's credentials no longer work: an operator must re-authorize the account.
    #[error("{0}")]
    Reauthorize(String),
    /// The backend kept failing or did not answer in time; the message says what was tried.
    #[error("{0}")]
    Unavailable(String),
    /// The backend failed; the detail is logged, not shown to the client.
    #[error("calendar backend unavailable, try again later")]
    Backend(String),
}

impl CalendarError {
    /// An invalid-argument error for `field`.
    pub fn invalid(field: &str, problem: impl Into<String>) -> CalendarError {
        CalendarError::InvalidArgument {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// The error for a `pageToken` no listing produced (either backend).
    pub fn bad_page_token() -> CalendarError {
        CalendarError::invalid(
            "pageToken",
            "not a token returned by a previous list_events call",
        )
    }

    /// A not-found error for an event id.
    pub fn event_not_found(id: &str) -> CalendarError {
        CalendarError::NotFound {
            kind: "event",
            id: id.to_owned(),
        }
    }

    /// A not-found error for a calendar id.
    pub fn calendar_not_found(id: &str) -> CalendarError {
        CalendarError::NotFound {
            kind: "calendar",
            id: id.to_owned(),
        }
    }
}

/// A validated `list_events` query.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Events ending after this instant.
    pub time_min: DateTime<Utc>,
    /// Events starting before this instant.
    pub time_max: DateTime<Utc>,
    /// Case-insensitive text searched in summary, description, location and attendees.
    pub text: Option<String>,
    /// Page size.
    pub max_results: usize,
    /// Opaque cursor from a previous page.
    pub page_token: Option<String>,
}

/// One page of events, in start order; recurring series expanded into instances.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events on this page.
    pub items: Vec<ListedEvent>,
    /// Present when more events match: pass it back as `pageToken`.
    pub next_page_token: Option<String>,
}

/// Busy intervals per calendar id, merged and sorted.
pub type BusyMap = BTreeMap<String, Vec<(DateTime<Utc>, DateTime<Utc>)>>;

/// What every calendar backend does; the tools call only this.
#[async_trait]
pub trait CalendarBackend: Send + Sync {
    /// Every calendar the backend holds.
    async fn list_calendars(&self) -> Result<Vec<Calendar>, CalendarError>;
    /// One calendar by id.
    async fn get_calendar(&self, calendar: &CalendarRef) -> Result<Calendar, CalendarError>;
    /// Events overlapping a window, recurring series expanded.
    async fn list_events(
        &self,
        calendar: &CalendarRef,
        query: EventQuery,
    ) -> Result<EventPage, CalendarError>;
    /// One event or instance by id.
    async fn get_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
    ) -> Result<Event, CalendarError>;
    /// Creates an event (`start` and `end` are required in `fields`). With
    /// a `creation` id, a create repeated with the same id answers with the
    /// event the first one made ([`edits::creation`]).
    async fn create_event(
        &self,
        calendar: &CalendarRef,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError>;
    /// Patches an event. For a series, `scope` says how much changes; without one,
    /// an instance id means that instance and a series id the whole series.
    async fn update_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError>;
    /// Deletes an event, or part of a series (`scope` as for updates).
    async fn delete_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError>;
    /// Records an attendee's RSVP.
    async fn respond_to_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        attendee_email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError>;
    /// Busy intervals of several calendars inside one window.
    async fn free_busy(
        &self,
        calendars: &[CalendarRef],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<BusyMap, CalendarError>;
}

/// Which backend a client's calls reach. The embedded store serves every
/// client; Google and CalDAV map each client identity to the account it acts
/// as, so two clients mapped to different users never see each other's data.
#[async_trait]
pub trait CalendarAccounts: Send + Sync {
    /// The backend for `client_id`, or an error when no account is mapped to it.
    fn for_client(&self, client_id: &str) -> Result<Arc<dyn CalendarBackend>, CalendarError>;

    /// Whether the calendar server answers at all (any status counts), for
    /// a readiness that follows the backend; why not, when it does not.
    async fn probe(&self) -> Result<(), String> {
        Ok(())
    }
}

/// One backend shared by every client (the embedded store).
pub struct SharedBackend(pub Arc<dyn CalendarBackend>);

impl CalendarAccounts for SharedBackend {
    fn for_client(&self, _client_id: &str) -> Result<Arc<dyn CalendarBackend>, CalendarError> {
        Ok(Arc::clone(&self.0))
    }
}
