//! The rustls server configuration: a client certificate is required and
//! verified against the configured CA bundle and CRLs; TLS 1.3 only unless 1.2
//! is configured; ALPN offers HTTP/2 and HTTP/1.1.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::{Problem, Tls};
use crate::denial::{Denial, Reason};

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

fn read_crl(
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

/// Builds the server configuration, or the problems that prevent it (each naming its key).
pub fn server_config(tls: &Tls) -> Result<Arc<ServerConfig>, Vec<Problem>> {
    let mut problems = Vec::new();
    let chain = read_certs("tls.certificate", &tls.certificate)
        .map_err(|p| problems.push(p))
        .ok();
    let key = PrivateKeyDer::from_pem_file(&tls.private_key)
        .map_err(|e| {
            problems.push(Problem::new(
                "tls.private_key",
                format!(
                    "cannot read PEM private key from {}: {e}",
                    tls.private_key.display()
                ),
            ))
        })
        .ok();
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
    let (Some(chain), Some(key), true) = (chain, key, problems.is_empty()) else {
        return Err(problems);
    };
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
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
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            vec![Problem::new(
                "tls.private_key",
                format!("does not match tls.certificate: {e}"),
            )]
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
            Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. } => Reason::BadKeyUsage,
            _ => Reason::BadCertificate,
        },
        _ => Reason::HandshakeFailed,
    };
    Denial::new(reason).with_detail(tls.to_string())
}
