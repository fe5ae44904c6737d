//! Command-line helpers behind the binary: development PKI, token signing key files,
//! token issuing, `quickstart`, and the container `healthcheck`.

pub mod args;
pub mod certs;
pub mod files;
pub mod healthcheck;
pub mod issue;
pub mod pki;
pub mod quickstart;
pub mod rotation;
pub mod secrets_rotate;
pub mod token;
