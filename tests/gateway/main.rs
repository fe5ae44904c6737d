//! Integration tests over real sockets on 127.0.0.1: mutual TLS, MCP sessions,
//! the calendar tools, and durability across a `kill -9`. Each file is named
//! after the defence it proves; what they share is in [`support`], its
//! modules named at the root here so that tests say `crate::common::…`.

mod support;
pub(crate) use support::{
    acme_gateway, acme_lab, bridge, caldav_servers, caldav_setup, clients, common, fail2ban_server,
    fault_proxy, google_api, google_setup, netns, nobody, replica_harness, setup, sweep, tools,
    vpn_setup,
};

mod abuse;
mod acme;
mod acme_certbot;
mod admission;
mod argument_properties;
mod audit_json;
mod bad_input;
mod bench_harness;
mod caldav_config;
mod caldav_discovery;
mod caldav_faults;
mod caldav_interop;
mod caldav_objects;
mod calendar_semantics;
mod cli;
mod cli_input;
mod conformance_errors;
mod connect_bridge;
mod connect_check;
mod connect_clients;
mod connect_credentials;
mod connect_older;
mod connect_renewal;
mod connect_snippets;
mod crowd;
mod direct_calls;
mod disks;
mod drain_deadline;
mod durability;
mod fail2ban;
mod fail2ban_zone;
mod file_modes;
mod floods;
mod google_accounts;
mod google_backend;
mod google_config;
mod google_faults;
mod handshake;
mod haproxy_limits;
mod holding;
mod http2;
mod idempotency;
mod interface;
mod kubernetes;
mod lifecycle;
mod limits;
mod listing;
mod load;
mod logrotate;
mod matrix;
mod mcp_flow;
mod metrics;
mod origin_metadata;
mod packaging;
mod parking;
mod probes;
mod properties;
mod proxy_holding;
mod readiness;
mod recurrence_bounds;
mod reload;
mod reload_safety;
mod renewal;
mod replica_bans;
mod replica_caldav;
mod replica_google;
mod replica_sessions;
mod replica_stall;
mod replicas;
mod resumption;
mod revocation;
mod revoked_open;
mod scope;
mod secrets_rotation;
mod serving_threads;
mod session_caps;
mod session_memory;
mod sessions;
mod shared_store;
mod stateless;
mod stuffing;
mod token_keys;
mod token_revocation;
mod tokens;
mod versions;
mod vpn;
mod zones;
