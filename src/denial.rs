//! Every "no" the gateway says, as a value. A [`Denial`] names the pipeline
//! stage and the reason; this file is the one place that maps it to what the
//! client sees (closed connection, HTTP status, or JSON-RPC error), the
//! security-log fields, whether fail2ban may ban for it, and the labels a
//! metric carries.

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

/// Why a request was refused. Each reason belongs to exactly one stage.
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

impl Reason {
    /// Every reason, for tables that must cover them all (log format, fail2ban).
    pub const ALL: [Reason; 61] = [
        Reason::UntrustedProxyHeader,
        Reason::MissingProxyHeader,
        Reason::MalformedProxyHeader,
        Reason::IpNotAllowed,
        Reason::CountryBlocked,
        Reason::CountryUnknown,
        Reason::TooManyConnections,
        Reason::MetricsBusy,
        Reason::Banned,
        Reason::RateLimited,
        Reason::NoCertificate,
        Reason::UnknownCa,
        Reason::CertificateExpired,
        Reason::CertificateNotYetValid,
        Reason::CertificateRevoked,
        Reason::CrlExpired,
        Reason::RevocationStatusUnknown,
        Reason::BadKeyUsage,
        Reason::BadCertificate,
        Reason::NoIdentity,
        Reason::HandshakeTimeout,
        Reason::HandshakeFailed,
        Reason::FirstRequestTimeout,
        Reason::IdleTimeout,
        Reason::HeadersTooLarge,
        Reason::Http2Flood,
        Reason::BodyTimeout,
        Reason::BodyTooLarge,
        Reason::BodyNotJson,
        Reason::DuplicateJsonKey,
        Reason::HostNotAllowed,
        Reason::ProtocolVersionUnsupported,
        Reason::McpHeaderMismatch,
        Reason::PathNotFound,
        Reason::RequestRejected,
        Reason::OriginNotAllowed,
        Reason::TokenMissing,
        Reason::TokenMalformed,
        Reason::AlgNotAllowed,
        Reason::UnknownKid,
        Reason::AlgKeyMismatch,
        Reason::BadSignature,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::LifetimeTooLong,
        Reason::WrongAudience,
        Reason::WrongIssuer,
        Reason::ClaimsInvalid,
        Reason::ClientMismatch,
        Reason::IpNotInToken,
        Reason::TokenRevoked,
        Reason::RevocationsUnavailable,
        Reason::CertBindingMismatch,
        Reason::CertBindingMissing,
        Reason::SessionNotFound,
        Reason::TooManySessionsForClient,
        Reason::TooManySessions,
        Reason::DuplicateRequestId,
        Reason::PermissionMissing,
        Reason::CalendarNotAllowed,
        Reason::LogUnavailable,
    ];

    /// The stage this reason belongs to.
    pub fn stage(self) -> Stage {
        match self {
            Reason::UntrustedProxyHeader
            | Reason::MissingProxyHeader
            | Reason::MalformedProxyHeader => Stage::Proxy,
            Reason::IpNotAllowed => Stage::Ip,
            Reason::CountryBlocked | Reason::CountryUnknown => Stage::Geo,
            Reason::TooManyConnections | Reason::MetricsBusy => Stage::Limit,
            Reason::Banned => Stage::Ban,
            Reason::RateLimited => Stage::Rate,
            Reason::NoCertificate
            | Reason::UnknownCa
            | Reason::CertificateExpired
            | Reason::CertificateNotYetValid
            | Reason::CertificateRevoked
            | Reason::CrlExpired
            | Reason::RevocationStatusUnknown
            | Reason::BadKeyUsage
            | Reason::BadCertificate
            | Reason::NoIdentity
            | Reason::HandshakeTimeout
            | Reason::HandshakeFailed => Stage::Tls,
            Reason::FirstRequestTimeout
            | Reason::IdleTimeout
            | Reason::HeadersTooLarge
            | Reason::Http2Flood
            | Reason::BodyTimeout
            | Reason::BodyTooLarge
            | Reason::BodyNotJson
            | Reason::DuplicateJsonKey
            | Reason::HostNotAllowed
            | Reason::ProtocolVersionUnsupported
            | Reason::McpHeaderMismatch
            | Reason::PathNotFound
            | Reason::RequestRejected => Stage::Http,
            Reason::OriginNotAllowed => Stage::Origin,
            Reason::SessionNotFound
            | Reason::TooManySessionsForClient
            | Reason::TooManySessions
            | Reason::DuplicateRequestId => Stage::Session,
            Reason::PermissionMissing | Reason::CalendarNotAllowed => Stage::Scope,
            Reason::LogUnavailable => Stage::Gateway,
            Reason::TokenMissing
            | Reason::TokenMalformed
            | Reason::AlgNotAllowed
            | Reason::UnknownKid
            | Reason::AlgKeyMismatch
            | Reason::BadSignature
            | Reason::TokenExpired
            | Reason::TokenNotYetValid
            | Reason::LifetimeTooLong
            | Reason::WrongAudience
            | Reason::WrongIssuer
            | Reason::ClaimsInvalid
            | Reason::ClientMismatch
            | Reason::IpNotInToken
            | Reason::TokenRevoked
            | Reason::RevocationsUnavailable
            | Reason::CertBindingMismatch
            | Reason::CertBindingMissing => Stage::Jwt,
        }
    }

    /// The label used in log lines and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Reason::UntrustedProxyHeader => "untrusted_proxy_header",
            Reason::MissingProxyHeader => "missing_proxy_header",
            Reason::MalformedProxyHeader => "malformed_proxy_header",
            Reason::IpNotAllowed => "ip_not_allowed",
            Reason::CountryBlocked => "country_blocked",
            Reason::CountryUnknown => "country_unknown",
            Reason::TooManyConnections => "too_many_connections",
            Reason::MetricsBusy => "metrics_busy",
            Reason::Banned => "banned",
            Reason::RateLimited => "rate_limited",
            Reason::NoCertificate => "no_certificate",
            Reason::UnknownCa => "unknown_ca",
            Reason::CertificateExpired => "certificate_expired",
            Reason::CertificateNotYetValid => "certificate_not_yet_valid",
            Reason::CertificateRevoked => "certificate_revoked",
            Reason::CrlExpired => "crl_expired",
            Reason::RevocationStatusUnknown => "revocation_status_unknown",
            Reason::BadKeyUsage => "bad_key_usage",
            Reason::BadCertificate => "bad_certificate",
            Reason::NoIdentity => "no_identity",
            Reason::HandshakeTimeout => "handshake_timeout",
            Reason::HandshakeFailed => "handshake_failed",
            Reason::FirstRequestTimeout => "first_request_timeout",
            Reason::IdleTimeout => "idle_timeout",
            Reason::HeadersTooLarge => "headers_too_large",
            Reason::Http2Flood => "http2_flood",
            Reason::BodyTimeout => "body_timeout",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyNotJson => "body_not_json",
            Reason::DuplicateJsonKey => "duplicate_json_key",
            Reason::HostNotAllowed => "host_not_allowed",
            Reason::ProtocolVersionUnsupported => "protocol_version_unsupported",
            Reason::McpHeaderMismatch => "mcp_header_mismatch",
            Reason::PathNotFound => "path_not_found",
            Reason::RequestRejected => "request_rejected",
            Reason::SessionNotFound => "session_not_found",
            Reason::TooManySessionsForClient => "too_many_sessions_for_client",
            Reason::DuplicateRequestId => "duplicate_request_id",
            Reason::TooManySessions => "too_many_sessions",
            Reason::OriginNotAllowed => "origin_not_allowed",
            Reason::TokenMissing => "token_missing",
            Reason::TokenMalformed => "token_malformed",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::UnknownKid => "unknown_kid",
            Reason::AlgKeyMismatch => "alg_key_mismatch",
            Reason::BadSignature => "bad_signature",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::WrongAudience => "wrong_audience",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::ClaimsInvalid => "claims_invalid",
            Reason::ClientMismatch => "client_mismatch",
            Reason::IpNotInToken => "ip_not_in_token",
            Reason::TokenRevoked => "token_revoked",
            Reason::RevocationsUnavailable => "revocations_unavailable",
            Reason::CertBindingMismatch => "cert_binding_mismatch",
            Reason::CertBindingMissing => "cert_binding_missing",
            Reason::PermissionMissing => "permission_missing",
            Reason::CalendarNotAllowed => "calendar_not_allowed",
            Reason::LogUnavailable => "log_unavailable",
        }
    }

    /// Whether fail2ban may count this refusal against the address: only what an
    /// attacker causes before being authenticated (address, country, TLS, token,
    /// connection floods). Never an authenticated client's authorisation or
    /// protocol refusal, the gateway's own fault (an unreadable revocation list,
    /// a stale CRL), nor a load balancer's traffic; and never an `Origin` or
    /// `Host` refusal, whose address is the victim of a DNS-rebinding page.
    pub fn ban_worthy(self) -> bool {
        match self {
            Reason::UntrustedProxyHeader
            | Reason::IpNotAllowed
            | Reason::CountryBlocked
            | Reason::CountryUnknown
            | Reason::TooManyConnections
            | Reason::Banned
            | Reason::NoCertificate
            | Reason::UnknownCa
            | Reason::CertificateExpired
            | Reason::CertificateNotYetValid
            | Reason::CertificateRevoked
            | Reason::BadKeyUsage
            | Reason::BadCertificate
            | Reason::NoIdentity
            | Reason::HandshakeTimeout
            | Reason::HandshakeFailed
            | Reason::FirstRequestTimeout
            | Reason::Http2Flood
            | Reason::TokenMissing
            | Reason::TokenMalformed
            | Reason::AlgNotAllowed
            | Reason::UnknownKid
            | Reason::AlgKeyMismatch
            | Reason::BadSignature
            | Reason::TokenExpired
            | Reason::TokenNotYetValid
            | Reason::LifetimeTooLong
            | Reason::WrongAudience
            | Reason::WrongIssuer
            | Reason::ClaimsInvalid
            | Reason::ClientMismatch
            | Reason::IpNotInToken
            | Reason::TokenRevoked
            | Reason::CertBindingMismatch
            | Reason::CertBindingMissing => true,
            Reason::MissingProxyHeader
            | Reason::MalformedProxyHeader
            | Reason::MetricsBusy
            | Reason::RateLimited
            | Reason::CrlExpired
            | Reason::RevocationStatusUnknown
            | Reason::IdleTimeout
            | Reason::HeadersTooLarge
            | Reason::BodyTimeout
            | Reason::BodyTooLarge
            | Reason::BodyNotJson
            | Reason::DuplicateJsonKey
            | Reason::HostNotAllowed
            | Reason::ProtocolVersionUnsupported
            | Reason::McpHeaderMismatch
            | Reason::PathNotFound
            | Reason::RequestRejected
            | Reason::OriginNotAllowed
            | Reason::RevocationsUnavailable
            | Reason::SessionNotFound
            | Reason::TooManySessionsForClient
            | Reason::TooManySessions
            | Reason::DuplicateRequestId
            | Reason::PermissionMissing
            | Reason::CalendarNotAllowed
            | Reason::LogUnavailable => false,
        }
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

    /// The HTTP status of a request-level denial; `None` for the stages that
    /// close the connection instead (everything before and during TLS, and the
    /// timeouts) and for scope denials, which are JSON-RPC errors inside a
    /// normal response.
    pub fn status(self) -> Option<StatusCode> {
        match self {
            Reason::BodyTooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            Reason::HeadersTooLarge => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            Reason::BodyNotJson
            | Reason::DuplicateJsonKey
            | Reason::ProtocolVersionUnsupported
            | Reason::McpHeaderMismatch => Some(StatusCode::BAD_REQUEST),
            Reason::BodyTimeout => Some(StatusCode::REQUEST_TIMEOUT),
            Reason::RequestRejected | Reason::DuplicateRequestId => Some(StatusCode::BAD_REQUEST),
            Reason::HostNotAllowed | Reason::OriginNotAllowed => Some(StatusCode::FORBIDDEN),
            Reason::PathNotFound | Reason::SessionNotFound => Some(StatusCode::NOT_FOUND),
            Reason::LogUnavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
            Reason::TooManySessionsForClient | Reason::TooManySessions | Reason::RateLimited => {
                Some(StatusCode::TOO_MANY_REQUESTS)
            }
            _ => match self.stage() {
                Stage::Jwt => Some(StatusCode::UNAUTHORIZED),
                _ => None,
            },
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
