//! Gateways on the Google backend, talking to the local Calendar API stand-in
//! with a service account key made for the test; and the choice of backend
//! the shared tool suite runs on.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::common::{Setup, TestGateway};
use crate::google_api::{GoogleApi, Role};

/// The Workspace user the default test account acts as.
pub const ALICE: &str = "alice@example.test";
/// A second user, for isolation tests.
pub const BOB: &str = "bob@example.test";
/// The test service account.
pub const SERVICE_ACCOUNT: &str = "gateway@test-project.iam.gserviceaccount.com";

/// Which backend a shared test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store.
    Embedded,
    /// Google Calendar (the local stand-in).
    Google,
    /// CalDAV on a real Radicale.
    Radicale,
    /// CalDAV on a real Xandikos.
    Xandikos,
}

impl Backend {
    /// The id `list_calendars` shows for the user's main calendar.
    pub fn primary_id(self) -> &'static str {
        match self {
            Backend::Embedded | Backend::Radicale | Backend::Xandikos => "primary",
            Backend::Google => ALICE,
        }
    }
}

/// A service account key pair: the JSON key file the gateway reads, and the
/// public key the stand-in checks assertions with.
pub struct ServiceAccountKey {
    /// The key as Google issues it (JSON).
    pub json: String,
    /// The public half (PEM).
    pub public_pem: String,
}

/// A fresh RSA service account key whose `token_uri` is the stand-in's.
pub fn service_account_key(token_uri: &str) -> ServiceAccountKey {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let json = json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "k1",
        "private_key": pair.serialize_pem(),
        "client_email": SERVICE_ACCOUNT,
        "client_id": "1234567890",
        "auth_uri": "http://127.0.0.1/auth",
        "token_uri": token_uri,
    })
    .to_string();
    ServiceAccountKey {
        json,
        public_pem: pair.public_key_pem(),
    }
}

/// The `[backend.google]` tables for `api`, acting as Alice by default; `extra`
/// lands in `[backend.google]`.
pub fn google_tables(api: &GoogleApi, extra: &str) -> String {
    format!(
        r#"
[backend]
kind = "google"

[backend.google]
api_base_url = "{api_base}"
token_uri = "{token_uri}"
service_account_key_file = "sa.json"
request_timeout = "2s"
retry_base_delay = "20ms"
retry_deadline = "10s"
default_account = "alice"
{extra}

[backend.google.accounts.alice]
subject = "{ALICE}"
"#,
        api_base = api.api_base_url(),
        token_uri = api.token_uri(),
    )
}

/// Starts the stand-in with Alice (primary in UTC, `team` in Berlin, `ny` in
/// New York) and Bob (his primary, and `holidays`); the key for it.
pub async fn start_google_api() -> (GoogleApi, ServiceAccountKey) {
    // The key's token_uri must name the port, which exists only once started:
    // start with a placeholder public key, then install the real one.
    let api = GoogleApi::start((SERVICE_ACCOUNT.into(), String::new())).await;
    let key = service_account_key(&api.token_uri());
    api.state.lock().unwrap().service_account.1 = key.public_pem.clone();
    api.add_user(ALICE, "UTC");
    api.add_calendar(ALICE, "team", "Team", "Europe/Berlin", Role::Owner);
    api.add_calendar(
        ALICE,
        "ny",
        "New York office",
        "America/New_York",
        Role::Owner,
    );
    api.add_user(BOB, "Europe/Paris");
    api.add_calendar(BOB, "holidays", "Holidays", "UTC", Role::Owner);
    (api, key)
}

/// Writes the key where `google_tables` expects it, readable by its owner only.
pub fn write_key(dir: &Path, key: &str) {
    let path = dir.join("sa.json");
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl TestGateway {
    /// A gateway on `backend` with the shared calendars (`team`, `ny`).
    pub async fn start_on(backend: Backend) -> TestGateway {
        match backend {
            Backend::Embedded => TestGateway::start().await,
            Backend::Google => TestGateway::start_google(|_, _, _| ()).await,
            Backend::Radicale | Backend::Xandikos => TestGateway::start_caldav(backend).await,
        }
    }

    /// A gateway on the Google backend; `adjust` may change the setup.
    pub async fn start_google(adjust: impl FnOnce(&Path, &GoogleApi, &mut Setup)) -> TestGateway {
        let (api, key) = start_google_api().await;
        let mut gateway = TestGateway::start_custom(|dir, _, setup| {
            write_key(dir, &key.json);
            setup.backend = google_tables(&api, "");
            adjust(dir, &api, setup);
        })
        .await;
        gateway.google = Some(api);
        gateway
    }

    /// The Google stand-in behind this gateway.
    pub fn google_api(&self) -> &GoogleApi {
        self.google
            .as_ref()
            .expect("a gateway on the Google backend")
    }
}
