//! Command-line helpers behind the binary: development PKI, token signing keys,
//! token issuing and `quickstart`.

pub mod issue;
pub mod keys;
pub mod pki;
pub mod quickstart;
pub mod token;
