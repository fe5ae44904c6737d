//! The refusal table: one declarative row per [`Reason`], the one source of
//! what the gateway says about it.

use http::StatusCode;

use crate::denial::{Reason, Stage};

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
pub const TABLE: [Row; 64] = [
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
    row(Reason::NoServerCertificate, Stage::Tls, "no_server_certificate", REFUSE, CLOSE, INVALID_REQUEST),
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
    row(Reason::TokenNotRenewable, Stage::Jwt, "token_not_renewable", REFUSE, Some(StatusCode::FORBIDDEN), UNAUTHORIZED),
    row(Reason::RenewalLimitReached, Stage::Jwt, "renewal_limit_reached", REFUSE, Some(StatusCode::FORBIDDEN), UNAUTHORIZED),
    row(Reason::SessionNotFound, Stage::Session, "session_not_found", REFUSE, Some(StatusCode::NOT_FOUND), INVALID_REQUEST),
    row(Reason::TooManySessionsForClient, Stage::Session, "too_many_sessions_for_client", REFUSE, Some(StatusCode::TOO_MANY_REQUESTS), INVALID_REQUEST),
    row(Reason::TooManySessions, Stage::Session, "too_many_sessions", REFUSE, Some(StatusCode::TOO_MANY_REQUESTS), INVALID_REQUEST),
    row(Reason::DuplicateRequestId, Stage::Session, "duplicate_request_id", REFUSE, Some(StatusCode::BAD_REQUEST), INVALID_REQUEST),
    row(Reason::PermissionMissing, Stage::Scope, "permission_missing", REFUSE, Some(StatusCode::FORBIDDEN), FORBIDDEN),
    row(Reason::CalendarNotAllowed, Stage::Scope, "calendar_not_allowed", REFUSE, Some(StatusCode::FORBIDDEN), FORBIDDEN),
    row(Reason::LogUnavailable, Stage::Gateway, "log_unavailable", REFUSE, Some(StatusCode::SERVICE_UNAVAILABLE), INVALID_REQUEST),
];

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
