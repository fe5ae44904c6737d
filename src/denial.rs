//! Every "no" the gateway says, as a value. A [`Denial`] names the pipeline
//! stage and the reason; this file is the one place that maps it to what the
//! client sees (closed connection, HTTP status, or JSON-RPC error), the
//! security-log fields and the labels a metric carries.

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
    /// The TLS handshake and client certificate.
    Tls,
    /// The `Origin` header of a request.
    Origin,
    /// The bearer token of a request.
    Jwt,
    /// The permission and calendar scope of an MCP message.
    Scope,
}

impl Stage {
    /// The label used in log lines and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Proxy => "proxy",
            Stage::Ip => "ip",
            Stage::Geo => "geo",
            Stage::Tls => "tls",
            Stage::Origin => "origin",
            Stage::Jwt => "jwt",
            Stage::Scope => "scope",
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
    /// The token lacks the permission a tool needs.
    PermissionMissing,
    /// The token does not reach a calendar the tool would touch.
    CalendarNotAllowed,
}

impl Reason {
    /// The stage this reason belongs to.
    pub fn stage(self) -> Stage {
        match self {
            Reason::UntrustedProxyHeader
            | Reason::MissingProxyHeader
            | Reason::MalformedProxyHeader => Stage::Proxy,
            Reason::IpNotAllowed => Stage::Ip,
            Reason::CountryBlocked | Reason::CountryUnknown => Stage::Geo,
            Reason::NoCertificate
            | Reason::UnknownCa
            | Reason::CertificateExpired
            | Reason::CertificateNotYetValid
            | Reason::CertificateRevoked
            | Reason::BadKeyUsage
            | Reason::BadCertificate
            | Reason::NoIdentity
            | Reason::HandshakeTimeout
            | Reason::HandshakeFailed => Stage::Tls,
            Reason::OriginNotAllowed => Stage::Origin,
            Reason::PermissionMissing | Reason::CalendarNotAllowed => Stage::Scope,
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
            Reason::NoCertificate => "no_certificate",
            Reason::UnknownCa => "unknown_ca",
            Reason::CertificateExpired => "certificate_expired",
            Reason::CertificateNotYetValid => "certificate_not_yet_valid",
            Reason::CertificateRevoked => "certificate_revoked",
            Reason::BadKeyUsage => "bad_key_usage",
            Reason::BadCertificate => "bad_certificate",
            Reason::NoIdentity => "no_identity",
            Reason::HandshakeTimeout => "handshake_timeout",
            Reason::HandshakeFailed => "handshake_failed",
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
        }
    }

    /// The HTTP status of a request-level denial; `None` for the stages that
    /// close the connection instead (everything before and during TLS) and for
    /// scope denials, which are JSON-RPC errors inside a normal response.
    pub fn status(self) -> Option<StatusCode> {
        match self.stage() {
            Stage::Proxy | Stage::Ip | Stage::Geo | Stage::Tls | Stage::Scope => None,
            Stage::Origin => Some(StatusCode::FORBIDDEN),
            Stage::Jwt => Some(StatusCode::UNAUTHORIZED),
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
}

impl Denial {
    /// A denial with no further fields.
    pub fn new(reason: Reason) -> Denial {
        Denial {
            reason,
            country: None,
            detail: None,
        }
    }

    /// Adds the country field.
    pub fn with_country(mut self, country: impl Into<String>) -> Denial {
        self.country = Some(country.into());
        self
    }

    /// Adds the detail field.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Denial {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.reason.stage().label(), self.reason.label())
    }
}
