//! Bytes until an identity exists, and the connection around its requests:
//! the socket ([`listener`]), the address checks at accept ([`arrival`]) with
//! the per-address caps of [`limits`], the TLS handshake ([`tls`], with the
//! CRLs of [`crl`] and the server certificate of [`certificate`]), and [`connection`], which runs one connection from
//! accept to close with what every connection shares ([`shared`]); its
//! requests are served by [`requests`], in the HTTP version [`protocol`]
//! chooses.

pub mod acme_tls;
pub mod arrival;
pub mod certificate;
pub mod connection;
pub mod crl;
pub mod known_identities;
pub mod limits;
pub mod listener;
pub mod protocol;
pub mod replayed;
pub mod requests;
pub mod serving;
pub mod shared;
pub mod tls;
