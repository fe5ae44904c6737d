//! Reloading without a restart (SIGHUP): the config file is read again and
//! everything a reload covers — server certificate and key, client CA, CRLs,
//! IP allowlist, PROXY peers, GeoIP database and exemptions, JWKS, revocation
//! list, rate limits — is built and validated in full first. The TLS,
//! address, token and revocation state is then put in force as one
//! [`crate::policy::snapshot::Snapshot`] swapped at once, so no request checks its
//! token against one configuration and its certificate against another;
//! the rate budgets are replaced right after. Open connections keep the TLS
//! and address policy they started with; new handshakes and every request
//! use the new state. A file read mid-write or missing a key the running
//! configuration spells out is refused; a widening writes a `WIDEN` line. An
//! invalid file changes nothing: the problems are returned, logged and
//! counted. Settings that cannot change live are named as needing a
//! restart. [`Reloader::watch`] does the same when one of the files changes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Problem, Problems};
use crate::policy::address;
use crate::policy::rate::RateLimits;
use crate::policy::resource::ProtectedResource;
use crate::policy::snapshot::Snapshot;
use crate::policy::token::jwt::TokenVerifier;
use crate::policy::token::renewal::Renewer;
use crate::telemetry;
use crate::transport::certificate::{self, Source};
use crate::transport::shared::Shared;
use crate::transport::tls;

/// What a running gateway needs to reload itself.
pub struct Reloader {
    /// The state connections read.
    shared: Arc<Shared>,
    /// The configuration in force (for what cannot change live).
    running: Mutex<Config>,
    /// Stops the watcher of the revocation list in force.
    revocation_watch: Mutex<CancellationToken>,
    /// The gateway's shutdown, parent of every watcher.
    shutdown: CancellationToken,
    /// The rate limits in force.
    rate: Arc<RateLimits>,
}

/// The settings a reload cannot change, by the key an operator would edit.
fn needs_restart(running: &Config, next: &Config) -> Vec<String> {
    // Compared by value, never by their Debug text: secrets print alike
    // (redacted), so a changed refresh token would read as no change.
    let differs = [
        ("listen", running.listen != next.listen),
        ("mcp", running.mcp != next.mcp),
        ("backend", running.backend != next.backend),
        ("metrics", running.metrics != next.metrics),
        ("bans", running.bans != next.bans),
        (
            "log",
            (
                &running.network.security_log,
                &running.network.audit_log,
                running.network.allow_lines,
                running.network.audit_format,
            ) != (
                &next.network.security_log,
                &next.network.audit_log,
                next.network.allow_lines,
                next.network.audit_format,
            ),
        ),
        ("tls.identity", running.tls.identity != next.tls.identity),
        ("tls.acme", running.tls.acme != next.tls.acme),
    ];
    differs
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| format!("{key}: changed in the file, takes effect after a restart"))
        .collect()
}

/// How often the watched files are looked at.
pub const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The files a reload reads, as (path, modification time, length): a change
/// in any of them is a reason to reload.
fn fingerprint(
    path: &Path,
    config: &Config,
) -> Vec<(std::path::PathBuf, Option<std::time::SystemTime>, u64)> {
    let mut files = vec![
        path.to_owned(),
        config.tls.client_ca.clone(),
        config.jwt.jwks.clone(),
    ];
    // An ACME certificate is the ACME client's to replace, not a reason to reload.
    if config.tls.acme.is_none() {
        files.extend([
            config.tls.certificate.clone(),
            config.tls.private_key.clone(),
        ]);
    }
    files.extend(config.tls.crls.iter().cloned());
    files.extend(config.network.geo.as_ref().map(|g| g.database.clone()));
    files
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let length = meta.map_or(0, |m| m.len());
            (file, modified, length)
        })
        .collect()
}

impl Reloader {
    /// Reloads whenever the config file or a file it names (certificate, key,
    /// CA, CRLs, JWKS, GeoIP database) changes, checked every
    /// [`WATCH_INTERVAL`], until shutdown. The revocation list has its own watcher.
    pub async fn watch(self: Arc<Self>, path: std::path::PathBuf) {
        let current = |reloader: &Reloader| {
            let running = reloader.running.lock().unwrap_or_else(|p| p.into_inner());
            fingerprint(&path, &running)
        };
        let mut seen = current(&self);
        // A change is acted on once two looks in a row agree on it: a file
        // still being written is left alone until it holds still.
        let mut pending = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                () = self.shutdown.cancelled() => return,
            }
            let now = current(&self);
            if now == seen {
                pending = None;
                continue;
            }
            if pending.as_ref() != Some(&now) {
                pending = Some(now);
                continue;
            }
            pending = None;
            // A failed reload is logged and counted; a later change retries.
            let _ = self.reload(&path);
            // The files to watch may have changed with the config; unless
            // the config itself moved on meanwhile, watch the new set.
            let after = current(&self);
            seen = if after.first() == now.first() {
                after
            } else {
                now
            };
        }
    }

    /// A reloader for the gateway behind `shared`, whose revocation list (if
    /// any) is watched until `watch` is cancelled.
    pub(crate) fn new(
        shared: Arc<Shared>,
        running: Config,
        watch: CancellationToken,
        shutdown: CancellationToken,
        rate: Arc<RateLimits>,
    ) -> Reloader {
        Reloader {
            shared,
            running: Mutex::new(running),
            revocation_watch: Mutex::new(watch),
            shutdown,
            rate,
        }
    }

    /// Reads `path` and puts what it says in force; the notes (settings that
    /// need a restart), or every problem that kept the old state in force.
    pub fn reload(&self, path: &Path) -> Result<Vec<String>, Problems> {
        let outcome = self.try_reload(path);
        telemetry::reload(outcome.is_ok());
        match &outcome {
            Ok(notes) => tracing::info!(notes = notes.len(), "configuration reloaded"),
            Err(problems) => {
                tracing::error!(%problems, "configuration not reloaded; the previous one stays in force")
            }
        }
        outcome
    }

    fn try_reload(&self, path: &Path) -> Result<Vec<String>, Problems> {
        let next = Config::load(path)?;
        let one = |p: Problem| Problems(vec![p]);
        {
            // A key the configuration in force was read with, missing now: the
            // file may be half written, and its default may be looser.
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            let missing: Vec<&str> = running
                .written_keys
                .difference(&next.written_keys)
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(one(Problem::new(
                    "config",
                    format!(
                        "{} missing from the file, which the configuration in force sets: {}; a reload never puts a default in place of a written key (the file may be half written): write the value out, or restart to drop the key",
                        if missing.len() == 1 {
                            "a key is"
                        } else {
                            "keys are"
                        },
                        missing.join(", ")
                    ),
                )));
            }
        }
        // Files someone else renews are read again; an ACME certificate is
        // the ACME client's to replace.
        let pair = match next.tls.acme {
            Some(_) => None,
            None => Some(
                certificate::load_pair(
                    &next.tls.certificate,
                    &next.tls.private_key,
                    &next.tls.server_names,
                )
                .map_err(|why| {
                    self.shared.certificate.refuse(&why, Source::Files);
                    one(certificate::problem(&next.tls, &why))
                })?,
            ),
        };
        let server_tls = tls::server_config(
            &next.tls,
            Arc::clone(&self.shared.certificate),
            Arc::clone(&self.shared.identities),
        )
        .map_err(Problems)?;
        let network = address::from_config(&next.network).map_err(one)?;
        let verifier = TokenVerifier::from_config(&next.jwt).map_err(one)?;
        let renewer = Renewer::from_config(&next.jwt).map_err(one)?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let notes = needs_restart(&running, &next);
        let wider = crate::config::widening::widened(&running, &next);
        // Everything is built: one snapshot, swapped in at once.
        let revocations = verifier.revocations();
        if let Some(pair) = &pair {
            self.shared.certificate.put_in_force(pair, Source::Files);
        }
        self.shared.live.store(Arc::new(Snapshot {
            acceptor: TlsAcceptor::from(server_tls),
            admission: network,
            resource: ProtectedResource::new(&running.mcp, verifier).with_renewer(renewer),
            revoked: crate::transport::crl::revoked(&next.tls),
        }));
        let watch = self.shutdown.child_token();
        if let Some(list) = revocations {
            tokio::spawn(list.watch(watch.clone()));
        }
        let previous = std::mem::replace(
            &mut *self
                .revocation_watch
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
            watch,
        );
        previous.cancel();
        if running.rate_limits != next.rate_limits {
            self.rate.replace(next.rate_limits);
            running.rate_limits = next.rate_limits;
        }
        crate::gateway::upkeep::record_expiries(&next.tls);
        running.tls = next.tls;
        running.network = next.network;
        running.jwt = next.jwt;
        running.written_keys = next.written_keys;
        if !wider.is_empty() {
            self.shared.seclog.widened(&wider);
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::needs_restart;
    use crate::config::Config;

    const TEXT: &str = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow=['10.8.0.0/24']\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n[backend]\nkind='google'\n[backend.google]\napi_base_url='http://127.0.0.1:9/calendar/v3/'\ntoken_uri='http://127.0.0.1:9/token'\noauth_client_id='client'\noauth_client_secret='secret-1'\ndefault_account='me'\n[backend.google.accounts.me]\nrefresh_token='token-1'\n";

    /// Secrets print alike (redacted): compared by their Debug text, a new
    /// refresh token or client secret read as no change at all.
    #[test]
    fn a_changed_secret_needs_a_restart() {
        let dir = tempfile::TempDir::new().unwrap();
        for file in ["a", "b", "c", "k.json"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let parse = |text: &str| Config::parse(text, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let running = parse(TEXT);
        assert!(needs_restart(&running, &parse(TEXT)).is_empty());
        for (old, new) in [("token-1", "token-2"), ("secret-1", "secret-2")] {
            let next = parse(&TEXT.replace(old, new));
            assert_eq!(
                format!("{:?}", running.backend),
                format!("{:?}", next.backend),
                "the secrets print alike"
            );
            assert_eq!(
                needs_restart(&running, &next),
                ["backend: changed in the file, takes effect after a restart"],
                "{old} -> {new}"
            );
        }
    }
}
