//! The client configuration snippets for `connect`: each example shipped in
//! docs/clients/ is exactly what `--print-config` prints for its paths, and
//! parses as its client reads it (JSON for Claude Desktop, Cursor, VS Code
//! and Zed; a shell command line for Claude Code and the generic one);
//! `--print-config` itself names this binary and the real, absolute paths.
//! (The Inspector CLI launching connect: `connect_clients.rs`.)
//!
//! `MCP_GATEWAY_WRITE_EXAMPLES=1 cargo test connect_snippets` rewrites the
//! examples after a change to the snippets.

use std::path::Path;

use mcp_gateway::connect::snippets::{CLIENTS, EXAMPLE_PROGRAM, example_arguments, snippet};
use serde_json::Value;

use crate::bridge::{BINARY, ClientFiles};
use crate::common::TestGateway;

/// The program and arguments a client reads from `text`.
fn launched(client: &str, text: &str) -> (String, Vec<String>) {
    let json = |text: &str| {
        serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{client}: {e}\n{text}"))
    };
    let entry = match client {
        "claude-desktop" | "cursor" => json(text)["mcpServers"]["calendar"].clone(),
        "vscode" => {
            let entry = json(text)["servers"]["calendar"].clone();
            assert_eq!(entry["type"], "stdio", "{text}");
            entry
        }
        "zed" => json(text)["context_servers"]["calendar"].clone(),
        _ => {
            let mut words = shell_words(text);
            if client == "claude-code" {
                let head: Vec<String> = words.drain(..7).collect();
                assert_eq!(
                    head,
                    [
                        "claude",
                        "mcp",
                        "add",
                        "--transport",
                        "stdio",
                        "calendar",
                        "--"
                    ],
                    "{text}"
                );
            }
            let program = words.remove(0);
            return (program, words);
        }
    };
    let args = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (entry["command"].as_str().unwrap().to_owned(), args)
}

/// `text` split as a POSIX shell would (Python's shlex).
fn shell_words(text: &str) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, shlex, sys; print(json.dumps(shlex.split(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_shipped_examples_are_what_print_config_prints_and_parse_as_their_clients_read_them() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/clients");
    for kind in CLIENTS {
        let text = snippet(kind.name, "calendar", EXAMPLE_PROGRAM, &example_arguments()).unwrap();
        let path = folder.join(kind.example);
        if std::env::var_os("MCP_GATEWAY_WRITE_EXAMPLES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let shipped =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            shipped,
            text,
            "{} differs from --print-config {}",
            path.display(),
            kind.name
        );
        let (program, args) = launched(kind.name, &shipped);
        assert_eq!(program, EXAMPLE_PROGRAM, "{}", kind.name);
        assert_eq!(args, example_arguments(), "{}", kind.name);
    }
}

#[tokio::test]
async fn print_config_names_this_binary_and_the_real_absolute_paths() {
    let gw = TestGateway::start().await;
    let files = ClientFiles::issued(&gw.pki.ca, "agent-s", |_| gw.pki.token("agent-s"));
    // Relative paths, as a user types them in the folder that holds them.
    let relative = [
        "connect",
        &gw.url(),
        "--cert",
        "client.pem",
        "--key",
        "client.key",
        "--ca",
        "ca.pem",
        "--token-file",
        "client.token",
    ];
    let binary = std::fs::canonicalize(BINARY).unwrap().display().to_string();
    for kind in CLIENTS {
        let out = tokio::process::Command::new(BINARY)
            .args(relative)
            .args(["--print-config", kind.name])
            .current_dir(files.dir.path())
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            kind.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let (program, args) = launched(kind.name, &String::from_utf8_lossy(&out.stdout));
        assert_eq!(program, binary, "{}", kind.name);
        assert_eq!(args[..2], ["connect".to_owned(), gw.url()], "{}", kind.name);
        for pair in args[2..].chunks(2) {
            let path = Path::new(&pair[1]);
            assert!(
                path.is_absolute() && path.exists(),
                "{}: {pair:?}",
                kind.name
            );
        }
    }
    let unknown = tokio::process::Command::new(BINARY)
        .args(relative)
        .args(["--print-config", "notepad"])
        .output()
        .await
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("claude-desktop, claude-code"));
}
