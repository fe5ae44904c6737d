//! Every allow-or-deny decision, as values: each check returns a
//! [`crate::denial::Denial`] and leaves writing it to [`crate::observe`].
//!
//! - [`address`]: the checks that need only the client's address, run at TCP
//!   accept before any TLS work (the PROXY header, the allowlist, the country).
//! - [`token`]: the bearer token, which alone makes a [`grant::Grant`].
//! - [`resource`]: this gateway as an OAuth protected resource — the `Origin`
//!   and the bearer token of each request.
//! - [`scope`]: the permission and calendars each MCP message needs.
//! - [`rate`] and [`bans`]: how much an address or a client may ask, and the
//!   addresses refused for a while.
//! - [`snapshot`]: the policy in force, which a reload swaps at once.

pub mod address;
pub mod bans;
pub mod grant;
pub mod rate;
pub mod resource;
pub mod scope;
pub mod snapshot;
pub mod token;
