//! What the operator must hear about the configured CRLs before clients do: a
//! CRL past its `nextUpdate` makes the gateway refuse every certificate it
//! covers (`crl_expired`, failing closed), so `serve` and `check-config` warn
//! when one has expired or will within [`WARN_AHEAD`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::config::Tls;

/// How long before a CRL's `nextUpdate` the warning starts.
pub const WARN_AHEAD: Duration = Duration::from_secs(7 * 86_400);

/// When each configured CRL stops being usable, for warnings (and, later, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlValidity {
    /// The config key, e.g. `tls.crls[0]`.
    pub key: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// `nextUpdate`; `None` when the CRL does not say.
    pub next_update: Option<DateTime<Utc>>,
}

/// Reads `nextUpdate` and the issuer of every CRL in `tls.crls`; files that
/// cannot be read are left to [`crate::transport::tls::server_config`] to report.
pub fn validity(tls: &Tls) -> Vec<CrlValidity> {
    let mut out = Vec::new();
    for (i, path) in tls.crls.iter().enumerate() {
        let key = format!("tls.crls[{i}]");
        let Ok(ders) = crate::transport::tls::read_crl(&key, path) else {
            continue;
        };
        for der in ders {
            if let Ok((_, crl)) = CertificateRevocationList::from_der(der.as_ref()) {
                out.push(CrlValidity {
                    key: key.clone(),
                    issuer: crl.issuer().to_string(),
                    next_update: crl
                        .next_update()
                        .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0)),
                });
            }
        }
    }
    out
}

/// The [`crate::identity::revocation_key`] of every certificate the CRLs in
/// `tls.crls` revoke, for the connections already open when they are loaded.
pub fn revoked(tls: &Tls) -> std::collections::HashSet<[u8; 32]> {
    let mut out = std::collections::HashSet::new();
    for (i, path) in tls.crls.iter().enumerate() {
        let Ok(ders) = crate::transport::tls::read_crl(&format!("tls.crls[{i}]"), path) else {
            continue;
        };
        for der in ders {
            if let Ok((_, crl)) = CertificateRevocationList::from_der(der.as_ref()) {
                let issuer = crl.issuer().as_raw();
                for entry in crl.iter_revoked_certificates() {
                    out.insert(crate::identity::revocation_key(
                        issuer,
                        &entry.serial().to_bytes_be(),
                    ));
                }
            }
        }
    }
    out
}

/// One warning per CRL that has expired or expires within [`WARN_AHEAD`] of `now`.
pub fn warnings(tls: &Tls, now: DateTime<Utc>) -> Vec<String> {
    let ahead = chrono::Duration::from_std(WARN_AHEAD).unwrap_or_default();
    validity(tls)
        .into_iter()
        .filter_map(|crl| {
            let next = crl.next_update?;
            let when = next.format("%Y-%m-%dT%H:%M:%SZ");
            if next <= now {
                Some(format!(
                    "{}: the CRL of {} expired at {when}: every certificate it covers is refused (crl_expired) until a fresh CRL replaces it",
                    crl.key, crl.issuer
                ))
            } else if next - now <= ahead {
                Some(format!(
                    "{}: the CRL of {} expires at {when}: install the next one before then, or every certificate it covers will be refused (crl_expired)",
                    crl.key, crl.issuer
                ))
            } else {
                None
            }
        })
        .collect()
}
