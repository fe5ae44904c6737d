//! Properties of the token verifier, over generated input: whatever the text,
//! it yields a grant only for a token the gateway's key signed, for the
//! certificate and address the token names; any change to a good token's
//! text is refused; and every refusal is a token-stage denial, never a panic.

use std::net::IpAddr;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::config::Config;
use mcp_gateway::denial::Stage;
use mcp_gateway::identity::ClientIdentity;
use mcp_gateway::policy::token::jwt::TokenVerifier;
use proptest::prelude::{ProptestConfig, any, prop_assert, prop_assert_eq, proptest};
use proptest::string::string_regex;
use serde_json::{Value, json};

use crate::common::{AUDIENCE, ISSUER, Pki, config_text, write_pki};

/// One verifier and key set for every case (the directory is kept for the
/// test binary's life).
fn fixture() -> &'static (TokenVerifier, Pki) {
    static FIXTURE: OnceLock<(TokenVerifier, Pki)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Box::leak(Box::new(tempfile::TempDir::new().unwrap()));
        let pki = write_pki(dir.path());
        let config = Config::parse(&config_text("127.0.0.1:0", ""), dir.path()).unwrap();
        (TokenVerifier::from_config(&config.jwt).unwrap(), pki)
    })
}

/// The identity of a certificate the test CA issues for `id`, as the
/// handshake reads it (an identity can only come from a certificate).
fn identity(id: &str) -> ClientIdentity {
    use rustls::pki_types::pem::PemObject;
    let issued = fixture().1.ca.issue_client(id).unwrap();
    let der =
        rustls::pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
    mcp_gateway::identity::identify(&der, mcp_gateway::config::IdentitySource::SubjectCn).unwrap()
}

const LOCAL: &str = "127.0.0.1";

fn good_claims() -> Value {
    let request = TokenRequest::full_access(
        "agent-p",
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(600),
    );
    claims(&request, ISSUER, AUDIENCE).unwrap()
}

/// Verifies `token` for agent-p at 127.0.0.1: `Ok(())` for a grant, else the
/// refusal's stage (which must be the token's).
fn verdict(token: &str) -> Result<(), Stage> {
    let (verifier, _) = fixture();
    let ip: IpAddr = LOCAL.parse().unwrap();
    verifier
        .verify(
            token,
            &identity("agent-p"),
            mcp_gateway::policy::address::ClientIp::canonical(ip),
            Utc::now(),
        )
        .map(|_| ())
        .map_err(|denial| denial.reason.stage())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text at all: a refusal at the token stage.
    #[test]
    fn arbitrary_text_is_refused(text in any::<String>()) {
        prop_assert_eq!(verdict(&text), Err(Stage::Jwt));
    }

    /// Text shaped like a JWT (three base64url segments): still refused.
    #[test]
    fn arbitrary_jwt_shapes_are_refused(text in string_regex("[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}").unwrap()) {
        prop_assert_eq!(verdict(&text), Err(Stage::Jwt));
    }

    /// A good token with one character replaced: refused, wherever the change.
    #[test]
    fn any_change_to_a_good_token_is_refused(position in any::<usize>(), replacement in string_regex("[A-Za-z0-9_.=+/-]").unwrap()) {
        let (_, pki) = fixture();
        let token = sign(&good_claims(), &pki.signer).unwrap();
        prop_assert_eq!(verdict(&token), Ok(()));
        let at = position % token.len();
        let mut changed = token.clone();
        changed.replace_range(at..=at, &replacement);
        if changed != token {
            prop_assert_eq!(verdict(&changed), Err(Stage::Jwt));
        }
    }

    /// Good claims with one claim replaced by an arbitrary JSON value, signed
    /// by the gateway's key: a grant only when the new value says what the
    /// gateway must see (the issuer, the audience, this client, an address
    /// range holding 127.0.0.1, a binding to this certificate, a time in range).
    #[test]
    fn a_bent_claim_is_honoured_or_refused_never_misread(claim in proptest::sample::select(vec!["iss", "aud", "exp", "nbf", "iat", "clientId", "allowedIPs", "cnf"]), value in json_value()) {
        let (_, pki) = fixture();
        let mut bent = good_claims();
        bent[claim] = value.clone();
        let token = sign(&bent, &pki.signer).unwrap();
        if verdict(&token).is_ok() {
            prop_assert!(honoured(claim, &value), "{} = {} gave a grant", claim, value);
        }
    }
}

/// Whether a grant is right for `claim` holding `value`.
fn honoured(claim: &str, value: &Value) -> bool {
    let now = Utc::now().timestamp();
    let hour = 3600;
    match claim {
        "iss" => value == ISSUER,
        "aud" => {
            value == AUDIENCE
                || value
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(AUDIENCE)))
        }
        "clientId" => value == "agent-p",
        "allowedIPs" => value.as_array().is_some_and(|list| {
            let local: IpAddr = LOCAL.parse().unwrap();
            list.iter().filter_map(Value::as_str).any(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .is_ok_and(|net| net.contains(&local))
                    || entry.parse::<IpAddr>() == Ok(local)
            })
        }),
        "cnf" => value["x5t#S256"] == json!(URL_SAFE_NO_PAD.encode([0u8; 32])),
        "exp" => value
            .as_i64()
            .is_some_and(|t| t > now - hour && t < now + 25 * hour),
        "nbf" => value.is_null() || value.as_i64().is_some_and(|t| t <= now + hour),
        "iat" => value
            .as_i64()
            .is_some_and(|t| t <= now + hour && t > now - 25 * hour),
        _ => false,
    }
}

/// Small arbitrary JSON values, biased towards the types claims hold.
fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::Strategy;
    proptest::prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<String>().prop_map(|s| json!(s)),
        proptest::collection::vec(any::<String>(), 0..3).prop_map(|v| json!(v)),
        proptest::strategy::Just(Value::Null),
        proptest::strategy::Just(json!({})),
        proptest::strategy::Just(json!(["*"])),
        proptest::strategy::Just(json!(["0.0.0.0/0"])),
        proptest::strategy::Just(json!(["127.0.0.1", "10.0.0.0/8"])),
        proptest::strategy::Just(json!([AUDIENCE, "https://other/"])),
        proptest::strategy::Just(json!({ "x5t#S256": URL_SAFE_NO_PAD.encode([0u8; 32]) })),
        (-100_000i64..100_000).prop_map(|d| json!(Utc::now().timestamp() + d)),
    ]
}
