//! What a verified token grants: the proof the tool layer receives. A
//! [`Grant`] can only be built by the token verifier, so a tool that runs has,
//! by construction, an admitted client behind it; and a [`CalendarRef`], the
//! only way to name a calendar to a backend, can only be had from
//! [`Grant::calendar`], which checks the token's calendar scope.

use crate::policy::address::ClientIp;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::denial::{Denial, Reason};
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

/// A calendar id the token's scope has been checked against: what every
/// backend method takes, so no call can reach a backend with an unchecked
/// calendar. Built only by [`Grant::calendar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRef {
    id: String,
}

impl CalendarRef {
    /// The calendar id, as the client wrote it.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What a grant keeps of the token itself, besides what it permits.
pub(in crate::policy) struct TokenTerms {
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `jti`.
    pub token_id: String,
    /// What a renewal would copy, when the token carries `renewableUntil`.
    pub renewal: Option<std::sync::Arc<crate::policy::token::renewal::RenewalBasis>>,
}

/// Proof that a request passed every admission check, with what it may do.
/// Shared, not copied: the stages of a request and its tool each hold it.
#[derive(Debug, Clone)]
pub struct Grant(std::sync::Arc<GrantFields>);

#[derive(Debug)]
struct GrantFields {
    identity: ClientIdentity,
    client_ip: ClientIp,
    permissions: BTreeSet<Permission>,
    calendars: CalendarScope,
    expires_at: DateTime<Utc>,
    token_id: String,
    /// What a renewal of the token would copy, when it carries `renewableUntil`.
    renewal: Option<std::sync::Arc<crate::policy::token::renewal::RenewalBasis>>,
}

impl Grant {
    /// Built only by the token verifier: `proof` is a
    /// [`crate::policy::token::jwt::Verified`], which only it can make (tests use
    /// [`Grant::for_tests`]).
    pub(in crate::policy) fn new(
        proof: crate::policy::token::jwt::Verified,
        identity: ClientIdentity,
        client_ip: ClientIp,
        permissions: BTreeSet<Permission>,
        calendars: CalendarScope,
        token: TokenTerms,
    ) -> Grant {
        let _ = proof;
        let TokenTerms {
            expires_at,
            token_id,
            renewal,
        } = token;
        Grant(std::sync::Arc::new(GrantFields {
            identity,
            client_ip,
            permissions,
            calendars,
            expires_at,
            token_id,
            renewal,
        }))
    }

    /// What a renewal of this grant's token copies; `None` when the token
    /// carries no `renewableUntil`.
    pub fn renewal(&self) -> Option<&crate::policy::token::renewal::RenewalBasis> {
        self.0.renewal.as_deref()
    }

    /// Who the client is (from its certificate, confirmed by the token).
    pub fn identity(&self) -> &ClientIdentity {
        &self.0.identity
    }

    /// The client's address.
    pub fn client_ip(&self) -> ClientIp {
        self.0.client_ip
    }

    /// Whether the token permits `permission`.
    pub fn permits(&self, permission: Permission) -> bool {
        self.0.permissions.contains(&permission)
    }

    /// The permissions the token carries.
    pub fn permissions(&self) -> &BTreeSet<Permission> {
        &self.0.permissions
    }

    /// The calendars the token reaches.
    pub fn calendars(&self) -> &CalendarScope {
        &self.0.calendars
    }

    /// When the token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// The token's `jti`, for audit lines (never the token itself).
    pub fn token_id(&self) -> &str {
        &self.0.token_id
    }

    /// `calendar_id` as a handle a backend accepts, if the token reaches it.
    pub fn calendar(&self, calendar_id: &str) -> Result<CalendarRef, Denial> {
        if self.0.calendars.allows(calendar_id) {
            Ok(CalendarRef {
                id: calendar_id.to_owned(),
            })
        } else {
            Err(Denial::new(Reason::CalendarNotAllowed).with_detail(calendar_id.to_owned()))
        }
    }

    /// A grant for unit tests of the layers behind admission.
    #[cfg(test)]
    pub(crate) fn for_tests(permissions: &[Permission], calendars: CalendarScope) -> Grant {
        let identity = ClientIdentity::for_tests("test-client");
        Grant::new(
            crate::policy::token::jwt::Verified::for_tests(),
            identity,
            ClientIp::canonical(std::net::IpAddr::from([127, 0, 0, 1])),
            permissions.iter().copied().collect(),
            calendars,
            TokenTerms {
                expires_at: Utc::now(),
                token_id: "test-jti".into(),
                renewal: None,
            },
        )
    }
}
