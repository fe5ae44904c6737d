//! The `[backend.google]` table as an operator meets it through
//! `check-config`: encrypted credentials with the right, a wrong or no key
//! (from the environment first, then the key file), warnings for plaintext
//! secrets others can read, and secrets never echoed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use mcp_gateway::secrets::{KEY_ENV, SecretKey, generate_key};

use crate::common::{Setup, render, write_pki};
use crate::google_setup::service_account_key;

const TOKEN_URI: &str = "http://127.0.0.1:9/token";

/// A Google config in `dir` whose `[backend.google]` gets `keys`.
fn write_config(dir: &Path, keys: &str) -> std::path::PathBuf {
    write_pki(dir);
    let backend = format!(
        r#"
[backend]
kind = "google"

[backend.google]
api_base_url = "http://127.0.0.1:9/calendar/v3/"
token_uri = "{TOKEN_URI}"
default_account = "alice"
{keys}

[backend.google.accounts.alice]
subject = "alice@example.test"
"#
    );
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        render(&Setup {
            backend,
            ..Setup::default()
        }),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn check_config(config: &Path, key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"));
    command.args(["check-config", "--config"]).arg(config);
    command.env_remove(KEY_ENV);
    if let Some(key) = key {
        command.env(KEY_ENV, key);
    }
    command.output().unwrap()
}

/// What check-config printed, each problem without its `<file>:<line>: ` prefix.
fn stderr(out: &Output) -> String {
    crate::common::problem_lines(&String::from_utf8_lossy(&out.stderr)).join("\n")
}

#[test]
fn an_encrypted_key_needs_the_right_key_from_the_environment_or_the_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let sa = service_account_key(TOKEN_URI);
    let right = generate_key();
    let sealed = SecretKey::from_base64(&right, "t")
        .unwrap()
        .encrypt(sa.json.as_bytes());
    let config = write_config(dir.path(), &format!("service_account_key = \"{sealed}\""));

    let out = check_config(&config, Some(&right));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = check_config(&config, Some(&generate_key()));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "backend.google.service_account_key: cannot decrypt (wrong key, or the value was altered)"
    );

    // `serve` stops at start on the same line, without a crash.
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env(KEY_ENV, generate_key())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("backend.google.service_account_key: cannot decrypt"),
        "{}",
        stderr(&out)
    );

    let out = check_config(&config, None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "backend.google.service_account_key: encrypted, but no key is available: set {KEY_ENV} or backend.google.encryption_key_file"
        )
    );

    let out = check_config(&config, Some("c2hvcnQ="));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "backend.google.encryption_key_file: {KEY_ENV}: the encryption key must be base64 of exactly 32 bytes"
        )
    );

    // The key file serves when the variable is unset; the variable wins when set.
    std::fs::write(dir.path().join("gateway.key"), &right).unwrap();
    let with_file = write_config(
        dir.path(),
        &format!("service_account_key = \"{sealed}\"\nencryption_key_file = \"gateway.key\""),
    );
    let out = check_config(&with_file, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = check_config(&with_file, Some(&generate_key()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("PRIVATE KEY"));
}

#[test]
fn plaintext_secrets_readable_by_others_get_a_warning_and_are_never_echoed() {
    let dir = tempfile::TempDir::new().unwrap();
    let sa = dir.path().join("sa.json");
    std::fs::write(&sa, service_account_key(TOKEN_URI).json).unwrap();
    std::fs::set_permissions(&sa, std::fs::Permissions::from_mode(0o600)).unwrap();
    let keys = "service_account_key_file = \"sa.json\"\noauth_client_id = \"client\"\noauth_client_secret = \"plain-client-secret\"\n\n[backend.google.accounts.bob]\nrefresh_token = \"1//plain-refresh-token\"";
    let config = write_config(dir.path(), keys);
    let out = check_config(&config, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "0600: no warning");

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = check_config(&config, None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "warning: {}: holds a plaintext secret and is readable by group or others; chmod 600 it or store the secret encrypted (mcp-gateway secrets encrypt)",
            config.display()
        )
    );

    std::fs::set_permissions(&sa, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = check_config(&config, None);
    assert_eq!(out.status.code(), Some(0));
    let expected = format!(
        "warning: backend.google.service_account_key_file: {} holds a plaintext key and is readable by group or others; chmod 600 it or store it encrypted (mcp-gateway secrets encrypt)",
        sa.display()
    );
    assert!(
        stderr(&out).lines().any(|l| l == expected),
        "{}",
        stderr(&out)
    );

    // A broken account names its setting, never the secret it holds.
    let broken = write_config(
        dir.path(),
        "[backend.google.accounts.bob]\nrefresh_token = \"1//plain-refresh-token\"\nsubject = \"bob@example.test\"",
    );
    let out = check_config(&broken, None);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("backend.google.accounts.bob: set exactly one of"),
        "{text}"
    );
    assert!(!text.contains("plain-refresh-token"), "{text}");
}

#[test]
fn endpoints_must_be_https_unless_loopback_and_mappings_must_name_accounts() {
    let dir = tempfile::TempDir::new().unwrap();
    let sa = service_account_key("http://oauth.example/token");
    std::fs::write(dir.path().join("sa.json"), &sa.json).unwrap();
    let config = write_config(
        dir.path(),
        "service_account_key_file = \"sa.json\"\n\n[backend.google.clients]\n\"agent-a\" = \"nobody\"",
    );
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "http://127.0.0.1:9/calendar/v3/",
        "http://calendar.example/v3/",
    );
    std::fs::write(&config, text).unwrap();
    let out = check_config(&config, None);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let mut broken: serde_json::Value = serde_json::from_str(&sa.json).unwrap();
    broken["private_key"] =
        serde_json::json!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let other = dir.path().join("other.toml");
    std::fs::write(dir.path().join("broken.json"), broken.to_string()).unwrap();
    std::fs::write(
        &other,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("\"sa.json\"", "\"broken.json\""),
    )
    .unwrap();
    let out = check_config(&other, None);
    assert!(
        stderr(&out).lines().any(|l| l
            == "backend.google.service_account_key_file.private_key: not a usable PEM private key"),
        "{}",
        stderr(&out)
    );
    for line in [
        "backend.google.api_base_url: `http://calendar.example/v3/` must use https (plain http only to a loopback address)",
        "backend.google.service_account_key_file.token_uri: `http://oauth.example/token` must use https (plain http only to a loopback address)",
        "backend.google.clients.\"agent-a\": no account named `nobody` in backend.google.accounts",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}
