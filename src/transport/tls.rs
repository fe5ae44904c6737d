//! The rustls server configuration: a client certificate is required and
//! verified against the configured CA bundle and CRLs (a CRL past its
//! `nextUpdate` fails closed; every CA level of a chain needs its CRL once
//! any is configured), and must carry the `clientAuth` extended key usage;
//! TLS 1.3 only unless 1.2 is configured; ALPN offers HTTP/2 and HTTP/1.1;
//! session tickets let a returning client resume without a full handshake.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::config::{Problem, Tls};
use crate::denial::{Denial, Reason};
use crate::transport::certificate::{ServerCertificate, load_pair, problem};
use crate::transport::known_identities::KnownIdentities;

/// The one crypto provider of the process (aws-lc-rs).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Installs aws-lc-rs as the process-wide provider; harmless when already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn read_certs(key: &str, path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            Problem::new(
                key,
                format!("cannot read PEM certificates from {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(Problem::new(
            key,
            format!("no certificate in {}", path.display()),
        ));
    }
    Ok(certs)
}

/// The CRLs in one file (PEM, several allowed, or one DER).
pub(crate) fn read_crl(
    key: &str,
    path: &std::path::Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, Problem> {
    let bytes = std::fs::read(path)
        .map_err(|e| Problem::new(key, format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"-----BEGIN") {
        let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Problem::new(
                    key,
                    format!("cannot read PEM CRL from {}: {e}", path.display()),
                )
            })?;
        if crls.is_empty() {
            return Err(Problem::new(key, format!("no CRL in {}", path.display())));
        }
        Ok(crls)
    } else {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    }
}

/// Builds the server configuration, or the problems that prevent it (each
/// naming its key); the certificate comes from `certificate`, checked and
/// put in force apart (see [`crate::transport::certificate`]).
pub fn server_config(
    tls: &Tls,
    certificate: Arc<ServerCertificate>,
    known: Arc<KnownIdentities>,
) -> Result<Arc<ServerConfig>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut roots = RootCertStore::empty();
    if let Ok(cas) = read_certs("tls.client_ca", &tls.client_ca).map_err(|p| problems.push(p)) {
        for (i, ca) in cas.into_iter().enumerate() {
            if let Err(e) = roots.add(ca) {
                problems.push(Problem::new(
                    "tls.client_ca",
                    format!("certificate #{i} is not a usable CA: {e}"),
                ));
            }
        }
    }
    let mut crls = Vec::new();
    for (i, path) in tls.crls.iter().enumerate() {
        match read_crl(&format!("tls.crls[{i}]"), path) {
            Ok(mut list) => crls.append(&mut list),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
        // A stale CRL says nothing about revocations since: fail closed.
        .enforce_revocation_expiration()
        .build()
        .map_err(|e| {
            vec![Problem::new(
                "tls.client_ca",
                format!("cannot build the client verifier: {e}"),
            )]
        })?;
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.allow_tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| vec![Problem::new("tls.min_version", e.to_string())])?
        .with_client_cert_verifier(Arc::new(RequireClientAuth { verifier, known }))
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Stateless session tickets (keys in memory, rotated every six hours), so
    // a returning client skips the certificate exchange and the signatures.
    // Each configuration has its own keys: a reload (a new CRL, a new CA)
    // makes every earlier ticket useless, and the next handshake is full.
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| {
        vec![Problem::new(
            "tls",
            format!("cannot make session ticket keys: {e}"),
        )]
    })?;
    Ok(Arc::new(config))
}

/// The metrics listener's TLS (`[metrics.tls]`): the same client-certificate
/// rules as the MCP listener, HTTP/1.1 only; problems name `metrics.tls.*`.
pub fn metrics_config(tls: &Tls) -> Result<Arc<ServerConfig>, Vec<Problem>> {
    let metrics_keys = |problems: Vec<Problem>| {
        problems
            .into_iter()
            .map(|p| Problem::new(format!("metrics.{}", p.key), p.problem))
            .collect::<Vec<_>>()
    };
    let pair = load_pair(&tls.certificate, &tls.private_key, &tls.server_names)
        .map_err(|why| metrics_keys(vec![problem(tls, &why)]))?;
    // Its own table, which stays empty: no identity is read on this
    // listener, so every certificate's usage is read in the handshake.
    let known = Arc::new(KnownIdentities::new(tls.identity));
    let config =
        server_config(tls, ServerCertificate::serving(&pair), known).map_err(metrics_keys)?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The earliest `notAfter` (Unix seconds) among the PEM certificates at
/// `path`, for the expiry metrics; `None` when none can be read.
pub fn earliest_expiry(path: &std::path::Path) -> Option<i64> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    CertificateDer::pem_file_iter(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|der| {
            X509Certificate::from_der(der.as_ref())
                .ok()
                .map(|(_, cert)| cert.validity().not_after.timestamp())
        })
        .min()
}

/// The denial for a failed handshake, from the error rustls reported.
pub fn handshake_denial(error: &std::io::Error) -> Denial {
    use rustls::CertificateError as Cert;
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return Denial::new(Reason::HandshakeFailed).with_detail(error.to_string());
    };
    let reason = match tls {
        rustls::Error::NoCertificatesPresented => Reason::NoCertificate,
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => Reason::UnknownCa,
            Cert::Expired | Cert::ExpiredContext { .. } => Reason::CertificateExpired,
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => Reason::CertificateNotYetValid,
            Cert::Revoked => Reason::CertificateRevoked,
            Cert::ExpiredRevocationList | Cert::ExpiredRevocationListContext { .. } => {
                Reason::CrlExpired
            }
            Cert::UnknownRevocationStatus => Reason::RevocationStatusUnknown,
            Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. } => Reason::BadKeyUsage,
            _ => Reason::BadCertificate,
        },
        // A CRL that does not verify is the operator's to fix, not the client's doing.
        rustls::Error::InvalidCertRevocationList(_) => Reason::RevocationStatusUnknown,
        _ => Reason::HandshakeFailed,
    };
    Denial::new(reason).with_detail(tls.to_string())
}

/// The webpki verifier, plus one rule: the client certificate must carry the
/// `clientAuth` extended key usage. webpki accepts a certificate with no EKU
/// extension at all (RFC 5280 reads that as "any purpose"); a certificate
/// meant for something else must not open the gateway.
///
/// Reading the usage runs x509-parser, whose code is large enough that
/// running it on every full handshake pushed the TLS stack's own code out
/// of the caches (3–5 % of a handshake's CPU for 0.6 % of its
/// instructions; bench/README.md): it is skipped for the exact bytes of a
/// certificate this listener has accepted before ([`KnownIdentities::holds`]).
struct RequireClientAuth {
    /// webpki's verifier: chain, validity, CRLs, signatures.
    verifier: Arc<dyn ClientCertVerifier>,
    /// The certificates of the connections accepted so far.
    known: Arc<KnownIdentities>,
}

impl std::fmt::Debug for RequireClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireClientAuth")
            .field(&self.verifier)
            .finish()
    }
}

/// Whether the DER certificate lists `clientAuth` among its extended key usages.
pub fn has_client_auth_usage(der: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(der.as_ref())
        .ok()
        .and_then(|(_, cert)| {
            cert.extended_key_usage()
                .ok()
                .flatten()
                .map(|e| e.value.client_auth)
        })
        .unwrap_or(false)
}

impl ClientCertVerifier for RequireClientAuth {
    fn offer_client_auth(&self) -> bool {
        self.verifier.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.verifier.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.verifier.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .verifier
            .verify_client_cert(end_entity, intermediates, now)?;
        if !self.known.holds(end_entity) && !has_client_auth_usage(end_entity) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::InvalidPurpose,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::RootCertStore;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, UnixTime};
    use rustls::server::WebPkiClientVerifier;
    use rustls::server::danger::ClientCertVerifier;

    use super::{RequireClientAuth, provider};
    use crate::cli::pki::{Authority, Issued};
    use crate::config::IdentitySource;
    use crate::transport::known_identities::KnownIdentities;

    fn der(issued: &Issued) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap()
    }

    /// A certificate without the `clientAuth` usage (here: with no usage
    /// extension at all, which webpki reads as any purpose) is refused in
    /// the handshake, also once another certificate's bytes are held: only
    /// the very bytes of a certificate accepted before skip the reading.
    #[test]
    fn the_client_auth_usage_is_read_unless_these_very_bytes_were_accepted() {
        let ca = Authority::generate("test CA").unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(der(&ca.issued)).unwrap();
        let known = Arc::new(KnownIdentities::new(IdentitySource::SubjectCn));
        let verifier = RequireClientAuth {
            verifier: WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap(),
            known: Arc::clone(&known),
        };
        let alice = der(&ca.issue_client("alice").unwrap());
        let mut any_purpose = Authority::client_params("any").unwrap();
        any_purpose.extended_key_usages = Vec::new();
        let any = der(&ca.sign(&any_purpose).unwrap());
        let now = UnixTime::now();
        let refused = |cert: &CertificateDer<'_>| {
            matches!(
                verifier.verify_client_cert(cert, &[], now),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::InvalidPurpose
                ))
            )
        };
        assert!(verifier.verify_client_cert(&alice, &[], now).is_ok());
        assert!(refused(&any));
        // Alice's connection is accepted and her identity read: her bytes
        // are held from now on; the other certificate's are not.
        known.identify(&alice).unwrap();
        assert!(known.holds(&alice) && !known.holds(&any));
        assert!(verifier.verify_client_cert(&alice, &[], now).is_ok());
        assert!(refused(&any));
    }
}
