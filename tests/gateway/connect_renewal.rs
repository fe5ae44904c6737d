//! Tokens that renew themselves through `connect`: with 20-second tokens
//! renewable for about a minute, a client keeps working past several
//! expiries — `connect` renews each at two thirds of its life and writes it
//! back to the token file (0600) — and stops at the limit with the error
//! that says so. (The gateway's side of renewal: `renewal.rs`.)

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mcp_gateway::cli::token::TokenRequest;

use crate::bridge::{ClientFiles, run_client, stdio_flow, token_claims, venv_python};
use crate::common::TestGateway;

const CLIENT: &str = "agent-r";

#[tokio::test]
async fn a_client_keeps_working_past_several_expiries_and_stops_at_the_limit() {
    let gw = TestGateway::start_custom(|_, _, s| {
        // A second of leeway: the limit shows when it is reached, not 30 s later.
        s.jwt = "leeway = \"1s\"\n[jwt.renewal]\nenabled = true".into();
    })
    .await;
    let mut first_jti = String::new();
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |cert| {
        let token = gw.pki.token_with(&TokenRequest {
            bind_cert_pem: Some(cert.cert_pem.clone()),
            renewable_for: Some(Duration::from_secs(65)),
            ..TokenRequest::full_access(CLIENT, &["127.0.0.0/8"], Duration::from_secs(20))
        });
        first_jti = token_claims(&token)["jti"].as_str().unwrap().to_owned();
        token
    });
    let log = files.stderr_log();
    let args = stdio_flow(&["workload", "100"], &log, files.args(&gw.url(), &[]));
    let started = std::time::Instant::now();
    let (ok, out, err) = run_client(&venv_python(".venv"), &args, Duration::from_secs(150)).await;
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(ok, "{out}\n{err}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // Served past three expiries of 20-second tokens, by four tokens or more.
    assert!(started.elapsed() > Duration::from_secs(60), "{report}");
    assert!(
        report["tokens"].as_array().unwrap().len() >= 4,
        "{report}\n{stderr}"
    );
    // Then the one error, saying the renewal limit is reached.
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    let message = errors[0].as_str().unwrap();
    assert!(message.contains("renewal limit"), "{message}");
    assert!(stderr.matches("token renewed").count() >= 3, "{stderr}");
    assert!(stderr.contains("renewal_limit_reached"), "{stderr}");
    // Told on stderr before it lapsed, and when it had.
    assert!(stderr.contains("the token expires"), "{stderr}");
    // The token file holds the last renewal: private, of the same chain.
    let mode = std::fs::metadata(&files.token)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let last = token_claims(&std::fs::read_to_string(&files.token).unwrap());
    assert_eq!(last["rootJti"], first_jti.as_str());
    // Each renewal is one audit line.
    let renewals = gw
        .audit_lines()
        .iter()
        .filter(|l| l.contains("tool=token_renewal"))
        .count();
    assert_eq!(
        renewals,
        stderr.matches("token renewed").count(),
        "{stderr}"
    );
}
