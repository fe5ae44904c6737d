//! Command-line input an operator can get wrong is refused by name, never a
//! panic or a silent surprise (issue 21, items 11 and 26).

use std::process::Command;

fn gateway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn certificate_validity_out_of_range_is_refused_by_name() {
    let dir = tempfile::TempDir::new().unwrap();
    let ca = dir.path().display().to_string();
    let out = gateway(&["certs", "init-ca", "--dir", &ca]);
    assert!(out.status.success(), "{out:?}");
    let stem = dir.path().join("agent").display().to_string();
    for days in ["3000000", "0", "18446744073709551615", "3651"] {
        let out = gateway(&[
            "certs",
            "issue-client",
            "--dir",
            &ca,
            "--id",
            "agent",
            "--days",
            days,
            "--out",
            &stem,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--days {days}: {stderr}");
        assert!(stderr.contains("--days"), "--days {days}: {stderr}");
        assert!(stderr.contains("1..=3650"), "--days {days}: {stderr}");
        assert!(!stderr.contains("panicked"), "--days {days}: {stderr}");
        assert!(!dir.path().join("agent.pem").exists());
    }
    let out = gateway(&[
        "certs",
        "issue-client",
        "--dir",
        &ca,
        "--id",
        "agent",
        "--days",
        "3650",
        "--out",
        &stem,
    ]);
    assert!(out.status.success(), "{out:?}");
    let pem = std::fs::read(dir.path().join("agent.pem")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let days = (cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp()) / 86_400;
    assert!((3648..=3650).contains(&days), "{days} days");
}

/// A CRL the CA writes is fresh well past the gateway's 7-day warning.
#[test]
fn a_fresh_crl_raises_no_expiry_warning() {
    let dir = tempfile::TempDir::new().unwrap();
    let ca = dir.path().display().to_string();
    assert!(
        gateway(&["certs", "init-ca", "--dir", &ca])
            .status
            .success()
    );
    assert!(gateway(&["certs", "crl", "--dir", &ca]).status.success());
    let pem = std::fs::read(dir.path().join("crl.pem")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    let next = crl.next_update().unwrap().timestamp();
    let ahead = next - chrono::Utc::now().timestamp();
    assert!(
        ahead > mcp_gateway::crl::WARN_AHEAD.as_secs() as i64 + 20 * 86_400,
        "{ahead} s ahead"
    );
}
