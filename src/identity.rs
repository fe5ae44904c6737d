//! Who the client is: read from its verified certificate, by the configured
//! rule (SAN URI, SAN DNS name or subject CN). Authentication stops here;
//! what the client may do is decided elsewhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::IdentitySource;

/// The authenticated client of one connection; travels with every request on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The identity string, e.g. `spiffe://corp/agent/42` or `demo-client`.
    pub id: String,
    /// Lowercase hex SHA-256 of the certificate's DER: pins this exact certificate.
    pub fingerprint_sha256: String,
    /// The same digest as RFC 8705 writes it in `cnf.x5t#S256` (base64url, no padding).
    pub x5t_s256: String,
    /// When the certificate stops being valid.
    pub not_after: DateTime<Utc>,
}

/// Why no identity could be read from a certificate that passed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The DER did not parse.
    #[error("certificate does not parse: {0}")]
    Malformed(String),
    /// The configured field is absent or empty.
    #[error("certificate has no {0}")]
    Missing(&'static str),
}

/// Reads the identity of `cert` by `source`.
pub fn identify(
    cert: &CertificateDer<'_>,
    source: IdentitySource,
) -> Result<ClientIdentity, IdentityError> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref())
        .map_err(|e| IdentityError::Malformed(e.to_string()))?;
    let id = match source {
        IdentitySource::SanUri => first_san(&parsed, |n| match n {
            GeneralName::URI(uri) => Some(uri.to_string()),
            _ => None,
        })
        .ok_or(IdentityError::Missing("URI subject alternative name"))?,
        IdentitySource::SanDns => first_san(&parsed, |n| match n {
            GeneralName::DNSName(dns) => Some(dns.to_string()),
            _ => None,
        })
        .ok_or(IdentityError::Missing("DNS subject alternative name"))?,
        IdentitySource::SubjectCn => parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .filter(|cn| !cn.is_empty())
            .ok_or(IdentityError::Missing("subject common name"))?,
    };
    let not_after =
        DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    Ok(ClientIdentity {
        id,
        fingerprint_sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        x5t_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        not_after,
    })
}

fn first_san(
    cert: &X509Certificate<'_>,
    pick: impl Fn(&GeneralName<'_>) -> Option<String>,
) -> Option<String> {
    let san = cert.subject_alternative_name().ok().flatten()?;
    san.value
        .general_names
        .iter()
        .find_map(pick)
        .filter(|v| !v.is_empty())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{CertificateDer, IdentityError, IdentitySource, identify, sha256_hex};
    use rcgen::{CertificateParams, KeyPair, SanType};

    fn cert_with(sans: Vec<SanType>, cn: &str) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .clone()
    }

    #[test]
    fn each_source_reads_its_field() {
        let cert = cert_with(
            vec![
                SanType::DnsName("agent.example".try_into().unwrap()),
                SanType::URI("spiffe://corp/agent/42".try_into().unwrap()),
            ],
            "common",
        );
        assert_eq!(
            identify(&cert, IdentitySource::SanUri).unwrap().id,
            "spiffe://corp/agent/42"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SanDns).unwrap().id,
            "agent.example"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SubjectCn).unwrap().id,
            "common"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SanUri)
                .unwrap()
                .fingerprint_sha256,
            sha256_hex(cert.as_ref())
        );
    }

    #[test]
    fn missing_field_is_an_error_not_a_fallback() {
        let cert = cert_with(vec![], "only-cn");
        assert_eq!(
            identify(&cert, IdentitySource::SanUri),
            Err(IdentityError::Missing("URI subject alternative name"))
        );
    }
}
