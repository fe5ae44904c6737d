//! The commands as an operator runs them: check-config and quickstart.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::{assert_succeeded, config_text, write_pki};

/// Runs `check-config` on `config`.
pub(crate) fn check_config(config: &std::path::Path) -> std::process::Output {
    gateway()
        .args(["check-config", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

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
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let root = dir.path().display();
    for line in [
        format!("tls.certificate: file not found: {root}/server.pem"),
        format!("tls.client_ca: file not found: {root}/ca.pem"),
        format!("tls.crls[0]: file not found: {root}/missing-crl.pem"),
        "backend.embedded.calendars[0].time_zone: unknown time zone `Europe/Nowhere`".to_owned(),
    ] {
        // Each problem is placed: `<file>:<line>: <key>: <problem>`.
        let placed = stderr.lines().any(|l| {
            l.strip_prefix(&format!("{}:", config.display()))
                .and_then(|rest| rest.split_once(": "))
                .is_some_and(|(number, rest)| number.parse::<u32>().is_ok() && rest == line)
        });
        assert!(placed, "missing line {line:?} in:\n{stderr}");
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
fn check_config_names_missing_folders_for_files_it_would_create() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = dir.path().join("gateway.toml");
    let text = config_text("127.0.0.1:0", "")
        .replace(
            "security_log = \"security.log\"",
            "security_log = \"no/such/dir/security.log\"",
        )
        .replace("path = \"calendar.db\"", "path = \"gone/calendar.db\"");
    std::fs::write(&config, text).unwrap();
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let root = dir.path().display();
    let problems = crate::common::problem_lines(&stderr);
    assert!(
        problems.contains(&format!(
            "log.security_log: folder not found: {root}/no/such/dir"
        )),
        "{stderr}"
    );
    assert!(
        problems.contains(&format!(
            "backend.embedded.path: folder not found: {root}/gone"
        )),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_a_valid_file_and_rejects_bad_pem() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, config_text("127.0.0.1:0", "")).unwrap();
    let out = check_config(&config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        crate::common::problem_lines(&stderr)[0].starts_with("tls.client_ca: no certificate in"),
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
    assert_succeeded(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("curl --cacert"), "{stdout}");
    assert!(
        stdout.contains("Authorization: Bearer $(cat "),
        "the printed curl line sends the token: {stdout}"
    );
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
    let check = check_config(&qs.join("gateway.toml"));
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn token_issue_prints_a_token_the_gateway_accepts_and_refuses_bad_requests() {
    use base64::Engine;
    let dir = tempfile::TempDir::new().unwrap();
    let qs = dir.path().join("dev");
    let out = gateway()
        .args(["quickstart", "--no-serve", "--dir"])
        .arg(&qs)
        .output()
        .unwrap();
    assert!(out.status.success());
    for secret in ["signing.key", "client.token"] {
        let mode = std::fs::metadata(qs.join(secret))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{secret}");
    }
    let config = qs.join("gateway.toml");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("\nrequire_cert_binding = true\n"),
        "the quickstart must require certificate-bound tokens"
    );
    let issue = |extra: &[&str]| {
        let mut command = gateway();
        command.args(["token", "issue", "--config"]).arg(&config);
        command.args([
            "--client",
            "demo-client",
            "--calendars",
            "primary",
            "--allowed-ips",
            "127.0.0.1/32",
        ]);
        command.args(extra).output().unwrap()
    };
    let out = issue(&[
        "--permissions",
        "readCalendars,createEvents",
        "--ttl",
        "2h",
        "--bind-cert",
        qs.join("client.pem").to_str().unwrap(),
    ]);
    assert_succeeded(&out);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["clientId"], "demo-client");
    assert_eq!(
        claims["permissions"],
        serde_json::json!(["readCalendars", "createEvents"])
    );
    assert_eq!(claims["calendars"], serde_json::json!(["primary"]));
    assert_eq!(claims["allowedIPs"], serde_json::json!(["127.0.0.1/32"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );

    // The gateway's own verifier accepts it for the bound certificate.
    let loaded = mcp_gateway::config::Config::load(&config).unwrap();
    let verifier =
        mcp_gateway::policy::token::jwt::TokenVerifier::from_config(&loaded.jwt).unwrap();
    let pem = std::fs::read(qs.join("client.pem")).unwrap();
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(&pem).unwrap();
    let identity =
        mcp_gateway::identity::identify(&der, mcp_gateway::config::IdentitySource::SubjectCn)
            .unwrap();
    assert_eq!(claims["cnf"]["x5t#S256"], identity.x5t_s256());
    let grant = verifier
        .verify(
            &token,
            &identity,
            mcp_gateway::policy::address::ClientIp::canonical("127.0.0.1".parse().unwrap()),
            chrono::Utc::now(),
        )
        .unwrap();
    assert!(grant.permits(mcp_gateway::policy::grant::Permission::CreateEvents));
    assert!(!grant.permits(mcp_gateway::policy::grant::Permission::DeleteEvents));

    let out = issue(&["--permissions", "readCalendars,rootAccess"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--permissions: unknown `rootAccess`"));
    let out = issue(&["--permissions", "readCalendars", "--ttl", "48h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than jwt.max_lifetime"));
    // The quickstart requires bound tokens: an unbound one is not minted.
    let out = issue(&["--permissions", "readCalendars"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--bind-cert: required, because jwt.require_cert_binding = true")
    );
    // A certificate of another identity cannot be bound to this client's token.
    let ca = mcp_gateway::cli::pki::Authority::load(
        &std::fs::read_to_string(qs.join("ca.pem")).unwrap(),
        &std::fs::read_to_string(qs.join("ca.key")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        qs.join("other.pem"),
        ca.issue_client("other-client").unwrap().cert_pem,
    )
    .unwrap();
    let out = issue(&[
        "--permissions",
        "readCalendars",
        "--bind-cert",
        qs.join("other.pem").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "--bind-cert: the certificate's identity is `other-client`, not --client `demo-client`"
        ),
        "{stderr}"
    );
    let out = issue(&[
        "--permissions",
        "readCalendars",
        "--allowed-ips",
        "127.0.0.9/8",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has host bits set: write 127.0.0.0/8"));
    // A JWKS that lacks the signing key's kid: check-config and token issue both refuse.
    let other = mcp_gateway::policy::token::keys::load_signing_key(
        &mcp_gateway::policy::token::keys::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(
        qs.join("jwks.json"),
        mcp_gateway::policy::token::keys::jwks(&[&other]).to_string(),
    )
    .unwrap();
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("jwt.signing_key: its kid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = issue(&["--permissions", "readCalendars"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in jwt.jwks"));
}

#[test]
fn secrets_commands_encrypt_with_a_generated_key() {
    use std::io::Write;
    let run_encrypt = |env_key: Option<&str>, key_file: Option<&std::path::Path>, input: &str| {
        let mut command = gateway();
        command
            .args(["secrets", "encrypt"])
            .env_remove("MCP_GATEWAY_ENCRYPTION_KEY");
        if let Some(key) = env_key {
            command.env("MCP_GATEWAY_ENCRYPTION_KEY", key);
        }
        if let Some(file) = key_file {
            command.arg("--key-file").arg(file);
        }
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A refusal (no key) may exit before reading its input: a broken pipe
        // here is that refusal, which the exit status below tells.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    };
    let out = gateway()
        .args(["secrets", "generate-key"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key_text = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let key = mcp_gateway::secrets::SecretKey::from_base64(&key_text, "test").unwrap();

    let out = run_encrypt(Some(&key_text), None, "refresh-token\n");
    assert_succeeded(&out);
    let value = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(value.starts_with("ENC:") && !value.contains("refresh"));
    assert_eq!(key.decrypt(&value, "x").unwrap(), b"refresh-token");

    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, &key_text).unwrap();
    let out = run_encrypt(None, Some(&key_file), "from-file");
    assert!(out.status.success());
    let value = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(key.decrypt(&value, "x").unwrap(), b"from-file");

    let out = run_encrypt(None, None, "no key");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "secrets encrypt: no key: set MCP_GATEWAY_ENCRYPTION_KEY or pass --key-file"
    );
    let out = run_encrypt(Some("too-short"), None, "x");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "MCP_GATEWAY_ENCRYPTION_KEY: the encryption key must be base64 of exactly 32 bytes"
    ));
}

#[test]
fn keys_commands_make_a_production_key_and_its_jwks() {
    let dir = tempfile::TempDir::new().unwrap();
    let qs = dir.path().join("dev");
    assert!(
        gateway()
            .args(["quickstart", "--no-serve", "--dir"])
            .arg(&qs)
            .output()
            .unwrap()
            .status
            .success()
    );
    // Rotation: a new key joins the JWKS, the config signs with it, both verify.
    let out = gateway()
        .args(["keys", "generate", "--algorithm", "ES256", "--out"])
        .arg(qs.join("next.key"))
        .output()
        .unwrap();
    assert_succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("new signing key, kid "));
    let again = gateway()
        .args(["keys", "generate", "--out"])
        .arg(qs.join("next.key"))
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing key was overwritten"
    );
    let out = gateway()
        .args(["keys", "jwks", "--key"])
        .arg(qs.join("next.key"))
        .arg("--add")
        .arg(qs.join("jwks.json"))
        .output()
        .unwrap();
    assert_succeeded(&out);
    let config = qs.join("gateway.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "signing_key = \"signing.key\"",
        "signing_key = \"next.key\"",
    );
    std::fs::write(&config, text).unwrap();
    let check = check_config(&config);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(qs.join("jwks.json")).unwrap()).unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);

    let version = gateway().arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!(
            "mcp-gateway {} (commit ",
            env!("CARGO_PKG_VERSION")
        )) && version.contains(", built "),
        "{version}"
    );
}

#[test]
fn every_config_problem_is_reported_at_once_with_its_key_and_line() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = dir.path().join("gateway.toml");
    let text = config_text("127.0.0.1:0", "")
        .replace(
            "audit_log = \"audit.log\"",
            "audit_log = \"audit.log\"\naudit-deny = true",
        )
        .replace(
            "max_request_body_bytes = 65536",
            "max_request_body_bytes = \"big\"",
        )
        .replace("audience = ", "max_lifetime = \"0s\"\naudience = ");
    std::fs::write(&config, &text).unwrap();
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let file = config.display();
    for expected in [
        format!(
            "{file}:{}: listen.max_request_body_bytes: invalid type: string \"big\", expected usize",
            line_of("max_request_body_bytes")
        ),
        format!(
            "{file}:{}: log.audit-deny: unknown key; expected one of security_log, audit_log, allow_lines, audit_format",
            line_of("audit-deny")
        ),
        format!(
            "{file}:{}: jwt.max_lifetime: `0s` must be longer than zero",
            line_of("max_lifetime")
        ),
    ] {
        assert!(
            stderr.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    // A syntax error names its line too.
    std::fs::write(
        &config,
        "[listen]\naddress = \"127.0.0.1:1\"\nmax_connections = 5 6\n",
    )
    .unwrap();
    let stderr = String::from_utf8(check_config(&config).stderr).unwrap();
    assert!(stderr.starts_with(&format!("{file}:3: ")), "{stderr}");
}
