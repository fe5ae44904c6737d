//! SIGTERM ends the process when `listen.drain_timeout` says, whatever a call
//! is doing (issue 21, item 10): a call stuck in the store (here, waiting on
//! a lock another process holds) once kept the process alive after "draining
//! connections" for as long as it ran.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Setup, free_port, http_client_with_token, render, wait_for_port, write_pki};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_held_past_the_drain_deadline_does_not_keep_the_process() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = write_pki(dir.path());
    let port = free_port();
    let text = render(&Setup {
        address: format!("127.0.0.1:{port}"),
        listen: "drain_delay = \"0s\"\ndrain_timeout = \"1s\"".into(),
        ..Setup::default()
    });
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let stderr_path = dir.path().join("gateway.stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    // Another process holds the store's write lock: the next write waits.
    let holder = rusqlite::Connection::open(dir.path().join("calendar.db")).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let client = http_client_with_token(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client("agent-d").unwrap()),
        Some(&pki.token("agent-d")),
    );
    let url = format!("https://127.0.0.1:{port}/mcp");
    let stuck = tokio::spawn(async move {
        let event = json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
        // Cut by the exit: an error is the expected end.
        let body = crate::common::stateless_tool_call(&json!("create_event"), event);
        crate::common::post(&client, &url, body.to_string())
            .header("mcp-protocol-version", crate::common::STATELESS)
            .header("mcp-method", "tools/call")
            .header("mcp-name", "create_event")
            .send()
            .await
            .map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stuck.is_finished(), "the write was not held");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let signalled = Instant::now();
    let exit = crate::nobody::exit_within(&mut child, signalled, Duration::from_secs(30)).await;
    let took = signalled.elapsed();
    drop(holder);
    stuck.abort();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(exit.success(), "{exit:?}\n{stderr}");
    // The drain (1 s) and the blocking work's last second: not the store's
    // 5 s busy wait.
    assert!(
        took < Duration::from_millis(4000),
        "exited {took:?} after SIGTERM\n{stderr}"
    );
    // The one line that names what was cut (whether the connection itself
    // was still open at the drain deadline depends on when its graceful
    // close ran: not asserted).
    assert!(
        stderr.contains("exiting with work still running on the blocking pool"),
        "{stderr}"
    );
    crate::sweep::keep(dir.path(), None, &pki.secrets());
}
