//! The accounts of `[backend.google]`: each account built from the
//! credentials it names (a service account's key with a `subject`, or the
//! OAuth client with a `refresh_token`), and the client → account mapping
//! checked against them.

use std::collections::BTreeMap;
use std::sync::Arc;

use yup_oauth2::ServiceAccountKey;

use crate::config::Problem;
use crate::config::google::{Account, RawAccount};
use crate::config::google_secrets::Secrets;
use crate::secrets::Secret;

/// The shared credentials accounts are built from, and whether each was set
/// at all: an account that fails only because a credential above failed is
/// not reported again.
pub(super) struct Credentials {
    pub(super) service_account: Option<Arc<Secret<ServiceAccountKey>>>,
    pub(super) service_account_set: bool,
    pub(super) oauth_client: Option<(String, Secret<String>)>,
    pub(super) oauth_client_set: bool,
}

/// Every account that could be built, by name.
pub(super) fn build_accounts(
    raw: BTreeMap<String, RawAccount>,
    credentials: &Credentials,
    secrets: &mut Secrets,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Account> {
    raw.into_iter()
        .filter_map(|(name, account)| {
            let key = format!("backend.google.accounts.{name}");
            let built = build_account(&key, account, credentials, secrets, problems)?;
            Some((name, built))
        })
        .collect()
}

fn build_account(
    key: &str,
    account: RawAccount,
    credentials: &Credentials,
    secrets: &mut Secrets,
    problems: &mut Vec<Problem>,
) -> Option<Account> {
    match (account.subject, account.refresh_token) {
        (Some(subject), None) => match &credentials.service_account {
            Some(sa) => Some(Account::ServiceAccount {
                key: Arc::clone(sa),
                subject,
            }),
            None => {
                if !credentials.service_account_set {
                    problems.push(Problem::new(
                        format!("{key}.subject"),
                        "needs backend.google.service_account_key or service_account_key_file",
                    ));
                }
                None
            }
        },
        (None, Some(token)) => {
            let refresh_token =
                Secret::new(secrets.reveal(&format!("{key}.refresh_token"), &token, problems));
            match &credentials.oauth_client {
                Some((client_id, client_secret)) => Some(Account::AuthorizedUser {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    refresh_token,
                }),
                None => {
                    if !credentials.oauth_client_set {
                        problems.push(Problem::new(
                            format!("{key}.refresh_token"),
                            "needs backend.google.oauth_client_id and oauth_client_secret",
                        ));
                    }
                    None
                }
            }
        }
        _ => {
            problems.push(Problem::new(
                key,
                "set exactly one of `subject` (service account) or `refresh_token` (authorized user)",
            ));
            None
        }
    }
}

/// Every client mapping and the default account name one of the accounts
/// (`names`, whether or not each could be built), and there is one.
pub(super) fn check_client_mapping(
    table: &str,
    clients: &BTreeMap<String, String>,
    default_account: Option<&String>,
    names: &[String],
    problems: &mut Vec<Problem>,
) {
    for (client, account) in clients {
        if !names.contains(account) {
            problems.push(Problem::new(
                format!("{table}.clients.\"{client}\""),
                format!("no account named `{account}` in {table}.accounts"),
            ));
        }
    }
    if let Some(default) = default_account
        && !names.contains(default)
    {
        problems.push(Problem::new(
            format!("{table}.default_account"),
            format!("no account named `{default}` in {table}.accounts"),
        ));
    }
    if names.is_empty() {
        problems.push(Problem::new(
            format!("{table}.accounts"),
            "define at least one account",
        ));
    }
}
