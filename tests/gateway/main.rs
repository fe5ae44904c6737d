//! Integration tests over real sockets on 127.0.0.1: mutual TLS, MCP sessions,
//! the calendar tools, and durability across a `kill -9`.

mod clients;
mod common;
mod google_api;
mod google_setup;

mod abuse;
mod admission;
mod bad_input;
mod bench_harness;
mod calendar_semantics;
mod cli;
mod crowd;
mod direct_calls;
mod disks;
mod durability;
mod fail2ban;
mod floods;
mod google_accounts;
mod google_backend;
mod google_config;
mod google_faults;
mod handshake;
mod holding;
mod http2;
mod lifecycle;
mod limits;
mod listing;
mod load;
mod logrotate;
mod matrix;
mod mcp_flow;
mod metrics;
mod packaging;
mod properties;
mod reload;
mod resumption;
mod revocation;
mod scope;
mod session_memory;
mod sessions;
mod stateless;
mod stuffing;
mod sweep;
mod tokens;
mod zones;
