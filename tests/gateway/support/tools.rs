//! Small tools the tests share: ports and processes, metrics, TLS client
//! configs, CRLs, and the real `fail2ban-regex`.

use std::path::Path;

use mcp_gateway::cli::pki::{Authority, Issued};

/// The problems `check-config` printed, without their `<file>:<line>: ` prefix.
pub fn problem_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| {
            let placed = line.split_once(": ").and_then(|(at, rest)| {
                let (_, number) = at.rsplit_once(':')?;
                number.parse::<u32>().ok().map(|_| rest)
            });
            placed.unwrap_or(line).to_owned()
        })
        .collect()
}

/// Waits (up to 10 s) until a spawned gateway listens on loopback `port`.
pub async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The value of one `series` (name and labels, as exposed) on the metrics
/// page at `addr`; 0 when the page does not hold it yet.
pub async fn metric(addr: std::net::SocketAddr, series: &str) -> f64 {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// A loopback port free right now, for a gateway binary the test spawns.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TLS client presenting `cert` and trusting the CA `ca_pem`, offering `alpn`.
pub fn client_tls(ca_pem: &str, cert: &Issued, alpn: &[u8]) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    // Empty: a client that offers no ALPN at all.
    config.alpn_protocols = match alpn {
        b"" => Vec::new(),
        _ => vec![alpn.to_vec()],
    };
    config
}

/// What the real `fail2ban-regex` prints for `log` under the shipped filter
/// with `-o out` (`ip`, `msg`, ...): one trimmed line per match.
pub fn fail2ban_regex(log: &Path, out: &str) -> Vec<String> {
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fail2ban/filter.d/mcp-gateway.conf"
    );
    let output = std::process::Command::new("fail2ban-regex")
        .args(["-o", out])
        .arg(log)
        .arg(filter)
        .output()
        .expect("fail2ban-regex must be installed (Debian package fail2ban; scripts/test-all.sh installs it)");
    assert_succeeded(&output);
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A CRL of `ca`, current for a day, revoking `serial`, as PEM.
pub fn crl_revoking(ca: &Authority, serial: u64) -> String {
    use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let now =
        rcgen::date_time_ymd(1970, 1, 1) + SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    CertificateRevocationListParams {
        this_update: now - Duration::from_secs(3600),
        next_update: now + Duration::from_secs(86_400),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(serial),
            revocation_time: now - Duration::from_secs(60),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca.issuer())
    .unwrap()
    .pem()
    .unwrap()
}

/// Asserts that a command succeeded, showing its stderr when it did not.
#[track_caller]
pub fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
