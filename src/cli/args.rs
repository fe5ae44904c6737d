//! The command line, as clap reads it: every subcommand and flag of the
//! `mcp-gateway` binary (`src/main.rs` carries them out).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cli::issue;

/// Longest validity `certs issue-client --days` grants: ten years.
pub const MAX_CERT_DAYS: u64 = 3650;

/// What `--version` prints: the crate version, the commit and the build date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MCP_GATEWAY_COMMIT"),
    ", built ",
    env!("MCP_GATEWAY_BUILD_DATE"),
    ")"
);

/// A hardened calendar MCP gateway.
#[derive(Parser)]
#[command(version = VERSION, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Create a CA, server and client certificates and a config in DIR, then serve.
    Quickstart {
        /// Folder for the generated files (reused on later runs).
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on [default: 127.0.0.1:8443, or what the
        /// folder's gateway.toml says]; a different one is written into it.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Address of the metrics and /ready listener [default:
        /// 127.0.0.1:9464, or what gateway.toml says]; two quickstarts on one
        /// machine need two.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// Only create the files and print how to connect.
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve with a configuration file.
    Serve {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Mint and revoke tokens.
    Token {
        /// Which one.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// A small certificate authority in one folder: CA, server and client certificates, CRL.
    Certs {
        /// Which one.
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Make token signing keys and the JWKS that verifies them.
    Keys {
        /// Which one.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Encrypt secrets for the configuration, and make keys for that.
    Secrets {
        /// Which one.
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Exit 0 when the gateway of this config answers on its ports (for containers without curl).
    Healthcheck {
        /// The TOML configuration the gateway runs with.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a local stdio MCP server that carries an MCP client's messages to
    /// the gateway over mutual TLS with a bearer token (for desktop clients
    /// that cannot present a certificate). Stdout carries JSON-RPC only.
    Connect(crate::connect::options::Options),
    /// Check a configuration file: exit 0 when valid, else one line per problem and exit 2.
    CheckConfig {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
}

/// `token …`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Revoke a token by its jti: appended to jwt.revocations (atomically), refused within a second.
    Revoke {
        /// The TOML configuration (for jwt.revocations).
        #[arg(long)]
        config: PathBuf,
        /// The token id.
        #[arg(long)]
        jti: String,
    },
    /// Print a token signed with the configured jwt.signing_key.
    Issue {
        /// The TOML configuration (for the key, issuer and audience).
        #[arg(long)]
        config: PathBuf,
        /// What the token grants.
        #[command(flatten)]
        request: issue::Request,
    },
}

/// `certs …`.
#[derive(Subcommand)]
pub enum CertsCommand {
    /// Create the CA (ca.pem, ca.key, an empty CRL) in DIR.
    InitCa {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
        /// The CA's name (subject CN).
        #[arg(long, default_value = "mcp-gateway client CA")]
        name: String,
    },
    /// Issue a server certificate for the names clients connect to.
    IssueServer {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
        /// DNS names and IP addresses, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        names: Vec<String>,
        /// Output stem: STEM.pem and STEM.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a client certificate carrying an identity (URI SAN for spiffe://…, else DNS SAN; and the CN).
    IssueClient {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
        /// The client identity.
        #[arg(long)]
        id: String,
        /// Days of validity, 1 to 3650.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=MAX_CERT_DAYS))]
        days: u64,
        /// Output stem: STEM.pem and STEM.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate by serial and rewrite DIR/crl.pem.
    Revoke {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
        /// The serial (hex, as `certs list` shows it).
        #[arg(long)]
        serial: String,
    },
    /// Rewrite DIR/crl.pem with a fresh nextUpdate (30 days).
    Crl {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
    },
    /// List what the CA issued: serial, kind, name, expiry, revocation.
    List {
        /// The CA folder.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// `keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Write a new signing key (PKCS#8 PEM, mode 0600) for jwt.signing_key; prints its kid.
    Generate {
        /// Where to write it (never over an existing file).
        #[arg(long)]
        out: PathBuf,
        /// EdDSA (Ed25519) or ES256 (ECDSA P-256).
        #[arg(long, default_value = "EdDSA")]
        algorithm: String,
    },
    /// Replace jwt.signing_key with a new key; its public half joins jwt.jwks, the old one stays until pruned.
    Rotate {
        /// The TOML configuration (for jwt.signing_key and jwt.jwks).
        #[arg(long)]
        config: PathBuf,
    },
    /// Drop from jwt.jwks the keys retired longer ago than jwt.max_lifetime.
    Prune {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the JWKS that verifies a signing key, or add the key to a JWKS file.
    Jwks {
        /// The signing key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// A JWKS file to add the key to, in place (the keys already there stay).
        #[arg(long)]
        add: Option<PathBuf>,
    },
}

/// `secrets …`.
#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key (base64 of 32 bytes) for MCP_GATEWAY_ENCRYPTION_KEY or a key file.
    GenerateKey,
    /// Read a secret from standard input and print its `ENC:` value.
    Encrypt {
        /// Key file to use when MCP_GATEWAY_ENCRYPTION_KEY is not set.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Re-seal every ENC: value of a config with a new key (checked, then renamed into place).
    Rotate {
        /// The TOML configuration holding the ENC: values.
        #[arg(long)]
        config: PathBuf,
        /// The new key (from `secrets generate-key`).
        #[arg(long)]
        new_key_file: PathBuf,
        /// The current key, when MCP_GATEWAY_ENCRYPTION_KEY is not set
        /// [default: the config's backend.google.encryption_key_file].
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}
