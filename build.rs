//! Records what `mcp-gateway --version` prints besides the crate version: the
//! git commit it was built from and the build date (`SOURCE_DATE_EPOCH` wins,
//! for reproducible builds). Either is `unknown` when it cannot be found.

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"])
        .map(
            |c| match output("git", &["status", "--porcelain", "--untracked-files=no"]) {
                Some(_) => format!("{c}-modified"),
                None => c,
            },
        )
        .unwrap_or_else(|| "unknown".into());
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => output("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"]),
        Err(_) => output("date", &["-u", "+%Y-%m-%d"]),
    }
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MCP_GATEWAY_COMMIT={commit}");
    println!("cargo:rustc-env=MCP_GATEWAY_BUILD_DATE={date}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}
