//! `mcp-gateway connect` in tests: the files a client machine holds (its
//! certificate, key, the gateway's CA, a token file; secrets mode 0600), the
//! command line that launches the bridge, a raw stdio driver that reads every
//! byte the bridge writes to stdout, and the real MCP clients that launch it
//! (the Python SDK in the test venvs, Node.js scripts in tests/connect).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mcp_gateway::cli::pki::{Authority, Issued};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// This build's binary.
pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-gateway");

/// What a client machine holds for `connect`.
pub struct ClientFiles {
    /// Owns the folder.
    pub dir: TempDir,
    /// The client certificate (PEM).
    pub cert: PathBuf,
    /// Its key (PEM, 0600).
    pub key: PathBuf,
    /// The gateway's CA (PEM).
    pub ca: PathBuf,
    /// The token file (0600).
    pub token: PathBuf,
}

/// Writes `text` to `path` with `mode`.
pub fn write_with_mode(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl ClientFiles {
    /// The files of a machine holding `cert` (from `ca_pem`'s gateway) and `token`.
    pub fn new(ca_pem: &str, cert: &Issued, token: &str) -> ClientFiles {
        let dir = TempDir::new().unwrap();
        let files = ClientFiles {
            cert: dir.path().join("client.pem"),
            key: dir.path().join("client.key"),
            ca: dir.path().join("ca.pem"),
            token: dir.path().join("client.token"),
            dir,
        };
        write_with_mode(&files.cert, &cert.cert_pem, 0o644);
        write_with_mode(&files.key, &cert.key_pem, 0o600);
        write_with_mode(&files.ca, ca_pem, 0o644);
        write_with_mode(&files.token, token, 0o600);
        files
    }

    /// For a machine with a certificate for `identity` from `ca`.
    pub fn issued(
        ca: &Authority,
        identity: &str,
        token: impl FnOnce(&Issued) -> String,
    ) -> ClientFiles {
        let cert = ca.issue_client(identity).unwrap();
        let token = token(&cert);
        ClientFiles::new(&ca.issued.cert_pem, &cert, &token)
    }

    /// `connect URL --cert … --key … --ca … --token-file …`, then `extra`.
    pub fn args(&self, url: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec!["connect".into(), url.into()];
        for (flag, path) in [
            ("--cert", &self.cert),
            ("--key", &self.key),
            ("--ca", &self.ca),
            ("--token-file", &self.token),
        ] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    /// Replaces the token the way a rotation script does: a new file renamed over it.
    pub fn rotate_token(&self, token: &str) {
        let fresh = self.dir.path().join("client.token.new");
        write_with_mode(&fresh, token, 0o600);
        std::fs::rename(fresh, &self.token).unwrap();
    }

    /// Where a client's stderr capture goes.
    pub fn stderr_log(&self) -> PathBuf {
        self.dir.path().join("connect.stderr")
    }
}

impl Drop for ClientFiles {
    /// The bridge's stderr goes to the secrets sweep with the key and token
    /// files beside it: no secret of the client machine may appear there.
    fn drop(&mut self) {
        crate::sweep::keep(self.dir.path(), None, &[]);
    }
}

/// A program of a test venv (`.venv` for the MCP SDK 2.x, `.venv-mcp1` for 1.x).
pub fn venv_python(venv: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(venv)
        .join("bin/python");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-all.sh",
        path.display()
    );
    path
}

/// The arguments that run tests/connect/stdio_flow.py in `mode` (with its
/// options) against `connect` launched with `bridge_args`, its stderr in `log`.
pub fn stdio_flow(mode: &[&str], log: &Path, bridge_args: Vec<String>) -> Vec<String> {
    let mut args = vec![script("stdio_flow.py").display().to_string()];
    args.extend(mode.iter().map(|m| (*m).to_owned()));
    args.extend([log.display().to_string(), "--".into(), BINARY.into()]);
    args.extend(bridge_args);
    args
}

/// The claims of `token`, unverified (what the test minted or was given).
pub fn token_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A file of tests/connect.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/connect")
        .join(name)
}

/// Runs `program args` to its end (at most `limit`): status, stdout, stderr.
pub async fn run_client(
    program: &Path,
    args: &[String],
    limit: Duration,
) -> (bool, String, String) {
    let child = Command::new(program)
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/connect"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} ran longer than {limit:?}", program.display()))
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `connect` driven over its stdio by the test, every stdout byte kept.
pub struct Driven {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Every line read from stdout so far.
    pub lines: Vec<String>,
}

impl Driven {
    /// Launches `connect` with `args`; its stderr goes to `stderr_log`.
    pub fn launch(args: &[String], stderr_log: &Path) -> Driven {
        let mut child = Command::new(BINARY)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Driven {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            lines: Vec::new(),
        }
    }

    /// Writes one line to the bridge.
    pub async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next line of stdout (within 60 s), parsed.
    pub async fn next(&mut self) -> Value {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(60), self.stdout.read_line(&mut line))
            .await
            .expect("an answer within 60 s")
            .unwrap();
        assert!(read > 0, "the bridge closed stdout");
        self.lines.push(line.clone());
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"))
    }

    /// Sends a request and returns the message that answers its `id`
    /// (other messages read meanwhile are kept in `lines`).
    pub async fn request(&mut self, message: Value) -> Value {
        let id = message["id"].clone();
        self.send(&message.to_string()).await;
        loop {
            let answer = self.next().await;
            if answer["id"] == id {
                return answer;
            }
        }
    }

    /// `initialize` then `notifications/initialized`, as a client starts.
    pub async fn initialize(&mut self) -> Value {
        let answer = self
            .request(serde_json::json!({
                "jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "driver", "version": "1" } },
            }))
            .await;
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        answer
    }

    /// Calls `tool` and returns the answer message.
    pub async fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.request(serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments },
        }))
        .await
    }

    /// Closes stdin and reads stdout to its end: the bridge must exit.
    pub async fn finish(mut self) -> Vec<u8> {
        drop(self.stdin.take());
        let mut rest = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read_to_end(&mut self.stdout, &mut rest),
        )
        .await
        .expect("stdout closes once stdin does")
        .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the bridge exits once stdin closes")
            .unwrap();
        assert!(status.success(), "{status}");
        rest
    }
}
