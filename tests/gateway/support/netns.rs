//! A small network lab for the VPN test: network namespaces made by the test,
//! veth pairs between them with private addresses that exist only inside
//! them, and userspace WireGuard (`wireguard-go`, `wg`) configured the way
//! `wg-quick` would from a `wg0.conf`. Everything it makes — namespaces (and
//! with them every interface in them), processes, WireGuard control sockets —
//! is removed when the `Lab` is dropped, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `wireguard-go` puts its control sockets. The folder is not per
/// namespace, hence a WireGuard interface name unique to this run.
const WIREGUARD_SOCKETS: &str = "/var/run/wireguard";

/// The prefix of every namespace and interface this test makes, followed by
/// the test process's id: a later run removes what a killed one left.
const PREFIX: &str = "mgw";

/// Runs `program args`, panicking with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (scripts/test-all.sh installs it)"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command run inside `namespace`, with no proxy from the environment
/// (every address it reaches is inside the test's namespaces).
pub fn in_namespace(namespace: &str) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace]);
    for proxy in ["http_proxy", "https_proxy", "all_proxy"] {
        command.env_remove(proxy).env_remove(proxy.to_uppercase());
    }
    command
}

/// A WireGuard key pair, as `wg genkey` and `wg pubkey` make them.
pub struct KeyPair {
    pub private: String,
    pub public: String,
}

impl KeyPair {
    pub fn generate() -> KeyPair {
        let private = run("wg", &["genkey"]).trim().to_owned();
        let mut pubkey = Command::new("wg")
            .arg("pubkey")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut pubkey.stdin.take().unwrap(), private.as_bytes()).unwrap();
        let output = pubkey.wait_with_output().unwrap();
        assert!(output.status.success());
        let public = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        KeyPair { private, public }
    }
}

/// A process started in a namespace, killed when dropped.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Starts `program args` inside `namespace`, its stderr in `log` and its
    /// stdout beside it (`.out`).
    pub fn start(namespace: &str, program: &Path, args: &[&str], log: &Path) -> Process {
        Process(
            in_namespace(namespace)
                .arg(program)
                .args(args)
                .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap(),
        )
    }

    /// Whether it has exited (then with what).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().unwrap()
    }
}

/// The namespaces, WireGuard processes and sockets one test made.
pub struct Lab {
    tag: String,
    namespaces: Vec<String>,
    wireguards: Vec<Process>,
    sockets: Vec<PathBuf>,
}

impl Lab {
    /// An empty lab; removes what earlier runs, killed before they could
    /// clean up, left behind.
    pub fn new() -> Lab {
        remove_leftovers();
        Lab {
            tag: format!("{PREFIX}{}", std::process::id()),
            namespaces: Vec::new(),
            wireguards: Vec::new(),
            sockets: Vec::new(),
        }
    }

    /// A name for a namespace or an interface of this run: at most 15
    /// characters, as Linux wants for interfaces.
    pub fn name(&self, suffix: &str) -> String {
        let name = format!("{}{suffix}", self.tag);
        assert!(name.len() <= 15, "{name} is too long for an interface");
        name
    }

    /// Makes the namespace `name` with its loopback up. Without the right to
    /// (root, as in CI), the test fails and says why, rather than skip.
    pub fn namespace(&mut self, name: &str) {
        let made = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("the VPN test needs `ip` (Debian package iproute2)");
        assert!(
            made.status.success(),
            "the VPN test cannot make a network namespace (`ip netns add {name}`: {}). \
             It needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN, as CI has; it fails rather than skip.",
            String::from_utf8_lossy(&made.stderr).trim()
        );
        self.namespaces.push(name.to_owned());
        run("ip", &["-n", name, "link", "set", "lo", "up"]);
    }

    /// Joins namespaces `a` and `b` with a veth pair named `name` + `a`/`b`,
    /// giving each end its address (CIDR) and bringing it up.
    pub fn veth(&self, name: &str, (a, a_address): (&str, &str), (b, b_address): (&str, &str)) {
        let (a_end, b_end) = (format!("{name}a"), format!("{name}b"));
        run(
            "ip",
            &[
                "link", "add", &a_end, "netns", a, "type", "veth", "peer", "name", &b_end, "netns",
                b,
            ],
        );
        for (namespace, end, address) in [(a, &a_end, a_address), (b, &b_end, b_address)] {
            run(
                "ip",
                &["-n", namespace, "address", "add", address, "dev", end],
            );
            run("ip", &["-n", namespace, "link", "set", end, "up"]);
        }
    }

    /// Brings up WireGuard interface `interface` in `namespace` from a
    /// `wg-quick` style config, as `wg-quick up` does where the kernel has no
    /// WireGuard: `wireguard-go` makes the interface, `wg setconf` takes the
    /// config without wg-quick's own keys, `Address` goes on the interface and
    /// each peer's `AllowedIPs` is routed into it.
    pub fn wireguard(&mut self, namespace: &str, interface: &str, config: &str, folder: &Path) {
        let log = folder.join(format!("{interface}.stderr"));
        self.sockets
            .push(Path::new(WIREGUARD_SOCKETS).join(format!("{interface}.sock")));
        self.wireguards.push(Process::start(
            namespace,
            Path::new("wireguard-go"),
            &["-f", interface],
            &log,
        ));
        let started = Instant::now();
        while !Command::new("ip")
            .args(["-n", namespace, "link", "show", interface])
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "wireguard-go made no {interface}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (stripped, addresses, routes) = strip_wg_quick(config);
        let file = folder.join(format!("{interface}.conf"));
        std::fs::write(&file, stripped).unwrap();
        let file = file.to_str().unwrap();
        run(
            "ip",
            &["netns", "exec", namespace, "wg", "setconf", interface, file],
        );
        for address in &addresses {
            run(
                "ip",
                &["-n", namespace, "address", "add", address, "dev", interface],
            );
        }
        run("ip", &["-n", namespace, "link", "set", interface, "up"]);
        for route in &routes {
            run(
                "ip",
                &["-n", namespace, "route", "replace", route, "dev", interface],
            );
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.wireguards.clear();
        for socket in &self.sockets {
            let _ = std::fs::remove_file(socket);
        }
        for namespace in &self.namespaces {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .status();
        }
    }
}

/// A `wg-quick` config split into what `wg setconf` takes, the interface's
/// addresses (`Address`), and the networks to route into the tunnel (every
/// peer's `AllowedIPs`).
pub fn strip_wg_quick(config: &str) -> (String, Vec<String>, Vec<String>) {
    let (mut kept, mut addresses, mut routes) = (String::new(), Vec::new(), Vec::new());
    for line in config.lines() {
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim().to_ascii_lowercase(), value.trim()),
            None => (String::new(), ""),
        };
        let list = || value.split(',').map(|v| v.trim().to_owned());
        match key.as_str() {
            "address" => addresses.extend(list()),
            "dns" | "mtu" | "table" | "preup" | "postup" | "predown" | "postdown"
            | "saveconfig" => {}
            _ => {
                if key == "allowedips" {
                    routes.extend(list());
                }
                kept.push_str(line);
                kept.push('\n');
            }
        }
    }
    (kept, addresses, routes)
}

/// Removes the namespaces and control sockets of runs whose process is gone.
fn remove_leftovers() {
    let dead = |name: &str| {
        let digits: String = name
            .strip_prefix(PREFIX)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        !digits.is_empty() && !Path::new("/proc").join(&digits).exists()
    };
    let listed = Command::new("ip").args(["netns", "list"]).output();
    for line in listed
        .map(|o| o.stdout)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
    {
        let line = String::from_utf8_lossy(line);
        let name = line.split_whitespace().next().unwrap_or_default();
        if dead(name) {
            // Its processes (WireGuard, a gateway) outlived the test that
            // started them.
            let pids = Command::new("ip").args(["netns", "pids", name]).output();
            for pid in String::from_utf8_lossy(&pids.map(|o| o.stdout).unwrap_or_default())
                .split_whitespace()
            {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
    for entry in std::fs::read_dir(WIREGUARD_SOCKETS)
        .into_iter()
        .flatten()
        .flatten()
    {
        if dead(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
