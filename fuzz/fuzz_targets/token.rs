//! The token verifier on arbitrary text, for a client whose certificate and
//! address a good token names: nothing but that token is ever a grant, and
//! every refusal is a token-stage denial. Inputs starting with an odd byte
//! are edits of the good token (position, character), so the fuzzer reaches
//! the signature and claim checks and not only the parser.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::Utc;
use libfuzzer_sys::fuzz_target;
use mcp_gateway::cli::pki::Authority;
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::config::{IdentitySource, Jwt};
use mcp_gateway::denial::Stage;
use mcp_gateway::identity::{ClientIdentity, identify};
use mcp_gateway::policy::address::ClientIp;
use mcp_gateway::policy::token::jwt::TokenVerifier;
use mcp_gateway::policy::token::keys::{generate_ed25519_pem, jwks, load_signing_key};

const ISSUER: &str = "fuzz-issuer";
const AUDIENCE: &str = "https://gateway.fuzz/mcp";

struct Fixture {
    verifier: TokenVerifier,
    identity: ClientIdentity,
    good: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("mcp-gateway-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let signer = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks(&[&signer]).to_string()).unwrap();
    let config = Jwt {
        jwks: jwks_path,
        signing_key: None,
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        algorithms: vec![
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::Algorithm::ES256,
        ],
        hs256_secret_file: None,
        max_lifetime: std::time::Duration::from_secs(24 * 3600),
        leeway: std::time::Duration::from_secs(60),
        revocations: None,
        require_cert_binding: false,
        max_renewable: std::time::Duration::from_secs(30 * 86400),
        renewal: false,
    };
    let request = TokenRequest::full_access(
        "agent-f",
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(3600),
    );
    let good = sign(&claims(&request, ISSUER, AUDIENCE).unwrap(), &signer).unwrap();
    std::fs::write(dir.join("good-token"), &good).unwrap();
    Fixture {
        verifier: TokenVerifier::from_config(&config).unwrap(),
        identity: identity_of("agent-f"),
        good,
    }
});

/// The identity the handshake reads from a certificate a fresh CA issues
/// for `id` (an identity can only come from a certificate).
fn identity_of(id: &str) -> ClientIdentity {
    use rustls_pki_types::pem::PemObject;
    let issued = Authority::generate("fuzz CA")
        .unwrap()
        .issue_client(id)
        .unwrap();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
    identify(&der, IdentitySource::SubjectCn).unwrap()
}

/// The good token with each (position, character) of `edits` applied.
fn edited(good: &str, edits: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    let mut token = good.as_bytes().to_vec();
    for edit in edits.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([edit[0], edit[1]])) % token.len();
        token[at] = ALPHABET[usize::from(edit[2]) % ALPHABET.len()];
    }
    String::from_utf8(token).expect("the alphabet is ASCII")
}

fuzz_target!(|bytes: &[u8]| {
    let fixture = &*FIXTURE;
    let token = match bytes.split_first() {
        Some((mode, edits)) if mode % 2 == 1 => edited(&fixture.good, edits),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    match fixture.verifier.verify(
        &token,
        &fixture.identity,
        ClientIp::canonical(ip),
        Utc::now(),
    ) {
        Ok(_) => assert_eq!(token, fixture.good, "a grant for another token"),
        Err(denial) => assert_eq!(denial.reason.stage(), Stage::Jwt, "{denial:?}"),
    }
});
