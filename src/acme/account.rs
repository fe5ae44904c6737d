//! The ACME account: the HTTPS client that speaks to the CA (its roots:
//! `tls.acme.directory_ca` or the system's; connect timeout ten seconds),
//! and the account itself — the stored one for this directory, or a new one
//! (with External Account Binding when configured), stored at once.

use std::time::Duration;

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{Account, BodyWrapper, ExternalAccountKey, NewAccount};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::acme::failure::{OrderFailure, Step};
use crate::acme::order::ANSWER_FOR;
use crate::acme::state::State;
use crate::config::acme::Acme;

/// How long connecting to the CA may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The roots the CA's HTTPS certificate must chain to.
fn roots(acme: &Acme) -> Result<RootCertStore, OrderFailure> {
    let mut roots = RootCertStore::empty();
    match &acme.directory_ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    OrderFailure::new(
                        Step::Directory,
                        format!("tls.acme.directory_ca: cannot read {}: {e}", path.display()),
                    )
                })?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err(OrderFailure::new(
            Step::Directory,
            "no trust roots for the CA's HTTPS (set tls.acme.directory_ca)",
        ));
    }
    Ok(roots)
}

/// An HTTPS-only client for the CA.
fn http_client(acme: &Acme) -> Result<Box<dyn instant_acme::HttpClient>, OrderFailure> {
    let tls = rustls::ClientConfig::builder_with_provider(crate::transport::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| OrderFailure::new(Step::Directory, e.to_string()))?
        .with_root_certificates(roots(acme)?)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let client: Client<_, BodyWrapper<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}

/// The account at `acme.directory`: the stored one, or a new one, stored.
pub async fn account(acme: &Acme, state: &State) -> Result<Account, OrderFailure> {
    let http = http_client(acme)?;
    let unanswered = || {
        OrderFailure::new(
            Step::Directory,
            format!(
                "{} did not answer within {} s",
                acme.directory,
                ANSWER_FOR.as_secs()
            ),
        )
    };
    if let Some(credentials) = state.account(&acme.directory) {
        return tokio::time::timeout(
            ANSWER_FOR,
            Account::builder_with_http(http).from_credentials(credentials),
        )
        .await
        .map_err(|_| unanswered())?
        .map_err(|e| OrderFailure::from_acme(Step::Directory, &e));
    }
    let contact: Vec<&str> = acme.contact.iter().map(String::as_str).collect();
    let binding = acme
        .external_account
        .as_ref()
        .map(|eab| ExternalAccountKey::new(eab.key_id.clone(), eab.hmac_key.expose()));
    let request = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let creating =
        Account::builder_with_http(http).create(&request, acme.directory.clone(), binding.as_ref());
    let (account, credentials) = tokio::time::timeout(ANSWER_FOR, creating)
        .await
        .map_err(|_| unanswered())?
        .map_err(|e| {
            // Only the CA's own answer is about the account; anything else
            // is reaching the directory.
            let step = match e {
                instant_acme::Error::Api(_) => Step::Account,
                _ => Step::Directory,
            };
            OrderFailure::from_acme(step, &e)
        })?;
    state
        .save_account(&acme.directory, credentials)
        .map_err(|e| {
            OrderFailure::new(
                Step::Storage,
                format!(
                    "cannot store the ACME account in {}: {e}",
                    state.folder().display()
                ),
            )
        })?;
    tracing::info!(directory = %acme.directory, id = account.id(), "ACME account created and stored");
    Ok(account)
}
