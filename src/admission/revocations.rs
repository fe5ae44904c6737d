//! The revocation list: a file of revoked token ids (`jti`), one per line
//! (`#` starts a comment). It is re-read whenever its modification time
//! changes, so revoking a token takes effect on the next request, no restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::config::Problem;
use crate::denial::{Denial, Reason};

/// A version of the file: (modification time, length).
type Version = (SystemTime, u64);

/// What was last read: the version it came from and the revoked ids.
type Snapshot = (Option<Version>, HashSet<String>);

/// The revoked ids and the file they came from.
pub struct Revocations {
    path: PathBuf,
    /// The file's (modification time, length) when read, and the ids in it.
    state: Mutex<Snapshot>,
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
    Ok((modified, ids))
}

impl Revocations {
    /// Reads the list at start; an unreadable file is a startup error.
    pub fn load(path: &Path) -> Result<Revocations, Problem> {
        let state = read(path).map_err(|e| {
            Problem::new(
                "jwt.revocations",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Ok(Revocations {
            path: path.to_owned(),
            state: Mutex::new(state),
        })
    }

    /// Whether `jti` is revoked. If the file has become unreadable every token
    /// is refused: a revocation must never be missed.
    pub fn is_revoked(&self, jti: &str) -> Result<bool, Denial> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match version(&self.path) {
            Ok(modified) if Some(modified) == state.0 => {}
            Ok(_) => match read(&self.path) {
                Ok(fresh) => *state = fresh,
                Err(e) => return Err(unavailable(&self.path, e)),
            },
            Err(e) => return Err(unavailable(&self.path, e)),
        }
        Ok(state.1.contains(jti))
    }
}

fn unavailable(path: &Path, error: std::io::Error) -> Denial {
    tracing::error!(path = %path.display(), %error, "revocation list unreadable; refusing every token");
    Denial::new(Reason::RevocationsUnavailable)
}
