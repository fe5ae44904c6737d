//! # mcp-gateway
//!
//! A hardened calendar MCP gateway: MCP clients (AI assistants, agents) reach a
//! calendar through MCP tools, and only over mutual TLS.
//!
//! ## Request flow
//!
//! 1. [`server`] accepts a TCP connection, within `listen.max_connections`.
//! 2. [`admission`] runs the address checks before any TLS work: the real
//!    client address ([`admission::proxy`]), the allowlist ([`admission::ip`])
//!    and the country ([`admission::geo`]).
//! 3. [`tls`] runs the handshake under a deadline: a client certificate chaining
//!    to the configured CA, not revoked by a configured CRL, is required.
//! 4. [`identity`] reads who the client is from that certificate (SAN URI, SAN
//!    DNS or subject CN) and its SHA-256 fingerprint.
//! 5. [`http`] takes each request: [`resource`] checks the `Origin` and the
//!    bearer token ([`admission::jwt`]), which yields an
//!    [`admission::grant::Grant`]; [`mcp::session`] checks that a named session
//!    belongs to this identity; the body is read within its limit.
//! 6. [`mcp`] checks each message's scope ([`admission::scope`]) and runs the
//!    tool on the [`calendar::CalendarBackend`] that
//!    [`calendar::CalendarAccounts`] picks for the identity: the embedded
//!    SQLite store ([`calendar::embedded`]) for everyone, or the Google account
//!    mapped to this client ([`calendar::google`]).
//!
//! Every refusal is a [`denial::Denial`] value, written once to the
//! [`seclog`] security log; every tool call is one line in the [`audit`] log.
//!
//! ## Layout
//!
//! - [`config`]: the TOML file, validated; every error names its key.
//! - [`server`], [`tls`] (and [`crl`] for CRL expiry), [`identity`], [`http`],
//!   [`resource`]: connections and requests.
//! - [`admission`]: the checks, each a small function; [`denial`] and [`seclog`]:
//!   what a refusal is and how it is written.
//! - [`mcp`]: tools ([`mcp::params`] for their arguments, [`mcp::output`] for results).
//! - [`calendar`]: the backend trait, event model ([`calendar::model`]), time
//!   parsing ([`calendar::time`]), recurrence ([`calendar::series`]), free
//!   slots ([`calendar::slots`]), the checks both backends share
//!   ([`calendar::edits`]), the embedded store and the Google backend.
//! - [`secrets`]: `ENC:` values (AES-256-GCM) for credentials at rest.
//! - [`cli`]: development PKI, token keys and issuing, `quickstart`; `src/main.rs`
//!   holds the commands themselves.

#![warn(missing_docs)]

pub mod admission;
pub mod audit;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod connection;
pub mod crl;
pub mod denial;
pub mod http;
pub mod http_checks;
pub mod identity;
pub mod limits;
pub mod logsink;
pub mod mcp;
pub mod refusal;
pub mod resource;
pub mod seclog;
pub mod secrets;
pub mod server;
pub mod tls;
