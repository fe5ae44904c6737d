//! # mcp-gateway
//!
//! A hardened calendar MCP gateway: MCP clients (AI assistants, agents) reach a
//! calendar through MCP tools, and only over mutual TLS.
//!
//! ## Request flow
//!
//! Each stage named by the function that implements it:
//!
//! 1. `server::accept_loop` takes a connection slot (`listen.max_connections`)
//!    and accepts on the socket [`listener::bind`] bound (to one interface,
//!    with `listen.interface`); `connection::serve_connection` then runs the
//!    connection from here to its end.
//! 2. `arrival::arrive` ([`arrival`]) runs the address checks before any TLS work, each
//!    before anything makes the gateway wait on the client: the real client
//!    address ([`admission::proxy::client_address`]), the allowlist and the
//!    country ([`admission::NetworkAdmission::check_address`], with
//!    [`admission::ip`] and [`admission::geo`]), a ban, and the cap of
//!    connections per address ([`limits::AddressSlots::take`]); a connection
//!    that closes before a byte is a counted probe.
//! 3. The TLS handshake ([`tls::server_config`] builds the verifier) runs
//!    under one deadline with the PROXY header: a client certificate chaining
//!    to the configured CA, with the clientAuth usage, not revoked by a
//!    configured CRL ([`crl`] warns before one goes stale).
//! 4. [`identity::identify`] reads who the client is from that certificate
//!    (SAN URI, SAN DNS or subject CN), its SHA-256 fingerprint and its
//!    revocation key.
//! 5. `http::App::respond` takes each request, under the connection deadlines
//!    of [`activity`], in stages: `check_headers` (the logs writable, a ban
//!    meanwhile, a CRL loaded since the handshake, the rate, the header list,
//!    [`http_checks::check_authority`], the path, and the `Origin` and the
//!    bearer token in [`resource::ProtectedResource::admit`] with
//!    [`admission::jwt::TokenVerifier::verify`], which alone makes an
//!    [`admission::grant::Grant`]); `check_before_body` (the protocol version,
//!    the tool a `Mcp-Name` names, the session's owner in
//!    [`mcp::session::SessionOwners::check`]); `read_request`
//!    ([`http_body::read_body`], [`http_checks::read_message`] with
//!    [`strict_json`], [`http_checks::check_mcp_headers`]); `hold_places`
//!    (the session caps, the id in flight); `answer_mcp` (plain stateless
//!    calls by [`mcp::direct`], everything else by rmcp's HTTP service); and
//!    `settle` (the session recorded, rmcp's own refusals logged).
//! 6. The MCP server's `call_tool` ([`mcp`]) checks each call's permission
//!    ([`admission::scope::check_permission`]); each tool turns the calendar
//!    ids it names into checked [`admission::grant::CalendarRef`]s, the only
//!    handle the [`calendar::CalendarBackend`] that
//!    [`calendar::CalendarAccounts`] picks for the identity accepts: the
//!    embedded SQLite store ([`calendar::embedded`]) for everyone, or the
//!    Google account mapped to this client ([`calendar::google`]).
//!
//! Every refusal is a [`denial::Denial`] value, written once to the
//! [`seclog`] security log (`DENY` when fail2ban may ban for it, `REFUSE`
//! otherwise) and, for requests, answered by [`refusal`]; every tool call is
//! one line in the [`audit`] log; [`telemetry`] counts all of it for
//! Prometheus, on a listener of its own ([`metrics_server`]).
//!
//! ## Layout
//!
//! - [`config`]: the TOML file, validated; every error names its key.
//! - [`server`], [`connection`], [`activity`], [`limits`], [`tls`], [`crl`],
//!   [`identity`], [`http`], [`http_checks`], [`resource`], [`refusal`]:
//!   connections and requests.
//! - [`admission`]: the checks, each a small function; [`denial`] and [`seclog`]:
//!   what a refusal is and how it is written; [`logsink`]: where lines go.
//! - [`mcp`]: tools ([`mcp::params`] for their arguments, [`mcp::output`] for
//!   results), sessions ([`mcp::session`]), the direct stateless path ([`mcp::direct`]).
//! - [`calendar`]: the backend trait, event model ([`calendar::model`]), time
//!   parsing ([`calendar::time`]), recurrence ([`calendar::series`]), free
//!   slots ([`calendar::slots`]), the checks both backends share
//!   ([`calendar::edits`]), the embedded store and the Google backend.
//! - [`reload`]: SIGHUP reloads; [`rate`] and [`bans`]: rate limits and
//!   in-process bans, [`shared_bans`] to hold them on every replica; [`telemetry`]: Prometheus metrics, and [`readiness`]
//!   at `/ready` beside them for load balancers.
//! - [`secrets`]: `ENC:` values (AES-256-GCM) for credentials at rest.
//! - [`cli`]: development PKI, token keys and issuing, `quickstart`; `src/main.rs`
//!   holds the commands themselves.

#![warn(missing_docs)]

pub mod activity;
pub mod admission;
pub mod arrival;
pub mod audit;
pub mod bans;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod connection;
pub mod crl;
pub mod denial;
pub mod http;
pub mod http_body;
pub mod http_checks;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod logsink;
pub mod mcp;
pub mod metrics_server;
pub mod rate;
pub mod readiness;
pub mod refusal;
pub mod reload;
pub mod resource;
pub mod seclog;
pub mod secrets;
pub mod server;
pub mod shared_bans;
pub mod snapshot;
pub mod strict_json;
pub mod telemetry;
pub mod tls;
