//! The shipped packaging, checked without a Docker engine: the Dockerfile's
//! paths, user, ports and commands agree with the binary's real subcommands and
//! the container config; the binary runs as an unprivileged user with only the
//! store and log folders writable and its healthcheck passes; the systemd unit
//! passes `systemd-analyze verify` where that tool exists.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BINARY: &str = env!("CARGO_BIN_EXE_mcp-gateway");

/// The JSON array on the first Dockerfile line that starts with `start`
/// (an instruction, or the indented `CMD` that continues `HEALTHCHECK`).
fn exec_form(dockerfile: &str, start: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no {start} in the Dockerfile"));
    let array = &line[line.find('[').unwrap()..];
    serde_json::from_str(array).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_dockerfile_matches_the_binary_and_the_container_config() {
    let dockerfile = std::fs::read_to_string(format!("{ROOT}/Dockerfile.distroless")).unwrap();
    let config: toml::Table = toml::from_str(
        &std::fs::read_to_string(format!("{ROOT}/packaging/container/gateway.toml")).unwrap(),
    )
    .unwrap();
    // The binary is copied where ENTRYPOINT and HEALTHCHECK run it.
    let copied = dockerfile
        .lines()
        .find(|l| l.starts_with("COPY --from=build"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap();
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(entrypoint, [copied]);
    let command = exec_form(&dockerfile, "CMD");
    let health = exec_form(&dockerfile, "  CMD ");
    assert_eq!(health[0], copied);
    let config_path = "/etc/mcp-gateway/gateway.toml";
    assert_eq!(command, ["serve", "--config", config_path]);
    assert_eq!(health[1..], ["healthcheck", "--config", config_path]);
    // Those subcommands and flags exist in the binary.
    for subcommand in ["serve", "healthcheck"] {
        let help = Command::new(BINARY)
            .args([subcommand, "--help"])
            .output()
            .unwrap();
        assert!(help.status.success(), "{subcommand}");
        assert!(String::from_utf8_lossy(&help.stdout).contains("--config <CONFIG>"));
    }
    // Not root.
    let user = dockerfile.lines().find(|l| l.starts_with("USER ")).unwrap();
    assert!(
        !user.contains("root") && !user.starts_with("USER 0"),
        "{user}"
    );
    // The exposed ports are the config's listeners.
    let exposed: Vec<u16> = dockerfile
        .lines()
        .find(|l| l.starts_with("EXPOSE "))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    let listen = config["listen"]["address"].as_str().unwrap();
    let metrics = config["metrics"]["listen"].as_str().unwrap();
    assert_eq!(exposed, [port_of(listen), port_of(metrics)]);
    // Everything the gateway writes is under a VOLUME.
    let volumes = exec_form(&dockerfile, "VOLUME");
    let written = [
        config["backend"]["embedded"]["path"].as_str().unwrap(),
        config["log"]["security_log"].as_str().unwrap(),
        config["log"]["audit_log"].as_str().unwrap(),
    ];
    for path in written {
        assert!(
            volumes.iter().any(|v| path.starts_with(v.as_str())),
            "{path} is not on a volume"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_config_runs_unprivileged_with_only_its_volumes_writable() {
    let root = tempfile::TempDir::new().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (etc, lib, log) = (
        root.path().join("etc"),
        root.path().join("lib"),
        root.path().join("log"),
    );
    for dir in [&etc, &lib, &log] {
        std::fs::create_dir(dir).unwrap();
    }
    crate::common::write_pki(&etc);
    std::fs::write(etc.join("revoked-tokens.txt"), "").unwrap();
    let (port, metrics) = (crate::common::free_port(), crate::common::free_port());
    let text = std::fs::read_to_string(format!("{ROOT}/packaging/container/gateway.toml"))
        .unwrap()
        .replace("/var/lib/mcp-gateway", lib.to_str().unwrap())
        .replace("/var/log/mcp-gateway", log.to_str().unwrap())
        .replace("0.0.0.0:8443", &format!("127.0.0.1:{port}"))
        .replace("0.0.0.0:9464", &format!("127.0.0.1:{metrics}"));
    let config = etc.join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    // The configuration is readable, not writable; only lib and log belong to the user.
    for entry in std::fs::read_dir(&etc).unwrap() {
        std::fs::set_permissions(
            entry.unwrap().path(),
            std::fs::Permissions::from_mode(0o444),
        )
        .unwrap();
    }
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o555)).unwrap();
    for dir in [&lib, &log] {
        let status = Command::new("chown")
            .args(["65534:65534"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let binary = crate::nobody::reachable_binary(root.path());
    let unprivileged = |args: &[&str]| {
        let mut command = crate::nobody::as_nobody(&binary);
        command.args(args).arg("--config").arg(&config);
        command
    };
    let mut gateway = unprivileged(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux) runs the gateway as nobody");
    let mut healthy = None;
    for _ in 0..100 {
        let out = unprivileged(&["healthcheck"]).output().unwrap();
        if out.status.success() {
            healthy = Some(String::from_utf8_lossy(&out.stdout).into_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let uid = std::fs::read_to_string(format!("/proc/{}/status", gateway.id()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .map(str::to_owned)
        .unwrap();
    let _ = Command::new("kill").arg(gateway.id().to_string()).status();
    let status = gateway.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(gateway.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let healthy =
        healthy.unwrap_or_else(|| panic!("healthcheck never passed; gateway said:\n{stderr}"));
    assert!(
        healthy.contains("/ready says the gateway serves"),
        "{healthy}"
    );
    assert!(
        uid.split_whitespace().skip(1).all(|id| id == "65534"),
        "{uid}"
    );
    assert!(status.success(), "SIGTERM exit: {status:?}\n{stderr}");
    assert!(lib.join("calendar.db").exists() && log.join("security.log").exists());
    let names: Vec<String> = std::fs::read_dir(&etc)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        7,
        "the config folder was written to: {names:?}"
    );
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed here: unit not verified");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::TempDir::new().unwrap();
    // verify checks that the executables exist: point it at the built binary.
    let unit = std::fs::read_to_string(format!("{ROOT}/packaging/systemd/mcp-gateway.service"))
        .unwrap()
        .replace("/usr/local/bin/mcp-gateway", BINARY);
    let path = dir.path().join("mcp-gateway.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(Path::new(&path))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !said.contains("mcp-gateway.service:"),
        "{said}"
    );
}

/// The build context (`COPY . .`) holds what the build needs and none of the
/// local state: build output, keys, virtualenvs, stores, logs.
#[test]
fn the_build_context_leaves_out_build_output_keys_and_local_state() {
    let ignore = std::fs::read_to_string(format!("{ROOT}/.dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    // Docker's rule, as far as these patterns go: a pattern matches a path or
    // any path below it; `**/` matches any folder depth; `*` within a name.
    let excluded = |path: &str| {
        let parts: Vec<&str> = path.split('/').collect();
        (1..=parts.len()).any(|n| {
            let prefix = parts[..n].join("/");
            patterns.iter().any(|pattern| glob(pattern, &prefix))
        })
    };
    for left_out in [
        "target/release/mcp-gateway",
        "fuzz/target/x",
        ".venv/bin/python",
        ".venv-mcp1/bin/python",
        "dev/client.key",
        "dev/calendar.db",
        "certs/ca/ca.key",
        ".git/HEAD",
        "bench/results/latest.json",
    ] {
        assert!(
            excluded(left_out),
            "{left_out} would be sent to the builder"
        );
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src/main.rs",
        "bench/floor.rs",
        "fuzz/Cargo.toml",
    ] {
        assert!(!excluded(needed), "{needed} would be left out of the build");
    }
}

/// Whether `path` matches a `.dockerignore` `pattern` made of names, `*`
/// within one name, and a leading `**/`.
fn glob(pattern: &str, path: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("**/") {
        return glob(rest, path)
            || path
                .split_once('/')
                .is_some_and(|(_, below)| glob(pattern, below));
    }
    let (wanted, given): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    wanted.len() == given.len()
        && wanted
            .iter()
            .zip(&given)
            .all(|(w, g)| match w.split_once('*') {
                Some((head, tail)) => {
                    g.len() >= head.len() + tail.len() && g.starts_with(head) && g.ends_with(tail)
                }
                None => w == g,
            })
}
