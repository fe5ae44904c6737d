//! The real binary's lifecycle: an acknowledged write survives `kill -9`, and
//! SIGTERM drains and exits cleanly.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::{
    config_text, free_port, http_client_with_token, open_session, post, rpc_message, write_pki,
};

fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(config.with_file_name("gateway.stderr"))
                .unwrap(),
        ))
        .spawn()
        .unwrap()
}

async fn rpc(
    client: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> (Option<String>, serde_json::Value) {
    let mut request = post(client, url, body.to_string());
    if let Some(s) = session {
        request = request.header("mcp-session-id", s);
    }
    let response = request.send().await.unwrap();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (
        session,
        if text.is_empty() {
            json!(null)
        } else {
            rpc_message(&text)
        },
    )
}

/// A session on the spawned gateway, once it listens.
async fn session(client: &reqwest::Client, url: &str, port: u16) -> String {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return open_session(client, url).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway did not come up at {url}");
}

/// A config for the real binary in a fresh folder, and a client with a token.
struct Spawnable {
    _dir: Swept,
    config: std::path::PathBuf,
    client: reqwest::Client,
    url: String,
    port: u16,
}

/// A test folder whose outputs go to the secrets sweep when it is removed.
struct Swept(tempfile::TempDir, Vec<String>);

impl Drop for Swept {
    fn drop(&mut self) {
        crate::sweep::keep(self.0.path(), None, &self.1);
    }
}

fn spawnable() -> Spawnable {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = write_pki(dir.path());
    let port = free_port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, config_text(&format!("127.0.0.1:{port}"), "")).unwrap();
    let client = http_client_with_token(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client("agent-a").unwrap()),
        Some(&pki.token("agent-a")),
    );
    Spawnable {
        _dir: Swept(dir, pki.secrets()),
        config,
        client,
        url: format!("https://127.0.0.1:{port}/mcp"),
        port,
    }
}

#[tokio::test]
async fn acknowledged_write_survives_kill_9() {
    let Spawnable {
        _dir,
        config,
        client,
        url,
        port,
    } = spawnable();

    let mut first = spawn(&config);
    let id = session(&client, &url, port).await;
    let create = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_event","arguments":{
        "summary":"survives","start":{"dateTime":"2030-07-01T10:00:00Z"},"end":{"dateTime":"2030-07-01T11:00:00Z"}}}});
    let (_, reply) = rpc(&client, &url, Some(&id), create).await;
    let event_id = reply["result"]["structuredContent"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    first.kill().unwrap(); // SIGKILL: no shutdown path runs.
    first.wait().unwrap();

    let mut second = spawn(&config);
    let id = session(&client, &url, port).await;
    let get = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_event","arguments":{"eventId": event_id}}});
    let (_, reply) = rpc(&client, &url, Some(&id), get).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        reply["result"]["structuredContent"]["summary"], "survives",
        "{reply}"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let Spawnable {
        _dir,
        config,
        client,
        url,
        port,
    } = spawnable();
    let mut child = spawn(&config);
    // An open session and a pooled keep-alive connection must not hold the exit up.
    session(&client, &url, port).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gateway did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test]
async fn the_store_and_its_journal_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let gw = crate::common::TestGateway::start().await;
    let mcp = gw.mcp("agent-a").await;
    crate::common::call_ok(
        &mcp,
        "create_event",
        serde_json::json!({ "summary": "private", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } }),
    )
    .await;
    let mode = |name: &str| {
        std::fs::metadata(gw.dir_path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    for file in ["calendar.db", "calendar.db-wal", "calendar.db-shm"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    // An existing store readable by others is reported at start.
    let db = gw.dir_path().join("calendar.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = gw.dir_path().join("gateway.toml");
    std::fs::write(&config, crate::common::config_text("127.0.0.1:0", "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: backend.embedded.path: ")
            && stderr.contains("is readable by group or others"),
        "{stderr}"
    );
}
