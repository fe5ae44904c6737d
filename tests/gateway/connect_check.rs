//! `mcp-gateway connect --check`: every step printed with what it found,
//! exit 0 when the machine can reach the gateway; at the first failing step
//! (nothing listening, a certificate the gateway refuses, a token bound to
//! another certificate) that step is named and the command exits 1.

use crate::bridge::{BINARY, ClientFiles};
use crate::common::{TestGateway, free_port};

const CLIENT: &str = "agent-x";

/// `connect --check` with `args`: exit code and report.
async fn check(args: &[String]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(BINARY)
        .args(args)
        .arg("--check")
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The report's line for `step`.
fn line<'a>(report: &'a str, step: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(step))
        .unwrap_or_else(|| panic!("no {step} line in\n{report}"))
}

#[tokio::test]
async fn every_step_is_printed_and_the_first_that_fails_is_named() {
    let gw = TestGateway::start().await;
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| gw.pki.token(CLIENT));
    let (code, report) = check(&files.args(&gw.url(), &[])).await;
    assert_eq!(code, Some(0), "{report}");
    for step in ["certificate", "token", "dns", "tcp", "tls", "call"] {
        assert!(line(&report, step).starts_with("ok"), "{report}");
    }
    assert!(
        line(&report, "token").contains(&format!("clientId {CLIENT}")),
        "{report}"
    );
    assert!(
        line(&report, "call").contains("\"permissions\""),
        "{report}"
    );

    // Nothing listens there.
    let closed = format!("https://127.0.0.1:{}/mcp", free_port());
    let (code, report) = check(&files.args(&closed, &[])).await;
    assert_eq!(code, Some(1), "{report}");
    assert!(line(&report, "tcp").starts_with("FAIL"), "{report}");
    assert!(
        !report.contains(" tls "),
        "no step after the failing one: {report}"
    );

    // A certificate from another CA: TLS ends, the gateway refuses it at the call.
    let stranger = mcp_gateway::cli::pki::Authority::generate("stranger").unwrap();
    let cert = stranger.issue_client(CLIENT).unwrap();
    let foreign = ClientFiles::new(&gw.pki.ca.issued.cert_pem, &cert, &gw.pki.token(CLIENT));
    let (code, report) = check(&foreign.args(&gw.url(), &[])).await;
    assert_eq!(code, Some(1), "{report}");
    assert!(
        line(&report, "call").contains("refused this machine's certificate"),
        "{report}"
    );

    // A token bound to another certificate than --cert.
    let other = gw.pki.ca.issue_client(CLIENT).unwrap();
    let bound_elsewhere = gw.pki.token_with(&mcp_gateway::cli::token::TokenRequest {
        bind_cert_pem: Some(other.cert_pem),
        ..mcp_gateway::cli::token::TokenRequest::full_access(
            CLIENT,
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    });
    files.rotate_token(&bound_elsewhere);
    let (code, report) = check(&files.args(&gw.url(), &[])).await;
    assert_eq!(code, Some(1), "{report}");
    assert!(
        line(&report, "token").contains("bound to another certificate"),
        "{report}"
    );
}
