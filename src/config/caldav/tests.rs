//! The `[backend.caldav]` table's validation.
use std::path::Path;

use super::{RawCalDav, validate};

fn problems_of(table: &str) -> Vec<String> {
    let raw: RawCalDav = toml::from_str(table).unwrap();
    let mut problems = Vec::new();
    validate(raw, Path::new("."), &mut problems);
    problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.problem))
        .collect()
}

#[test]
fn an_account_needs_one_place_to_start() {
    let found = problems_of(
        r#"
default_account = "a"
[accounts.a]
url = "https://dav.example.org/"
domain = "example.org"
"#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("backend.caldav.accounts.a.url: set exactly one"));
}

#[test]
fn plain_http_only_to_loopback_and_passwords_never_shown() {
    let found = problems_of(
        r#"
default_account = "a"
[accounts.a]
url = "http://dav.example.org/"
username = "alice"
password = "very-secret-password"
"#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("must use https"), "{found:?}");
    let raw: RawCalDav = toml::from_str(
        r#"
default_account = "a"
[accounts.a]
url = "http://127.0.0.1:5232/"
username = "alice"
password = "very-secret-password"
"#,
    )
    .unwrap();
    let mut problems = Vec::new();
    let caldav = validate(raw, Path::new("."), &mut problems);
    assert!(problems.is_empty());
    assert!(caldav.holds_plaintext_secret);
    let shown = format!("{caldav:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn a_domain_starts_at_its_well_known_url_and_mapping_names_accounts() {
    let raw: RawCalDav = toml::from_str(
        r#"
[clients]
"agent-a" = "a"
"agent-b" = "nobody"
[accounts.a]
domain = "example.org"
"#,
    )
    .unwrap();
    let mut problems = Vec::new();
    let caldav = validate(raw, Path::new("."), &mut problems);
    assert_eq!(
        caldav.accounts["a"].url,
        "https://example.org/.well-known/caldav"
    );
    let shown: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
    assert_eq!(shown, ["backend.caldav.clients.\"agent-b\""]);
    let found = problems_of("[accounts.a]\ndomain = \"exa mple.org\"\n");
    assert!(found[0].contains("not a domain name"), "{found:?}");
}
