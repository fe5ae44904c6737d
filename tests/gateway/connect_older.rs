//! `connect` meeting a server of the generation before 2026-07-28 (the
//! Python SDK 1.x's FastMCP, sessions only, behind uvicorn with mutual TLS
//! and HTTP/1.1): `server/discover` is refused, so the bridge falls back to
//! `initialize` with a session by itself, answers the local client from what
//! that server declares, and carries the calls.

use std::time::Duration;

use mcp_gateway::cli::pki::Authority;
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::policy::token::keys::{generate_ed25519_pem, load_signing_key};
use serde_json::json;

use crate::bridge::{ClientFiles, Driven, script, venv_python, write_with_mode};
use crate::common::{free_port, wait_for_port};

#[tokio::test]
async fn an_older_server_is_spoken_to_with_a_session_without_being_asked() {
    mcp_gateway::transport::tls::install_crypto_provider();
    let ca = Authority::generate("older CA").unwrap();
    let server = ca.issue_server(&["127.0.0.1"]).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    write_with_mode(&dir.path().join("server.pem"), &server.cert_pem, 0o644);
    write_with_mode(&dir.path().join("server.key"), &server.key_pem, 0o600);
    write_with_mode(&dir.path().join("ca.pem"), &ca.issued.cert_pem, 0o644);
    let port = free_port();
    let _server = tokio::process::Command::new(venv_python(".venv-mcp1"))
        .arg(script("older_server.py"))
        .arg(port.to_string())
        .args(["server.pem", "server.key", "ca.pem"].map(|f| dir.path().join(f)))
        .stderr(std::fs::File::create(dir.path().join("server.stderr")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    // That server checks no token; connect still needs a well-formed one.
    let signer = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
    let request = TokenRequest::full_access("agent-o", &["127.0.0.0/8"], Duration::from_secs(600));
    let token = sign(
        &claims(&request, "older", "https://older/mcp").unwrap(),
        &signer,
    )
    .unwrap();
    let files = ClientFiles::issued(&ca, "agent-o", |_| token.clone());
    let url = format!("https://127.0.0.1:{port}/mcp");
    let mut bridge = Driven::launch(&files.args(&url, &[]), &files.stderr_log());
    let init = bridge.initialize().await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "older-server",
        "{init}"
    );
    assert_eq!(init["result"]["instructions"], "An older MCP server.");
    let listed = bridge
        .request(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .await;
    assert_eq!(listed["result"]["tools"][0]["name"], "echo", "{listed}");
    let answer = bridge.call(3, "echo", json!({ "text": "hello" })).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "echo: hello",
        "{answer}"
    );
    bridge.finish().await;
    let stderr = std::fs::read_to_string(files.stderr_log()).unwrap();
    assert!(stderr.contains("does not serve 2026-07-28"), "{stderr}");
    assert!(stderr.contains("with a session to the gateway"), "{stderr}");
}
