//! The benchmark harness (bench/) still works: its load generator, run for a
//! second against the floor server and against a gateway with a GeoIP DB the
//! harness wrote, gets only JSON-RPC results. Figures are never asserted here
//! (bench/README.md): only that the tools measure what they claim to.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{TestGateway, assert_succeeded, free_port, wait_for_port};

/// A tool of the harness, built (once per test run) as `bench/run.sh` builds
/// it, beside the gateway's binary.
pub fn harness_tool(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--examples", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the harness");
    });
    let gateway = PathBuf::from(env!("CARGO_BIN_EXE_mcp-gateway"));
    gateway.parent().unwrap().join("examples").join(name)
}

/// The loader's figures for one second of keep-alive stateless calls on `port`.
fn load(dir: &Path, port: u16, token: &str) -> serde_json::Value {
    let out = Command::new(harness_tool("bench-load"))
        .args(["--mode", "keepalive", "--connections", "2"])
        .args(["--warmup", "0.2", "--duration", "1"])
        .arg("--connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--ca")
        .arg(dir.join("ca.pem"))
        .arg("--cert")
        .arg(dir.join("client.pem"))
        .arg("--key")
        .arg(dir.join("client.key"))
        .arg("--body")
        .arg(dir.join("call.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--header", "MCP-Protocol-Version: 2026-07-28"])
        .args(["--header", "Mcp-Method: tools/call"])
        .args(["--header", "Mcp-Name: get_current_time"])
        .output()
        .unwrap();
    assert_succeeded(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_measures_the_floor_and_the_gateway() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        let status = Command::new(harness_tool("bench-geoip"))
            .arg(dir.join("country.mmdb"))
            .args(["127.0.0.0/8=DE", "::1/128=US"])
            .status()
            .unwrap();
        assert!(status.success());
        s.tables = "[geoip]\ndatabase = \"country.mmdb\"\nallow_countries = [\"DE\"]\n".into();
    })
    .await;
    let dir = gw.dir_path();
    let cert = gw.client_cert("agent-a");
    std::fs::write(dir.join("client.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("client.key"), &cert.key_pem).unwrap();
    std::fs::write(
        dir.join("call.json"),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_current_time","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}}}"#,
    )
    .unwrap();
    let token = gw.pki.token("agent-a");
    let port = gw.gateway.local_addr.port();
    let gateway = tokio::task::spawn_blocking({
        let (dir, token) = (dir.to_owned(), token.clone());
        move || load(&dir, port, &token)
    })
    .await
    .unwrap();
    assert_eq!(gateway["failed"], 0, "{gateway}");
    assert!(gateway["ok"].as_u64().unwrap() > 10, "{gateway}");

    std::fs::write(
        dir.join("answer.json"),
        br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
    )
    .unwrap();
    let floor_port = free_port();
    let _floor = Killed(
        Command::new(harness_tool("bench-floor"))
            .arg(format!("127.0.0.1:{floor_port}"))
            .args(["server.pem", "server.key", "ca.pem", "answer.json"].map(|f| dir.join(f)))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(floor_port).await;
    let floor = tokio::task::spawn_blocking({
        let dir = dir.to_owned();
        move || load(&dir, floor_port, &token)
    })
    .await
    .unwrap();
    assert_eq!(floor["failed"], 0, "{floor}");
    assert!(floor["ok"].as_u64().unwrap() > 10, "{floor}");
}
