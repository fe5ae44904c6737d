//! The shipped HAProxy config starts on a host whose hard file limit is
//! 20,000 (issue 21, item 15): its `maxconn` once asked for 40,034.

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_shipped_haproxy_config_starts_under_a_hard_limit_of_20000() {
    let dir = tempfile::TempDir::new().unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/haproxy/haproxy.cfg"
    ))
    .unwrap();
    let port = crate::common::free_port();
    // Only what cannot run here changes: the listen address and syslog.
    let config: String = shipped
        .lines()
        .filter(|l| !l.trim_start().starts_with("log /dev/log"))
        .map(|l| l.replace("bind :8443", &format!("bind 127.0.0.1:{port}")))
        .map(|l| l.replace("192.0.2.", "127.0.3."))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        config.contains("maxconn"),
        "the shipped config sets maxconn"
    );
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, format!("{config}\n")).unwrap();
    let stderr = dir.path().join("haproxy.stderr");
    let mut haproxy = Command::new("prlimit")
        .args(["--nofile=20000:20000", "--", "haproxy", "-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("prlimit (util-linux) and haproxy");
    std::thread::sleep(Duration::from_secs(2));
    let exited = haproxy.try_wait().unwrap();
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    let said = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        exited.is_none(),
        "HAProxy did not start: {exited:?}\n{said}"
    );
    assert!(!said.contains("Cannot raise FD limit"), "{said}");
}
