pub mod pki;
pub mod quickstart;
