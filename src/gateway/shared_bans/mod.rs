//! Bans that hold on every replica (`bans.shared_dir`, docs/DEPLOYMENT.md):
//! each replica writes into a file of its own in the shared folder the bans
//! it decided and the ban-worthy refusals it counted, and reads the other
//! replicas' files, every half second. Bans taken in hold here; counts are
//! added to this replica's own, so `bans.after` holds for the deployment,
//! not per replica (three replicas once gave an attacker 4 + 4 + 5 tries).
//! A file is rewritten whole and renamed into place, so no replica reads half
//! a file, and none ever writes another's. Files are untrusted input
//! ([`folder`]); a file whose bans have all ended and whose writer has not
//! rewritten it for [`STALE_AFTER`] is removed (one per process start once
//! piled up). A starting replica takes the others' bans in before it
//! accepts its first connection.

pub mod folder;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::observe::seclog::SecurityLog;
use crate::policy::bans::Bans;
use folder::{Published, Skipped};

/// How often a replica publishes its bans and reads the others'.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// A replica rewrites its file at least this often, so that the others can
/// tell a live writer from one that is gone.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// A file not rewritten for this long, holding no ban in force, is removed.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// This replica's view of the shared folder.
pub struct SharedBans {
    dir: PathBuf,
    /// This replica's file name: host name and process id, unique per replica.
    own: String,
}

/// What one look at the folder found.
#[derive(Debug, Default)]
pub struct Found {
    /// Each other replica's file that could be read, by name.
    pub files: Vec<(String, Published)>,
    /// Each file skipped, by name, and why.
    pub skipped: Vec<(String, Skipped)>,
}

impl SharedBans {
    /// The folder `dir`, with this replica's file named after its host and pid.
    pub fn new(dir: PathBuf) -> SharedBans {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "replica".to_owned());
        let host: String = host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            .collect();
        SharedBans {
            dir,
            own: format!("{host}-{}.bans", std::process::id()),
        }
    }

    /// Writes this replica's file: its `bans` (address, time left) and its
    /// `strikes` (address, count), which count for `within`.
    pub fn publish(
        &self,
        bans: &[(IpAddr, Duration)],
        strikes: &[(IpAddr, usize)],
        within: Duration,
    ) -> std::io::Result<()> {
        let text = folder::render(bans, strikes, within, SystemTime::now());
        let next = self.dir.join(format!(".{}.next", self.own));
        std::fs::write(&next, text)?;
        std::fs::rename(&next, self.dir.join(&self.own))
    }

    /// Reads the other replicas' files: what is still in force (nothing
    /// lasting past `longest`), and the files skipped. Removes the files
    /// that hold nothing in force and have not been rewritten for
    /// [`STALE_AFTER`] (their writers are gone).
    pub fn read_others(&self, longest: Duration) -> Found {
        let mut found = Found::default();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return found;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == self.own || !name.ends_with(".bans") || name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            match folder::read(&path) {
                Ok(text) => {
                    let published = folder::parse(&text, now, longest);
                    let quiet = std::fs::symlink_metadata(&path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|at| now.duration_since(at).unwrap_or_default() > STALE_AFTER);
                    if quiet && published.bans.is_empty() && published.strikes.is_empty() {
                        if std::fs::remove_file(&path).is_ok() {
                            tracing::info!(file = %name, "removed a shared ban file whose writer is gone");
                        }
                        continue;
                    }
                    found.files.push((name, published));
                }
                Err(why) => found.skipped.push((name, why)),
            }
        }
        found
    }
}

/// Takes in what the other replicas published: their bans (one `BAN` line
/// each that is news here) and their counts. `warned` holds the files
/// already said to be skipped, so each is said once while it stays bad.
fn take_in(found: Found, bans: &Bans, seclog: &SecurityLog, warned: &mut HashSet<String>) {
    let still_bad: HashSet<String> = found.skipped.iter().map(|(n, _)| n.clone()).collect();
    for (name, why) in &found.skipped {
        if warned.insert(name.clone()) {
            tracing::warn!(file = %name, %why, "shared ban file skipped");
        }
    }
    warned.retain(|name| still_bad.contains(name));
    let now = Instant::now();
    let wall = SystemTime::now();
    bans.set_remote_strikes(folder::total_strikes(found.files.iter().map(|(_, p)| p)));
    for (from, published) in &found.files {
        for (ip, until) in &published.bans {
            let left = until.duration_since(wall).unwrap_or_default();
            let Some(until) = now.checked_add(left) else {
                continue;
            };
            if bans.import(*ip, until, now) {
                seclog.banned_elsewhere(*ip, left, from);
            }
        }
    }
}

/// One look at the folder before the listener accepts: a replica that
/// starts serves no address another replica has banned.
pub async fn take_in_before_serving(shared: &Arc<SharedBans>, bans: &Bans, seclog: &SecurityLog) {
    let folder = Arc::clone(shared);
    let longest = bans.longest();
    if let Ok(found) = tokio::task::spawn_blocking(move || folder.read_others(longest)).await {
        take_in(found, bans, seclog, &mut HashSet::new());
    }
}

/// What a replica's file says: its bans (address, time left) and its counts.
type Said = (Vec<(IpAddr, Duration)>, Vec<(IpAddr, usize)>);
/// What decides whether the file must be written again: the banned
/// addresses (not the time left, which changes every second) and the counts.
type Shape = (Vec<IpAddr>, Vec<(IpAddr, usize)>);

/// Publishes this replica's bans and counts and takes in the others', every
/// [`INTERVAL`], until `shutdown`.
pub async fn share(
    shared: Arc<SharedBans>,
    bans: Arc<Bans>,
    seclog: Arc<SecurityLog>,
    shutdown: CancellationToken,
) {
    let mut published: Option<Shape> = None;
    let mut last_written = Instant::now();
    let mut warned = HashSet::new();
    let mut tick = tokio::time::interval(INTERVAL);
    let (within, longest) = (bans.within(), bans.longest());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = Instant::now();
        let said: Said = (bans.own(now), bans.own_strikes(now));
        let shape = (said.0.iter().map(|(ip, _)| *ip).collect(), said.1.clone());
        let due =
            published.as_ref() != Some(&shape) || now.duration_since(last_written) >= HEARTBEAT;
        // File I/O off the runtime's threads: the folder may be a slow
        // network volume.
        let folder = Arc::clone(&shared);
        let Ok((publishing, found)) = tokio::task::spawn_blocking(move || {
            let publishing = due.then(|| folder.publish(&said.0, &said.1, within));
            (publishing, folder.read_others(longest))
        })
        .await
        else {
            continue;
        };
        match publishing {
            Some(Ok(())) => {
                published = Some(shape);
                last_written = now;
            }
            Some(Err(e)) => tracing::error!(error = %e, "cannot publish bans to bans.shared_dir"),
            None => {}
        }
        take_in(found, &bans, &seclog, &mut warned);
    }
}
