//! Log rotation as operators run it: the shipped logrotate snippet, run by the
//! real `logrotate`, moves the security log away and sends SIGHUP; the gateway
//! survives the signal, reopens the log at its path, loses no line, and the
//! shipped fail2ban filter keeps matching the new file.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Setup, assert_succeeded, free_port, render, write_pki};

/// Three connections from 127.0.0.2, outside the allowlist: three DENY lines.
async fn knock_three_times(port: u16) {
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        if let Ok(mut stream) = socket.connect(([127, 0, 0, 1], port).into()).await {
            let mut buf = [0u8; 16];
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
            )
            .await;
        }
    }
}

fn deny_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(": DENY stage=ip reason=ip_not_allowed ip=127.0.0.2 "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_and_sighup_lose_no_line() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let port = free_port();
    let config = dir.path().join("gateway.toml");
    let setup = Setup {
        address: format!("127.0.0.1:{port}"),
        network: r#"allow = ["127.0.0.1"]"#.into(),
        ..Setup::default()
    };
    std::fs::write(&config, render(&setup)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::common::wait_for_port(port).await;
    let log = dir.path().join("security.log");
    knock_three_times(port).await;

    // The shipped snippet, pointed at this log and this process.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/logrotate/mcp-gateway"
    ))
    .unwrap();
    let snippet = shipped
        .replace(
            "/var/log/mcp-gateway/security.log /var/log/mcp-gateway/audit.log",
            &format!(
                "{} {}",
                log.display(),
                dir.path().join("audit.log").display()
            ),
        )
        .replace("create 0640 root adm", "create 0640")
        .replace(
            "pkill -HUP -x mcp-gateway",
            &format!("kill -HUP {}", child.id()),
        );
    assert!(snippet.contains(&format!("kill -HUP {}", child.id())));
    let conf = dir.path().join("logrotate.conf");
    std::fs::write(&conf, snippet).unwrap();
    // Debian installs it in /usr/sbin, which not every PATH holds.
    let program = ["/usr/sbin/logrotate", "logrotate"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("logrotate");
    let rotated = Command::new(program)
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("logrotate.state"))
        .arg(&conf)
        .output()
        .expect("logrotate must be installed (scripts/test-all.sh installs it)");
    assert_succeeded(&rotated);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the gateway"
    );
    knock_three_times(port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();

    let old = dir.path().join("security.log.1");
    assert_eq!(
        deny_lines(&old),
        3,
        "the lines before rotation are in the rotated file"
    );
    assert_eq!(
        deny_lines(&log),
        3,
        "the lines after rotation are in the new file"
    );
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fail2ban/filter.d/mcp-gateway.conf"
    );
    let matched = Command::new("fail2ban-regex")
        .args(["-o", "ip"])
        .arg(&log)
        .arg(filter)
        .output()
        .unwrap();
    let matched = String::from_utf8_lossy(&matched.stdout);
    assert_eq!(
        matched.lines().filter(|l| l.trim() == "127.0.0.2").count(),
        3,
        "fail2ban matches the new file: {matched}"
    );
}

#[tokio::test]
async fn allow_lines_can_be_turned_off_keeping_every_refusal() {
    let gw = crate::common::TestGateway::start_custom(|_, _, s| {
        s.log = "allow_lines = false".into();
        s.network = r#"allow = ["127.0.0.1"]"#.into();
    })
    .await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let (session, _) = crate::common::initialize(&client, &gw.url(), "2025-11-25").await;
    assert!(!session.is_empty());
    knock_three_times(gw.gateway.local_addr.port()).await;
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.2 client=-")
        .await;
    assert!(
        gw.security_lines().iter().all(|l| !l.starts_with("ALLOW")),
        "{:?}",
        gw.security_lines()
    );
}
