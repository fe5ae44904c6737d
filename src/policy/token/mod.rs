//! The bearer token: [`jwt::TokenVerifier`] checks each one against the key
//! set of [`jwks`] (signing keys as [`keys`] loads them), the revoked `jti`s
//! of [`revocations`], and remembers verified signatures in [`cache`];
//! [`renewal`] exchanges a renewable token for a fresh one.

pub mod cache;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod renewal;
pub mod revocations;
