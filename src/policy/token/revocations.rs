//! The revocation list: a file of revoked token ids (`jti`), one per line
//! (`#` starts a comment). A background task re-reads it whenever its
//! modification time or length changes (checked every [`POLL_INTERVAL`]) and
//! swaps the whole set at once, so a request never waits on the file system
//! and never sees half a list. Edit it by writing a new file and renaming it
//! over the old one: a rewrite in place can be read while it is still empty.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::config::Problem;
use crate::denial::{Denial, Reason};

/// How often the file is checked for a change: revoking takes effect within it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A version of the file: (modification time, length).
type Version = (SystemTime, u64);

/// What the list holds now.
#[derive(Debug)]
enum Snapshot {
    /// The ids read from this version of the file.
    Read(Option<Version>, HashSet<String>),
    /// The file cannot be read: every token is refused until it can.
    Unavailable,
}

/// The revoked ids and the file they came from.
pub struct Revocations {
    path: PathBuf,
    current: ArcSwap<Snapshot>,
}

/// What identifies a version of the file: a rewrite within one clock tick
/// still changes the length in practice, so both are compared.
fn version(path: &Path) -> std::io::Result<Version> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.modified()?, metadata.len()))
}

fn read(path: &Path) -> std::io::Result<Snapshot> {
    let modified = version(path).ok();
    let text = std::fs::read_to_string(path)?;
    let ids = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Snapshot::Read(modified, ids))
}

impl Revocations {
    /// Reads the list at start; an unreadable file is a startup error.
    pub fn load(path: &Path) -> Result<Revocations, Problem> {
        let snapshot = read(path).map_err(|e| {
            Problem::new(
                "jwt.revocations",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Ok(Revocations {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(snapshot),
        })
    }

    /// Whether `jti` is revoked. While the file is unreadable every token is
    /// refused: a revocation must never be missed.
    pub fn is_revoked(&self, jti: &str) -> Result<bool, Denial> {
        match &**self.current.load() {
            Snapshot::Read(_, ids) => Ok(ids.contains(jti)),
            Snapshot::Unavailable => Err(Denial::new(Reason::RevocationsUnavailable)),
        }
    }

    /// Re-reads the file if it changed since the last look.
    pub fn refresh(&self) {
        let known = match &**self.current.load() {
            Snapshot::Read(version, _) => *version,
            Snapshot::Unavailable => None,
        };
        let fresh = match version(&self.path) {
            Ok(seen) if Some(seen) == known => return,
            Ok(_) => read(&self.path),
            Err(e) => Err(e),
        };
        match fresh {
            Ok(snapshot) => self.current.store(Arc::new(snapshot)),
            Err(error) => {
                if !matches!(&**self.current.load(), Snapshot::Unavailable) {
                    tracing::error!(path = %self.path.display(), %error, "revocation list unreadable; refusing every token");
                }
                self.current.store(Arc::new(Snapshot::Unavailable));
            }
        }
    }

    /// Checks the file every [`POLL_INTERVAL`] until `shutdown`.
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = shutdown.cancelled() => return,
            }
            let this = Arc::clone(&self);
            // File system calls block: keep them off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || this.refresh()).await;
        }
    }
}

/// `token revoke`: adds `jti` to the list at `path` by writing a new file and
/// renaming it over the old one (the watcher never sees half a list). Returns
/// false when it was already revoked.
pub fn revoke(path: &Path, jti: &str) -> Result<bool, String> {
    if jti.is_empty() || jti.contains(['\n', '\r', '#']) || jti.trim() != jti {
        return Err(format!("`{}` is not a token id (jti)", jti.escape_debug()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Ok(Snapshot::Read(_, ids)) = read(path)
        && ids.contains(jti)
    {
        return Ok(false);
    }
    let mut next = text;
    if !next.is_empty() && !next.ends_with('\n') {
        next.push('\n');
    }
    next.push_str(jti);
    next.push('\n');
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, next)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{Reason, Revocations, revoke};

    #[test]
    fn revoking_appends_once_and_refuses_what_is_not_an_id() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("revoked.txt");
        std::fs::write(&path, "# revoked\nold").unwrap();
        assert_eq!(revoke(&path, "j-1"), Ok(true));
        assert_eq!(revoke(&path, "j-1"), Ok(false));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# revoked\nold\nj-1\n"
        );
        assert!(revoke(&path, "a\nb").is_err());
        assert!(revoke(&path, "").is_err());
        let list = Revocations::load(&path).unwrap();
        assert_eq!(list.is_revoked("j-1"), Ok(true));
    }

    #[test]
    fn changes_are_picked_up_and_an_unreadable_file_fails_closed() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("revoked.txt");
        std::fs::write(&path, "a # first\n").unwrap();
        let list = Revocations::load(&path).unwrap();
        assert_eq!(list.is_revoked("a"), Ok(true));
        assert_eq!(list.is_revoked("b"), Ok(false));
        // Replaced by rename, as documented.
        let next = dir.path().join("revoked.txt.new");
        std::fs::write(&next, "a\nbb\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        list.refresh();
        assert_eq!(list.is_revoked("bb"), Ok(true));
        std::fs::remove_file(&path).unwrap();
        list.refresh();
        assert_eq!(
            list.is_revoked("zz").unwrap_err().reason,
            Reason::RevocationsUnavailable
        );
        std::fs::write(&path, "c\n").unwrap();
        list.refresh();
        assert_eq!(list.is_revoked("a"), Ok(false));
        assert_eq!(list.is_revoked("c"), Ok(true));
    }
}
