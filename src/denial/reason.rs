//! The reasons a request is refused, each with its row of [`TABLE`].

use http::StatusCode;

use crate::denial::{Row, Stage, TABLE};

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
    /// The gateway has no server certificate yet (`[tls.acme]` before its
    /// first issuance): the gateway's state, never the client's doing.
    NoServerCertificate,
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
    /// rmcp could read it differently ([`crate::mcp::strict_json`]).
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
    /// A renewal asked with a token that may not be renewed: it carries no
    /// `renewableUntil`, or is not bound to the certificate (`cnf`).
    TokenNotRenewable,
    /// A renewal asked once the token's `renewableUntil` has passed: a new
    /// token must be issued.
    RenewalLimitReached,
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
    /// Every reason, from [`TABLE`] (for the tables that must cover them
    /// all: the log format, the fail2ban cross-check).
    pub const ALL: [Reason; 64] = {
        let mut all = [Reason::LogUnavailable; 64];
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
