//! Bans that hold on every replica (`bans.shared_dir`, docs/DEPLOYMENT.md):
//! each replica writes the bans it decided into a file of its own in the
//! shared folder and reads the other replicas' files, every half second. A
//! file is rewritten whole and renamed into place, so no replica reads half a
//! file, and none ever writes another's; nothing is elected, locked or
//! merged beyond "banned until the latest time anyone said".
//!
//! A file holds one ban a line: `<address> <until, Unix seconds>`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::bans::Bans;
use crate::seclog::SecurityLog;

/// How often a replica publishes its bans and reads the others'.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// Largest ban file read; a larger one is skipped (and said so).
const MAX_FILE_BYTES: u64 = 4 << 20;

/// This replica's view of the shared folder.
pub struct SharedBans {
    dir: PathBuf,
    /// This replica's file name: host name and process id, unique per replica.
    own: String,
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

    /// Writes `bans` (address, time left) as this replica's file.
    pub fn publish(&self, bans: &[(IpAddr, Duration)]) -> std::io::Result<()> {
        let now = SystemTime::now();
        let mut text = String::new();
        for (ip, left) in bans {
            let until = (now + *left).duration_since(UNIX_EPOCH).unwrap_or_default();
            text.push_str(&format!("{ip} {}\n", until.as_secs()));
        }
        let next = self.dir.join(format!(".{}.next", self.own));
        std::fs::write(&next, text)?;
        std::fs::rename(&next, self.dir.join(&self.own))
    }

    /// The bans the other replicas published that are still in force: the
    /// address, until when, and which file said so.
    pub fn read_others(&self) -> Vec<(IpAddr, SystemTime, String)> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return found;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == self.own || !name.ends_with(".bans") || name.starts_with('.') {
                continue;
            }
            if entry.metadata().is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
                tracing::warn!(file = %name, "shared ban file too large; skipped");
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            for line in text.lines() {
                let mut words = line.split_whitespace();
                let (Some(ip), Some(until)) = (words.next(), words.next()) else {
                    continue;
                };
                let (Ok(ip), Ok(until)) = (ip.parse::<IpAddr>(), until.parse::<u64>()) else {
                    continue;
                };
                let until = UNIX_EPOCH + Duration::from_secs(until);
                if until > now {
                    found.push((ip, until, name.clone()));
                }
            }
        }
        found
    }
}

/// Publishes this replica's bans and takes in the others', every
/// [`INTERVAL`], until `shutdown`; each ban taken in is one `BAN` line.
pub async fn share(
    shared: SharedBans,
    bans: Arc<Bans>,
    seclog: Arc<SecurityLog>,
    shutdown: CancellationToken,
) {
    let shared = Arc::new(shared);
    let mut published: Option<Vec<IpAddr>> = None;
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = Instant::now();
        let own = bans.own(now);
        let addresses: Vec<IpAddr> = own.iter().map(|(ip, _)| *ip).collect();
        let changed = published.as_ref() != Some(&addresses);
        // File I/O off the runtime's threads: the folder may be a slow
        // network volume.
        let folder = Arc::clone(&shared);
        let Ok((publishing, others)) = tokio::task::spawn_blocking(move || {
            (changed.then(|| folder.publish(&own)), folder.read_others())
        })
        .await
        else {
            continue;
        };
        match publishing {
            Some(Ok(())) => published = Some(addresses),
            Some(Err(e)) => tracing::error!(error = %e, "cannot publish bans to bans.shared_dir"),
            None => {}
        }
        let wall = SystemTime::now();
        for (ip, until, from) in others {
            let left = until.duration_since(wall).unwrap_or_default();
            if bans.import(ip, now + left, now) {
                seclog.banned_elsewhere(ip, left, &from);
            }
        }
    }
}
