//! The refresh-token grant (RFC 6749 §6) for an authorized-user account.
//! yup-oauth2's authorized-user flow always posts to Google's own token
//! endpoint; this one posts to `backend.google.token_uri`, so an egress proxy
//! or a local test server can stand in for Google.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::calendar::CalendarError;
use crate::calendar::google::failure::Failure;
use crate::calendar::google::http::TokenClient;
use crate::secrets::Secret;

/// A token is renewed this long before Google says it expires.
const EARLY_RENEWAL: Duration = Duration::from_secs(60);

/// Access tokens from one refresh token, cached until shortly before expiry.
pub struct RefreshTokenFlow {
    /// Account name, for messages.
    pub account: String,
    /// Where the grant is posted.
    pub token_uri: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret<String>,
    /// The user's refresh token.
    pub refresh_token: Secret<String>,
    /// HTTP client for the token endpoint.
    pub client: TokenClient,
    /// Limit on the token request.
    pub timeout: Duration,
    /// The current access token; the lock also makes concurrent refreshes one.
    pub cached: Mutex<Option<(Secret<String>, Instant)>>,
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Refused {
    error: String,
}

impl RefreshTokenFlow {
    /// A valid access token; `fresh` forces a new one (the API refused the last).
    pub async fn token(&self, fresh: bool) -> Result<String, Failure> {
        let mut cached = self.cached.lock().await;
        if !fresh
            && let Some((token, expires)) = cached.as_ref()
            && *expires > Instant::now() + EARLY_RENEWAL
        {
            return Ok(token.expose().clone());
        }
        let (token, lifetime) = self.request().await?;
        *cached = Some((Secret::new(token.clone()), Instant::now() + lifetime));
        Ok(token)
    }

    async fn request(&self) -> Result<(String, Duration), Failure> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("refresh_token", self.refresh_token.expose())
            .finish();
        let request = http::Request::post(&self.token_uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .map_err(|e| Failure::Final(CalendarError::Backend(format!("token request: {e}"))))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(Failure::Transient("token endpoint timed out".into())),
            Ok(Err(e)) => return Err(Failure::Transient(format!("token endpoint: {e}"))),
            Ok(Ok(reply)) => reply,
        };
        if status.is_success() {
            let granted: Granted = serde_json::from_slice(&body).map_err(|_| {
                Failure::Final(CalendarError::Backend(
                    "token endpoint replied without an access_token".into(),
                ))
            })?;
            let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
            return Ok((granted.access_token, lifetime));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Failure::Transient(format!(
                "token endpoint answered {status}"
            )));
        }
        let reason = serde_json::from_slice::<Refused>(&body)
            .map(|r| r.error)
            .unwrap_or_else(|_| status.to_string());
        Err(Failure::Final(CalendarError::Reauthorize(format!(
            "Google refused the refresh token of account `{}` ({reason}): re-authorize the account and store its new refresh token",
            self.account
        ))))
    }
}
