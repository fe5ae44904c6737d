//! Disks that will not take writes. At start, a log or store path that cannot
//! be opened is a startup error naming the key and the path. While serving,
//! a log that cannot be written makes the gateway fail closed: every request
//! is refused with 503 `log_unavailable` until lines get through again, and
//! the log then says how many were lost (`LOST lines=<n>`). A full store disk
//! is a tool error that says so, reads go on, and nothing acknowledged is lost.
//!
//! A full disk is played two ways: a log reopened onto `/dev/full` (every
//! write fails with ENOSPC, as root too), and the real binary in a mount
//! namespace of its own whose store folder is a 4 MiB tmpfs, filled from
//! outside through `/proc/<pid>/root` (needs root, as CI has).

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use mcp_gateway::config::Config;
use mcp_gateway::gateway::server;

use crate::common::{
    EMBEDDED_BACKEND, Setup, TestGateway, call_stateless, free_port, http_client_with_token,
    metric, render, wait_for_port, write_pki,
};

#[tokio::test]
async fn paths_that_cannot_be_opened_at_start_are_named() {
    for (name, key) in [
        ("security.log", "log.security_log"),
        ("audit.log", "log.audit_log"),
        ("calendar.db", "backend.embedded.path"),
    ] {
        let dir = tempfile::TempDir::new().unwrap();
        write_pki(dir.path());
        // A directory where the file should be: no write can go there, root or not.
        std::fs::create_dir(dir.path().join(name)).unwrap();
        let config = Config::parse(&render(&Setup::default()), dir.path()).unwrap();
        let error = server::start(config)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {name} unwritable"));
        let path = dir.path().join(name);
        assert_eq!(
            error.to_string(),
            format!(
                "{key}: cannot open {}: Is a directory (os error 21)",
                path.display()
            )
        );
    }
}

async fn log_failures(gw: &TestGateway, log: &str) -> f64 {
    let addr = gw.gateway.metrics_addr.expect("metrics listener");
    metric(
        addr,
        &format!("mcp_gateway_log_write_failures_total{{log=\"{log}\"}}"),
    )
    .await
}

/// Points the log file `name` of `gw` at `/dev/full` (or back at a file) and reopens.
fn redirect(gw: &TestGateway, name: &str, full: bool) {
    let path = gw.dir_path().join(name);
    let _ = std::fs::rename(&path, gw.dir_path().join(format!("{name}.before")));
    let _ = std::fs::remove_file(&path);
    if full {
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    }
    gw.gateway.reopen_logs();
}

#[tokio::test]
async fn a_log_that_cannot_be_written_fails_closed_and_says_what_it_lost() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-d");
    let token = gw.pki.token("agent-d");
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&token));
    let time = |client: &reqwest::Client| {
        let client = client.clone();
        let url = gw.url();
        async move { call_stateless(&client, &url, "get_current_time", json!({})).await }
    };
    assert_eq!(time(&client).await.0, 200);

    // The security log's disk fills up. A new connection's handshake line is
    // the first that fails; from then on nothing is served, whoever asks.
    let failures = log_failures(&gw, "security").await;
    redirect(&gw, "security.log", true);
    let forged = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some("forged"));
    for client in [&forged, &client] {
        let (status, answer) = time(client).await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(
            answer["error"]["message"],
            "log_unavailable: the security log cannot be written"
        );
    }
    assert!(log_failures(&gw, "security").await >= failures + 3.0);

    // Space again: the log says what it lost, and service resumes.
    redirect(&gw, "security.log", false);
    assert_eq!(time(&client).await.0, 200);
    let lines = gw.security_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("LOST lines=")),
        "{lines:?}"
    );
    let lost: u64 = lines[0]
        .strip_prefix("LOST lines=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(lost >= 3, "the handshake line and the two refusals: {lost}");

    // The audit log's disk fills up: the call whose line is lost went through;
    // the next is refused, and its refusal is in the security log.
    redirect(&gw, "audit.log", true);
    assert_eq!(time(&client).await.0, 200);
    let (status, answer) = time(&client).await;
    assert_eq!(status, 503, "{answer}");
    gw.expect_security_line(
        "REFUSE stage=gateway reason=log_unavailable ip=127.0.0.1 client=agent-d detail=\"the audit log cannot be written\"",
    )
    .await;
    redirect(&gw, "audit.log", false);
    assert_eq!(time(&client).await.0, 200);
    let audit = gw.audit_lines();
    assert_eq!(audit[0], "LOST lines=1", "{audit:?}");
    assert!(audit[1].starts_with("AUDIT tool=get_current_time client=agent-d"));
}

/// The real binary in a mount namespace of its own, its `store/` a 4 MiB
/// tmpfs; killed on drop.
struct OnSmallDisk {
    child: std::process::Child,
    store: std::path::PathBuf,
}

impl OnSmallDisk {
    fn start(dir: &Path, config: &Path) -> OnSmallDisk {
        let store = dir.join("store");
        std::fs::create_dir(&store).unwrap();
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o size=4m,mode=0700 tmpfs "$0" && exec "$1" serve --config "$2""#)
            .arg(&store)
            .arg(env!("CARGO_BIN_EXE_mcp-gateway"))
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) runs");
        OnSmallDisk { child, store }
    }

    /// The store folder as the gateway sees it, on its tmpfs.
    fn store_inside(&self) -> std::path::PathBuf {
        Path::new(&format!("/proc/{}/root", self.child.id()))
            .join(self.store.strip_prefix("/").unwrap())
    }
}

impl Drop for OnSmallDisk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(n: usize) -> Value {
    json!({
        "summary": format!("event {n}"),
        "description": "x".repeat(2000),
        "start": { "dateTime": format!("2031-01-{:02}T{:02}:00:00Z", 1 + n / 24 % 28, n % 24) },
        "end": { "dateTime": format!("2031-01-{:02}T{:02}:30:00Z", 1 + n / 24 % 28, n % 24) },
    })
}

#[tokio::test]
async fn a_full_store_disk_is_a_clear_tool_error_and_loses_nothing_acknowledged() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = write_pki(dir.path());
    let port = free_port();
    let config = dir.path().join("gateway.toml");
    let setup = Setup {
        address: format!("127.0.0.1:{port}"),
        backend: EMBEDDED_BACKEND.replace("path = \"calendar.db\"", "path = \"store/calendar.db\""),
        ..Setup::default()
    };
    std::fs::write(&config, render(&setup)).unwrap();
    let mut gateway = OnSmallDisk::start(dir.path(), &config);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            || gateway.child.try_wait().unwrap().is_some()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if let Some(status) = gateway.child.try_wait().unwrap() {
        let mut said = String::new();
        std::io::Read::read_to_string(gateway.child.stderr.as_mut().unwrap(), &mut said).unwrap();
        panic!(
            "the gateway in its own mount namespace did not start ({status}); this test needs root for unshare and mount: {said}"
        );
    }
    wait_for_port(port).await;
    let url = format!("https://127.0.0.1:{port}/mcp");
    let client = http_client_with_token(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client("agent-s").unwrap()),
        Some(&pki.token("agent-s")),
    );

    // Fill the tmpfs from outside, leaving the store what it has.
    let filler = gateway.store_inside().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 8 << 20]);
    assert!(std::fs::metadata(&filler).unwrap().len() > 0);

    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for n in 0..400 {
        let (status, answer) = call_stateless(&client, &url, "create_event", event(n)).await;
        assert_eq!(status, 200, "{answer}");
        let result = &answer["result"];
        if result["isError"] == true {
            refusal = Some(result["structuredContent"]["error"]["message"].clone());
            break;
        }
        acknowledged.push(
            result["structuredContent"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        refusal.expect("a create failed once the disk was full"),
        "the calendar store cannot write: its disk is full; nothing was changed, try again later"
    );
    // Reads go on while the disk is full.
    let (_, listed) = call_stateless(&client, &url, "list_calendars", json!({})).await;
    assert!(listed["result"]["isError"] != true, "{listed}");

    // Space again: writes resume, and every acknowledged create is there.
    std::fs::remove_file(&filler).unwrap();
    let (_, created) = call_stateless(&client, &url, "create_event", event(999)).await;
    assert!(created["result"]["isError"] != true, "{created}");
    for id in &acknowledged {
        let (_, got) = call_stateless(&client, &url, "get_event", json!({ "eventId": id })).await;
        assert!(
            got["result"]["structuredContent"]["summary"].is_string(),
            "{id}: {got}"
        );
    }
}
