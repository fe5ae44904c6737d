//! The answer at [`crate::config::RENEWAL_PATH`]: a renewable token,
//! admitted by the whole pipeline like any MCP request, exchanged for a
//! fresh one ([`crate::policy::token::renewal`]). One audit line for each
//! renewal, one security line for each refusal, one metric either way.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::json;

use crate::http::body::read_body;
use crate::http::{App, ConnectionInfo, HttpResponse};
use crate::observe::audit::{Outcome, ToolCall};
use crate::policy::grant::Grant;

/// The audit line's `tool` for a renewal.
const RENEWAL_TOOL: &str = "token_renewal";

impl App {
    /// Renews the token behind `grant`. The body is read first (bounded; its
    /// content is not used): an HTTP/2 answer sent before the body ends in a
    /// stream reset instead of the answer.
    pub(super) async fn renew_token(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        connection: &ConnectionInfo,
        grant: Grant,
    ) -> HttpResponse {
        if let Err(denial) = read_body(body, self.limits.max_body, self.limits.body_timeout).await {
            return self.refuse(denial, connection, None, &parts.method).await;
        }
        let snapshot = self.snapshot.load();
        let Some(renewer) = snapshot.resource.renewer() else {
            // Turned off by a reload since the headers were checked.
            let denial = crate::denial::Denial::new(crate::denial::Reason::PathNotFound)
                .with_detail(parts.uri.path().to_owned());
            return self.refuse(denial, connection, None, &parts.method).await;
        };
        let started = std::time::Instant::now();
        let renewed = match renewer.renew(&grant, Utc::now().timestamp()) {
            Ok(renewed) => renewed,
            Err(denial) => {
                crate::telemetry::token_renewal(false);
                return self.refuse(denial, connection, None, &parts.method).await;
            }
        };
        self.audit.record_renewal(
            &ToolCall {
                tool: RENEWAL_TOOL,
                client: grant.identity().id(),
                ip: grant.client_ip(),
                token_id: grant.token_id(),
                calendars: &[],
                outcome: Outcome::Ok,
                millis: started.elapsed().as_millis(),
            },
            &renewed.jti,
        );
        crate::telemetry::token_renewal(true);
        let body = json!({
            "token": renewed.token,
            "jti": renewed.jti,
            "expiresAt": rfc3339(renewed.expires_at),
            "renewableUntil": rfc3339(renewed.renewable_until),
        });
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            // A bearer token: no cache anywhere may keep it (RFC 6749 §5.1).
            .header(header::CACHE_CONTROL, "no-store")
            .body(Full::new(Bytes::from(body.to_string())).boxed())
            .expect("static response parts are valid")
    }
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
