//! Command-line helpers behind the binary: development PKI and `quickstart`.

pub mod pki;
pub mod quickstart;
