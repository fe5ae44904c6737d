//! The server certificate in force, apart from the rest of the TLS
//! configuration: one [`ServerCertificate`] lives for the whole process and
//! every `ServerConfig` built (at start, at each reload) resolves through it,
//! so a renewed certificate — written by certbot, lego or step and noticed by
//! the file watcher, or issued by the built-in ACME client — is swapped in
//! for new handshakes without a restart, a new ticket key or a dropped
//! connection. A candidate is checked before it is put in force
//! ([`check_pair`]): key and certificate match, the chain links up, the leaf
//! is within its validity and covers every configured name. A bad candidate
//! leaves the certificate in force alone.
//!
//! It also holds the TLS-ALPN-01 challenge certificates (RFC 8737) while an
//! ACME order is pending; only a handshake offering nothing but `acme-tls/1`
//! ever sees one ([`crate::transport::acme_tls`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{Problem, Tls};
use crate::telemetry;
use crate::telemetry::WatchedCertificate;

/// Why a candidate certificate was not put in force; `label` is the metric's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairProblem {
    /// The PEM could not be read or held no certificate or key.
    #[error("{0}")]
    Unreadable(String),
    /// The private key is not the certificate's.
    #[error("the private key does not match the certificate ({0})")]
    KeyMismatch(String),
    /// Each certificate of the chain must be issued by the next.
    #[error("the chain does not link up: certificate #{0} is not issued by certificate #{next}", next = .0 + 1)]
    BrokenChain(usize),
    /// Past `notAfter`.
    #[error("the certificate expired at {0}")]
    Expired(String),
    /// Before `notBefore`.
    #[error("the certificate is not valid before {0}")]
    NotYetValid(String),
    /// A configured name the leaf does not cover.
    #[error(
        "the certificate does not cover `{0}` (names it must cover: tls.server_names or tls.acme.names)"
    )]
    NameNotCovered(String),
}

impl PairProblem {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            PairProblem::Unreadable(_) => "unreadable",
            PairProblem::KeyMismatch(_) => "key_mismatch",
            PairProblem::BrokenChain(_) => "broken_chain",
            PairProblem::Expired(_) => "expired",
            PairProblem::NotYetValid(_) => "not_yet_valid",
            PairProblem::NameNotCovered(_) => "name_not_covered",
        }
    }
}

/// A checked certificate and key, ready to be put in force.
#[derive(Debug)]
pub struct CheckedPair {
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// The leaf's `notBefore`, Unix seconds.
    pub not_before: i64,
    /// The leaf's `notAfter`, Unix seconds.
    pub not_after: i64,
}

impl CheckedPair {
    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.key.cert[0]
    }
}

/// Checks a PEM chain (leaf first) and PEM private key for service under
/// `names`, at `now` (Unix seconds).
pub fn check_pair(
    chain_pem: &[u8],
    key_pem: &[u8],
    names: &[String],
    now: i64,
) -> Result<CheckedPair, PairProblem> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PairProblem::Unreadable(format!("cannot read the PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(PairProblem::Unreadable("no certificate in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| PairProblem::Unreadable(format!("cannot read the PEM private key: {e}")))?;
    let parsed = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            X509Certificate::from_der(der.as_ref())
                .map(|(_, cert)| cert)
                .map_err(|e| PairProblem::Unreadable(format!("certificate #{i} is not X.509: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, pair) in parsed.windows(2).enumerate() {
        if pair[0].issuer() != pair[1].subject() {
            return Err(PairProblem::BrokenChain(i));
        }
    }
    let validity = parsed[0].validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    if now > not_after {
        return Err(PairProblem::Expired(validity.not_after.to_string()));
    }
    if now < not_before {
        return Err(PairProblem::NotYetValid(validity.not_before.to_string()));
    }
    let leaf = webpki::EndEntityCert::try_from(&chain[0])
        .map_err(|e| PairProblem::Unreadable(format!("the leaf certificate: {e:?}")))?;
    for name in names {
        let covered = ServerName::try_from(name.as_str())
            .ok()
            .is_some_and(|server| leaf.verify_is_valid_for_subject_name(&server).is_ok());
        if !covered {
            return Err(PairProblem::NameNotCovered(name.clone()));
        }
    }
    let provider = crate::transport::tls::provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| PairProblem::KeyMismatch(e.to_string()))?;
    Ok(CheckedPair {
        key: Arc::new(certified),
        not_before,
        not_after,
    })
}

/// Reads and checks the pair at `certificate` and `private_key`.
pub fn load_pair(
    certificate: &Path,
    private_key: &Path,
    names: &[String],
) -> Result<CheckedPair, PairProblem> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| PairProblem::Unreadable(format!("cannot read {}: {e}", path.display())))
    };
    let now = UnixTime::now().as_secs() as i64;
    check_pair(&read(certificate)?, &read(private_key)?, names, now)
}

/// Where a candidate certificate came from, for the log and the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `tls.certificate`/`tls.private_key`, read at start, on a change or on SIGHUP.
    Files,
    /// Issued by the built-in ACME client, or its stored copy.
    Acme,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Files => "files",
            Source::Acme => "acme",
        }
    }
}

/// The configuration problem for a bad pair read from `tls`'s files.
pub fn problem(tls: &Tls, why: &PairProblem) -> Problem {
    let key = match why {
        PairProblem::KeyMismatch(_) => "tls.private_key",
        _ => "tls.certificate",
    };
    let paths = format!(
        "{} / {}",
        tls.certificate.display(),
        tls.private_key.display()
    );
    Problem::new(
        key,
        format!("{why} ({paths}); the certificate in force, if any, stays"),
    )
}

/// The pair the gateway starts with: the files' (a problem naming the key
/// when they are bad), or with `[tls.acme]` the stored one when it is still
/// good for the names (`None`: none stored, or not usable; the ACME client
/// orders one before anything is served).
pub fn initial(tls: &Tls) -> Result<Option<CheckedPair>, Problem> {
    match (
        &tls.acme,
        load_pair(&tls.certificate, &tls.private_key, &tls.server_names),
    ) {
        (_, Ok(pair)) => Ok(Some(pair)),
        (Some(_), Err(_)) => Ok(None),
        (None, Err(why)) => Err(problem(tls, &why)),
    }
}

/// The certificate new handshakes are served, and the pending TLS-ALPN-01
/// challenge certificates by lower-case name.
#[derive(Debug, Default)]
pub struct ServerCertificate {
    current: ArcSwapOption<CertifiedKey>,
    challenges: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
}

impl ServerCertificate {
    /// A resolver with nothing in force yet (an ACME gateway before its first certificate).
    pub fn empty() -> Arc<ServerCertificate> {
        Arc::new(ServerCertificate::default())
    }

    /// A resolver serving `pair`.
    pub fn serving(pair: &CheckedPair) -> Arc<ServerCertificate> {
        let resolver = ServerCertificate::empty();
        resolver.install(pair);
        resolver
    }

    /// Puts `pair` in force for every later handshake; whether it differs
    /// from the one it replaces (a reload re-reads an unchanged file).
    pub fn install(&self, pair: &CheckedPair) -> bool {
        let previous = self.current.swap(Some(Arc::clone(&pair.key)));
        previous.is_none_or(|old| old.cert != pair.key.cert)
    }

    /// [`Self::install`], told: a new certificate is one log line and one
    /// count, and sets the expiry gauge.
    pub fn put_in_force(&self, pair: &CheckedPair, source: Source) {
        telemetry::certificate_expiry(WatchedCertificate::Server, pair.not_after);
        if self.install(pair) {
            telemetry::server_certificate_update(source.label(), "installed", "none");
            tracing::info!(
                source = source.label(),
                not_after = pair.not_after,
                "server certificate put in force for new handshakes"
            );
        }
    }

    /// A refused candidate, told: one log line and one count; the certificate
    /// in force stays.
    pub fn refuse(&self, why: &PairProblem, source: Source) {
        telemetry::server_certificate_update(source.label(), "refused", why.label());
        tracing::error!(
            source = source.label(),
            reason = why.label(),
            %why,
            "server certificate refused; the one in force stays"
        );
    }

    /// Whether a certificate is in force.
    pub fn is_serving(&self) -> bool {
        self.current.load().is_some()
    }

    /// The leaf in force (DER), for the ACME client's renewal decisions.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current.load().as_ref().map(|key| key.cert[0].clone())
    }

    /// Offers `key` to TLS-ALPN-01 validators of `name` until [`Self::withdraw_challenge`].
    pub fn offer_challenge(&self, name: &str, key: Arc<CertifiedKey>) {
        tracing::info!(
            name,
            "TLS-ALPN-01 challenge certificate offered to acme-tls/1 handshakes"
        );
        self.challenges.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(name.to_ascii_lowercase(), Arc::clone(&key));
            map
        });
    }

    /// Stops offering a challenge certificate for `name`.
    pub fn withdraw_challenge(&self, name: &str) {
        tracing::info!(name, "TLS-ALPN-01 challenge certificate withdrawn");
        self.challenges.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.remove(&name.to_ascii_lowercase());
            map
        });
    }

    /// The challenge certificate for `name`, while its order is pending.
    pub fn challenge_for(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.challenges
            .load()
            .get(&name.to_ascii_lowercase())
            .cloned()
    }

    /// Whether any challenge is pending (a handshake is looked at twice only then).
    pub fn challenge_pending(&self) -> bool {
        !self.challenges.load().is_empty()
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // None (no certificate yet) fails the handshake: nothing is served
        // under a made-up certificate.
        self.current.load_full()
    }
}

/// The challenge resolver of an `acme-tls/1` handshake: the challenge
/// certificate for the name the validator asked for, or nothing.
#[derive(Debug)]
pub(crate) struct ChallengeResolver(pub(crate) Arc<ServerCertificate>);

impl ResolvesServerCert for ChallengeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.challenge_for(hello.server_name()?)
    }
}

#[cfg(test)]
mod tests {
    use super::{PairProblem, check_pair};

    fn issue(names: &[&str], days: i64) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, format!("{} {days}", names[0]));
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn now() -> i64 {
        rustls::pki_types::UnixTime::now().as_secs() as i64
    }

    #[test]
    fn a_matching_pair_covering_the_names_is_accepted() {
        crate::transport::tls::install_crypto_provider();
        let (cert, key) = issue(&["gw.test", "*.vpn.test"], 30);
        let names = ["gw.test".to_string(), "a.vpn.test".to_string()];
        let pair = check_pair(cert.as_bytes(), key.as_bytes(), &names, now()).unwrap();
        assert!(pair.not_after > now());
    }

    #[test]
    fn each_bad_candidate_is_named() {
        crate::transport::tls::install_crypto_provider();
        let (cert, key) = issue(&["gw.test"], 30);
        let (_, other_key) = issue(&["gw.test"], 30);
        let names = ["gw.test".to_string()];
        let problem = |c: &str, k: &str, names: &[String], at: i64| {
            check_pair(c.as_bytes(), k.as_bytes(), names, at).unwrap_err()
        };
        assert_eq!(
            problem(&cert, &other_key, &names, now()).label(),
            "key_mismatch"
        );
        assert_eq!(
            problem(&cert, &key, &["other.test".to_string()], now()),
            PairProblem::NameNotCovered("other.test".into())
        );
        assert_eq!(
            problem(&cert, &key, &names, now() + 40 * 86_400).label(),
            "expired"
        );
        assert_eq!(
            problem(&cert, &key, &names, now() - 3 * 86_400).label(),
            "not_yet_valid"
        );
        assert_eq!(problem("", &key, &names, now()).label(), "unreadable");
        let (second, _) = issue(&["gw.test"], 31);
        let chain = format!("{cert}{second}");
        assert_eq!(
            problem(&chain, &key, &names, now()),
            PairProblem::BrokenChain(0)
        );
    }
}
