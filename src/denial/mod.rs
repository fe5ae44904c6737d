//! Every "no" the gateway says, as a value. A [`Denial`] names the reason;
//! [`TABLE`] holds one declarative row per reason — its stage, label,
//! whether fail2ban may ban for it, the HTTP status and the JSON-RPC code —
//! the one source that the security log ([`crate::observe::seclog`]), the HTTP answer
//! ([`crate::http::refusal`]), the MCP tool-call refusal ([`crate::mcp`]) and the
//! metrics all read.

mod reason;
mod table;

use std::fmt;

pub use reason::Reason;
pub use table::{
    FORBIDDEN, HEADER_MISMATCH, INVALID_REQUEST, PARSE_ERROR, RATE_LIMITED, Row, TABLE,
    UNAUTHORIZED, UNSUPPORTED_PROTOCOL_VERSION,
};

/// Where in the admission pipeline a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading a PROXY protocol header.
    Proxy,
    /// The client address allowlist.
    Ip,
    /// The GeoIP country check.
    Geo,
    /// Per-address and per-client caps on what a client may hold open.
    Limit,
    /// An address banned in-process (`[bans]`).
    Ban,
    /// Rate limits (`[rate_limits]`).
    Rate,
    /// The TLS handshake and client certificate.
    Tls,
    /// The shape and pace of HTTP requests on an authenticated connection.
    Http,
    /// The `Origin` header of a request.
    Origin,
    /// The bearer token of a request.
    Jwt,
    /// MCP sessions: ownership and caps.
    Session,
    /// The permission and calendar scope of an MCP message.
    Scope,
    /// The gateway's own state: a log it cannot write.
    Gateway,
}

impl Stage {
    /// The label used in log lines and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Proxy => "proxy",
            Stage::Ip => "ip",
            Stage::Geo => "geo",
            Stage::Limit => "limit",
            Stage::Ban => "ban",
            Stage::Rate => "rate",
            Stage::Tls => "tls",
            Stage::Http => "http",
            Stage::Origin => "origin",
            Stage::Jwt => "jwt",
            Stage::Session => "session",
            Stage::Scope => "scope",
            Stage::Gateway => "gateway",
        }
    }
}

/// A refusal: the reason, plus what the log line should say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Why.
    pub reason: Reason,
    /// The country, for GeoIP denials.
    pub country: Option<String>,
    /// A short client-influenced explanation (escaped when logged).
    pub detail: Option<String>,
    /// When the client may try again (rate limits): the `Retry-After` header.
    pub retry_after: Option<std::time::Duration>,
    /// The refused connection is a trusted balancer's own (it sent a PROXY
    /// LOCAL or UNKNOWN header: a health check), not a client's.
    pub by_balancer: bool,
}

impl Denial {
    /// A denial with no further fields.
    pub fn new(reason: Reason) -> Denial {
        Denial {
            reason,
            country: None,
            detail: None,
            retry_after: None,
            by_balancer: false,
        }
    }

    /// Adds the country field.
    pub fn with_country(mut self, country: impl Into<String>) -> Denial {
        self.country = Some(country.into());
        self
    }

    /// Adds when the client may retry.
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Denial {
        self.retry_after = Some(wait);
        self
    }

    /// Adds the detail field.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Denial {
        self.detail = Some(detail.into());
        self
    }

    /// Marks the refusal as one of a trusted balancer's own connection when
    /// `by_balancer` (see [`Denial::by_balancer`]).
    pub fn by_balancer(mut self, by_balancer: bool) -> Denial {
        self.by_balancer = by_balancer;
        self
    }

    /// Whether fail2ban and the in-process bans may count it: a ban-worthy
    /// reason, and never a balancer's own connection (its health checks
    /// would ban the balancer, and every client behind it).
    pub fn ban_worthy(&self) -> bool {
        self.reason.ban_worthy() && !self.by_balancer
    }

    /// Whether the line names a balancer (`peer=`) rather than a client (`ip=`).
    pub fn concerns_balancer(&self) -> bool {
        self.reason.concerns_balancer() || self.by_balancer
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.reason.stage().label(), self.reason.label())
    }
}
