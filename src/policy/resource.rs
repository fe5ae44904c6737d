//! This gateway as an OAuth protected resource (MCP authorization, RFC 6750,
//! RFC 9728): the per-request checks that come after TLS — `Origin`, then the
//! bearer token — the URL of the resource metadata that 401 challenges point
//! at ([`crate::http::refusal`] writes them), and the metadata document itself.

use bytes::Bytes;
use chrono::Utc;
use http::{HeaderMap, header};
use serde_json::json;

use crate::config::Mcp;
use crate::denial::{Denial, Reason};
use crate::identity::ClientIdentity;
use crate::policy::address::ClientIp;
use crate::policy::grant::Grant;
use crate::policy::token::jwt::TokenVerifier;
use crate::policy::token::renewal::Renewer;

/// Path of the RFC 9728 metadata document.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The request-level checks and their answers.
pub struct ProtectedResource {
    /// Verifies bearer tokens.
    verifier: TokenVerifier,
    /// Accepted `Origin` values.
    allowed_origins: Vec<String>,
    /// The metadata document (RFC 9728), rendered once.
    metadata: Bytes,
    /// Absolute URL of the metadata document, for the challenge.
    metadata_url: String,
    /// Signs renewed tokens, when `[jwt.renewal]` is on.
    renewer: Option<Renewer>,
}

/// The scheme and authority of an absolute URL (`https://host:port`).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

impl ProtectedResource {
    /// Builds the checks from the `[mcp]` settings and a verifier.
    pub fn new(mcp: &Mcp, verifier: TokenVerifier) -> ProtectedResource {
        let metadata = json!({
            "resource": mcp.resource,
            "authorization_servers": mcp.authorization_servers,
            "bearer_methods_supported": ["header"],
            "tls_client_certificate_bound_access_tokens": true,
            "resource_name": "mcp-gateway calendar",
        })
        .to_string()
        .into();
        let metadata_url = format!("{}{METADATA_PATH}", origin_of(&mcp.resource));
        ProtectedResource {
            verifier,
            allowed_origins: mcp.allowed_origins.clone(),
            metadata,
            metadata_url,
            renewer: None,
        }
    }

    /// The same checks, renewing tokens with `renewer` (`[jwt.renewal]` on).
    pub fn with_renewer(mut self, renewer: Option<Renewer>) -> ProtectedResource {
        self.renewer = renewer;
        self
    }

    /// The renewer, when renewal is on.
    pub fn renewer(&self) -> Option<&Renewer> {
        self.renewer.as_ref()
    }

    /// The metadata document (JSON), served without a token: clients need
    /// it to get one.
    pub fn metadata(&self) -> Bytes {
        self.metadata.clone()
    }

    /// Absolute URL of the metadata document, for 401 challenges.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// Runs the origin and token checks for a request of `identity` from
    /// `client_ip`; the grant, or the denial (for the caller to log).
    pub fn admit(
        &self,
        headers: &HeaderMap,
        identity: &ClientIdentity,
        client_ip: ClientIp,
    ) -> Result<Grant, Denial> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let text = String::from_utf8_lossy(origin.as_bytes());
            if !self.allowed_origins.iter().any(|o| *o == text) {
                return Err(Denial::new(Reason::OriginNotAllowed).with_detail(text.into_owned()));
            }
        }
        if headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .nth(1)
            .is_some()
        {
            // Two credentials: which one a proxy in front would have checked is
            // anyone's guess, so neither is trusted.
            return Err(Denial::new(Reason::TokenMalformed)
                .with_detail("more than one Authorization header"));
        }
        let token = bearer_token(headers).ok_or_else(|| Denial::new(Reason::TokenMissing))?;
        let grant = self
            .verifier
            .verify(token, identity, client_ip, Utc::now())?;
        crate::telemetry::token_accepted();
        Ok(grant)
    }
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::{HeaderMap, bearer_token, header, origin_of};

    #[test]
    fn metadata_lives_at_the_origin_of_the_resource() {
        assert_eq!(
            origin_of("https://gw.example:8443/mcp"),
            "https://gw.example:8443"
        );
        assert_eq!(origin_of("https://gw.example"), "https://gw.example");
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }
}
