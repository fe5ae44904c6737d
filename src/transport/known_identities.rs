//! The identities of the client certificates seen lately, found again by
//! the certificate's bytes instead of being read from it anew.
//!
//! Reading an identity parses the certificate (x509-parser), hashes it
//! twice (the fingerprint, the revocation key) and encodes both: 41k
//! instructions of a connection's 2.9M, and the parser's code is large
//! enough that running it on every connection pushes the TLS stack's code
//! out of the caches (bench/README.md, "Handshakes"). A client reconnects
//! with the same certificate, so its identity is kept.
//!
//! Why this cannot give a connection someone else's identity: the identity
//! is a function of the certificate's bytes alone (the identity source,
//! `tls.identity`, is fixed for the process: a reload that changes it is
//! refused), and an entry is found only by an exact comparison of all
//! those bytes. Expiry and revocation are still checked on every
//! connection and request from the identity's own fields (`not_after`,
//! the revocation key), and a certificate reaches this table only after
//! rustls verified it (or resumed a session it had verified).
//!
//! The verifier uses the table too: the `clientAuth` usage it requires is
//! read from the certificate only when these bytes are not held
//! ([`KnownIdentities::holds`]), which keeps x509-parser out of a known
//! client's full handshakes altogether.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls::pki_types::CertificateDer;

use crate::config::IdentitySource;
use crate::identity::{ClientIdentity, IdentityError, identify};

/// Certificates remembered at most; when full, the table starts over.
/// Bounded by count and by [`MAX_REMEMBERED_BYTES`] each: at most 4 MiB.
pub const MAX_REMEMBERED: usize = 1024;

/// A certificate longer than this is read every time, never kept.
pub const MAX_REMEMBERED_BYTES: usize = 4096;

/// Identities by the exact DER of their certificates. Seeded per process:
/// the keys are certificates a client chose (though ones the CA signed), so
/// their hashes must not be predictable.
type ByCertificate = HashMap<Box<[u8]>, ClientIdentity, foldhash::fast::RandomState>;

/// Identities by the exact DER of their certificates.
pub struct KnownIdentities {
    /// Which certificate field names the client.
    source: IdentitySource,
    /// The identities read so far.
    known: Mutex<ByCertificate>,
}

impl KnownIdentities {
    /// An empty table for identities read by `source`.
    pub fn new(source: IdentitySource) -> KnownIdentities {
        KnownIdentities {
            source,
            known: Mutex::new(HashMap::default()),
        }
    }

    /// The identity of `cert`: the one remembered for exactly these bytes,
    /// else read from it (and remembered). A certificate that names no
    /// usable identity is read, and refused, every time.
    pub fn identify(&self, cert: &CertificateDer<'_>) -> Result<ClientIdentity, IdentityError> {
        if let Some(known) = self.lock().get(cert.as_ref()) {
            return Ok(known.clone());
        }
        let identity = identify(cert, self.source)?;
        if cert.len() <= MAX_REMEMBERED_BYTES {
            let mut known = self.lock();
            if known.len() >= MAX_REMEMBERED {
                known.clear();
            }
            known.insert(cert.as_ref().into(), identity.clone());
        }
        Ok(identity)
    }

    /// Whether exactly these bytes are remembered. An entry is made only
    /// for the peer certificate of a connection this listener's verifier
    /// accepted (rustls exposes no other), so a held certificate has passed
    /// the verifier's own checks of its bytes, the `clientAuth` usage among
    /// them ([`crate::transport::tls`] skips reading that again). The chain,
    /// expiry and revocation are not properties of the bytes alone: they are
    /// checked on every handshake all the same.
    pub fn holds(&self, cert: &CertificateDer<'_>) -> bool {
        self.lock().contains_key(cert.as_ref())
    }

    fn lock(&self) -> MutexGuard<'_, ByCertificate> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many certificates are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;

    use super::{KnownIdentities, MAX_REMEMBERED};
    use crate::config::IdentitySource;
    use crate::identity::identify;

    fn client_cert(name: &str) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![format!("{name}.example")]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_remembered_identity_is_the_one_read_and_only_for_the_same_bytes() {
        let known = KnownIdentities::new(IdentitySource::SubjectCn);
        let alice = client_cert("alice");
        let bob = client_cert("bob");
        let first = known.identify(&alice).unwrap();
        let again = known.identify(&alice).unwrap();
        assert_eq!(first.id(), "alice");
        // The very same value: found, not read again.
        assert!(first.is_same_value(&again));
        let read = identify(&alice, IdentitySource::SubjectCn).unwrap();
        assert_eq!(again.fingerprint_sha256(), read.fingerprint_sha256());
        assert_eq!(again.not_after(), read.not_after());
        assert_eq!(again.revocation_key(), read.revocation_key());
        assert_eq!(known.identify(&bob).unwrap().id(), "bob");
        assert_eq!(known.len(), 2);
        // One byte more or less is another certificate: the cut copy does
        // not match the entry it is a prefix of (it does not parse), and the
        // longer one is an entry of its own.
        let shorter = alice.as_ref()[..alice.len() - 1].to_vec();
        assert!(known.identify(&CertificateDer::from(shorter)).is_err());
        let mut longer = alice.as_ref().to_vec();
        longer.push(0);
        let longer = known.identify(&CertificateDer::from(longer)).unwrap();
        assert!(!longer.is_same_value(&first));
        assert_eq!(known.len(), 3);
    }

    #[test]
    fn refusals_are_not_remembered_and_the_table_stays_bounded() {
        let known = KnownIdentities::new(IdentitySource::SanUri);
        let no_uri = client_cert("carol");
        assert!(known.identify(&no_uri).is_err());
        assert_eq!(known.len(), 0);
        let known = KnownIdentities::new(IdentitySource::SubjectCn);
        let first = client_cert("first");
        known.identify(&first).unwrap();
        for i in 0..MAX_REMEMBERED {
            known.identify(&client_cert(&format!("c{i}"))).unwrap();
        }
        assert!(known.len() <= MAX_REMEMBERED);
        // Still read right after the table started over.
        assert_eq!(known.identify(&first).unwrap().id(), "first");
    }
}
