//! Every "no" the gateway says, as a value. A [`Denial`] names the reason;
//! [`TABLE`] holds one declarative row per reason — its stage, label,
//! whether fail2ban may ban for it, the HTTP status and the JSON-RPC code —
//! the one source that the security log ([`crate::seclog`]), the HTTP answer
//! ([`crate::refusal`]), the MCP tool-call refusal ([`crate::mcp`]) and the
//! metrics all read.

use std::fmt;

use http::StatusCode;

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

/// Why a request was refused. What the gateway says about each is its row
/// of [`TABLE`], in the same order: a new reason goes before
/// `LogUnavailable`, which stays last, with its row at the same place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A PROXY header from a peer not in `listen.proxy_protocol.trusted`.
    UntrustedProxyHeader,
    /// A trusted load balancer sent no PROXY header.
    MissingProxyHeader,
    /// A PROXY header that does not parse.
    MalformedProxyHeader,
    /// The client address is not in `network.allow`.
    IpNotAllowed,
    /// The address's country is refused by the GeoIP policy.
    CountryBlocked,
    /// The GeoIP database has no country for the address and `unknown = "deny"`.
    CountryUnknown,
    /// The address already holds `listen.max_connections_per_address` connections.
    TooManyConnections,
    /// The metrics listener already serves `metrics.max_connections`.
    MetricsBusy,
    /// The address is banned in-process after repeated ban-worthy refusals.
    Banned,
    /// Over a rate limit: the detail says which, and when to retry.
    RateLimited,
    /// The client presented no certificate.
    NoCertificate,
    /// The certificate does not chain to the client CA.
    UnknownCa,
    /// The certificate has expired.
    CertificateExpired,
    /// The certificate is not valid yet.
    CertificateNotYetValid,
    /// A configured CRL revokes the certificate.
    CertificateRevoked,
    /// A configured CRL is past its `nextUpdate`: revocation status is unknown,
    /// so every certificate it covers is refused until a fresh CRL is installed.
    CrlExpired,
    /// CRLs are configured but none covers a certificate of the chain (a CRL
    /// of another issuer, or an intermediate CA without its CRL).
    RevocationStatusUnknown,
    /// The certificate lacks the `clientAuth` extended key usage.
    BadKeyUsage,
    /// The certificate was refused for another reason.
    BadCertificate,
    /// The certificate carries no identity where `tls.identity` looks.
    NoIdentity,
    /// The handshake did not finish within `listen.handshake_timeout`.
    HandshakeTimeout,
    /// The handshake failed (not TLS, unsupported version, client gave up).
    HandshakeFailed,
    /// No complete request within `listen.first_request_timeout` of the handshake.
    FirstRequestTimeout,
    /// No request for `listen.idle_timeout` on a connection that had served some.
    IdleTimeout,
    /// The request head is larger than `listen.max_header_list_bytes`.
    HeadersTooLarge,
    /// An HTTP/2 connection ended for abuse: streams reset faster than they
    /// are served (rapid reset) or a header block split into endless
    /// CONTINUATION frames.
    Http2Flood,
    /// The request body did not arrive within `listen.body_read_timeout`.
    BodyTimeout,
    /// The request body is larger than `listen.max_request_body_bytes`.
    BodyTooLarge,
    /// The request body is not JSON.
    BodyNotJson,
    /// The request body names one key twice in an object: the gateway and
    /// rmcp could read it differently ([`crate::strict_json`]).
    DuplicateJsonKey,
    /// The authority the request names (`Host`, `:authority`, absolute target) is
    /// not in `mcp.allowed_hosts`.
    HostNotAllowed,
    /// An `MCP-Protocol-Version` header this gateway does not speak.
    ProtocolVersionUnsupported,
    /// The `Mcp-Method` or `Mcp-Name` header disagrees with the body.
    McpHeaderMismatch,
    /// A path this gateway does not serve.
    PathNotFound,
    /// The MCP transport refused the request (a missing `Accept` type, a wrong
    /// content type, a header it requires): the detail names the status.
    RequestRejected,
    /// An `Origin` header not in `mcp.allowed_origins`.
    OriginNotAllowed,
    /// No `Authorization: Bearer` token.
    TokenMissing,
    /// The token is not a well-formed JWT.
    TokenMalformed,
    /// The token's `alg` is not accepted (`none`, HS256 when not enabled, …).
    AlgNotAllowed,
    /// The token's `kid` names no key in the JWKS.
    UnknownKid,
    /// The token's `alg` does not fit the key its `kid` names.
    AlgKeyMismatch,
    /// The signature does not verify.
    BadSignature,
    /// `exp` has passed.
    TokenExpired,
    /// `nbf` or `iat` lies in the future.
    TokenNotYetValid,
    /// `exp - iat` exceeds `jwt.max_lifetime`.
    LifetimeTooLong,
    /// `aud` is not this gateway.
    WrongAudience,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// A required claim is missing or malformed.
    ClaimsInvalid,
    /// `clientId` is not the certificate's identity.
    ClientMismatch,
    /// The client address is outside `allowedIPs`.
    IpNotInToken,
    /// The token's `jti` is in the revocation list.
    TokenRevoked,
    /// The revocation list cannot be read: every token is refused until it can.
    RevocationsUnavailable,
    /// `cnf.x5t#S256` names another certificate.
    CertBindingMismatch,
    /// Binding is required and the token has no `cnf`.
    CertBindingMissing,
    /// An `Mcp-Session-Id` that is unknown, expired or another client's.
    SessionNotFound,
    /// The client identity already holds `mcp.max_sessions_per_client` sessions.
    TooManySessionsForClient,
    /// The gateway already holds `mcp.max_sessions` sessions.
    TooManySessions,
    /// A request reuses the JSON-RPC id of one still in flight in its session
    /// (its answer could not be told apart, and one of them would wait forever).
    DuplicateRequestId,
    /// The token lacks the permission a tool needs.
    PermissionMissing,
    /// The token does not reach a calendar the tool would touch.
    CalendarNotAllowed,
    /// The security or audit log cannot be written: nothing is served that
    /// could not be recorded, until the disk takes lines again.
    LogUnavailable,
}

/// Everything the gateway says about one [`Reason`]: one row of [`TABLE`].
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The reason this row describes (its place in [`TABLE`] is its discriminant).
    pub reason: Reason,
    /// The pipeline stage it belongs to.
    pub stage: Stage,
    /// Its name in log lines and metric labels.
    pub label: &'static str,
    /// Whether fail2ban and the in-process bans may count it ([`Reason::ban_worthy`]).
    pub ban_worthy: bool,
    /// The HTTP status of a request refused for it; `None` (`CLOSE`) for the
    /// refusals that close the connection instead (before and during TLS,
    /// the deadlines).
    pub status: Option<StatusCode>,
    /// The JSON-RPC error code of its answer, over HTTP and in MCP alike.
    pub rpc_code: i64,
}

/// JSON-RPC code for a body that is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC code for a request the server will not process.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC code MCP clients read as "not authorized" (token, origin).
pub const UNAUTHORIZED: i64 = -32001;
/// JSON-RPC code of a call the token's scope does not permit.
pub const FORBIDDEN: i64 = -32003;
/// JSON-RPC code for `Mcp-Method`/`Mcp-Name` headers that disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code for a protocol version the server does not serve (MCP 2026-07-28).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// JSON-RPC code for a call over a rate limit (`data.retryAfterSeconds`).
pub const RATE_LIMITED: i64 = -32029;

const BAN: bool = true;
const REFUSE: bool = false;
const CLOSE: Option<StatusCode> = None;

const fn row(
    reason: Reason,
    stage: Stage,
    label: &'static str,
    ban_worthy: bool,
    status: Option<StatusCode>,
    rpc_code: i64,
) -> Row {
    Row {
        reason,
        stage,
        label,
        ban_worthy,
        status,
        rpc_code,
    }
}

/// Every reason, one row each, in the order of [`Reason`]'s variants (a
/// test checks it): the one source of each reason's stage, label, ban rule,
/// HTTP status and JSON-RPC code. Which reasons are ban-worthy follows one
/// rule: only what an attacker causes before being authenticated (address,
/// country, TLS, token, connection floods); never an authenticated client's
/// authorisation or protocol refusal, the gateway's own fault (an unreadable
/// revocation list, a stale CRL), a load balancer's traffic, nor an `Origin`
/// or `Host` refusal, whose address is the victim of a DNS-rebinding page.
#[rustfmt::skip]
pub const TABLE: [Row; 61] = [
    row(Reason::UntrustedProxyHeader, Stage::Proxy, "untrusted_proxy_header", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::MissingProxyHeader, Stage::Proxy, "missing_proxy_header", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::MalformedProxyHeader, Stage::Proxy, "malformed_proxy_header", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::IpNotAllowed, Stage::Ip, "ip_not_allowed", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CountryBlocked, Stage::Geo, "country_blocked", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CountryUnknown, Stage::Geo, "country_unknown", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::TooManyConnections, Stage::Limit, "too_many_connections", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::MetricsBusy, Stage::Limit, "metrics_busy", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::Banned, Stage::Ban, "banned", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::RateLimited, Stage::Rate, "rate_limited", REFUSE, Some(StatusCode::TOO_MANY_REQUESTS), RATE_LIMITED),
    row(Reason::NoCertificate, Stage::Tls, "no_certificate", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::UnknownCa, Stage::Tls, "unknown_ca", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CertificateExpired, Stage::Tls, "certificate_expired", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CertificateNotYetValid, Stage::Tls, "certificate_not_yet_valid", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CertificateRevoked, Stage::Tls, "certificate_revoked", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::CrlExpired, Stage::Tls, "crl_expired", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::RevocationStatusUnknown, Stage::Tls, "revocation_status_unknown", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::BadKeyUsage, Stage::Tls, "bad_key_usage", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::BadCertificate, Stage::Tls, "bad_certificate", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::NoIdentity, Stage::Tls, "no_identity", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::HandshakeTimeout, Stage::Tls, "handshake_timeout", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::HandshakeFailed, Stage::Tls, "handshake_failed", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::FirstRequestTimeout, Stage::Http, "first_request_timeout", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::IdleTimeout, Stage::Http, "idle_timeout", REFUSE, CLOSE, INVALID_REQUEST),
    row(Reason::HeadersTooLarge, Stage::Http, "headers_too_large", REFUSE, Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE), INVALID_REQUEST),
    row(Reason::Http2Flood, Stage::Http, "http2_flood", BAN, CLOSE, INVALID_REQUEST),
    row(Reason::BodyTimeout, Stage::Http, "body_timeout", REFUSE, Some(StatusCode::REQUEST_TIMEOUT), INVALID_REQUEST),
    row(Reason::BodyTooLarge, Stage::Http, "body_too_large", REFUSE, Some(StatusCode::PAYLOAD_TOO_LARGE), INVALID_REQUEST),
    row(Reason::BodyNotJson, Stage::Http, "body_not_json", REFUSE, Some(StatusCode::BAD_REQUEST), PARSE_ERROR),
    row(Reason::DuplicateJsonKey, Stage::Http, "duplicate_json_key", REFUSE, Some(StatusCode::BAD_REQUEST), INVALID_REQUEST),
    row(Reason::HostNotAllowed, Stage::Http, "host_not_allowed", REFUSE, Some(StatusCode::FORBIDDEN), INVALID_REQUEST),
    row(Reason::ProtocolVersionUnsupported, Stage::Http, "protocol_version_unsupported", REFUSE, Some(StatusCode::BAD_REQUEST), UNSUPPORTED_PROTOCOL_VERSION),
    row(Reason::McpHeaderMismatch, Stage::Http, "mcp_header_mismatch", REFUSE, Some(StatusCode::BAD_REQUEST), HEADER_MISMATCH),
    row(Reason::PathNotFound, Stage::Http, "path_not_found", REFUSE, Some(StatusCode::NOT_FOUND), INVALID_REQUEST),
    row(Reason::RequestRejected, Stage::Http, "request_rejected", REFUSE, Some(StatusCode::BAD_REQUEST), INVALID_REQUEST),
    row(Reason::OriginNotAllowed, Stage::Origin, "origin_not_allowed", REFUSE, Some(StatusCode::FORBIDDEN), UNAUTHORIZED),
    row(Reason::TokenMissing, Stage::Jwt, "token_missing", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::TokenMalformed, Stage::Jwt, "token_malformed", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::AlgNotAllowed, Stage::Jwt, "alg_not_allowed", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::UnknownKid, Stage::Jwt, "unknown_kid", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::AlgKeyMismatch, Stage::Jwt, "alg_key_mismatch", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::BadSignature, Stage::Jwt, "bad_signature", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::TokenExpired, Stage::Jwt, "token_expired", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::TokenNotYetValid, Stage::Jwt, "token_not_yet_valid", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::LifetimeTooLong, Stage::Jwt, "lifetime_too_long", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::WrongAudience, Stage::Jwt, "wrong_audience", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::WrongIssuer, Stage::Jwt, "wrong_issuer", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::ClaimsInvalid, Stage::Jwt, "claims_invalid", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::ClientMismatch, Stage::Jwt, "client_mismatch", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::IpNotInToken, Stage::Jwt, "ip_not_in_token", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::TokenRevoked, Stage::Jwt, "token_revoked", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::RevocationsUnavailable, Stage::Jwt, "revocations_unavailable", REFUSE, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::CertBindingMismatch, Stage::Jwt, "cert_binding_mismatch", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::CertBindingMissing, Stage::Jwt, "cert_binding_missing", BAN, Some(StatusCode::UNAUTHORIZED), UNAUTHORIZED),
    row(Reason::SessionNotFound, Stage::Session, "session_not_found", REFUSE, Some(StatusCode::NOT_FOUND), INVALID_REQUEST),
    row(Reason::TooManySessionsForClient, Stage::Session, "too_many_sessions_for_client", REFUSE, Some(StatusCode::TOO_MANY_REQUESTS), INVALID_REQUEST),
    row(Reason::TooManySessions, Stage::Session, "too_many_sessions", REFUSE, Some(StatusCode::TOO_MANY_REQUESTS), INVALID_REQUEST),
    row(Reason::DuplicateRequestId, Stage::Session, "duplicate_request_id", REFUSE, Some(StatusCode::BAD_REQUEST), INVALID_REQUEST),
    row(Reason::PermissionMissing, Stage::Scope, "permission_missing", REFUSE, Some(StatusCode::FORBIDDEN), FORBIDDEN),
    row(Reason::CalendarNotAllowed, Stage::Scope, "calendar_not_allowed", REFUSE, Some(StatusCode::FORBIDDEN), FORBIDDEN),
    row(Reason::LogUnavailable, Stage::Gateway, "log_unavailable", REFUSE, Some(StatusCode::SERVICE_UNAVAILABLE), INVALID_REQUEST),
];

impl Reason {
    /// Every reason, from [`TABLE`] (for the tables that must cover them
    /// all: the log format, the fail2ban cross-check).
    pub const ALL: [Reason; 61] = {
        let mut all = [Reason::LogUnavailable; 61];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].reason;
            i += 1;
        }
        all
    };

    /// This reason's row of [`TABLE`].
    pub fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// The stage this reason belongs to.
    pub fn stage(self) -> Stage {
        self.row().stage
    }

    /// The label used in log lines and metrics.
    pub fn label(self) -> &'static str {
        self.row().label
    }

    /// Whether fail2ban may count this refusal against the address (see [`TABLE`]).
    pub fn ban_worthy(self) -> bool {
        self.row().ban_worthy
    }

    /// Whether the refusal is about a trusted load balancer's own traffic (no
    /// client address is known): the log then names it as `peer`, never as the
    /// offending `ip`.
    pub fn concerns_balancer(self) -> bool {
        matches!(
            self,
            Reason::MissingProxyHeader | Reason::MalformedProxyHeader
        )
    }

    /// The HTTP status of a request-level refusal; `None` for the refusals
    /// that close the connection instead.
    pub fn status(self) -> Option<StatusCode> {
        self.row().status
    }

    /// The JSON-RPC error code of its answer, over HTTP and in MCP alike.
    pub fn rpc_code(self) -> i64 {
        self.row().rpc_code
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

#[cfg(test)]
mod tests {
    use super::{Reason, TABLE};

    /// Each row sits at its reason's place, and the last reason has the last
    /// row: a reason added without its row, or out of place, fails here.
    #[test]
    fn every_reason_has_its_row_in_order() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.reason as usize, i, "{:?}", row.reason);
        }
        assert_eq!(TABLE.len(), Reason::LogUnavailable as usize + 1);
        assert_eq!(Reason::ALL.len(), TABLE.len());
        let mut labels: Vec<&str> = TABLE.iter().map(|r| r.label).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), TABLE.len(), "labels are unique");
    }

    /// One code per refusal, whichever way it is answered: a rate refusal
    /// was -32600 over HTTP and -32029 in MCP.
    #[test]
    fn codes_are_the_same_over_http_and_in_mcp() {
        assert_eq!(Reason::RateLimited.rpc_code(), super::RATE_LIMITED);
        assert_eq!(Reason::PermissionMissing.rpc_code(), super::FORBIDDEN);
        assert_eq!(Reason::CalendarNotAllowed.rpc_code(), super::FORBIDDEN);
        assert_eq!(
            Reason::PermissionMissing.status(),
            Some(http::StatusCode::FORBIDDEN)
        );
    }
}
