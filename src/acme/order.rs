//! One ACME order, from `newOrder` to the checked certificate: each
//! authorization's challenge is published (a TXT record by RFC 2136, or a
//! TLS-ALPN-01 certificate offered on the MCP port), the CA is told, the
//! order polled until ready, a fresh P-256 key and CSR finalize it, and the
//! chain is downloaded and checked as any candidate certificate is. Whatever
//! was published is withdrawn afterwards, on success and failure alike.

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewOrder,
    Order, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, KeyPair};

use crate::acme::dns_update::DnsUpdater;
use crate::acme::failure::{OrderFailure, Step};
use crate::config::acme::{Acme, AcmeChallenge};
use crate::transport::certificate::{CheckedPair, ServerCertificate, check_pair};

/// How long the CA may take to validate and to issue, each.
const POLL_FOR: Duration = Duration::from_secs(120);
/// How long the CA may take to answer one request outside the polls (a CA
/// that accepts the connection and never answers must not hold the renewal
/// forever).
pub const ANSWER_FOR: Duration = Duration::from_secs(60);
/// How long the rest of an order may take, polls included.
const ORDER_FOR: Duration = Duration::from_secs(600);

/// What an order needs besides the account.
pub struct Orderer<'a> {
    /// The `[tls.acme]` settings.
    pub acme: &'a Acme,
    /// The DNS-01 publisher (with `challenge = "dns-01"`).
    pub dns: Option<&'a DnsUpdater>,
    /// Where TLS-ALPN-01 challenge certificates are offered.
    pub certificate: &'a Arc<ServerCertificate>,
}

/// A challenge made public during an order, to withdraw afterwards.
enum Published {
    Txt { name: String, value: String },
    AlpnCertificate { name: String },
}

/// The issued chain, its key (PEM both) and the checked pair.
pub struct Issued {
    /// The chain as the CA sent it.
    pub chain_pem: String,
    /// The certificate's private key.
    pub key_pem: String,
    /// Ready to be put in force.
    pub pair: CheckedPair,
}

impl Orderer<'_> {
    /// Orders a certificate for the configured names; `replaces` names the
    /// certificate it renews when the CA speaks ARI.
    pub async fn order(
        &self,
        account: &Account,
        replaces: Option<CertificateIdentifier<'static>>,
    ) -> Result<Issued, OrderFailure> {
        let identifiers: Vec<Identifier> = self
            .acme
            .names
            .iter()
            .map(|name| Identifier::Dns(name.clone()))
            .collect();
        let mut request = NewOrder::new(&identifiers);
        if let Some(replaces) = replaces {
            request = request.replaces(replaces);
        }
        let mut order = tokio::time::timeout(ANSWER_FOR, account.new_order(&request))
            .await
            .map_err(|_| OrderFailure::new(Step::Order, "the CA did not answer the new order"))?
            .map_err(|e| match &e {
                // The CA lost or removed the account (a reset test CA, a
                // deactivated account): a new one is made on the next try.
                instant_acme::Error::Api(problem)
                    if problem
                        .r#type
                        .as_deref()
                        .is_some_and(|t| t.ends_with(":accountDoesNotExist")) =>
                {
                    OrderFailure::new(
                        Step::Account,
                        "the CA no longer knows the stored account; a new one is made on the next try",
                    )
                }
                _ => OrderFailure::from_acme(Step::Order, &e),
            })?;
        let mut published = Vec::new();
        let outcome = tokio::time::timeout(
            ORDER_FOR,
            self.validate_and_finalize(&mut order, &mut published),
        )
        .await
        .unwrap_or_else(|_| {
            Err(OrderFailure::new(
                Step::Order,
                format!("the order took longer than {} s", ORDER_FOR.as_secs()),
            ))
        });
        // Withdrawn whatever the outcome, timeouts included.
        self.withdraw(published).await;
        outcome
    }

    async fn validate_and_finalize(
        &self,
        order: &mut Order,
        published: &mut Vec<Published>,
    ) -> Result<Issued, OrderFailure> {
        let kind = match self.acme.challenge {
            AcmeChallenge::Dns01(_) => ChallengeType::Dns01,
            AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization =
                authorization.map_err(|e| OrderFailure::from_acme(Step::Order, &e))?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(OrderFailure::new(
                        Step::Challenge,
                        format!(
                            "the authorization for {} is {other:?}",
                            authorization.identifier()
                        ),
                    ));
                }
            }
            let name = authorization.identifier().to_string();
            let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
                OrderFailure::new(
                    Step::Challenge,
                    format!("the CA offers no {kind:?} challenge for {name}"),
                )
            })?;
            let key_authorization = challenge.key_authorization();
            match self.dns {
                Some(dns) => {
                    let value = key_authorization.dns_value();
                    dns.add_txt(&name, &value)
                        .await
                        .map_err(|e| OrderFailure::new(Step::DnsUpdate, e.to_string()))?;
                    published.push(Published::Txt {
                        name: name.clone(),
                        value,
                    });
                }
                None => {
                    let offered =
                        challenge_certificate(&name, key_authorization.digest().as_ref())?;
                    self.certificate.offer_challenge(&name, offered);
                    published.push(Published::AlpnCertificate { name: name.clone() });
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| OrderFailure::from_acme(Step::Challenge, &e))?;
        }
        let retries = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(POLL_FOR);
        let status = order
            .poll_ready(&retries)
            .await
            .map_err(|e| OrderFailure::from_acme(Step::Challenge, &e))?;
        if status != OrderStatus::Ready {
            return Err(OrderFailure::new(Step::Challenge, why_invalid(order).await));
        }
        let key = KeyPair::generate()
            .map_err(|e| OrderFailure::new(Step::Finalize, format!("cannot make a key: {e}")))?;
        let mut params = CertificateParams::new(self.acme.names.clone())
            .map_err(|e| OrderFailure::new(Step::Finalize, e.to_string()))?;
        params.distinguished_name = DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| OrderFailure::new(Step::Finalize, format!("cannot make the CSR: {e}")))?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(|e| OrderFailure::from_acme(Step::Finalize, &e))?;
        let chain_pem = order
            .poll_certificate(&retries)
            .await
            .map_err(|e| OrderFailure::from_acme(Step::Finalize, &e))?;
        let key_pem = key.serialize_pem();
        let now = rustls::pki_types::UnixTime::now().as_secs() as i64;
        let pair = check_pair(
            chain_pem.as_bytes(),
            key_pem.as_bytes(),
            &self.acme.names,
            now,
        )
        .map_err(|e| OrderFailure::new(Step::Certificate, e.to_string()))?;
        Ok(Issued {
            chain_pem,
            key_pem,
            pair,
        })
    }

    /// Removes every TXT record and challenge certificate this order published.
    async fn withdraw(&self, published: Vec<Published>) {
        for item in published {
            match item {
                Published::Txt { name, value } => {
                    if let Some(dns) = self.dns
                        && let Err(e) = dns.remove_txt(&name, &value).await
                    {
                        tracing::warn!(error = %e, "the ACME challenge TXT record could not be removed");
                    }
                }
                Published::AlpnCertificate { name } => self.certificate.withdraw_challenge(&name),
            }
        }
    }
}

/// The CA's reasons for an order that did not become ready.
async fn why_invalid(order: &mut Order) -> String {
    let mut reasons = Vec::new();
    if let Some(problem) = &order.state().error {
        reasons.push(crate::observe::escape::escape(&problem.to_string()));
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(authorization)) = authorizations.next().await {
        for challenge in &authorization.challenges {
            if let Some(problem) = &challenge.error {
                reasons.push(format!(
                    "{}: {}",
                    authorization.identifier(),
                    crate::observe::escape::escape(
                        problem.detail.as_deref().unwrap_or("(no detail)")
                    )
                ));
            }
        }
    }
    if reasons.is_empty() {
        "the order did not become ready".into()
    } else {
        format!("the CA could not validate: {}", reasons.join("; "))
    }
}

/// The RFC 8737 certificate for `name`: self-signed, the name as its only
/// SAN, and the critical `acmeIdentifier` extension holding the SHA-256
/// digest of the key authorization.
fn challenge_certificate(
    name: &str,
    digest: &[u8],
) -> Result<Arc<rustls::sign::CertifiedKey>, OrderFailure> {
    let fail = |e: rcgen::Error| {
        OrderFailure::new(
            Step::Challenge,
            format!("cannot make the TLS-ALPN-01 certificate: {e}"),
        )
    };
    let key = KeyPair::generate().map_err(fail)?;
    let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(fail)?;
    params
        .custom_extensions
        .push(CustomExtension::new_acme_identifier(digest));
    let certificate = params.self_signed(&key).map_err(fail)?;
    // Not through check_pair: webpki rightly refuses the critical
    // acmeIdentifier extension that is the whole point of this certificate.
    // Nor through CertifiedKey::from_der, whose key check parses it with webpki.
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signing = crate::transport::tls::provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| OrderFailure::new(Step::Challenge, e.to_string()))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(
        vec![certificate.der().clone()],
        signing,
    )))
}
