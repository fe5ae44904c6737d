//! The composition root: [`server`] builds every part from the configuration
//! (with `parts`) and starts the serving threads ([`serving_threads`], one
//! runtime per core), `upkeep` keeps gauges and
//! sessions current; [`reload`] swaps in a new policy on SIGHUP;
//! [`metrics_server`] serves Prometheus and readiness on a listener of its
//! own; [`shared_bans`] holds one replica's bans on every replica.

pub mod metrics_server;
mod parts;
pub mod reload;
pub mod server;
pub mod serving_threads;
pub mod shared_bans;
mod upkeep;
