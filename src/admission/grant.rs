//! What a verified token grants: the proof the tool layer receives. A
//! [`Grant`] can only be built by the token verifier, so a tool that runs has,
//! by construction, an admitted client behind it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::identity::ClientIdentity;

/// An action a token may permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// list_calendars, list/get events, free/busy, free slots, current time.
    ReadCalendars,
    /// create_event.
    CreateEvents,
    /// update_event, respond_to_event.
    UpdateEvents,
    /// delete_event.
    DeleteEvents,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 4] = [
        Permission::ReadCalendars,
        Permission::CreateEvents,
        Permission::UpdateEvents,
        Permission::DeleteEvents,
    ];

    /// The claim value, e.g. `readCalendars`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::ReadCalendars => "readCalendars",
            Permission::CreateEvents => "createEvents",
            Permission::UpdateEvents => "updateEvents",
            Permission::DeleteEvents => "deleteEvents",
        }
    }

    /// Parses a claim value.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Which calendars a token reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarScope {
    /// `"*"`: every calendar.
    All,
    /// Only these ids.
    Only(BTreeSet<String>),
}

impl CalendarScope {
    /// Whether `calendar_id` is inside the scope.
    pub fn allows(&self, calendar_id: &str) -> bool {
        match self {
            CalendarScope::All => true,
            CalendarScope::Only(ids) => ids.contains(calendar_id),
        }
    }
}

/// Proof that a request passed every admission check, with what it may do.
#[derive(Debug, Clone)]
pub struct Grant {
    identity: ClientIdentity,
    client_ip: IpAddr,
    permissions: BTreeSet<Permission>,
    calendars: CalendarScope,
    expires_at: DateTime<Utc>,
    token_id: String,
}

impl Grant {
    /// Built only by the token verifier.
    pub(crate) fn new(
        identity: ClientIdentity,
        client_ip: IpAddr,
        permissions: BTreeSet<Permission>,
        calendars: CalendarScope,
        expires_at: DateTime<Utc>,
        token_id: String,
    ) -> Grant {
        Grant {
            identity,
            client_ip,
            permissions,
            calendars,
            expires_at,
            token_id,
        }
    }

    /// Who the client is (from its certificate, confirmed by the token).
    pub fn identity(&self) -> &ClientIdentity {
        &self.identity
    }

    /// The client's address.
    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }

    /// Whether the token permits `permission`.
    pub fn permits(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The permissions the token carries.
    pub fn permissions(&self) -> &BTreeSet<Permission> {
        &self.permissions
    }

    /// The calendars the token reaches.
    pub fn calendars(&self) -> &CalendarScope {
        &self.calendars
    }

    /// When the token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The token's `jti`, for audit lines (never the token itself).
    pub fn token_id(&self) -> &str {
        &self.token_id
    }
}
