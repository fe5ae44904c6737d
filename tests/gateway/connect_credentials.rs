//! The credentials `connect` reads, as users hold them: a key or token file
//! that others may read is refused (naming the file and its mode, as ssh
//! does); an encrypted PKCS#8 key (passphrase from a file or the
//! environment) and PKCS#12 bundles made by `openssl` (the modern default,
//! and the 3DES/SHA-1 one older keychains export) serve; a wrong passphrase
//! is named without being shown.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::bridge::{BINARY, ClientFiles, Driven, write_with_mode};
use crate::common::TestGateway;

const CLIENT: &str = "agent-k";
const PASSPHRASE: &str = "correct horse battery staple";

/// Runs `openssl args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `connect` with `args` run until it exits at once (stdin closed): its
/// exit code and stderr.
fn refused(args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(BINARY)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The identity `get_access_info` reports through `connect` with `args`.
async fn identity_through(args: &[String], log: &Path) -> String {
    let mut bridge = Driven::launch(args, log);
    bridge.initialize().await;
    let answer = bridge.call(1, "get_access_info", json!({})).await;
    bridge.finish().await;
    answer["result"]["structuredContent"]["identity"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// `args` with the value after `flag` replaced (or `flag value` added).
fn with(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = value.to_owned(),
        None => args.extend([flag.to_owned(), value.to_owned()]),
    }
    args
}

/// `args` without `flag` and its value.
fn without(mut args: Vec<String>, flag: &str) -> Vec<String> {
    if let Some(i) = args.iter().position(|a| a == flag) {
        args.drain(i..i + 2);
    }
    args
}

#[tokio::test]
async fn secret_files_others_may_read_are_refused_naming_file_and_mode() {
    let gw = TestGateway::start().await;
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| gw.pki.token(CLIENT));
    let args = files.args(&gw.url(), &[]);
    write_with_mode(
        &files.key,
        &std::fs::read_to_string(&files.key).unwrap(),
        0o644,
    );
    let (code, stderr) = refused(&args);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(&format!("key file {} has mode 0644", files.key.display()))
            && stderr.contains("chmod 600"),
        "{stderr}"
    );
    write_with_mode(
        &files.key,
        &std::fs::read_to_string(&files.key).unwrap(),
        0o600,
    );
    write_with_mode(
        &files.token,
        &std::fs::read_to_string(&files.token).unwrap(),
        0o640,
    );
    let (code, stderr) = refused(&args);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("token file") && stderr.contains("mode 0640"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_encrypted_key_and_pkcs12_bundles_serve() {
    let gw = TestGateway::start().await;
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| gw.pki.token(CLIENT));
    let dir = files.dir.path();
    let log = files.stderr_log();
    write_with_mode(&dir.join("pass.txt"), &format!("{PASSPHRASE}\n"), 0o600);
    // An encrypted PKCS#8 key (AES-256-CBC, PBKDF2), passphrase from a file.
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.key",
            "-out",
            "encrypted.key",
            "-passout",
            "file:pass.txt",
        ],
    );
    write_with_mode(
        &dir.join("encrypted.key"),
        &std::fs::read_to_string(dir.join("encrypted.key")).unwrap(),
        0o600,
    );
    let encrypted = with(
        files.args(&gw.url(), &[]),
        "--key",
        &dir.join("encrypted.key").display().to_string(),
    );
    let from_file = with(
        encrypted.clone(),
        "--passphrase-file",
        &dir.join("pass.txt").display().to_string(),
    );
    assert_eq!(identity_through(&from_file, &log).await, CLIENT);
    // Without the passphrase, or with a wrong one: refused, the reason named.
    let (code, stderr) = refused(&encrypted);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("encrypted.key is encrypted") && stderr.contains("--passphrase-file"),
        "{stderr}"
    );
    write_with_mode(&dir.join("wrong.txt"), "not it\n", 0o600);
    let (code, stderr) = refused(&with(
        encrypted,
        "--passphrase-file",
        &dir.join("wrong.txt").display().to_string(),
    ));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("cannot decrypt") && !stderr.contains("not it"),
        "{stderr}"
    );
    // PKCS#12: openssl's default (AES-256, PBKDF2, SHA-256 MAC) and the
    // 3DES/SHA-1 bundle older keychains export; passphrase from the environment.
    let bundles: [(&str, &[&str]); 2] = [
        ("modern.p12", &[]),
        (
            "legacy.p12",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
    ];
    for (name, extra) in bundles {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            "client.pem",
            "-inkey",
            "client.key",
            "-out",
            name,
            "-passout",
            "file:pass.txt",
        ];
        args.extend_from_slice(extra);
        openssl(dir, &args);
        let bundle = dir.join(name);
        std::fs::set_permissions(&bundle, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let mut bridge_args = without(files.args(&gw.url(), &[]), "--key");
        bridge_args = with(bridge_args, "--cert", &bundle.display().to_string());
        bridge_args = with(bridge_args, "--passphrase-env", "CONNECT_TEST_PASSPHRASE");
        // Asynchronously: the gateway serves on this test's own runtime.
        let out = tokio::process::Command::new(BINARY)
            .args(&bridge_args)
            .arg("--check")
            .env("CONNECT_TEST_PASSPHRASE", PASSPHRASE)
            .output()
            .await
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            report.contains(&format!("\"identity\":\"{CLIENT}\"")),
            "{name}: {report}"
        );
        assert!(!report.contains(PASSPHRASE));
    }
}
