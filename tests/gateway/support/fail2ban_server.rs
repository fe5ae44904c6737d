//! A real `fail2ban-server` running the shipped filter and jail on a test
//! gateway's security log, with a ban action that writes the banned address
//! to a file instead of touching the firewall.

use std::process::Command;

use crate::common::wait_until;

/// A private fail2ban configuration: the system's stock files, only our jail
/// enabled, reading `log`, and an action that records bans in `banned` instead
/// of touching the firewall.
fn jail_config(
    root: &std::path::Path,
    log: &std::path::Path,
    banned: &std::path::Path,
) -> std::path::PathBuf {
    let conf = root.join("fail2ban");
    let copied = Command::new("cp")
        .arg("-r")
        .arg("/etc/fail2ban")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(
        copied.success(),
        "fail2ban must be installed (scripts/test-all.sh installs it)"
    );
    for entry in std::fs::read_dir(conf.join("jail.d")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/fail2ban");
    std::fs::copy(
        format!("{shipped}/filter.d/mcp-gateway.conf"),
        conf.join("filter.d/mcp-gateway.conf"),
    )
    .unwrap();
    std::fs::copy(
        format!("{shipped}/jail.d/mcp-gateway.conf"),
        conf.join("jail.d/mcp-gateway.conf"),
    )
    .unwrap();
    std::fs::write(
        conf.join("action.d/record-ban.conf"),
        format!("[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = echo <ip> >> {}\nactionunban =\n", banned.display()),
    )
    .unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\nignoreself = false\nignoreip =\n\n[sshd]\nenabled = false\n\n[mcp-gateway]\nlogpath = {}\naction = record-ban\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("fail2ban.local"),
        "[Definition]\ndbfile = :memory:\n",
    )
    .unwrap();
    conf
}

/// A real `fail2ban-server` in the foreground running the shipped jail on a
/// gateway's security log, its bans recorded in a file; stopped on drop.
pub struct Fail2banServer {
    child: std::process::Child,
    root: tempfile::TempDir,
}

impl Fail2banServer {
    /// Starts it on `log` (which must exist; a glob such as `security-*.log`
    /// reads several) and waits until the jail reads it.
    pub async fn start(log: &std::path::Path) -> Fail2banServer {
        Fail2banServer::start_in_zone(log, None).await
    }

    /// Like [`Fail2banServer::start`], on a host whose local time zone is `zone`.
    pub async fn start_in_zone(log: &std::path::Path, zone: Option<&str>) -> Fail2banServer {
        let root = tempfile::TempDir::new().unwrap();
        let conf = jail_config(root.path(), log, &root.path().join("banned"));
        let socket = root.path().join("fail2ban.sock");
        let mut command = Command::new("fail2ban-server");
        if let Some(zone) = zone {
            command.env("TZ", zone);
        }
        let child = command
            .args(["-f", "-x", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .arg("-p")
            .arg(root.path().join("fail2ban.pid"))
            .arg(format!(
                "--logtarget={}",
                root.path().join("server.log").display()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Fail2banServer { child, root };
        assert!(
            wait_until(|| socket.exists()).await,
            "fail2ban-server did not start"
        );
        // Give the jail time to open the log before the first denial is written.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        server
    }

    /// The addresses banned so far, in order.
    pub fn banned(&self) -> Vec<String> {
        std::fs::read_to_string(self.root.path().join("banned"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// What the server wrote to its own log so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }

    /// Waits (up to 20 s) until `ip` is banned; what fail2ban said when it is not.
    pub async fn wait_banned(&self, ip: &str) -> Result<(), String> {
        if wait_until(|| self.banned().iter().any(|b| b == ip)).await {
            return Ok(());
        }
        Err(self.server_log())
    }
}

impl Drop for Fail2banServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
