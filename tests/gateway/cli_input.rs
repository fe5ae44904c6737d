//! Command-line input an operator can get wrong is refused by name, never a
//! panic or a silent surprise (issue 21, items 11 and 26).

use std::process::Command;

fn gateway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn certificate_validity_out_of_range_is_refused_by_name() {
    let dir = tempfile::TempDir::new().unwrap();
    let ca = dir.path().display().to_string();
    let out = gateway(&["certs", "init-ca", "--dir", &ca]);
    assert!(out.status.success(), "{out:?}");
    let stem = dir.path().join("agent").display().to_string();
    for days in ["3000000", "0", "18446744073709551615", "3651"] {
        let out = gateway(&[
            "certs",
            "issue-client",
            "--dir",
            &ca,
            "--id",
            "agent",
            "--days",
            days,
            "--out",
            &stem,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--days {days}: {stderr}");
        assert!(stderr.contains("--days"), "--days {days}: {stderr}");
        assert!(stderr.contains("1..=3650"), "--days {days}: {stderr}");
        assert!(!stderr.contains("panicked"), "--days {days}: {stderr}");
        assert!(!dir.path().join("agent.pem").exists());
    }
    let out = gateway(&[
        "certs",
        "issue-client",
        "--dir",
        &ca,
        "--id",
        "agent",
        "--days",
        "3650",
        "--out",
        &stem,
    ]);
    assert!(out.status.success(), "{out:?}");
    let pem = std::fs::read(dir.path().join("agent.pem")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let days = (cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp()) / 86_400;
    assert!((3648..=3650).contains(&days), "{days} days");
}

/// A CRL the CA writes is fresh well past the gateway's 7-day warning.
#[test]
fn a_fresh_crl_raises_no_expiry_warning() {
    let dir = tempfile::TempDir::new().unwrap();
    let ca = dir.path().display().to_string();
    assert!(
        gateway(&["certs", "init-ca", "--dir", &ca])
            .status
            .success()
    );
    assert!(gateway(&["certs", "crl", "--dir", &ca]).status.success());
    let pem = std::fs::read(dir.path().join("crl.pem")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, crl) = x509_parser::parse_x509_crl(&pem.contents).unwrap();
    let next = crl.next_update().unwrap().timestamp();
    let ahead = next - chrono::Utc::now().timestamp();
    assert!(
        ahead > mcp_gateway::transport::crl::WARN_AHEAD.as_secs() as i64 + 20 * 86_400,
        "{ahead} s ahead"
    );
}

/// `quickstart` says where its metrics listen, takes another address for
/// them, and writes an address it is asked for into the config it reuses
/// (issue 21, item 24): a second quickstart used to fail on the metrics
/// port, and a new `--listen` printed a URL the reused config did not serve.
#[tokio::test]
async fn quickstart_addresses_are_asked_for_printed_and_kept_in_the_config() {
    let root = tempfile::TempDir::new().unwrap();
    let ports: Vec<u16> = (0..4).map(|_| crate::common::free_port()).collect();
    let at = |port: u16| format!("127.0.0.1:{port}");
    let quickstart = |dir: &std::path::Path, flags: &[String]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"));
        command.args(["quickstart", "--no-serve", "--dir"]).arg(dir);
        command.args(flags).output().unwrap()
    };
    let first = root.path().join("first");
    let flags = |mcp: u16, metrics: u16| {
        vec![
            "--listen".to_owned(),
            at(mcp),
            "--metrics-listen".to_owned(),
            at(metrics),
        ]
    };
    let out = quickstart(&first, &flags(ports[0], ports[1]));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("metrics http://{}/metrics", at(ports[1]))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("https://{}/mcp", at(ports[0]))),
        "{stdout}"
    );

    // Another --listen: written into the reused config, and said so.
    let out = quickstart(&first, &["--listen".to_owned(), at(ports[2])]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("listen.address: address = "), "{stdout}");
    let config = std::fs::read_to_string(first.join("gateway.toml")).unwrap();
    assert!(
        config.contains(&format!("address = \"{}\"", at(ports[2]))),
        "{config}"
    );
    assert!(
        config.contains(&format!("audience = \"https://{}/mcp\"", at(ports[2]))),
        "{config}"
    );
    assert!(
        config.contains(&format!("listen = \"{}\"", at(ports[1]))),
        "{config}"
    );
    // No flags: what the config says stays.
    let out = quickstart(&first, &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(" -> "), "{stdout}");
    assert!(
        stdout.contains(&format!("https://{}/mcp", at(ports[2]))),
        "{stdout}"
    );
    // A line the operator edited is not silently kept: refused by name.
    let edited = config.replace(
        &format!("address = \"{}\"", at(ports[2])),
        &format!("address   =   \"{}\"", at(ports[2])),
    );
    std::fs::write(first.join("gateway.toml"), edited).unwrap();
    let out = quickstart(&first, &["--listen".to_owned(), at(ports[3])]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen.address"),
        "{out:?}"
    );

    // Two quickstarts serving at once, each on its own ports.
    let mut running = Vec::new();
    for (n, (mcp, metrics)) in [
        (crate::common::free_port(), crate::common::free_port()),
        (crate::common::free_port(), crate::common::free_port()),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = root.path().join(format!("serving-{n}"));
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args(["quickstart", "--dir"])
            .arg(&dir)
            .args(flags(mcp, metrics))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        running.push((crate::replica_harness::Running(child), metrics));
    }
    for (_, metrics) in &running {
        let url = format!("http://127.0.0.1:{metrics}/ready");
        let ready =
            crate::replica_harness::within(std::time::Duration::from_secs(20), async || {
                reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
            })
            .await;
        assert!(ready.is_some(), "{url} never answered");
    }
}
