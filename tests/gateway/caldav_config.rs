//! `check-config` on the `[backend.caldav]` table, as an operator runs it.

use std::os::unix::fs::PermissionsExt;

use crate::cli::check_config;
use crate::common::{Setup, assert_succeeded, render, write_pki};

/// A broken `[backend.caldav]`: each problem named by its key, no password
/// quoted; a sound one passes, with a warning for a plaintext password in a
/// file others can read.
#[test]
fn check_config_names_each_bad_caldav_key() {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = dir.path().join("gateway.toml");
    let caldav = |account: &str, extra: &str| {
        render(&Setup {
            backend: format!(
                "[backend]\nkind = \"caldav\"\n[backend.caldav]\ndefault_account = \"a\"\n{extra}\n[backend.caldav.clients]\n\"agent-x\" = \"nobody\"\n[backend.caldav.accounts.a]\n{account}\n"
            ),
            ..Setup::default()
        })
    };
    let broken = caldav(
        "url = \"http://dav.example.org/\"\nusername = \"alice\"\npassword = \"ENC:AAAA\"",
        "max_attempts = 0\ntime_zone = \"Mars/Olympus\"\nca_file = \"missing-ca.pem\"",
    );
    std::fs::write(&config, broken).unwrap();
    let out = check_config(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let problems = crate::common::problem_lines(&stderr);
    for key in [
        "backend.caldav.max_attempts: must be between 1 and 10",
        "backend.caldav.time_zone: `Mars/Olympus` is not an IANA time zone",
        "backend.caldav.ca_file: cannot read PEM certificates from",
        "backend.caldav.accounts.a.url: `http://dav.example.org/` must use https",
        "backend.caldav.accounts.a.password: encrypted, but no key is available",
        "backend.caldav.clients.\"agent-x\": no account named `nobody`",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(key)),
            "missing {key:?} in:\n{stderr}"
        );
    }

    let sound = caldav(
        "url = \"https://dav.example.org/\"\nusername = \"alice\"\npassword = \"plain-secret-7\"",
        "",
    )
    .replace("\"agent-x\" = \"nobody\"", "\"agent-x\" = \"a\"");
    std::fs::write(&config, sound).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = check_config(&config);
    assert_succeeded(&out);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("holds a plaintext secret"), "{said}");
    assert!(!said.contains("plain-secret-7"), "{said}");
}
