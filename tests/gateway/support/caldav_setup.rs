//! Gateways on the CalDAV backend, over a real Radicale or Xandikos holding
//! the calendars every shared test uses: `primary` (UTC), `team`
//! (Europe/Berlin) and `ny` (America/New_York) for Alice; Bob (Radicale
//! only, since Xandikos serves one principal) has his own `primary`.

use crate::caldav_servers::{DavServer, USERS, radicale, xandikos_empty};
use crate::common::TestGateway;
use crate::google_setup::Backend;

/// Alice's calendars: path segment, name, zone.
const CALENDARS: [(&str, &str, &str); 3] = [
    ("primary", "Alice", "UTC"),
    ("team", "Team", "Europe/Berlin"),
    ("ny", "New York office", "America/New_York"),
];

/// A CalDAV server of `backend`'s kind with the shared calendars, and the
/// path of Alice's calendar home on it.
pub async fn shared_calendars(backend: Backend) -> (DavServer, &'static str) {
    let (server, home) = match backend {
        Backend::Radicale => (radicale().await, "/alice/"),
        Backend::Xandikos => (xandikos_empty().await, "/user/calendars/"),
        other => panic!("{other:?} is not a CalDAV server"),
    };
    for (segment, name, zone) in CALENDARS {
        server
            .make_zoned_calendar(
                USERS[0],
                &format!("{home}{segment}/"),
                name,
                "VEVENT",
                Some(zone),
            )
            .await;
    }
    if backend == Backend::Radicale {
        server
            .make_zoned_calendar(USERS[1], "/bob/primary/", "Bob", "VEVENT", Some("UTC"))
            .await;
    }
    (server, home)
}

/// The `[backend.caldav]` tables for `server`, acting as Alice by default
/// (and as Bob for `bob_clients`); `extra` lands in `[backend.caldav]`.
pub fn caldav_tables(server: &DavServer, bob_clients: &[&str], extra: &str) -> String {
    caldav_tables_at(&server.url, bob_clients, extra)
}

/// Like [`caldav_tables`], for a server (or a proxy in front of it) at `url`.
pub fn caldav_tables_at(url: &str, bob_clients: &[&str], extra: &str) -> String {
    caldav_tables_for(url, url, bob_clients, extra)
}

/// Like [`caldav_tables`], with Alice's and Bob's accounts on servers of their own.
pub fn caldav_tables_for(url: &str, bobs_url: &str, bob_clients: &[&str], extra: &str) -> String {
    // Short bounds unless `extra` sets its own.
    let mut extra = extra.to_owned();
    for (key, value) in [
        ("request_timeout", "\"3s\""),
        ("max_attempts", "3"),
        ("retry_base_delay", "\"20ms\""),
        ("retry_deadline", "\"10s\""),
    ] {
        if !extra.contains(key) {
            extra.push_str(&format!("\n{key} = {value}"));
        }
    }
    let (alice, bob) = (USERS[0], USERS[1]);
    let clients: String = bob_clients
        .iter()
        .map(|client| format!("\"{client}\" = \"bob\"\n"))
        .collect();
    format!(
        r#"
[backend]
kind = "caldav"

[backend.caldav]
default_account = "alice"
{extra}

[backend.caldav.clients]
{clients}

[backend.caldav.accounts.alice]
url = "{url}/"
username = "{alice_user}"
password = "{alice_password}"
primary = "primary"

[backend.caldav.accounts.bob]
url = "{bobs_url}/"
username = "{bob_user}"
password = "{bob_password}"
"#,
        url = url,
        alice_user = alice.0,
        alice_password = alice.1,
        bob_user = bob.0,
        bob_password = bob.1,
    )
}

/// Alice's credentials on `backend`'s server (Xandikos asks for none).
pub fn alice(backend: Backend) -> Option<(&'static str, &'static str)> {
    (backend == Backend::Radicale).then_some(USERS[0])
}

impl TestGateway {
    /// A gateway on a CalDAV server of `backend`'s kind with the shared calendars.
    pub async fn start_caldav(backend: Backend) -> TestGateway {
        let (server, _) = shared_calendars(backend).await;
        let tables = caldav_tables(&server, &[], "");
        let mut gateway = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
        gateway.caldav = Some(server);
        gateway
    }
}
