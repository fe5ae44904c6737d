//! Token renewal at `/token/renew` (`[jwt.renewal]`): a certificate-bound
//! token carrying `renewableUntil` is exchanged for a fresh one with the
//! same grant, a new `jti` and an `exp` within the limit — after the whole
//! pipeline; every other token is refused with one security line; revoking
//! the first token of a chain revokes its renewals; one audit line and one
//! metric per renewal. (Renewal as `connect` does it: `connect_renewal.rs`.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use mcp_gateway::cli::pki::Issued;
use mcp_gateway::cli::token::{TokenRequest, claims};
use serde_json::{Value, json};

use crate::bridge::token_claims;
use crate::common::{
    AUDIENCE, ISSUER, TestGateway, call_stateless, http_client_with_token, metric,
};
use crate::tokens::signed;

const CLIENT: &str = "agent-a";

/// A gateway with renewal on and a revocation list.
async fn renewing_gateway() -> TestGateway {
    TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("revoked.txt"), "").unwrap();
        s.jwt =
            "revocations = \"revoked.txt\"\nmax_renewable = \"7d\"\n[jwt.renewal]\nenabled = true"
                .into();
    })
    .await
}

/// The claims of a full-access token for CLIENT bound to `cert_pem`,
/// renewable for `renewable_for` seconds.
fn renewable_claims(cert_pem: Option<&str>, renewable_for: Option<u64>) -> Value {
    let request = TokenRequest {
        bind_cert_pem: cert_pem.map(str::to_owned),
        renewable_for: renewable_for.map(std::time::Duration::from_secs),
        ..TokenRequest::full_access(
            CLIENT,
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    };
    claims(&request, ISSUER, AUDIENCE).unwrap()
}

/// `mcp_gateway_token_renewals_total{outcome}` now.
async fn renewals_counted(gw: &TestGateway, outcome: &str) -> f64 {
    let series = format!("mcp_gateway_token_renewals_total{{outcome=\"{outcome}\"}}");
    metric(gw.gateway.metrics_addr.unwrap(), &series).await
}

/// POSTs a renewal with `token` presenting `cert`: the status and the body.
async fn renew(gw: &TestGateway, cert: &Issued, token: &str) -> (u16, Value) {
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(cert), Some(token));
    let url = gw.url().replace("/mcp", "/token/renew");
    let response = client.post(url).body("").send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_bound_renewable_token_is_renewed_with_the_same_grant_and_never_more() {
    let gw = renewing_gateway().await;
    let renewed_before = renewals_counted(&gw, "renewed").await;
    let cert = gw.client_cert(CLIENT);
    let old_claims = renewable_claims(Some(&cert.cert_pem), Some(3600));
    let old = signed(&gw, &old_claims);
    let (status, body) = renew(&gw, &cert, &old).await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["token"].as_str().unwrap();
    let new_claims = token_claims(fresh);
    for same in [
        "iss",
        "aud",
        "clientId",
        "allowedIPs",
        "permissions",
        "calendars",
        "cnf",
        "renewableUntil",
    ] {
        assert_eq!(new_claims[same], old_claims[same], "{same}");
    }
    assert_ne!(new_claims["jti"], old_claims["jti"]);
    assert_eq!(new_claims["rootJti"], old_claims["jti"]);
    assert!(new_claims["exp"].as_i64() <= old_claims["renewableUntil"].as_i64());
    assert_eq!(body["jti"], new_claims["jti"]);
    // The fresh token serves.
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(fresh));
    let (status, answer) = call_stateless(&client, &gw.url(), "get_access_info", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    // A renewal of the renewal keeps the chain's root.
    let (status, again) = renew(&gw, &cert, fresh).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        token_claims(again["token"].as_str().unwrap())["rootJti"],
        old_claims["jti"]
    );
    // One audit line each, naming the old and the issued jti.
    let audit = gw.audit_lines();
    let renewals: Vec<&String> = audit
        .iter()
        .filter(|l| l.contains("tool=token_renewal"))
        .collect();
    assert_eq!(renewals.len(), 2, "{audit:?}");
    let first_jti = old_claims["jti"].as_str().unwrap();
    assert!(
        renewals[0].contains(&format!("jti={first_jti} "))
            && renewals[0].contains(&format!(
                "issued_jti={}",
                new_claims["jti"].as_str().unwrap()
            )),
        "{}",
        renewals[0]
    );
    // The recorder is the test process's own, shared by every gateway in it
    // (others renew too): at least these two were counted.
    let renewed = renewals_counted(&gw, "renewed").await - renewed_before;
    assert!(renewed >= 2.0, "{renewed}");
    // The token text never reaches a log line.
    for line in gw.security_lines().iter().chain(&audit) {
        assert!(!line.contains(fresh) && !line.contains(&old), "{line}");
    }
}

#[tokio::test]
async fn renewals_are_refused_for_every_token_that_may_not_have_one() {
    let gw = renewing_gateway().await;
    let refused_before = renewals_counted(&gw, "refused").await;
    let cert = gw.client_cert(CLIENT);
    let now = Utc::now().timestamp();
    let refusals = [
        // Not renewable: no limit, or not bound to the certificate.
        (
            renewable_claims(Some(&cert.cert_pem), None),
            403,
            "REFUSE stage=jwt reason=token_not_renewable",
        ),
        (
            renewable_claims(None, Some(3600)),
            403,
            "REFUSE stage=jwt reason=token_not_renewable",
        ),
        // The limit has passed (the token itself is still good).
        (
            {
                let mut c = renewable_claims(Some(&cert.cert_pem), Some(3600));
                c["renewableUntil"] = json!(now - 1);
                c
            },
            403,
            "REFUSE stage=jwt reason=renewal_limit_reached",
        ),
        // Expired: the pipeline refuses it before any renewal question.
        (
            {
                let mut c = renewable_claims(Some(&cert.cert_pem), Some(3600));
                c["iat"] = json!(now - 700);
                c["nbf"] = json!(now - 700);
                c["exp"] = json!(now - 100);
                c
            },
            401,
            "DENY stage=jwt reason=token_expired",
        ),
    ];
    for (claims, status, line) in refusals {
        let token = signed(&gw, &claims);
        let (got, body) = renew(&gw, &cert, &token).await;
        assert_eq!(got, status, "{line}: {body}");
        gw.expect_security_line_starting(line).await;
    }
    // Another certificate of the same identity: the binding refuses it.
    let other = gw.client_cert(CLIENT);
    let token = signed(&gw, &renewable_claims(Some(&cert.cert_pem), Some(3600)));
    let (got, _) = renew(&gw, &other, &token).await;
    assert_eq!(got, 401);
    gw.expect_security_line_starting("DENY stage=jwt reason=cert_binding_mismatch")
        .await;
    // An edited claim (a wider calendar list under the old signature).
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut wider = token_claims(&token);
    wider["calendars"] = json!(["*", "ceo"]);
    parts[1] = URL_SAFE_NO_PAD.encode(wider.to_string());
    let (got, _) = renew(&gw, &cert, &parts.join(".")).await;
    assert_eq!(got, 401);
    gw.expect_security_line_starting("DENY stage=jwt reason=bad_signature")
        .await;
    let refused = renewals_counted(&gw, "refused").await - refused_before;
    assert!(
        refused >= 3.0,
        "the three renewal refusals are counted: {refused}"
    );
}

#[tokio::test]
async fn revoking_the_first_token_revokes_every_renewal_of_it() {
    let gw = renewing_gateway().await;
    let cert = gw.client_cert(CLIENT);
    let first_claims = renewable_claims(Some(&cert.cert_pem), Some(3600));
    let first = signed(&gw, &first_claims);
    let (_, body) = renew(&gw, &cert, &first).await;
    let renewed = body["token"].as_str().unwrap().to_owned();
    let root = first_claims["jti"].as_str().unwrap();
    std::fs::write(gw.dir_path().join("revoked.txt"), format!("{root}\n")).unwrap();
    // The revocation list is watched: within a few seconds both are refused.
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&renewed));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _) = call_stateless(&client, &gw.url(), "get_access_info", json!({})).await;
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the renewal outlived its root's revocation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    gw.expect_security_line_starting(&format!(
        "DENY stage=jwt reason=token_revoked ip=127.0.0.1 client={CLIENT} detail=\"{} (renewed from {root})\"",
        token_claims(&renewed)["jti"].as_str().unwrap()
    ))
    .await;
    let (status, _) = renew(&gw, &cert, &renewed).await;
    assert_eq!(status, 401);
    let (status, _) = renew(&gw, &cert, &first).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn without_renewal_the_path_does_not_exist() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert(CLIENT);
    let token = signed(&gw, &renewable_claims(Some(&cert.cert_pem), Some(3600)));
    let (status, _) = renew(&gw, &cert, &token).await;
    assert_eq!(status, 404);
    gw.expect_security_line_starting("REFUSE stage=http reason=path_not_found")
        .await;
}
