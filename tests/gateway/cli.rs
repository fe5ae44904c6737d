//! The commands as an operator runs them: check-config and quickstart.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::{config_text, write_pki};

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
}

#[test]
fn check_config_names_each_bad_key_and_exits_2() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("gateway.toml");
    let text = config_text("127.0.0.1:0", "crls = [\"missing-crl.pem\"]")
        .replace("Europe/Berlin", "Europe/Nowhere");
    std::fs::write(&config, text).unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let root = dir.path().display();
    for line in [
        format!("tls.certificate: file not found: {root}/server.pem"),
        format!("tls.client_ca: file not found: {root}/ca.pem"),
        format!("tls.crls[0]: file not found: {root}/missing-crl.pem"),
        "backend.embedded.calendars[0].time_zone: unknown time zone `Europe/Nowhere`".to_owned(),
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "missing line {line:?} in:\n{stderr}"
        );
    }
    // `serve` refuses to start on the same problems.
    let out = gateway()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("tls.client_ca: file not found")
    );
}

#[test]
fn check_config_accepts_a_valid_file_and_rejects_bad_pem() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, config_text("127.0.0.1:0", "")).unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("tls.client_ca: no certificate in"),
        "{stderr}"
    );
}

#[test]
fn quickstart_creates_private_keys_and_reuses_them() {
    let dir = tempfile::TempDir::new().unwrap();
    let qs = dir.path().join("dev");
    let run = || {
        gateway()
            .args([
                "quickstart",
                "--no-serve",
                "--listen",
                "127.0.0.1:18999",
                "--dir",
            ])
            .arg(&qs)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("curl --cacert"), "{stdout}");
    assert!(stdout.contains("https://127.0.0.1:18999/mcp"), "{stdout}");
    for key in ["ca.key", "server.key", "client.key"] {
        let mode = std::fs::metadata(qs.join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let ca_before = std::fs::read(qs.join("ca.pem")).unwrap();
    let client_before = std::fs::read(qs.join("client.pem")).unwrap();
    std::fs::remove_file(qs.join("server.pem")).unwrap();
    std::fs::remove_file(qs.join("server.key")).unwrap();
    assert!(run().status.success());
    assert_eq!(
        std::fs::read(qs.join("ca.pem")).unwrap(),
        ca_before,
        "the CA is reused"
    );
    assert_eq!(
        std::fs::read(qs.join("client.pem")).unwrap(),
        client_before,
        "the client certificate is reused"
    );
    assert!(
        qs.join("server.pem").exists(),
        "a missing server certificate is re-issued from the same CA"
    );
    let check = gateway()
        .args(["check-config", "--config"])
        .arg(qs.join("gateway.toml"))
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
