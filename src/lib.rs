//! # mcp-gateway
//!
//! A hardened calendar MCP gateway: MCP clients (AI assistants, agents) reach a
//! calendar through MCP tools, and only over mutual TLS.
//!
//! ## Request flow
//!
//! 1. [`server`] accepts a TCP connection, within `listen.max_connections`,
//!    on the socket [`listener`] bound (to one interface, with
//!    `listen.interface`), and hands it to [`connection`].
//! 2. [`arrival`] runs the address checks before any TLS work, each before
//!    anything makes the gateway wait on the client: the real client address
//!    ([`admission::proxy`]), the allowlist ([`admission::ip`]), the country
//!    ([`admission::geo`]), a ban, and [`limits`]' cap of connections per
//!    address; a connection that closes before a byte is a counted probe.
//! 3. [`tls`] runs the handshake under a deadline: a client certificate chaining
//!    to the configured CA, with the clientAuth usage, not revoked by a
//!    configured CRL ([`crl`] warns before one goes stale), is required.
//! 4. [`identity`] reads who the client is from that certificate (SAN URI, SAN
//!    DNS or subject CN) and its SHA-256 fingerprint.
//! 5. [`http`] takes each request, under the connection deadlines of
//!    [`activity`]: it refuses everything while a log cannot be written
//!    ([`logsink`]) and ends the connections of an address banned meanwhile;
//!    [`http_checks`] checks the authority it names and its
//!    protocol headers, and a CRL loaded since the handshake; [`resource`]
//!    checks the `Origin` and the bearer token
//!    ([`admission::jwt`] with [`admission::jwks`]; signatures remembered per
//!    token by [`admission::token_cache`]), which yields an
//!    [`admission::grant::Grant`]; [`mcp::session`] checks that a named
//!    session belongs to this identity and caps new ones; the body is read
//!    within its size and time limits ([`http_body`]) and must be one
//!    JSON-RPC message the gateway and rmcp read alike ([`strict_json`]). Plain stateless calls are answered
//!    by [`mcp::direct`]; everything else goes through rmcp's HTTP service.
//! 6. [`mcp`] checks each call's permission ([`admission::scope`]); each tool
//!    turns the calendar ids it names into checked
//!    [`admission::grant::CalendarRef`]s, the only handle the
//!    [`calendar::CalendarBackend`] that [`calendar::CalendarAccounts`] picks
//!    for the identity accepts: the embedded SQLite store
//!    ([`calendar::embedded`]) for everyone, or the Google account mapped to
//!    this client ([`calendar::google`]).
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
pub mod strict_json;
pub mod telemetry;
pub mod tls;
