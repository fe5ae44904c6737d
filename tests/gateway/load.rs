//! The mixed load test binary (`bench/mixed`, example `load-mixed`) run short:
//! many clients with their own certificates and tokens create, read and list
//! on the real binary over the embedded store; every acknowledged create is
//! read back, and the store passes SQLite's integrity check — also when the
//! gateway is killed with SIGKILL in the middle of the writes and started
//! again, and while invalid and valid configs are reloaded. Its figures (throughput, latency, RSS) are printed, never asserted.

use std::process::Command;

use crate::bench_harness::harness_tool;

/// The report of one run of `load-mixed` with `args`, which must succeed.
fn load_mixed(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::TempDir::new().unwrap();
    let out = Command::new(harness_tool("load-mixed"))
        .args(args)
        .arg("--gateway")
        .arg(env!("CARGO_BIN_EXE_mcp-gateway"))
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    crate::sweep::keep(dir.path(), None, &[]);
    let report = String::from_utf8_lossy(&out.stdout);
    println!("load-mixed {args:?}: {report}");
    assert!(
        out.status.success(),
        "load-mixed {args:?} failed: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&report).unwrap()
}

#[test]
fn a_mixed_load_has_no_errors_and_every_acknowledged_write_is_there() {
    let report = load_mixed(&["--clients", "12", "--duration", "3"]);
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["writes_lost"], 0, "{report}");
    assert_eq!(report["store_integrity"], "ok", "{report}");
    for kind in ["create", "get", "list"] {
        assert!(report[kind]["calls"].as_u64() > Some(0), "{report}");
    }
    assert!(report["rss_kib"]["peak"].as_u64() > Some(0), "{report}");
}

#[test]
fn kill_9_under_write_load_loses_no_acknowledged_write() {
    let report = load_mixed(&[
        "--clients",
        "8",
        "--duration",
        "4",
        "--kill-9-at",
        "1.5",
        "--writes-in-ten",
        "6",
    ]);
    assert_eq!(report["errors"], 0, "{report}");
    assert!(
        report["interrupted_by_kill"].as_u64() > Some(0),
        "the kill hit no call: {report}"
    );
    assert!(report["calls_after_restart"].as_u64() > Some(0), "{report}");
    assert!(report["writes_acknowledged"].as_u64() > Some(0), "{report}");
    assert_eq!(report["writes_lost"], 0, "{report}");
    assert_eq!(report["store_integrity"], "ok", "{report}");
}

#[test]
fn reloads_of_valid_and_invalid_configs_under_load_fail_no_call() {
    let report = load_mixed(&["--clients", "8", "--duration", "4", "--reload-every", "0.5"]);
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["reloads"]["applied"].as_u64() > Some(0), "{report}");
    assert!(report["reloads"]["refused"].as_u64() > Some(0), "{report}");
    assert_eq!(report["writes_lost"], 0, "{report}");
}
