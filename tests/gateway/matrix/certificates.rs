//! Matrix rows for the client certificate: every way it can fail to prove
//! who the client is, from no certificate to a CN built to forge a log line.
//! A refused handshake gets no HTTP answer and one ban-worthy
//! `DENY stage=tls` line (`client=-`: nobody was identified).

use std::time::Duration;

use mcp_gateway::cli::pki::{Authority, Issued};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ledger::{Ledger, Line, Seen};
use super::tls_client::{attempt, presenting, roots};
use crate::common::{TestGateway, crl_revoking};

const REVOKED_SERIAL: u64 = 0x0bad_cafe;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A gateway reading identities from `identity`, whose CRL revokes [`REVOKED_SERIAL`].
async fn gateway(identity: &'static str) -> TestGateway {
    TestGateway::start_custom(move |dir, ca, setup| {
        std::fs::write(dir.join("crl.pem"), crl_revoking(ca, REVOKED_SERIAL)).unwrap();
        setup.tls = "crls = [\"crl.pem\"]".into();
        setup.identity = identity.into();
    })
    .await
}

/// Client parameters for `identity` (a DNS SAN and the CN), bent by `bend`.
fn params(identity: &str, bend: impl FnOnce(&mut CertificateParams)) -> CertificateParams {
    let mut params = Authority::client_params(identity).unwrap();
    bend(&mut params);
    params
}

/// The rows a DNS-SAN gateway refuses: name, certificate and key, reason.
fn refused(gw: &TestGateway) -> Vec<(&'static str, Issued, &'static str)> {
    let ca = &gw.pki.ca;
    let other_ca = Authority::generate("Test CA").unwrap();
    let untrusted_intermediate = other_ca.intermediate("Test CA").unwrap();
    let self_signed = {
        let key = KeyPair::generate().unwrap();
        let cert = params("agent-c", |_| {}).self_signed(&key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    };
    let mut wrong_key = ca.issue_client("agent-c").unwrap();
    wrong_key.key_pem = ca.issue_client("agent-c").unwrap().key_pem;
    let day = Duration::from_secs(86_400);
    vec![
        ("self-signed, same names", self_signed, "unknown_ca"),
        (
            "another CA with the same name",
            other_ca.issue_client("agent-c").unwrap(),
            "unknown_ca",
        ),
        (
            "an intermediate of another CA",
            untrusted_intermediate.issue_client("agent-c").unwrap(),
            "unknown_ca",
        ),
        (
            "expired",
            ca.sign(&params("agent-c", |p| {
                p.not_before = now() - day * 30;
                p.not_after = now() - day;
            }))
            .unwrap(),
            "certificate_expired",
        ),
        (
            "not yet valid",
            ca.sign(&params("agent-c", |p| {
                p.not_before = now() + day;
                p.not_after = now() + day * 30;
            }))
            .unwrap(),
            "certificate_not_yet_valid",
        ),
        (
            "serverAuth only",
            ca.sign(&params("agent-c", |p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }))
            .unwrap(),
            "bad_key_usage",
        ),
        (
            "no extended key usage at all",
            ca.sign(&params("agent-c", |p| {
                p.extended_key_usages = Vec::new();
            }))
            .unwrap(),
            "bad_key_usage",
        ),
        (
            "codeSigning only",
            ca.sign(&params("agent-c", |p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
            }))
            .unwrap(),
            "bad_key_usage",
        ),
        (
            "a CA certificate as the leaf",
            ca.sign(&params("agent-c", |p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            }))
            .unwrap(),
            "bad_certificate",
        ),
        (
            "revoked",
            ca.sign(&params("agent-c", |p| {
                p.serial_number = Some(SerialNumber::from(REVOKED_SERIAL));
            }))
            .unwrap(),
            "certificate_revoked",
        ),
        (
            "a key that is not the certificate's",
            wrong_key,
            "bad_certificate",
        ),
        (
            "two DNS names",
            ca.sign(&params("agent-c", |p| {
                p.subject_alt_names
                    .push(SanType::DnsName("agent-d".try_into().unwrap()));
            }))
            .unwrap(),
            "no_identity",
        ),
        (
            "no DNS name",
            ca.sign(&params("agent-c", |p| {
                p.subject_alt_names =
                    vec![SanType::URI("spiffe://corp/agent-c".try_into().unwrap())];
            }))
            .unwrap(),
            "no_identity",
        ),
    ]
}

/// Subject CNs a CN gateway must refuse (control, separator, or overlong).
fn bad_common_names() -> Vec<(&'static str, String)> {
    vec![
        ("a CN with a NUL", "agent\0c".into()),
        ("a CN with a newline forging a line", "agent\n2026-01-01T00:00:00.000Z mcp-gateway[1]: DENY stage=jwt reason=x ip=10.6.6.6 client=x".into()),
        ("a CN with an ANSI escape", "agent\u{1b}[2J".into()),
        ("a CN with U+2028", "agent\u{2028}c".into()),
        ("a CN with a DEL", "agent\u{7f}c".into()),
        ("an empty CN", String::new()),
        ("a 3 KB CN", "c".repeat(3 * 1024)),
        ("a 60 KB CN", "c".repeat(60 * 1024)),
    ]
}

#[tokio::test]
async fn every_bad_certificate_is_refused_once_and_ban_worthy() {
    let gw = gateway("san_dns").await;
    let tls = |reason: &str| format!("DENY stage=tls reason={reason} ip=127.0.0.1 client=-");
    let mut ledger = Ledger::new("certificates", &gw);

    let good = gw.pki.ca.issue_client("agent-c").unwrap();
    let seen = attempt(
        &gw,
        presenting(&gw, &good.cert_pem, &good.key_pem),
        "agent-c",
    )
    .await;
    ledger
        .row(
            &gw,
            "control: a good certificate",
            seen,
            Seen::Ok,
            Line::None,
        )
        .await;
    let both = gw
        .pki
        .ca
        .sign(&params("agent-c", |p| {
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::ServerAuth,
            ];
        }))
        .unwrap();
    let seen = attempt(
        &gw,
        presenting(&gw, &both.cert_pem, &both.key_pem),
        "agent-c",
    )
    .await;
    ledger
        .row(
            &gw,
            "control: clientAuth and serverAuth",
            seen,
            Seen::Ok,
            Line::None,
        )
        .await;
    let intermediate = gw.pki.ca.intermediate("Team CA").unwrap();
    let leaf = intermediate.issue_client("agent-c").unwrap();
    let chain = format!("{}{}", leaf.cert_pem, intermediate.issued.cert_pem);
    // With CRLs configured, a chain whose intermediate no CRL covers has an
    // unknown revocation status: refused, and the fix is the operator's.
    let seen = attempt(&gw, presenting(&gw, &chain, &leaf.key_pem), "agent-c").await;
    let unknown = "REFUSE stage=tls reason=revocation_status_unknown ip=127.0.0.1 client=-";
    ledger
        .row(
            &gw,
            "a leaf of our intermediate, no CRL for it",
            seen,
            Seen::NoAnswer,
            Line::Refuse(unknown),
        )
        .await;
    let seen = attempt(
        &gw,
        presenting(&gw, &leaf.cert_pem, &leaf.key_pem),
        "agent-c",
    )
    .await;
    ledger
        .row(
            &gw,
            "a leaf of our intermediate, chain not sent",
            seen,
            Seen::NoAnswer,
            Line::Deny(&tls("unknown_ca")),
        )
        .await;

    let anonymous = rustls::ClientConfig::builder()
        .with_root_certificates(roots(&gw))
        .with_no_client_auth();
    let seen = attempt(&gw, anonymous, "agent-c").await;
    ledger
        .row(
            &gw,
            "no certificate",
            seen,
            Seen::NoAnswer,
            Line::Deny(&tls("no_certificate")),
        )
        .await;
    let tls12 = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(roots(&gw))
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(good.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(good.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let seen = attempt(&gw, tls12, "agent-c").await;
    ledger
        .row(
            &gw,
            "TLS 1.2 against a 1.3-only gateway",
            seen,
            Seen::NoAnswer,
            Line::Deny(&tls("handshake_failed")),
        )
        .await;

    for (name, issued, reason) in refused(&gw) {
        let seen = attempt(
            &gw,
            presenting(&gw, &issued.cert_pem, &issued.key_pem),
            "agent-c",
        )
        .await;
        ledger
            .row(&gw, name, seen, Seen::NoAnswer, Line::Deny(&tls(reason)))
            .await;
    }
    ledger.finish(&gw);

    // Identities read from the CN: only one printable name passes.
    let gw = gateway("subject_cn").await;
    let mut ledger = Ledger::new("certificate-names", &gw);
    let cn = |name: &str| {
        gw.pki
            .ca
            .sign(&params("agent-n", |p| {
                p.distinguished_name = rcgen::DistinguishedName::new();
                p.distinguished_name.push(DnType::CommonName, name);
            }))
            .unwrap()
    };
    let good = cn("agent-n");
    let seen = attempt(
        &gw,
        presenting(&gw, &good.cert_pem, &good.key_pem),
        "agent-n",
    )
    .await;
    ledger
        .row(&gw, "control: a plain CN", seen, Seen::Ok, Line::None)
        .await;
    for (name, value) in bad_common_names() {
        let issued = cn(&value);
        let seen = attempt(
            &gw,
            presenting(&gw, &issued.cert_pem, &issued.key_pem),
            "agent-n",
        )
        .await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::NoAnswer,
                Line::Deny(&tls("no_identity")),
            )
            .await;
    }
    ledger.finish(&gw);
    let log = std::fs::read_to_string(gw.security_log_path()).unwrap();
    assert!(
        !log.contains("10.6.6.6 client=x\n"),
        "a CN forged a log line"
    );
}
