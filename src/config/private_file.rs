//! Files only their owner may read: the one rule that refuses a secret file
//! others could read (the gateway's and `connect`'s), and the one way such a
//! file is replaced (a renewed token, an ACME account key, an issued
//! certificate's key).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The permission bits of a file group or others may use (read, write or
/// run), `None` when only its owner may (or it cannot be read).
pub fn mode_open_to_others(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Replaces `path` with `contents`: written to a new file beside it (mode
/// 0600, synced), then renamed over it and the folder synced, so that no
/// reader ever sees half a file and a crash leaves the old or the new one.
pub fn replace_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = folder.join(format!(".{name}.{}.new", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
