//! What the suite leaves for the secrets sweep (`scripts/sweep_secrets.py`,
//! run by `scripts/test-all.sh` after every test): each gateway's logs,
//! diagnostic output and a last metrics scrape, and, apart, the secrets it
//! was given (keys, tokens, Google credentials), so that the sweep can look
//! for every secret of every gateway in everything any gateway wrote. Kept only
//! when `MCP_GATEWAY_SWEEP_DIR` is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Files a gateway writes that the sweep reads: logs (rotated ones too),
/// diagnostic output, metrics.
fn is_output(name: &str) -> bool {
    name.contains(".log")
        || name.ends_with(".stderr")
        || name.ends_with(".out")
        || name == "metrics.txt"
}

/// Files that hold secrets the gateway was given.
fn is_secret(name: &str) -> bool {
    name.ends_with(".key")
        || name.ends_with(".token")
        || name == "sa.json"
        || name.ends_with("secret")
}

/// A fresh folder under the sweep folder, or `None` when no sweep runs.
fn slot() -> Option<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let root = PathBuf::from(std::env::var_os("MCP_GATEWAY_SWEEP_DIR")?);
    let slot = root.join(format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(slot.join("outputs")).ok()?;
    Some(slot)
}

/// Keeps the outputs of the gateway that ran in `dir` (and its subfolders,
/// one level down), a scrape of its metrics at `metrics`, and `secrets` with
/// the secret files of `dir`.
pub fn keep(dir: &Path, metrics: Option<SocketAddr>, secrets: &[String]) {
    let Some(slot) = slot() else {
        return;
    };
    if let Some(text) = metrics.and_then(scrape) {
        let _ = std::fs::write(dir.join("metrics.txt"), text);
    }
    let mut secrets = secrets.to_vec();
    let folders = std::iter::once(dir.to_owned()).chain(
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    );
    for folder in folders.collect::<Vec<_>>() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            if is_output(&name) {
                let kept = slot.join("outputs").join(format!(
                    "{}-{name}",
                    folder.file_name().unwrap_or_default().to_string_lossy()
                ));
                let _ = std::fs::copy(&path, kept);
            } else if is_secret(&name)
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                secrets.push(text);
            }
        }
    }
    let _ = std::fs::write(
        slot.join("secrets.json"),
        serde_json::to_string(&secrets).unwrap_or_default(),
    );
}

/// The metrics page at `addr`, read with a blocking socket (this runs in
/// `Drop`, outside any runtime).
fn scrape(addr: SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let timeout = Some(std::time::Duration::from_secs(2));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout?).ok()?;
    stream.set_read_timeout(timeout).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}
