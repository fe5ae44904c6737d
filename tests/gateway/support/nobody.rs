//! Running the gateway as an unprivileged service user (`nobody`), as the
//! systemd unit and the container do: a copy of the binary that user can
//! reach, folders it owns, and the command that drops to it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `nobody`'s uid and gid.
pub const NOBODY: &str = "65534";

/// A copy of the gateway binary in `dir`, executable by anyone (the build
/// folder may sit under /root, which `nobody` cannot enter).
pub fn reachable_binary(dir: &Path) -> PathBuf {
    let binary = dir.join("mcp-gateway");
    std::fs::copy(env!("CARGO_BIN_EXE_mcp-gateway"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    binary
}

/// Gives `path` (and all below it) to `nobody`.
pub fn give_to_nobody(path: &Path) {
    let owned = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(owned.success(), "chown {}", path.display());
}

/// `binary` run as `nobody`, without any group (util-linux `setpriv`; the
/// suite runs as root).
pub fn as_nobody(binary: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(binary);
    command
}

/// Waits for `child` to exit, at most `limit` after `since`; its status.
pub async fn exit_within(
    child: &mut std::process::Child,
    since: std::time::Instant,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(since.elapsed() < limit, "no exit within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
