//! # mcp-gateway
//!
//! A hardened calendar MCP gateway: MCP clients (AI assistants, agents) reach a
//! calendar through MCP tools, and only over mutual TLS.
//!
//! ## Request flow
//!
//! Each stage named by the function that implements it:
//!
//! 1. `gateway::serving_threads::accept_loop`, on each serving thread (one
//!    single-threaded runtime per core), takes a connection slot
//!    (`listen.max_connections`) and accepts on the socket
//!    [`transport::listener::bind`] bound (to one interface, with
//!    `listen.interface`); `transport::connection::serve_connection` then runs
//!    the connection from here to its end, in stages.
//! 2. `transport::arrival::arrive` runs the address checks before any TLS
//!    work, each before anything makes the gateway wait on the client: the
//!    real client address ([`policy::address::proxy::client_address`]), the
//!    allowlist and the country
//!    ([`policy::address::NetworkAdmission::check_address`], with
//!    [`policy::address::ip`] and [`policy::address::geo`]), a ban, and the
//!    cap of connections per address ([`transport::limits::AddressSlots::take`]);
//!    a connection that closes before a byte is a counted probe.
//! 3. `transport::connection::handshake` runs the TLS handshake (the verifier
//!    [`transport::tls::server_config`] builds, the certificate
//!    [`transport::certificate::ServerCertificate`] holds) under one deadline
//!    with the PROXY header: a client certificate chaining to the configured CA, with
//!    the clientAuth usage (not read again for the exact bytes of a
//!    certificate accepted before), not revoked by a configured CRL
//!    ([`transport::crl`] warns before one goes stale).
//! 4. `transport::connection::identify_client` reads who the client is with
//!    [`identity::identify`] (SAN URI, SAN DNS or subject CN, its SHA-256
//!    fingerprint and its revocation key; read once per certificate and kept
//!    by its exact bytes, [`transport::known_identities`]), and refuses a
//!    resumed session whose certificate has expired since.
//! 5. `transport::requests::serve_requests` serves HTTP/1.1 or HTTP/2 (the
//!    version ALPN agreed on, [`transport::protocol`]) under the connection
//!    deadlines of [`http::activity`], setting an idle HTTP/1.1 connection
//!    aside out of hyper ([`transport::serving`]); `http::App::respond` takes
//!    each request, in the stages of `http::stages`: `check_headers` (the logs writable, a ban
//!    meanwhile, a CRL loaded since the handshake, the rate, the header list,
//!    [`http::checks::check_authority`], the path, and the `Origin` and the
//!    bearer token in [`policy::resource::ProtectedResource::admit`] with
//!    [`policy::token::jwt::TokenVerifier::verify`], which alone makes a
//!    [`policy::grant::Grant`]); `check_before_body` (the protocol version,
//!    the tool a `Mcp-Name` names, the session's owner in
//!    [`mcp::session::SessionOwners::check`]); `read_request`
//!    ([`http::body::read_body`]; a plain stateless call read once by
//!    [`mcp::plain_request`], any other body by [`http::checks::read_message`]
//!    with [`mcp::strict_json`]; [`http::checks::check_mcp_headers`]);
//!    `hold_places` (the session caps, the id in flight); `answer_mcp` (plain
//!    stateless calls by [`mcp::direct`], everything else by rmcp's HTTP
//!    service); and `settle` (the session recorded, rmcp's own refusals
//!    logged).
//! 6. The MCP server's `call_tool` ([`mcp`]) checks each call's permission
//!    ([`policy::scope::check_permission`]); each tool turns the calendar ids
//!    it names into checked [`policy::grant::CalendarRef`]s, the only handle
//!    the [`calendar::CalendarBackend`] that [`calendar::CalendarAccounts`]
//!    picks for the identity accepts: the embedded SQLite store
//!    ([`calendar::embedded`]) for everyone, or the Google account mapped to
//!    this client ([`calendar::google`]).
//!
//! Every refusal is a [`denial::Denial`] value whose reason has one row in
//! [`denial::TABLE`], written once to the [`observe::seclog`] security log
//! (`DENY` when fail2ban may ban for it, `REFUSE` otherwise) and, for
//! requests, answered by [`http::refusal`]; every tool call is one line in
//! the [`observe::audit`] log; [`telemetry`] counts all of it for Prometheus,
//! on a listener of its own ([`gateway::metrics_server`]). A renewable
//! token is exchanged for a fresh one at [`config::RENEWAL_PATH`] after the
//! same stages 1–5 ([`policy::token::renewal`]).
//!
//! ## Layout
//!
//! The folders are layers, each importing only from those below it
//! (`scripts/layers.py` checks it). Top first:
//!
//! - [`gateway`]: the composition root ([`gateway::server`]), SIGHUP reloads
//!   ([`gateway::reload`]), the metrics and readiness listener, bans shared
//!   between replicas. [`cli`] beside it: development PKI, token issuing,
//!   key rotation, `quickstart` (`src/main.rs` holds the commands).
//! - [`connect`]: the client side, `mcp-gateway connect` — a local stdio
//!   MCP server that carries a desktop client's messages to the gateway over
//!   mutual TLS with its token (renewed when renewable); it uses nothing of
//!   the server's layers but the renewal path ([`config::RENEWAL_PATH`]).
//! - [`acme`]: the server certificate from an ACME CA (`[tls.acme]`):
//!   account, renewal schedule, orders with DNS-01 (RFC 2136 + TSIG) or
//!   TLS-ALPN-01 challenges, the state folder.
//! - [`transport`]: bytes until an identity exists, and the connection; the
//!   server certificate in force ([`transport::certificate`], swapped whole
//!   when files change or ACME renews it) and TLS-ALPN-01 handshakes
//!   ([`transport::acme_tls`]).
//! - [`http`]: one request, from its headers to its answer.
//! - [`mcp`]: tools ([`mcp::params`] for their arguments, [`mcp::output`] for
//!   results), sessions ([`mcp::session`]), the direct stateless path.
//! - [`calendar`]: the backend trait, event model ([`calendar::model`]), time
//!   parsing ([`calendar::time`]), recurrence ([`calendar::series`]), free
//!   slots ([`calendar::slots`]), the series-edit checks and plan every
//!   backend shares ([`calendar::edits`]), paging ([`calendar::paging`]),
//!   retries ([`calendar::retry`]), the embedded store, the Google backend
//!   and the CalDAV backend ([`calendar::caldav`]); idempotent creates
//!   ([`calendar::edits::creation`]).
//! - [`observe`]: where lines go (security log, audit log, sinks, readiness).
//! - [`policy`]: every allow/deny decision, as a value.
//! - [`config`]: the TOML file, validated; every error names its key.
//! - The shared vocabulary every layer uses: [`denial`] (the refusal table);
//!   and one file each, because a folder would hold nothing else,
//!   [`secrets`] (`ENC:` values, AES-256-GCM), [`identity`] (who a
//!   certificate names), [`telemetry`] (metric recording), [`allocator`]
//!   (mimalloc, the process's allocator; the crate's only `unsafe`).

#![warn(missing_docs)]

pub mod acme;
pub mod allocator;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod connect;
pub mod denial;
pub mod gateway;
pub mod http;
pub mod identity;
pub mod mcp;
pub mod observe;
pub mod policy;
pub mod secrets;
pub mod telemetry;
pub mod transport;
