//! Rotating the key of a running deployment's Google secrets (issue 21, item
//! 28): a replica given the new key and the old one as its previous key reads
//! the config before and after `secrets rotate`; the rotated config reads
//! with the new key alone and no longer with the old; a replica started on
//! the rotated config reaches Google, and the one running throughout keeps
//! serving.

use std::process::Command;

use serde_json::json;

use mcp_gateway::secrets::{KEY_ENV, PREVIOUS_KEY_ENV, SecretKey, generate_key};

use crate::common::{TestGateway, call_stateless, http_client_with_token};
use crate::google_setup::google_tables;

fn check_config(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["check-config", "--config"])
        .arg(config)
        .env_remove(KEY_ENV)
        .env_remove(PREVIOUS_KEY_ENV)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `text` reading its key from `key` and, when given, the previous key from `previous`.
fn with_keys(text: &str, key: &str, previous: Option<&str>) -> String {
    let keys = match previous {
        Some(previous) => format!(
            "encryption_key_file = \"{key}\"\nprevious_encryption_key_file = \"{previous}\""
        ),
        None => format!("encryption_key_file = \"{key}\""),
    };
    text.replace("encryption_key_file = \"old.key\"", &keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_deployment_changes_its_secrets_key() {
    let (old, new) = (generate_key(), generate_key());
    let mut sealed_json = String::new();
    let gw = TestGateway::start_google(|dir, api, setup| {
        std::fs::write(dir.join("old.key"), &old).unwrap();
        std::fs::write(dir.join("new.key"), &new).unwrap();
        let sa = std::fs::read_to_string(dir.join("sa.json")).unwrap();
        let sealed = SecretKey::from_base64(&old, "old")
            .unwrap()
            .encrypt(sa.as_bytes());
        sealed_json = sealed.clone();
        setup.backend = google_tables(api, "encryption_key_file = \"old.key\"").replace(
            "service_account_key_file = \"sa.json\"",
            &format!("service_account_key = \"{sealed}\""),
        );
    })
    .await;
    let dir = gw.dir_path();
    std::fs::remove_file(dir.join("sa.json")).unwrap();
    let config = dir.join("gateway.toml");
    let text = crate::common::render(&crate::common::Setup {
        backend: google_tables(gw.google_api(), "encryption_key_file = \"old.key\"").replace(
            "service_account_key_file = \"sa.json\"",
            &format!("service_account_key = \"{sealed_json}\""),
        ),
        ..crate::common::Setup::default()
    });
    std::fs::write(&config, &text).unwrap();
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let (status, _) = call_stateless(&client, &gw.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200);

    // Step 1: replicas get the new key, the old one as previous: they read
    // the config as it is.
    let changeover = dir.join("changeover.toml");
    std::fs::write(&changeover, with_keys(&text, "new.key", Some("old.key"))).unwrap();
    let (ok, said) = check_config(&changeover);
    assert!(ok, "{said}");
    let (ok, said) = check_config(&dir.join("gateway.toml"));
    assert!(ok, "{said}");
    let new_only = dir.join("new-only.toml");
    std::fs::write(&new_only, with_keys(&text, "new.key", None)).unwrap();
    assert!(
        !check_config(&new_only).0,
        "the new key alone read values sealed with the old"
    );

    // Step 2: the config's values are re-sealed with the new key.
    let rotated = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["secrets", "rotate", "--config"])
        .arg(&config)
        .arg("--new-key-file")
        .arg(dir.join("new.key"))
        .env_remove(KEY_ENV)
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("1 value(s) re-sealed"));
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(!after.contains(&sealed_json));
    // Read with the new key (previous or not), never with the old alone.
    std::fs::write(&changeover, with_keys(&after, "new.key", Some("old.key"))).unwrap();
    assert!(check_config(&changeover).0);
    std::fs::write(&new_only, with_keys(&after, "new.key", None)).unwrap();
    let (ok, said) = check_config(&new_only);
    assert!(ok, "{said}");
    let (ok, said) = check_config(&config);
    assert!(!ok, "the old key still opened the rotated config");
    assert!(said.contains("cannot decrypt"), "{said}");
    assert!(
        !said.contains(&sealed_json[4..20]),
        "a value was quoted: {said}"
    );

    // A replica started on the rotated config and the new key reaches Google.
    let next = mcp_gateway::config::Config::load(&new_only).unwrap();
    let replica = mcp_gateway::gateway::server::start(next).await.unwrap();
    let url = format!("https://127.0.0.1:{}/mcp", replica.local_addr.port());
    let fresh = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&gw.pki.token("agent-a")),
    );
    let (status, answer) = call_stateless(&fresh, &url, "list_calendars", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_string().contains("team"), "{answer}");
    // And the replica running throughout still serves.
    let (status, _) = call_stateless(&client, &gw.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200);
    replica.shutdown.cancel();
}
