//! The config the test gateways run with: a [`Setup`] of the parts a test may
//! change, rendered to the TOML the gateway reads.

use crate::common::{AUDIENCE, ISSUER};

/// What a test may change in the gateway's config.
pub struct Setup {
    /// `listen.address`.
    pub address: String,
    /// Extra keys for `[listen]`.
    pub listen: String,
    /// The server certificate's keys in `[tls]` (empty with `[tls.acme]`).
    pub tls_files: String,
    /// Extra keys for `[tls]`.
    pub tls: String,
    /// The body of `[network]`.
    pub network: String,
    /// Further tables appended at the end (`[geoip]`, `[listen.proxy_protocol]`, …).
    pub tables: String,
    /// `tls.identity`.
    pub identity: String,
    /// Extra keys for `[jwt]`.
    pub jwt: String,
    /// `mcp.allowed_hosts`, as TOML list items.
    pub allowed_hosts: String,
    /// Extra keys for `[mcp]`.
    pub mcp: String,
    /// The `[backend…]` tables.
    pub backend: String,
    /// Extra keys for `[log]`.
    pub log: String,
    /// `metrics.listen` (port 0 by default: any free one).
    pub metrics_listen: String,
    /// Extra keys for `[metrics]`.
    pub metrics: String,
    /// The body of `[rate_limits]` (by default far above what any test sends).
    pub rate_limits: String,
}

/// The embedded store with the calendars every shared test uses.
pub const EMBEDDED_BACKEND: &str = r#"
[backend.embedded]
path = "calendar.db"
time_zone = "UTC"

[[backend.embedded.calendars]]
id = "team"
name = "Team"
time_zone = "Europe/Berlin"

[[backend.embedded.calendars]]
id = "ny"
name = "New York office"
time_zone = "America/New_York"
"#;

impl Default for Setup {
    fn default() -> Self {
        Setup {
            address: "127.0.0.1:0".into(),
            listen: String::new(),
            tls_files: "certificate = \"server.pem\"\nprivate_key = \"server.key\"".into(),
            tls: String::new(),
            network: r#"allow = ["127.0.0.0/8", "::1"]"#.into(),
            tables: String::new(),
            identity: "san_dns".into(),
            jwt: String::new(),
            allowed_hosts: r#""localhost", "127.0.0.1", "[::1]""#.into(),
            mcp: String::new(),
            backend: EMBEDDED_BACKEND.into(),
            log: String::new(),
            metrics_listen: "127.0.0.1:0".into(),
            metrics: String::new(),
            rate_limits: "requests_per_second_per_address = 1000000\nreads_per_minute_per_client = 100000000\nwrites_per_minute_per_client = 100000000".into(),
        }
    }
}

/// The config used by the tests; `extra_tls` lands in the `[tls]` table.
pub fn config_text(listen: &str, extra_tls: &str) -> String {
    render(&Setup {
        address: listen.to_owned(),
        tls: extra_tls.to_owned(),
        ..Setup::default()
    })
}

/// The config text for `setup`.
pub fn render(setup: &Setup) -> String {
    let Setup {
        address,
        listen,
        tls_files,
        tls,
        network,
        tables,
        identity,
        jwt,
        allowed_hosts,
        mcp,
        backend,
        log,
        metrics_listen,
        metrics,
        rate_limits,
    } = setup;
    format!(
        r#"
[listen]
address = "{address}"
max_request_body_bytes = 65536
{listen}

[tls]
{tls_files}
client_ca = "ca.pem"
identity = "{identity}"
{tls}

[mcp]
allowed_hosts = [{allowed_hosts}]
{mcp}

[network]
{network}

[log]
security_log = "security.log"
audit_log = "audit.log"
{log}

[jwt]
jwks = "jwks.json"
signing_key = "signing.key"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
{jwt}

{backend}

[metrics]
listen = "{metrics_listen}"
{metrics}

[rate_limits]
{rate_limits}

{tables}
"#
    )
}
