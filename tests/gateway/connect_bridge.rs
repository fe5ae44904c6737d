//! `mcp-gateway connect` driven byte by byte: stdout carries JSON-RPC and
//! nothing else; every refusal (a revoked or expired token, a certificate
//! from another CA, an address the gateway does not admit, a gateway that is
//! down) reaches the client as a JSON-RPC error that says what to do, never
//! holding the token; and the bridge serves again once the gateway is back.

use std::time::Duration;

use serde_json::{Value, json};

use crate::bridge::{BINARY, ClientFiles, Driven};
use crate::common::{Setup, TestGateway, free_port, render, wait_for_port};

const CLIENT: &str = "agent-b";

/// The error message of an answer, asserting it is an error.
fn error_message(answer: &Value) -> String {
    assert!(answer["error"].is_object(), "not an error: {answer}");
    answer["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_whatever_comes_in() {
    let gw = TestGateway::start().await;
    let token = gw.pki.token(CLIENT);
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| token.clone());
    let mut bridge = Driven::launch(&files.args(&gw.url(), &[]), &files.stderr_log());
    let init = bridge.initialize().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "mcp-gateway");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    bridge.send("this is not json").await;
    let parse_error = bridge.next().await;
    assert_eq!(parse_error["error"]["code"], -32700);
    let ping = bridge
        .request(json!({"jsonrpc":"2.0","id":"p","method":"ping"}))
        .await;
    assert_eq!(ping["result"], json!({}));
    let unknown = bridge.call(5, "no_such_tool", json!({})).await;
    assert!(
        unknown["error"].is_object() || unknown["result"]["isError"] == true,
        "{unknown}"
    );
    let listed = bridge
        .request(json!({"jsonrpc":"2.0","id":6,"method":"tools/list"}))
        .await;
    assert!(listed["result"]["tools"].as_array().unwrap().len() >= 10);
    // Concurrent calls, answered each under its own id.
    for id in 10..20 {
        bridge
            .send(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"get_current_time","arguments":{}}}).to_string())
            .await;
    }
    let mut answered: Vec<u64> = Vec::new();
    for _ in 10..20 {
        answered.push(bridge.next().await["id"].as_u64().unwrap());
    }
    answered.sort_unstable();
    assert_eq!(answered, (10..20).collect::<Vec<u64>>());
    let lines = bridge.lines.clone();
    let rest = bridge.finish().await;
    assert!(
        rest.is_empty(),
        "stdout after the last answer: {:?}",
        String::from_utf8_lossy(&rest)
    );
    for line in &lines {
        let message: Value = serde_json::from_str(line).unwrap();
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        assert!(
            line.ends_with('\n') && !line.trim_end().contains('\n'),
            "{line:?}"
        );
        assert!(!line.contains(&token), "the token reached stdout");
    }
    let stderr = std::fs::read_to_string(files.stderr_log()).unwrap();
    assert!(!stderr.contains(&token), "the token reached stderr");
}

#[tokio::test]
async fn refusals_reach_the_client_as_errors_that_say_what_to_do() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("revoked.txt"), "").unwrap();
        s.jwt = "revocations = \"revoked.txt\"".into();
    })
    .await;
    // A revoked token.
    let revoked_claims = crate::matrix::bent_claims::with(
        crate::matrix::bent_claims::good_claims(),
        "clientId",
        json!(CLIENT),
    );
    let revoked = crate::tokens::signed(
        &gw,
        &crate::matrix::bent_claims::with(revoked_claims, "jti", json!("gone-1")),
    );
    std::fs::write(gw.dir_path().join("revoked.txt"), "gone-1\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| revoked.clone());
    let mut bridge = Driven::launch(&files.args(&gw.url(), &[]), &files.stderr_log());
    bridge.initialize().await;
    let answer = bridge.call(1, "get_access_info", json!({})).await;
    let message = error_message(&answer);
    assert!(
        message.contains("has been revoked") && message.contains("client.token"),
        "{message}"
    );
    assert_eq!(answer["error"]["data"]["reason"], "token_revoked");
    assert!(!message.contains(&revoked));
    // An expired token (past the leeway).
    let now = chrono::Utc::now().timestamp();
    let mut expired = crate::matrix::bent_claims::with(
        crate::matrix::bent_claims::good_claims(),
        "clientId",
        json!(CLIENT),
    );
    expired["iat"] = json!(now - 600);
    expired["nbf"] = json!(now - 600);
    expired["exp"] = json!(now - 120);
    files.rotate_token(&crate::tokens::signed(&gw, &expired));
    let answer = bridge.call(3, "get_access_info", json!({})).await;
    let message = error_message(&answer);
    assert!(
        message.contains("has expired") && message.contains("no restart"),
        "{message}"
    );
    // Rotated to a good token: the same bridge serves at once.
    files.rotate_token(&gw.pki.token(CLIENT));
    let answer = bridge.call(2, "get_access_info", json!({})).await;
    assert!(answer["result"].is_object(), "{answer}");
    bridge.finish().await;

    // A certificate from another CA.
    let stranger = mcp_gateway::cli::pki::Authority::generate("stranger CA").unwrap();
    let cert = stranger.issue_client(CLIENT).unwrap();
    let files = ClientFiles::new(&gw.pki.ca.issued.cert_pem, &cert, &gw.pki.token(CLIENT));
    let mut bridge = Driven::launch(&files.args(&gw.url(), &[]), &files.stderr_log());
    bridge.initialize().await;
    let message = error_message(&bridge.call(1, "get_access_info", json!({})).await);
    assert!(
        message.contains("refused this machine's certificate"),
        "{message}"
    );
    bridge.finish().await;
}

#[tokio::test]
async fn an_address_the_gateway_does_not_admit_is_told_as_such() {
    let gw =
        TestGateway::start_custom(|_, _, s| s.network = r#"allow = ["127.0.0.9/32"]"#.into()).await;
    let files = ClientFiles::issued(&gw.pki.ca, CLIENT, |_| gw.pki.token(CLIENT));
    let mut bridge = Driven::launch(&files.args(&gw.url(), &[]), &files.stderr_log());
    bridge.initialize().await;
    let answer = bridge.call(1, "get_access_info", json!({})).await;
    let message = error_message(&answer);
    assert!(
        message.contains("does not admit this machine's address"),
        "{message}"
    );
    // Refused, not retried: one refusal line, not five.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refusals = gw
        .security_lines()
        .iter()
        .filter(|l| l.contains("reason=ip_not_allowed"))
        .count();
    assert!(
        refusals <= 2,
        "the bridge hammered a refusing gateway: {refusals} lines"
    );
    bridge.finish().await;
}

/// A gateway run as its own process on a fixed port, to be stopped and
/// started again.
struct Process {
    dir: tempfile::TempDir,
    pki: crate::common::Pki,
    port: u16,
    child: Option<std::process::Child>,
}

impl Process {
    async fn start() -> Process {
        let dir = tempfile::TempDir::new().unwrap();
        let pki = crate::common::write_pki(dir.path());
        let port = free_port();
        let setup = Setup {
            address: format!("127.0.0.1:{port}"),
            ..Setup::default()
        };
        std::fs::write(dir.path().join("gateway.toml"), render(&setup)).unwrap();
        let mut process = Process {
            dir,
            pki,
            port,
            child: None,
        };
        process.run().await;
        process
    }

    async fn run(&mut self) {
        let child = std::process::Command::new(BINARY)
            .args(["serve", "--config"])
            .arg(self.dir.path().join("gateway.toml"))
            .current_dir(self.dir.path())
            .stderr(std::fs::File::create(self.dir.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for_port(self.port).await;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn the_bridge_serves_again_once_the_gateway_is_back_on_both_generations() {
    for generation in ["auto", "2025-11-25"] {
        let mut gateway = Process::start().await;
        let files = ClientFiles::issued(&gateway.pki.ca, CLIENT, |_| gateway.pki.token(CLIENT));
        let mut bridge = Driven::launch(
            &files.args(&gateway.url(), &["--gateway-protocol", generation]),
            &files.stderr_log(),
        );
        bridge.initialize().await;
        assert!(bridge.call(1, "get_access_info", json!({})).await["result"].is_object());
        gateway.stop();
        let started = std::time::Instant::now();
        let message = error_message(&bridge.call(2, "get_access_info", json!({})).await);
        assert!(message.contains("cannot reach the gateway"), "{message}");
        assert!(
            started.elapsed() >= Duration::from_secs(10),
            "retried with back-off before failing"
        );
        gateway.run().await;
        // Back: the next call is served (a session is initialised afresh).
        let answer = bridge.call(3, "get_access_info", json!({})).await;
        assert!(answer["result"].is_object(), "{generation}: {answer}");
        bridge.finish().await;
        let stderr = std::fs::read_to_string(files.stderr_log()).unwrap();
        assert!(stderr.contains("trying again"), "{stderr}");
    }
}
