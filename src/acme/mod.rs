//! The built-in ACME client (`[tls.acme]`, RFC 8555), one task for the
//! gateway's life:
//!
//! 1. [`account`]: the stored account for the directory, or a new one.
//! 2. [`schedule`]: when the certificate in force is due — the CA's ACME
//!    Renewal Information window (RFC 9773) where it offers one, else about
//!    two thirds into its life with jitter; at once when nothing is in force.
//! 3. [`order`]: one order, its challenges published by [`dns_update`]
//!    (RFC 2136 + TSIG) or as TLS-ALPN-01 certificates on the MCP port
//!    ([`crate::transport::acme_tls`]), withdrawn afterwards.
//! 4. The certificate is kept in the [`state`] folder (0600) and put in
//!    force for new handshakes; open connections are untouched.
//!
//! A failure at any step ([`failure`]) is one log line naming what to check
//! and one count, and is retried after a delay that doubles up to an hour;
//! the certificate in force (or the stored one, when the CA was unreachable
//! at start) keeps being served meanwhile.

pub mod account;
pub mod dns_update;
pub mod failure;
pub mod order;
pub mod schedule;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{Account, CertificateIdentifier};
use rustls::pki_types::{CertificateDer, Der};
use tokio_util::sync::CancellationToken;

use crate::acme::dns_update::DnsUpdater;
use crate::acme::failure::{OrderFailure, Step};
use crate::acme::order::Orderer;
use crate::acme::state::State;
use crate::config::acme::{Acme, AcmeChallenge};
use crate::observe::readiness::Readiness;
use crate::telemetry;
use crate::transport::certificate::{ServerCertificate, Source};

/// The running client.
pub struct AcmeClient {
    acme: Acme,
    state: State,
    dns: Option<DnsUpdater>,
    certificate: Arc<ServerCertificate>,
    /// Told once a certificate is in force (a balancer waits for it).
    readiness: Arc<Readiness>,
    /// An issued chain and key served but not yet stored (the state folder
    /// refused them): written before anything else is tried.
    unsaved: std::sync::Mutex<Option<(String, String)>>,
}

/// When the certificate in force is due, and what it is (for ARI's `replaces`).
struct Due {
    at: i64,
    replaces: Option<CertificateIdentifier<'static>>,
}

impl AcmeClient {
    /// A client for `acme` that puts what it obtains in `certificate`.
    pub fn new(
        acme: &Acme,
        certificate: Arc<ServerCertificate>,
        readiness: Arc<Readiness>,
    ) -> Result<AcmeClient, String> {
        let dns = match &acme.challenge {
            AcmeChallenge::Dns01(update) => {
                Some(DnsUpdater::new(update).map_err(|e| e.to_string())?)
            }
            AcmeChallenge::TlsAlpn01 => None,
        };
        Ok(AcmeClient {
            state: State::open(acme)?,
            acme: acme.clone(),
            dns,
            certificate,
            readiness,
            unsaved: std::sync::Mutex::new(None),
        })
    }

    /// Keeps a certificate in force until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        let mut account: Option<Account> = None;
        loop {
            let wait = if failures > 0 {
                schedule::retry_delay(failures)
            } else {
                Duration::ZERO
            };
            if !wait.is_zero() {
                telemetry::acme_next_renewal(now() + wait.as_secs() as i64);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return,
                }
            }
            let step = tokio::select! {
                outcome = self.step(&mut account, &mut failures, &shutdown) => outcome,
                () = shutdown.cancelled() => return,
            };
            match step {
                Ok(()) => failures = 0,
                Err(failure) => {
                    failures = failures.saturating_add(1);
                    match failure.step {
                        Step::Directory => account = None,
                        Step::Account => {
                            account = None;
                            self.state.forget_account();
                        }
                        _ => {}
                    }
                    telemetry::acme_order(false, failure.step.label(), failures);
                    tracing::error!(
                        reason = failure.step.label(),
                        retry_in_seconds = schedule::retry_delay(failures).as_secs(),
                        serving = self.certificate.is_serving(),
                        "{failure}"
                    );
                }
            }
        }
    }

    /// One round: the account, the wait until the certificate is due, one order.
    async fn step(
        &self,
        account: &mut Option<Account>,
        failures: &mut u32,
        shutdown: &CancellationToken,
    ) -> Result<(), OrderFailure> {
        self.store_unsaved()?;
        let ready = match account.take() {
            Some(ready) => ready,
            None => account::account(&self.acme, &self.state).await?,
        };
        let account = account.insert(ready);
        let due = self.due(account).await;
        let wait = (due.at - now()).max(0);
        telemetry::acme_next_renewal(due.at);
        if wait > 0 {
            // The CA answers, what is served is stored and not due: whatever
            // failed before is over, though the next order may be weeks away.
            if *failures > 0 {
                *failures = 0;
                telemetry::acme_failures_in_a_row(0);
            }
            tracing::info!(
                next_renewal = due.at,
                in_seconds = wait,
                "ACME certificate in force; renewal scheduled"
            );
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
        }
        let orderer = Orderer {
            acme: &self.acme,
            dns: self.dns.as_ref(),
            certificate: &self.certificate,
        };
        let issued = orderer.order(account, due.replaces).await?;
        // Served first: a certificate that cannot be stored still replaces
        // one about to expire; storing it is retried with back-off.
        self.certificate.put_in_force(&issued.pair, Source::Acme);
        self.readiness.server_certificate(true);
        *self.unsaved.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((issued.chain_pem.clone(), issued.key_pem.clone()));
        self.store_unsaved()?;
        telemetry::acme_order(true, "none", 0);
        tracing::info!(
            names = %self.acme.names.join(","),
            not_after = issued.pair.not_after,
            "ACME certificate issued, stored and put in force"
        );
        Ok(())
    }

    /// Writes the certificate served but not stored yet, if any.
    fn store_unsaved(&self) -> Result<(), OrderFailure> {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((chain, key)) = unsaved.as_ref() {
            self.state.save_certificate(chain, key).map_err(|e| {
                OrderFailure::new(
                    Step::Storage,
                    format!(
                        "the certificate in force cannot be stored in {} (a restart would not find it): {e}",
                        self.state.folder().display()
                    ),
                )
            })?;
            *unsaved = None;
        }
        Ok(())
    }

    /// When the certificate in force should be renewed: now when there is
    /// none or it is not for the configured names; the CA's ARI window if it
    /// has one; else about two thirds into its life.
    async fn due(&self, account: &Account) -> Due {
        let now = now();
        let Some(leaf) = self.certificate.leaf() else {
            return Due {
                at: now,
                replaces: None,
            };
        };
        let Some((not_before, not_after)) = validity(&leaf) else {
            return Due {
                at: now,
                replaces: None,
            };
        };
        let fallback = schedule::renewal_time(not_before, not_after, schedule::random_fraction());
        let Some(id) = certificate_id(&leaf) else {
            return Due {
                at: fallback,
                replaces: None,
            };
        };
        match account.renewal_info(&id).await {
            Ok((info, _retry_after)) => {
                let window = info.suggested_window;
                let at = schedule::window_time(
                    window.start.unix_timestamp(),
                    window.end.unix_timestamp(),
                    schedule::random_fraction(),
                );
                Due {
                    at,
                    replaces: Some(id),
                }
            }
            // The CA has no ARI (or it failed this time): the lifetime decides.
            Err(instant_acme::Error::Unsupported(_)) => Due {
                at: fallback,
                replaces: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "ACME renewal information unavailable; renewing by the certificate's lifetime");
                Due {
                    at: fallback,
                    replaces: None,
                }
            }
        }
    }
}

fn now() -> i64 {
    rustls::pki_types::UnixTime::now().as_secs() as i64
}

/// The leaf's `notBefore` and `notAfter`.
fn validity(leaf: &CertificateDer<'_>) -> Option<(i64, i64)> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    Some((
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    ))
}

/// The RFC 9773 identifier: the leaf's authority key identifier and serial.
fn certificate_id(leaf: &CertificateDer<'_>) -> Option<CertificateIdentifier<'static>> {
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let aki = cert
        .iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        })?;
    Some(
        CertificateIdentifier::new(
            Der::from_slice(aki),
            Der::from_slice(cert.tbs_certificate.raw_serial()),
        )
        .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::{certificate_id, validity};

    /// RFC 9773 §4.1: the identifier is base64url(AKI keyIdentifier) "."
    /// base64url(DER serial), for the CA to find the certificate by.
    #[test]
    fn the_renewal_information_identifier_is_the_aki_and_the_serial() {
        use base64::Engine;
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![7; 20]);
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut leaf = rcgen::CertificateParams::new(vec!["gw.example.org".to_owned()]).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x02, 0x03]));
        let cert = leaf
            .signed_by(&rcgen::KeyPair::generate().unwrap(), &issuer)
            .unwrap();
        let id = certificate_id(cert.der()).expect("an identifier");
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            id.to_string(),
            format!("{}.{}", b64(&[7; 20]), b64(&[1, 2, 3]))
        );
        let (not_before, not_after) = validity(cert.der()).unwrap();
        assert!(not_before < not_after);
        // A certificate without an AKI has no identifier: renewal by lifetime.
        let plain = rcgen::CertificateParams::new(vec!["x.test".to_owned()])
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        assert!(certificate_id(plain.der()).is_none());
    }
}
