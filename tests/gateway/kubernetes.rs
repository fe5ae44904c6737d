//! The gateway config shipped in `deploy/kubernetes/configmap.yaml` passes
//! the gateway's own validation, with no warning, once the files it names
//! exist where the manifests mount them: server certificate and key (the TLS
//! Secret), client CA, JWKS and revocation list (the ConfigMap), the Google
//! service account key (its Secret) and the shared ban folder (the claim).
//! `tests/deploy/check_kubernetes.py` checks the manifests themselves.

use std::os::unix::fs::PermissionsExt;

use mcp_gateway::config::Config;

use crate::common::write_pki;
use crate::google_setup::service_account_key;

/// The `gateway.toml` block of the ConfigMap, unindented.
fn shipped_config() -> String {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/configmap.yaml"
    ))
    .unwrap();
    let mut lines = manifest
        .lines()
        .skip_while(|l| l.trim() != "gateway.toml: |")
        .skip(1);
    let mut block = String::new();
    for line in lines.by_ref() {
        if !line.is_empty() && !line.starts_with("    ") {
            break;
        }
        block.push_str(line.strip_prefix("    ").unwrap_or(line));
        block.push('\n');
    }
    assert!(
        block.contains("[listen]"),
        "no gateway.toml in the ConfigMap"
    );
    block
}

#[test]
fn the_kubernetes_config_is_valid_where_the_manifests_mount_its_files() {
    let root = tempfile::TempDir::new().unwrap();
    let (etc, lib) = (root.path().join("etc"), root.path().join("lib"));
    for dir in ["tls", "config", "google"] {
        std::fs::create_dir_all(etc.join(dir)).unwrap();
    }
    std::fs::create_dir_all(lib.join("bans")).unwrap();
    // write_pki makes server.pem/.key, ca.pem and jwks.json; put each where
    // the manifests mount it.
    let staging = root.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    write_pki(&staging);
    for (from, to) in [
        ("server.pem", "tls/tls.crt"),
        ("server.key", "tls/tls.key"),
        ("ca.pem", "config/client-ca.pem"),
        ("jwks.json", "config/jwks.json"),
    ] {
        std::fs::copy(staging.join(from), etc.join(to)).unwrap();
    }
    std::fs::write(etc.join("config/revoked.txt"), "# revoked token ids\n").unwrap();
    let key = etc.join("google/service-account.json");
    std::fs::write(
        &key,
        service_account_key("https://oauth2.example/token").json,
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let text = shipped_config()
        .replace("/etc/mcp-gateway/", &format!("{}/", etc.display()))
        .replace("/var/lib/mcp-gateway/", &format!("{}/", lib.display()));
    let config = Config::parse(&text, &etc.join("config"))
        .unwrap_or_else(|problems| panic!("the shipped Kubernetes config is refused:\n{problems}"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(
        config
            .bans
            .as_ref()
            .and_then(|b| b.shared_dir.as_ref())
            .is_some()
    );
    assert!(!config.listen.drain_delay.is_zero());
}
