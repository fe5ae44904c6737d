//! Every "no" the gateway says, as a value. A [`Denial`] names the pipeline
//! stage and the reason; this file is the one place that maps it to the
//! security-log fields and the labels a metric carries. Every stage so far runs
//! before or during the TLS handshake, so a denial closes the connection.

use std::fmt;

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
}

impl Stage {
    /// The label used in log lines and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Proxy => "proxy",
            Stage::Ip => "ip",
            Stage::Geo => "geo",
            Stage::Tls => "tls",
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
