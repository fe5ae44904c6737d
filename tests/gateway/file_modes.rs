//! The files the gateway reads, and the service user (issue 21, item 23):
//! `serve` needs only what it verifies with (the signing key, readable by
//! its owner alone, is none of that), `check-config` as the service user (the
//! systemd unit's ExecStartPre) says so without failing, and `keys rotate`
//! writes the public key set readable by everyone, the key by its owner.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Setup, render, write_pki};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_service_user_serves_without_the_signing_key() {
    let root = tempfile::TempDir::new().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("etc");
    std::fs::create_dir(&dir).unwrap();
    let pki = write_pki(&dir);
    let port = crate::common::free_port();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        render(&Setup {
            address: format!("127.0.0.1:{port}"),
            ..Setup::default()
        }),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("signing_key = \"signing.key\"")
    );
    // The folder belongs to the service user (it writes logs and the store
    // there); the signing key stays root's, readable by root alone.
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::set_permissions(
            entry.unwrap().path(),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    std::fs::set_permissions(
        dir.join("signing.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let owned = Command::new("chown")
        .args(["65534:65534"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(owned.success());
    let binary = crate::nobody::reachable_binary(root.path());
    let as_nobody = |args: &[&str]| {
        let mut command = crate::nobody::as_nobody(&binary);
        command.args(args).arg("--config").arg(&config);
        command
    };

    let checked = as_nobody(&["check-config"]).output().unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains("jwt.signing_key") && said.contains("not readable by this user"),
        "{said}"
    );

    let mut serving = crate::replica_harness::Running(
        as_nobody(&["serve"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.path().join("serve.stderr")).unwrap())
            .spawn()
            .unwrap(),
    );
    let up = crate::replica_harness::within(Duration::from_secs(20), async || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let stderr = std::fs::read_to_string(root.path().join("serve.stderr")).unwrap_or_default();
    assert!(
        up.is_some(),
        "serve did not start as the service user:\n{stderr}"
    );
    assert!(serving.0.try_wait().unwrap().is_none(), "{stderr}");
    drop(serving);

    // `token issue` signs, so it needs the key: refused by name as the service user.
    let issued = as_nobody(&["token", "issue"])
        .args([
            "--client",
            "agent-a",
            "--permissions",
            "readCalendars",
            "--calendars",
            "primary",
            "--allowed-ips",
            "127.0.0.1/32",
        ])
        .output()
        .unwrap();
    assert!(!issued.status.success());
    assert!(
        String::from_utf8_lossy(&issued.stderr).contains("jwt.signing_key"),
        "{issued:?}"
    );

    // `keys rotate` (as root): the public set stays readable by everyone.
    let rotated = Command::new(&binary)
        .args(["keys", "rotate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    assert_eq!(mode(&dir.join("jwks.json")), 0o644);
    assert_eq!(mode(&dir.join("signing.key")), 0o600);
    assert_eq!(mode(&dir.join("jwks.retired.json")), 0o644);
    let _ = pki;
}
