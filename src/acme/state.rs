//! The state folder of `[tls.acme]`: the ACME account (its key and URL, for
//! the directory it belongs to) and the issued certificate with its key,
//! each a file only the gateway's user may read (mode 0600, the folder
//! 0700), each replaced whole (written beside, synced, renamed). The
//! certificate is what the gateway serves at its next start when the CA
//! cannot be reached.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;
use serde::{Deserialize, Serialize};

use crate::config::acme::Acme;
use crate::config::replace_private;

/// The account file: which directory the account belongs to, and its credentials.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// The folder and the files in it.
pub struct State {
    folder: PathBuf,
    certificate: PathBuf,
    private_key: PathBuf,
}

impl State {
    /// Opens (creating it, mode 0700) the state folder of `acme`.
    pub fn open(acme: &Acme) -> Result<State, String> {
        let folder = acme.state_dir.clone();
        std::fs::create_dir_all(&folder)
            .and_then(|()| {
                std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| {
                format!(
                    "tls.acme.state_dir: cannot create {} (mode 0700): {e}",
                    folder.display()
                )
            })?;
        Ok(State {
            folder,
            certificate: acme.certificate_path(),
            private_key: acme.private_key_path(),
        })
    }

    fn account_path(&self) -> PathBuf {
        self.folder.join("account.json")
    }

    /// The stored account for `directory`; `None` when there is none, it
    /// belongs to another directory (the CA changed) or cannot be read.
    pub fn account(&self, directory: &str) -> Option<AccountCredentials> {
        let text = std::fs::read(self.account_path()).ok()?;
        match serde_json::from_slice::<StoredAccount>(&text) {
            Ok(stored) if stored.directory == directory => Some(stored.credentials),
            Ok(_) => {
                tracing::warn!(
                    directory,
                    "the stored ACME account belongs to another directory; a new account is made"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, path = %self.account_path().display(), "unreadable ACME account file; a new account is made");
                None
            }
        }
    }

    /// Keeps the account made at `directory`.
    pub fn save_account(
        &self,
        directory: &str,
        credentials: AccountCredentials,
    ) -> std::io::Result<()> {
        let stored = StoredAccount {
            directory: directory.to_owned(),
            credentials,
        };
        let text = serde_json::to_vec_pretty(&stored).map_err(std::io::Error::other)?;
        replace_private(&self.account_path(), &text)
    }

    /// Drops the stored account (the CA no longer knows it): the next try
    /// makes a new one. Kept beside as `account.json.gone` for the operator.
    pub fn forget_account(&self) {
        let path = self.account_path();
        if !path.exists() {
            return;
        }
        if let Err(e) = std::fs::rename(&path, self.folder.join("account.json.gone")) {
            tracing::warn!(error = %e, path = %path.display(), "cannot set the unknown ACME account aside");
        }
    }

    /// Keeps an issued certificate: the key first, then the chain, so a
    /// crash between the two leaves a pair the next start refuses as
    /// mismatched (and orders again) rather than one it serves wrongly.
    pub fn save_certificate(&self, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
        replace_private(&self.private_key, key_pem.as_bytes())?;
        replace_private(&self.certificate, chain_pem.as_bytes())
    }

    /// The folder, for messages.
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}
