//! `connect --print-config CLIENT`: the snippet that makes an MCP client
//! launch `connect`, with this machine's real paths. The examples shipped in
//! `docs/clients/` are this output for example paths (a test renders them
//! and compares, so they cannot drift from what the binary prints).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::connect::options::Options;

/// A client a snippet is printed for.
pub struct ClientKind {
    /// Its name for `--print-config`.
    pub name: &'static str,
    /// The example shipped in `docs/clients/`.
    pub example: &'static str,
    /// Where the snippet goes.
    pub goes: &'static str,
}

/// The clients, in the order the docs list them.
pub const CLIENTS: [ClientKind; 6] = [
    ClientKind {
        name: "claude-desktop",
        example: "claude_desktop_config.json",
        goes: "claude_desktop_config.json (Settings, Developer, Edit Config)",
    },
    ClientKind {
        name: "claude-code",
        example: "claude-code.sh",
        goes: "a shell: Claude Code's `claude mcp add`",
    },
    ClientKind {
        name: "cursor",
        example: "cursor-mcp.json",
        goes: "~/.cursor/mcp.json, or .cursor/mcp.json in a project",
    },
    ClientKind {
        name: "vscode",
        example: "vscode-mcp.json",
        goes: ".vscode/mcp.json in a workspace (or `MCP: Open User Configuration`)",
    },
    ClientKind {
        name: "zed",
        example: "zed-settings.json",
        goes: "Zed's settings.json (`zed: open settings`)",
    },
    ClientKind {
        name: "generic",
        example: "generic.sh",
        goes: "any client that launches a stdio MCP server: the command line",
    },
];

/// The program the shipped examples name.
pub const EXAMPLE_PROGRAM: &str = "/usr/local/bin/mcp-gateway";

/// The arguments the shipped examples carry.
pub fn example_arguments() -> Vec<String> {
    let home = "/home/alice/.config/mcp-gateway";
    [
        "connect".to_owned(),
        "https://calendar-gw.vpn.example:8443/mcp".to_owned(),
        "--cert".to_owned(),
        format!("{home}/client.pem"),
        "--key".to_owned(),
        format!("{home}/client.key"),
        "--ca".to_owned(),
        format!("{home}/ca.pem"),
        "--token-file".to_owned(),
        format!("{home}/client.token"),
    ]
    .to_vec()
}

/// `path` made absolute against the current folder (clients launch the
/// command from folders of their own).
fn absolute(path: &Path) -> String {
    let full = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    full.canonicalize().unwrap_or(full).display().to_string()
}

/// The arguments that follow the program: `connect URL --cert … --token-file …`.
pub fn arguments(options: &Options) -> Vec<String> {
    let mut args = vec!["connect".to_owned(), options.url.clone()];
    let paths: [(&str, &Option<PathBuf>); 5] = [
        ("--cert", &options.cert),
        ("--key", &options.key),
        ("--ca", &options.ca),
        ("--token-file", &options.token_file),
        ("--passphrase-file", &options.passphrase_file),
    ];
    for (flag, value) in paths {
        if let Some(path) = value {
            args.push(flag.to_owned());
            args.push(absolute(path));
        }
    }
    if let Some(name) = &options.passphrase_env {
        args.push("--passphrase-env".to_owned());
        args.push(name.clone());
    }
    if options.gateway_protocol != "auto" {
        args.push("--gateway-protocol".to_owned());
        args.push(options.gateway_protocol.clone());
    }
    args
}

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The snippet for `client`: `program` run with `args` under `name`.
pub fn snippet(client: &str, name: &str, program: &str, args: &[String]) -> Result<String, String> {
    let entry = json!({ "command": program, "args": args });
    let document: Value = match client {
        "claude-desktop" | "cursor" => json!({ "mcpServers": { name: entry } }),
        "vscode" => {
            json!({ "servers": { name: { "type": "stdio", "command": program, "args": args } } })
        }
        "zed" => {
            json!({ "context_servers": { name: { "command": program, "args": args, "env": {} } } })
        }
        "claude-code" | "generic" => {
            let line: Vec<String> = std::iter::once(program.to_owned())
                .chain(args.iter().cloned())
                .map(|a| shell_quote(&a))
                .collect();
            let line = line.join(" ");
            return Ok(match client {
                "claude-code" => format!(
                    "claude mcp add --transport stdio {} -- {line}\n",
                    shell_quote(name)
                ),
                _ => format!("{line}\n"),
            });
        }
        other => {
            let known: Vec<&str> = CLIENTS.iter().map(|c| c.name).collect();
            return Err(format!(
                "--print-config: unknown client `{other}` (known: {})",
                known.join(", ")
            ));
        }
    };
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&document).expect("JSON values render")
    ))
}

/// The snippet `--print-config` prints for `options`, naming this binary.
pub fn print_config(options: &Options, client: &str) -> Result<String, String> {
    let program = std::env::current_exe()
        .map(|p| absolute(&p))
        .map_err(|e| format!("cannot tell where this binary is: {e}"))?;
    snippet(client, &options.name, &program, &arguments(options))
}

#[cfg(test)]
mod tests {
    use super::{shell_quote, snippet};

    #[test]
    fn arguments_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("/home/me/token"), "/home/me/token");
        assert_eq!(
            shell_quote("/home/my files/it's"),
            r"'/home/my files/it'\''s'"
        );
        let line = snippet("generic", "c", "/bin/gw", &["connect".into(), "a b".into()]).unwrap();
        assert_eq!(line, "/bin/gw connect 'a b'\n");
        assert!(
            snippet("notepad", "c", "/bin/gw", &[])
                .unwrap_err()
                .contains("claude-desktop")
        );
    }
}
