//! # mcp-gateway
//!
//! A hardened calendar MCP gateway: MCP clients (AI assistants, agents) reach a
//! calendar through MCP tools, and only over mutual TLS.
//!
//! ## Request flow
//!
//! 1. [`server`] accepts a TCP connection, within `listen.max_connections`.
//! 2. [`tls`] runs the handshake under a deadline: a client certificate chaining
//!    to the configured CA, not revoked by a configured CRL, is required.
//! 3. [`identity`] reads who the client is from that certificate (SAN URI, SAN
//!    DNS or subject CN) and its SHA-256 fingerprint.
//! 4. [`http`] routes each request: the MCP path goes to rmcp, after
//!    [`mcp::session`] checks that a named session belongs to this identity.
//! 5. [`mcp`] runs the tool, which calls a [`calendar::CalendarBackend`]
//!    (today the embedded SQLite store, [`calendar::embedded`]).
//!
//! ## Layout
//!
//! - [`config`]: the TOML file, validated; every error names its key.
//! - [`server`], [`tls`], [`identity`], [`http`]: connections and requests.
//! - [`mcp`]: tools ([`mcp::params`] for their arguments, [`mcp::output`] for results).
//! - [`calendar`]: the backend trait, event model ([`calendar::model`]), time
//!   parsing ([`calendar::time`]), recurrence ([`calendar::series`]), free
//!   slots ([`calendar::slots`]) and the embedded store.
//! - [`cli`]: development PKI and `quickstart`; `src/main.rs` holds the
//!   `quickstart`, `serve` and `check-config` commands themselves.

#![warn(missing_docs)]

pub mod admission;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod denial;
pub mod http;
pub mod identity;
pub mod mcp;
pub mod resource;
pub mod seclog;
pub mod server;
pub mod tls;
