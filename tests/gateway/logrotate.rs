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

/// A gateway running as `nobody`, as a service user would, its logs and
/// store in a folder that user owns.
struct AsNobody {
    dir: tempfile::TempDir,
    child: std::process::Child,
    port: u16,
    metrics: u16,
}

impl AsNobody {
    async fn start() -> AsNobody {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().unwrap();
        write_pki(dir.path());
        let (port, metrics) = (free_port(), free_port());
        let setup = Setup {
            address: format!("127.0.0.1:{port}"),
            network: r#"allow = ["127.0.0.1"]"#.into(),
            metrics_listen: format!("127.0.0.1:{metrics}"),
            ..Setup::default()
        };
        std::fs::write(dir.path().join("gateway.toml"), render(&setup)).unwrap();
        let binary = crate::nobody::reachable_binary(dir.path());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        crate::nobody::give_to_nobody(dir.path());
        let child = crate::nobody::as_nobody(&binary)
            .args(["serve", "--config"])
            .arg(dir.path().join("gateway.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("gateway.stderr")).unwrap())
            .spawn()
            .expect("setpriv (util-linux)");
        crate::common::wait_for_port(port).await;
        AsNobody {
            dir,
            child,
            port,
            metrics,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the real logrotate on the shipped snippet, pointed at this
    /// gateway's logs and process; `user` replaces the snippet's user and
    /// group (`su` and `create`); `None` is the snippet this gateway once
    /// shipped: no `su`, the new file root's.
    fn rotate(&self, user: Option<&str>) {
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/logrotate/mcp-gateway"
        ))
        .unwrap();
        assert!(shipped.contains("create 0640 mcp-gateway adm"), "{shipped}");
        let snippet = shipped
            .replace(
                "/var/log/mcp-gateway/security.log /var/log/mcp-gateway/audit.log",
                &format!(
                    "{} {}",
                    self.path("security.log").display(),
                    self.path("audit.log").display()
                ),
            )
            .replace(
                "su mcp-gateway adm",
                &user.map_or(String::new(), |user| format!("su {user}")),
            )
            .replace(
                "create 0640 mcp-gateway adm",
                &format!("create 0640 {}", user.unwrap_or("root root")),
            )
            .replace(
                "pkill -HUP -x mcp-gateway",
                &format!("kill -HUP {}", self.child.id()),
            );
        let conf = self.dir.path().join("logrotate.conf");
        std::fs::write(&conf, snippet).unwrap();
        // Debian installs it in /usr/sbin, which not every PATH holds.
        let program = ["/usr/sbin/logrotate", "logrotate"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("logrotate");
        let rotated = Command::new(program)
            .arg("-f")
            .arg("-s")
            .arg(self.dir.path().join("logrotate.state"))
            .arg(&conf)
            .output()
            .expect("logrotate must be installed (scripts/test-all.sh installs it)");
        assert_succeeded(&rotated);
    }
}

impl Drop for AsNobody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_and_sighup_lose_no_line() {
    let mut gw = AsNobody::start().await;
    knock_three_times(gw.port).await;
    gw.rotate(Some("nobody nogroup"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        gw.child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the gateway"
    );
    knock_three_times(gw.port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (log, old) = (gw.path("security.log"), gw.path("security.log.1"));
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

/// The new file created for root (the snippet this gateway once shipped):
/// the gateway, as its own user, cannot reopen it. It used to go on writing
/// to the rotated file, unseen by fail2ban, and say it was ready; now it
/// says so, counts it, and serves nothing until it can write where fail2ban
/// looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_the_service_user_cannot_reopen_is_loud_and_fails_closed() {
    let gw = AsNobody::start().await;
    let ready = format!("http://127.0.0.1:{}/ready", gw.metrics);
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);
    // Something to rotate (the snippet skips an empty log).
    knock_three_times(gw.port).await;
    gw.rotate(None);
    let refused = crate::replica_harness::within(Duration::from_secs(5), async || {
        reqwest::get(&ready).await.is_ok_and(|r| r.status() == 503)
    })
    .await;
    assert!(
        refused.is_some(),
        "still ready with a log it cannot write:\n{}",
        std::fs::read_to_string(gw.path("gateway.stderr")).unwrap_or_default()
    );
    let page = reqwest::get(format!("http://127.0.0.1:{}/metrics", gw.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("mcp_gateway_log_reopen_failures_total{log=\"security\"} 1"),
        "{page}"
    );
    let stderr = std::fs::read_to_string(gw.path("gateway.stderr")).unwrap();
    assert!(
        stderr.contains("cannot reopen the log after rotation"),
        "{stderr}"
    );
    // Nothing goes to the rotated file after the rotation.
    let before = deny_lines(&gw.path("security.log.1"));
    knock_three_times(gw.port).await;
    assert_eq!(deny_lines(&gw.path("security.log.1")), before);
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
