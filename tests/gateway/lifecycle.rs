//! The certificate procedures of certs/README.md, run as written: its
//! `mcp-gateway certs` blocks make a CA, a server and a client certificate; a
//! gateway serves with them; the revocation block revokes the client, and after
//! a reload its next connection is refused.

use std::path::Path;
use std::process::Command;

use crate::common::{Setup, assert_succeeded, initialize_body, post, render};

/// The sh block marked `<!-- test: NAME -->` in certs/README.md.
fn documented(name: &str) -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/README.md")).unwrap();
    let marker = format!("<!-- test: {name} -->\n```sh\n");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} block"))
        + marker.len();
    doc[start..start + doc[start..].find("```").unwrap()].to_owned()
}

/// Runs a documented block in `dir` with this build's binary as `mcp-gateway`.
fn run(dir: &Path, block: &str) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{block}\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

/// Writes a token signing key and its JWKS into `dir`; a full-access token
/// for `spiffe://corp/agent/1` signed with it.
fn agent_token(dir: &Path) -> String {
    use mcp_gateway::cli::token;
    use mcp_gateway::policy::token::keys;
    let signing_pem = keys::generate_ed25519_pem().unwrap();
    let signer = keys::load_signing_key(&signing_pem).unwrap();
    std::fs::write(dir.join("signing.key"), &signing_pem).unwrap();
    std::fs::write(dir.join("jwks.json"), keys::jwks(&[&signer]).to_string()).unwrap();
    let request = token::TokenRequest::full_access(
        "spiffe://corp/agent/1",
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(600),
    );
    let claims = token::claims(&request, crate::common::ISSUER, crate::common::AUDIENCE).unwrap();
    token::sign(&claims, &signer).unwrap()
}

/// The DER of the first certificate in a PEM file, hex.
fn pem_der_hex(path: &Path) -> String {
    use rustls::pki_types::pem::PemObject;
    hex(rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The certificate the gateway at `addr` presents in a new handshake, hex DER.
async fn served_certificate(
    ca: &str,
    client: &mcp_gateway::cli::pki::Issued,
    addr: std::net::SocketAddr,
) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(client.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("gw.vpn.example").unwrap(), tcp)
        .await
        .unwrap();
    hex(tls.get_ref().1.peer_certificates().unwrap()[0].as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_certificate_procedures_work() {
    let dir = tempfile::TempDir::new().unwrap();
    let listed = run(dir.path(), &documented("certs-issue"));
    assert_eq!(
        listed.lines().filter(|l| l.contains("valid")).count(),
        2,
        "{listed}"
    );
    assert!(listed.contains("client  spiffe://corp/agent/1"), "{listed}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("agent-1.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // A gateway serving with what the doc made, and a token key of its own.
    let token = agent_token(dir.path());
    let setup = Setup {
        identity: "san_uri".into(),
        tls: "crls = [\"ca/crl.pem\"]".into(),
        ..Setup::default()
    };
    let text = render(&setup)
        .replace("client_ca = \"ca.pem\"", "client_ca = \"ca/ca.pem\"")
        .replace(
            "allowed_hosts = [\"localhost\", \"127.0.0.1\", \"[::1]\"]",
            "allowed_hosts = [\"gw.vpn.example\", \"127.0.0.1\"]",
        );
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = mcp_gateway::config::Config::load(&config_path).unwrap();
    let gateway = mcp_gateway::gateway::server::start(config).await.unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let agent = mcp_gateway::cli::pki::Issued {
        cert_pem: read("agent-1.pem"),
        key_pem: read("agent-1.key"),
    };
    let ca = read("ca/ca.pem");
    // The server certificate names gw.vpn.example and 10.8.0.1: reach it by
    // that name, resolved to the test's loopback listener.
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(
            reqwest::Identity::from_pem(format!("{}{}", agent.cert_pem, agent.key_pem).as_bytes())
                .unwrap(),
        )
        .resolve("gw.vpn.example", gateway.local_addr)
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let named = format!("https://gw.vpn.example:{}/mcp", gateway.local_addr.port());
    let response = post(&client, &named, initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Server certificate rotation, as documented: new handshakes get the new one.
    let before = served_certificate(&ca, &agent, gateway.local_addr).await;
    run(dir.path(), &documented("certs-rotate-server"));
    assert_eq!(gateway.reload(&config_path), Ok(Vec::new()));
    let after = served_certificate(&ca, &agent, gateway.local_addr).await;
    assert_ne!(before, after, "the rotated certificate is not served");
    assert_eq!(after, pem_der_hex(&dir.path().join("server.pem")));

    run(dir.path(), &documented("certs-revoke"));
    assert!(run(dir.path(), "mcp-gateway certs list --dir ca").contains("revoked"));
    assert_eq!(gateway.reload(&config_path), Ok(Vec::new()));
    // A fresh client: a fresh handshake, where revocation applies.
    let fresh = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(
            reqwest::Identity::from_pem(format!("{}{}", agent.cert_pem, agent.key_pem).as_bytes())
                .unwrap(),
        )
        .resolve("gw.vpn.example", gateway.local_addr)
        .build()
        .unwrap();
    assert!(
        post(&fresh, &named, initialize_body("2025-11-25"))
            .send()
            .await
            .is_err(),
        "a revoked certificate got in"
    );
    // Refreshing the CRL keeps it valid and the revocation in it.
    run(dir.path(), "mcp-gateway certs crl --dir ca");
    assert_eq!(gateway.reload(&config_path), Ok(Vec::new()));
    assert!(
        post(&fresh, &named, initialize_body("2025-11-25"))
            .send()
            .await
            .is_err()
    );
    gateway.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_signing_key_rotation_refuses_no_valid_token() {
    let gw = crate::common::TestGateway::start().await;
    let config_path = gw.dir_path().join("gateway.toml");
    std::fs::write(&config_path, render(&Setup::default())).unwrap();
    let cert = gw.client_cert("agent-a");
    let status = |token: String| {
        let client = crate::common::http_client_with_token(
            &gw.pki.ca.issued.cert_pem,
            Some(&cert),
            Some(&token),
        );
        let url = gw.url();
        async move {
            post(&client, &url, initialize_body("2025-11-25"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let issue = || {
        let out = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args(["token", "issue", "--config"])
            .arg(&config_path)
            .args([
                "--client",
                "agent-a",
                "--permissions",
                "readCalendars",
                "--calendars",
                "*",
                "--allowed-ips",
                "127.0.0.0/8",
            ])
            .output()
            .unwrap();
        assert_succeeded(&out);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let old_token = issue();
    assert_eq!(status(old_token.clone()).await, 200);

    let said = run(gw.dir_path(), &documented("keys-rotate"));
    assert!(said.contains("new signing key"), "{said}");
    assert_eq!(gw.gateway.reload(&config_path), Ok(Vec::new()));
    let new_token = issue();
    assert_ne!(
        new_token.split('.').next(),
        old_token.split('.').next(),
        "the kid changed"
    );
    assert_eq!(status(new_token.clone()).await, 200);
    assert_eq!(
        status(old_token.clone()).await,
        200,
        "the old key still verifies its tokens"
    );

    // Too early to prune: the old key stays.
    let said = run(gw.dir_path(), &documented("keys-prune"));
    assert!(said.contains("nothing to prune"), "{said}");
    // Once the old key retired longer ago than max_lifetime, it goes.
    let retired = gw.dir_path().join("jwks.retired.json");
    let backdated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&retired).unwrap()).unwrap();
    let backdated: serde_json::Map<String, serde_json::Value> = backdated
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), serde_json::json!(0)))
        .collect();
    std::fs::write(&retired, serde_json::Value::Object(backdated).to_string()).unwrap();
    let said = run(gw.dir_path(), &documented("keys-prune"));
    assert!(said.contains("1 retired key(s) removed"), "{said}");
    assert_eq!(gw.gateway.reload(&config_path), Ok(Vec::new()));
    assert_eq!(status(old_token).await, 401);
    assert_eq!(status(new_token).await, 200);
    gw.expect_security_line_starting(
        "DENY stage=jwt reason=unknown_kid ip=127.0.0.1 client=agent-a",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_ca_rotation_keeps_both_generations_working_then_drops_the_old() {
    let dir = tempfile::TempDir::new().unwrap();
    run(dir.path(), &documented("certs-issue"));
    let token = agent_token(dir.path());
    let config_with = |client_ca: &str, crls: &str| {
        render(&Setup {
            identity: "san_uri".into(),
            tls: format!("crls = [{crls}]"),
            ..Setup::default()
        })
        .replace(
            "client_ca = \"ca.pem\"",
            &format!("client_ca = \"{client_ca}\""),
        )
        .replace(
            "allowed_hosts = [\"localhost\", \"127.0.0.1\", \"[::1]\"]",
            "allowed_hosts = [\"gw.vpn.example\"]",
        )
    };
    let config_path = dir.path().join("gateway.toml");
    std::fs::write(&config_path, config_with("ca/ca.pem", "\"ca/crl.pem\"")).unwrap();
    let gateway = mcp_gateway::gateway::server::start(
        mcp_gateway::config::Config::load(&config_path).unwrap(),
    )
    .await
    .unwrap();
    let named = format!("https://gw.vpn.example:{}/mcp", gateway.local_addr.port());
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    // The server certificate is the old CA's; clients trust that CA for it.
    let server_ca = read("ca/ca.pem");
    let admitted = |stem: &str| {
        let identity = format!(
            "{}{}",
            read(&format!("{stem}.pem")),
            read(&format!("{stem}.key"))
        );
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(server_ca.as_bytes()).unwrap()])
            .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
            .resolve("gw.vpn.example", gateway.local_addr)
            .build()
            .unwrap();
        let (named, token) = (named.clone(), token.clone());
        async move {
            post(&client, &named, initialize_body("2025-11-25"))
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    };
    assert!(admitted("agent-1").await);

    run(dir.path(), &documented("certs-rotate-ca"));
    std::fs::write(
        &config_path,
        config_with("ca-bundle.pem", "\"ca/crl.pem\", \"ca-next/crl.pem\""),
    )
    .unwrap();
    assert_eq!(gateway.reload(&config_path), Ok(Vec::new()));
    assert!(admitted("agent-1").await, "the old generation still works");
    assert!(admitted("agent-1-next").await, "the new generation works");

    // Every client moved: the old CA leaves the bundle.
    std::fs::write(
        &config_path,
        config_with("ca-next/ca.pem", "\"ca-next/crl.pem\""),
    )
    .unwrap();
    assert_eq!(gateway.reload(&config_path), Ok(Vec::new()));
    assert!(admitted("agent-1-next").await);
    assert!(
        !admitted("agent-1").await,
        "the old CA's certificate still got in"
    );
    gateway.shutdown.cancel();
}
