//! The shared folder's files, read as the untrusted input they are: any
//! local user (or any replica's bug) may have put anything there. A file is
//! read only when it is a regular file that is not a link, opened without
//! following links and without blocking (a FIFO once stopped all sharing), at
//! most [`MAX_FILE_BYTES`] of it (a link to `/dev/zero` once grew memory to
//! 4 GB); every number is parsed with checked arithmetic (an `until` past the
//! i64 range once panicked the reader for good), and a ban or a count from
//! elsewhere never lasts longer than this replica's own rule allows. A bad
//! line is skipped; a bad file is skipped whole, without touching the others.
//!
//! A file holds one entry a line:
//! - `<address> <until, Unix seconds>`: a ban the writer decided;
//! - `strikes <address> <count> <until, Unix seconds>`: ban-worthy refusals
//!   the writer counted within the window, which hold until `until`.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest ban file read; a larger one is skipped (and said so).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// What one replica's file says, still in force.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Bans: address, until when.
    pub bans: Vec<(IpAddr, SystemTime)>,
    /// Strikes: address, how many, until when they count.
    pub strikes: Vec<(IpAddr, usize, SystemTime)>,
}

/// Why a file was skipped.
#[derive(Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Not a regular file (a link, a FIFO, a device, a folder).
    NotRegular,
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge,
    /// It could not be opened or read.
    Unreadable(String),
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::NotRegular => write!(f, "not a regular file (a link, a FIFO or a device)"),
            Skipped::TooLarge => write!(f, "larger than {MAX_FILE_BYTES} bytes"),
            Skipped::Unreadable(why) => write!(f, "cannot be read: {why}"),
        }
    }
}

/// Reads `path` as a ban file, refusing anything but a regular file.
pub fn read(path: &Path) -> Result<String, Skipped> {
    let before = std::fs::symlink_metadata(path).map_err(|e| Skipped::Unreadable(e.to_string()))?;
    if !before.file_type().is_file() {
        return Err(Skipped::NotRegular);
    }
    // No following links, no blocking on a FIFO swapped in since the look.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Skipped::Unreadable(e.to_string()))?;
    let opened = file
        .metadata()
        .map_err(|e| Skipped::Unreadable(e.to_string()))?;
    if !opened.file_type().is_file() || (opened.dev(), opened.ino()) != (before.dev(), before.ino())
    {
        return Err(Skipped::NotRegular);
    }
    if opened.len() > MAX_FILE_BYTES {
        return Err(Skipped::TooLarge);
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Skipped::Unreadable(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Skipped::TooLarge);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The entries of `text` still in force at `now`, none lasting past
/// `now + longest` (a file cannot ban for longer than this replica would).
pub fn parse(text: &str, now: SystemTime, longest: Duration) -> Published {
    let cap = now.checked_add(longest).unwrap_or(now);
    let until = |word: &str| -> Option<SystemTime> {
        let seconds = word.parse::<u64>().ok()?;
        let at = UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?;
        (at > now).then_some(at.min(cap))
    };
    let mut published = Published::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["strikes", ip, count, when] => {
                if let (Ok(ip), Ok(count), Some(at)) =
                    (ip.parse::<IpAddr>(), count.parse::<usize>(), until(when))
                {
                    published.strikes.push((ip, count, at));
                }
            }
            [ip, when] => {
                if let (Ok(ip), Some(at)) = (ip.parse::<IpAddr>(), until(when)) {
                    published.bans.push((ip, at));
                }
            }
            _ => {}
        }
    }
    published
}

/// The text of a file publishing `bans` (address, time left) and `strikes`
/// (address, count) that count for `within` from `now`.
pub fn render(
    bans: &[(IpAddr, Duration)],
    strikes: &[(IpAddr, usize)],
    within: Duration,
    now: SystemTime,
) -> String {
    let seconds = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut text = String::new();
    for (ip, left) in bans {
        text.push_str(&format!("{ip} {}\n", seconds(now + *left)));
    }
    for (ip, count) in strikes {
        text.push_str(&format!("strikes {ip} {count} {}\n", seconds(now + within)));
    }
    text
}

/// Sums the strike counts of several files, per address.
pub fn total_strikes<'a>(files: impl Iterator<Item = &'a Published>) -> HashMap<IpAddr, usize> {
    let mut total: HashMap<IpAddr, usize> = HashMap::new();
    for published in files {
        for (ip, count, _) in &published.strikes {
            let entry = total.entry(*ip).or_default();
            *entry = entry.saturating_add(*count);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::{MAX_FILE_BYTES, Published, Skipped, parse, read, render};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn links_fifos_devices_and_huge_files_are_skipped() {
        let dir = tempfile::TempDir::new().unwrap();
        let link = dir.path().join("zero.bans");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(read(&link), Err(Skipped::NotRegular));
        let fifo = dir.path().join("fifo.bans");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(read(&fifo), Err(Skipped::NotRegular));
        let huge = dir.path().join("huge.bans");
        let file = std::fs::File::create(&huge).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(read(&huge), Err(Skipped::TooLarge));
        let fine = dir.path().join("fine.bans");
        std::fs::write(&fine, "10.0.0.1 99\n").unwrap();
        assert_eq!(read(&fine).unwrap(), "10.0.0.1 99\n");
    }

    #[test]
    fn numbers_out_of_range_are_skipped_and_bans_are_capped() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let longest = Duration::from_secs(3600);
        let text = "10.0.0.1 99999999999999999999\n10.0.0.2 18446744073709551615\n10.0.0.7 9999999999\n10.0.0.3 1000600\nnot-an-ip 1000600\n10.0.0.4 999\nstrikes 10.0.0.5 3 1000060\nstrikes 10.0.0.6 99999999999999999999999 1000060\n\u{0}\u{ff}garbage\n";
        let published = parse(text, now, longest);
        let cap = now + longest;
        assert_eq!(
            published,
            Published {
                bans: vec![
                    ("10.0.0.7".parse().unwrap(), cap),
                    ("10.0.0.3".parse().unwrap(), now + Duration::from_secs(600)),
                ],
                strikes: vec![(
                    "10.0.0.5".parse().unwrap(),
                    3,
                    now + Duration::from_secs(60)
                )],
            }
        );
    }

    #[test]
    fn what_is_rendered_parses_back() {
        let now = SystemTime::now();
        let ip = "2001:db8::1".parse().unwrap();
        let text = render(
            &[(ip, Duration::from_secs(60))],
            &[(ip, 2)],
            Duration::from_secs(30),
            now,
        );
        let published = parse(&text, now, Duration::from_secs(3600));
        assert_eq!(published.bans.len(), 1);
        assert_eq!(published.strikes.len(), 1);
        assert_eq!(published.strikes[0].1, 2);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in "(?s).{0,400}") {
            let _ = parse(&text, SystemTime::now(), Duration::from_secs(60));
        }
    }
}
