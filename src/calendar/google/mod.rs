//! The Google Calendar backend (google-calendar3). Each configured account
//! becomes a [`GoogleAccount`]; [`GoogleAccounts`] maps every client identity
//! to the one account it acts as, so a client reaches that account's
//! calendars and nothing else.
//!
//! - `http.rs`: the HTTPS connector and clients (aws-lc-rs, system roots)
//! - `auth.rs`, `refresh.rs`: access tokens (service account or refresh token)
//! - `call.rs`: timeouts, token refresh on 401, retries with backoff
//! - `failure.rs`: Google's error replies → clear tool errors
//! - `convert.rs`: API types ↔ the event model (zones re-attached)
//! - `account.rs`, `writes.rs`: the backend operations

pub mod account;
pub mod auth;
pub mod call;
pub mod convert;
pub mod failure;
pub mod http;
pub mod refresh;
pub mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calendar::accounts::ClientAccounts;
use crate::calendar::google::account::GoogleAccount;
use crate::calendar::google::auth::AccessTokens;
use crate::calendar::google::call::Api;
use crate::calendar::retry::RetryPolicy;
use crate::calendar::{CalendarAccounts, CalendarBackend, CalendarError};
use crate::config::google::Google;

/// Client identity → the Google account it acts as.
pub struct GoogleAccounts(ClientAccounts<GoogleAccount>);

impl GoogleAccounts {
    /// Prepares every configured account (no request reaches Google yet).
    pub async fn new(config: &Google) -> anyhow::Result<GoogleAccounts> {
        let https_needed = !all_plain_loopback(config);
        let connector = http::connector(https_needed)?;
        let policy = RetryPolicy {
            timeout: config.request_timeout,
            max_attempts: config.max_attempts,
            deadline: config.retry_deadline,
            base_delay: config.retry_base_delay,
        };
        let mut accounts = BTreeMap::new();
        for (name, account) in &config.accounts {
            let tokens = AccessTokens::new(
                name,
                account,
                http::token_client(connector.clone()),
                &config.token_uri,
                config.request_timeout,
            )
            .await?;
            let api = Api::new(
                name,
                http::api_client(connector.clone()),
                &config.api_base_url,
                tokens,
                policy,
            );
            accounts.insert(name.clone(), Arc::new(GoogleAccount::new(api)));
        }
        Ok(GoogleAccounts(ClientAccounts::new(
            ("Google", "backend.google"),
            accounts,
            &config.clients,
            config.default_account.as_ref(),
        )))
    }
}

/// Whether every endpoint is plain HTTP on loopback (a local test server).
fn all_plain_loopback(config: &Google) -> bool {
    let plain = |url: &str| url.starts_with("http://");
    plain(&config.api_base_url)
        && plain(&config.token_uri)
        && config.accounts.values().all(|a| match a {
            crate::config::google::Account::ServiceAccount { key, .. } => {
                plain(&key.expose().token_uri)
            }
            crate::config::google::Account::AuthorizedUser { .. } => true,
        })
}

impl CalendarAccounts for GoogleAccounts {
    fn for_client(&self, client_id: &str) -> Result<Arc<dyn CalendarBackend>, CalendarError> {
        self.0.for_client(client_id)
    }
}
