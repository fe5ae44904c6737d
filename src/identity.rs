//! Who the client is: read from its verified certificate, by the configured
//! rule (SAN URI, SAN DNS name or subject CN). Authentication stops here;
//! what the client may do is decided elsewhere.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::IdentitySource;

/// The authenticated client of one connection; travels with every request
/// on it. Read from a verified certificate by [`identify`] only: its fields
/// cannot be set from outside, so an identity always names a certificate.
/// Shared, not copied: every request on the connection, and its grant, holds
/// it (a clone per stage cost three strings copied each time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity(Arc<IdentityFields>);

#[derive(Debug, PartialEq, Eq)]
struct IdentityFields {
    /// The identity string, e.g. `spiffe://corp/agent/42` or `demo-client`.
    id: String,
    /// Lowercase hex SHA-256 of the certificate's DER: pins this exact certificate.
    fingerprint_sha256: String,
    /// The same digest as RFC 8705 writes it in `cnf.x5t#S256` (base64url, no padding).
    x5t_s256: String,
    /// When the certificate stops being valid.
    not_after: DateTime<Utc>,
    /// Which certificate this is to a CRL ([`revocation_key`] of its issuer
    /// and serial): an open connection is checked against CRLs loaded since.
    revocation_key: [u8; 32],
}

impl ClientIdentity {
    /// The identity string, e.g. `spiffe://corp/agent/42` or `demo-client`.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Lowercase hex SHA-256 of the certificate's DER.
    pub fn fingerprint_sha256(&self) -> &str {
        &self.0.fingerprint_sha256
    }

    /// The certificate's digest as `cnf.x5t#S256` writes it.
    pub fn x5t_s256(&self) -> &str {
        &self.0.x5t_s256
    }

    /// When the certificate stops being valid.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.0.not_after
    }

    /// Which certificate this is to a CRL.
    pub fn revocation_key(&self) -> &[u8; 32] {
        &self.0.revocation_key
    }

    /// Whether `other` is this very value, not only an equal one.
    #[cfg(test)]
    pub(crate) fn is_same_value(&self, other: &ClientIdentity) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An identity for unit tests of the layers behind the handshake.
    #[cfg(test)]
    pub(crate) fn for_tests(id: &str) -> ClientIdentity {
        ClientIdentity(Arc::new(IdentityFields {
            id: id.to_owned(),
            fingerprint_sha256: String::new(),
            x5t_s256: String::new(),
            not_after: Utc::now(),
            revocation_key: [0; 32],
        }))
    }
}

/// SHA-256 of an issuer's DER name and a serial number (big-endian, no
/// leading zeros): how a CRL entry and a certificate are matched. 32 bytes
/// per connection instead of the name and serial themselves.
pub fn revocation_key(issuer_der: &[u8], serial: &[u8]) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(&(issuer_der.len() as u64).to_be_bytes());
    context.update(issuer_der);
    context.update(serial);
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
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
    /// The configured field appears more than once: which one names the
    /// client would be a guess.
    #[error("certificate has more than one {0}")]
    Ambiguous(&'static str),
    /// The identity holds a control or line-separator character, or is
    /// longer than [`MAX_IDENTITY_BYTES`]: no name a CA should issue, and
    /// one that would read differently in every log and token.
    #[error("certificate {0} is not a usable name")]
    Unusable(&'static str),
}

/// The longest identity accepted, in bytes (SPIFFE IDs are at most 2048).
pub const MAX_IDENTITY_BYTES: usize = 2048;

/// Reads the identity of `cert` by `source`.
pub fn identify(
    cert: &CertificateDer<'_>,
    source: IdentitySource,
) -> Result<ClientIdentity, IdentityError> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref())
        .map_err(|e| IdentityError::Malformed(e.to_string()))?;
    let (field, values) = match source {
        IdentitySource::SanUri => (
            "URI subject alternative name",
            sans(&parsed, |n| match n {
                GeneralName::URI(uri) => Some(uri.to_string()),
                _ => None,
            }),
        ),
        IdentitySource::SanDns => (
            "DNS subject alternative name",
            sans(&parsed, |n| match n {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            }),
        ),
        IdentitySource::SubjectCn => (
            "subject common name",
            parsed
                .subject()
                .iter_common_name()
                // A CN that is not a string type reads as empty: refused below.
                .map(|cn| cn.as_str().map(str::to_owned).unwrap_or_default())
                .collect(),
        ),
    };
    let id = only_usable(field, values)?;
    let not_after =
        DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    Ok(ClientIdentity(Arc::new(IdentityFields {
        id,
        fingerprint_sha256: hex::encode(digest.as_ref()),
        x5t_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        not_after,
        revocation_key: revocation_key(
            parsed.issuer().as_raw(),
            &parsed.tbs_certificate.serial.to_bytes_be(),
        ),
    })))
}

/// Every subject alternative name `pick` reads.
fn sans(
    cert: &X509Certificate<'_>,
    pick: impl Fn(&GeneralName<'_>) -> Option<String>,
) -> Vec<String> {
    match cert.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.iter().filter_map(pick).collect(),
        _ => Vec::new(),
    }
}

/// The one value of `field`, when there is exactly one and it is a name:
/// not empty, at most [`MAX_IDENTITY_BYTES`], and free of control and
/// line-separator characters.
fn only_usable(field: &'static str, mut values: Vec<String>) -> Result<String, IdentityError> {
    let id = match (values.pop(), values.is_empty()) {
        (None, _) => return Err(IdentityError::Missing(field)),
        (Some(_), false) => return Err(IdentityError::Ambiguous(field)),
        (Some(id), true) => id,
    };
    if id.is_empty() {
        return Err(IdentityError::Missing(field));
    }
    let unprintable = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if id.len() > MAX_IDENTITY_BYTES || id.chars().any(unprintable) {
        return Err(IdentityError::Unusable(field));
    }
    Ok(id)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    hex::encode(digest.as_ref())
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
            identify(&cert, IdentitySource::SanUri).unwrap().id(),
            "spiffe://corp/agent/42"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SanDns).unwrap().id(),
            "agent.example"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SubjectCn).unwrap().id(),
            "common"
        );
        assert_eq!(
            identify(&cert, IdentitySource::SanUri)
                .unwrap()
                .fingerprint_sha256(),
            sha256_hex(cert.as_ref())
        );
    }

    #[test]
    fn an_identity_must_be_one_printable_name() {
        let two = cert_with(
            vec![
                SanType::URI("spiffe://corp/agent/1".try_into().unwrap()),
                SanType::URI("spiffe://corp/agent/2".try_into().unwrap()),
            ],
            "cn",
        );
        assert_eq!(
            identify(&two, IdentitySource::SanUri),
            Err(IdentityError::Ambiguous("URI subject alternative name"))
        );
        for bad in [
            "agent\0a",
            "agent\nDENY",
            "agent\u{1b}[31m",
            "agent\u{2028}x",
        ] {
            assert_eq!(
                identify(&cert_with(vec![], bad), IdentitySource::SubjectCn),
                Err(IdentityError::Unusable("subject common name")),
                "{bad:?}"
            );
        }
        let long = "a".repeat(super::MAX_IDENTITY_BYTES + 1);
        assert_eq!(
            identify(&cert_with(vec![], &long), IdentitySource::SubjectCn),
            Err(IdentityError::Unusable("subject common name"))
        );
        assert_eq!(
            identify(&cert_with(vec![], ""), IdentitySource::SubjectCn),
            Err(IdentityError::Missing("subject common name"))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// A CN is the identity whole, or refused: never cut, never changed,
        /// never one holding a control or line-separator character.
        #[test]
        fn a_common_name_is_taken_whole_or_refused(cn in proptest::prelude::any::<String>()) {
            let unusable = cn.is_empty()
                || cn.len() > super::MAX_IDENTITY_BYTES
                || cn.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'));
            match identify(&cert_with(vec![], &cn), IdentitySource::SubjectCn) {
                Ok(identity) => {
                    proptest::prop_assert_eq!(identity.id(), &cn);
                    proptest::prop_assert!(!unusable);
                }
                Err(_) => proptest::prop_assert!(unusable, "{cn:?} refused"),
            }
        }
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
