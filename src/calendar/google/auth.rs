//! Access tokens for one Google account: a service account acting as a
//! Workspace user (domain-wide delegation, yup-oauth2's JWT-bearer flow), or
//! an authorized user's refresh token. One scope set for every call, so one
//! token serves them all.

use std::time::Duration;

use tokio::sync::Mutex;
use yup_oauth2::authenticator::Authenticator;
use yup_oauth2::{CustomHyperClientBuilder, ServiceAccountAuthenticator};

use crate::calendar::CalendarError;
use crate::calendar::google::failure::Failure;
use crate::calendar::google::http::{Connector, TokenClient};
use crate::calendar::google::refresh::RefreshTokenFlow;
use crate::config::google::Account;

/// The one scope the gateway asks for: read and write calendars.
pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// Where an account's access tokens come from.
pub enum AccessTokens {
    /// Service account with domain-wide delegation.
    ServiceAccount {
        /// Account name, for messages.
        account: String,
        /// yup-oauth2's flow (it caches the token until shortly before expiry).
        authenticator: Authenticator<Connector>,
    },
    /// Authorized user (refresh token).
    AuthorizedUser(Box<RefreshTokenFlow>),
}

impl AccessTokens {
    /// Prepares the token source of `account` (no request is made yet).
    pub async fn new(
        name: &str,
        account: &Account,
        client: TokenClient,
        token_uri: &str,
        timeout: Duration,
    ) -> anyhow::Result<AccessTokens> {
        Ok(match account {
            Account::ServiceAccount { key, subject } => {
                let authenticator = ServiceAccountAuthenticator::with_client(
                    key.expose().clone(),
                    CustomHyperClientBuilder::from(client),
                )
                .subject(subject.clone())
                .with_timeout(timeout)
                .build()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "backend.google.accounts.{name}: unusable service account key ({e})"
                    )
                })?;
                AccessTokens::ServiceAccount {
                    account: name.to_owned(),
                    authenticator,
                }
            }
            Account::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
            } => AccessTokens::AuthorizedUser(Box::new(RefreshTokenFlow {
                account: name.to_owned(),
                token_uri: token_uri.to_owned(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                refresh_token: refresh_token.clone(),
                client,
                timeout,
                cached: Mutex::new(None),
            })),
        })
    }

    /// A valid access token; `fresh` forces a new one because the API refused the last.
    pub async fn token(&self, fresh: bool) -> Result<String, Failure> {
        match self {
            AccessTokens::AuthorizedUser(flow) => flow.token(fresh).await,
            AccessTokens::ServiceAccount {
                account,
                authenticator,
            } => {
                let result = if fresh {
                    authenticator.force_refreshed_token(&[SCOPE]).await
                } else {
                    authenticator.token(&[SCOPE]).await
                };
                match result {
                    Ok(token) => token.token().map(str::to_owned).ok_or_else(|| {
                        Failure::Final(CalendarError::Backend(
                            "token endpoint replied without an access token".into(),
                        ))
                    }),
                    Err(yup_oauth2::Error::AuthError(refused)) => {
                        Err(Failure::Final(CalendarError::Reauthorize(format!(
                            "Google refused the service account for account `{account}` ({}): check the key and its domain-wide delegation",
                            refused.error.as_str()
                        ))))
                    }
                    Err(
                        e @ (yup_oauth2::Error::HttpError(_)
                        | yup_oauth2::Error::HttpClientError(_)),
                    ) => Err(Failure::Transient(format!("token endpoint: {e}"))),
                    Err(e) => Err(Failure::Final(CalendarError::Reauthorize(format!(
                        "no access token for account `{account}` ({}): check the service account key",
                        short(&e)
                    )))),
                }
            }
        }
    }
}

/// The error's first line: yup-oauth2's messages may quote whole replies.
fn short(error: &yup_oauth2::Error) -> String {
    let text = error.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}
