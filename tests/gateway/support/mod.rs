//! What the tests share, apart from the tests themselves: gateways and their
//! configs ([`common`], [`setup`]), clients ([`clients`]), small tools
//! ([`tools`]), the Google Calendar API stand-in ([`google_api`],
//! [`google_setup`]), replicas behind HAProxy ([`replica_harness`]), network
//! namespaces and WireGuard ([`netns`], [`vpn_setup`]), a real
//! `fail2ban-server` ([`fail2ban_server`]), real CalDAV servers
//! ([`caldav_servers`]), gateways on them ([`caldav_setup`]) and a proxy
//! that makes them misbehave ([`fault_proxy`]), the gateway as an unprivileged
//! user ([`nobody`]), what the secrets sweep collects ([`sweep`]), and
//! `mcp-gateway connect` with the clients that launch it ([`bridge`]), and
//! BIND 9 with Pebble for the ACME tests ([`acme_lab`]) with the gateway on
//! top ([`acme_gateway`]).

pub mod acme_gateway;
pub mod acme_lab;
pub mod bridge;
pub mod caldav_servers;
pub mod caldav_setup;
pub mod clients;
pub mod common;
pub mod fail2ban_server;
pub mod fault_proxy;
pub mod google_api;
pub mod google_setup;
pub mod netns;
pub mod nobody;
pub mod replica_harness;
pub mod setup;
pub mod sweep;
pub mod tools;
pub mod vpn_setup;
