//! Files the commands rewrite (`keys rotate`, `secrets rotate`, a reused
//! quickstart config): the new text is written beside the file, synced, and
//! renamed over it, so a reader (a running gateway's watcher among them)
//! sees the old file or the new one, never half of one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with `text`, the new file created with `mode`.
pub fn replace(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".rotating");
    let temporary = path.with_file_name(name);
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}
