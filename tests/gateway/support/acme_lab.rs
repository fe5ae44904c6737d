//! A private ACME world on loopback: BIND 9 (`named`) authoritative for
//! `acme.test` on a free port, taking RFC 2136 updates signed with a TSIG
//! key, and Pebble (Let's Encrypt's RFC 8555 test CA) resolving through it,
//! validating TLS-ALPN-01 on `tls_port` and HTTP-01 on `http_port`. Both are
//! Debian's packages, installed by scripts/test-all.sh. The gateway binary
//! on top is [`crate::acme_gateway`].

use std::path::Path;
use std::process::Stdio;

use mcp_gateway::cli::pki::{Authority, Issued};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::common::{free_port, wait_for_port};

/// The name the gateway's certificate is ordered for; `A 127.0.0.1` in the zone.
pub const NAME: &str = "gw.acme.test";
/// The TSIG key's name.
pub const KEY_NAME: &str = "acme-update";
/// Its secret (base64), shared by named and the gateway.
pub const KEY_SECRET: &str = "c2VjcmV0LWZvci10aGUtYWNtZS10ZXN0LXpvbmUtMDEyMzQ1Njc4OQ==";

/// How Pebble is set up.
pub struct LabOptions {
    /// Where Pebble validates TLS-ALPN-01 (the gateway's port).
    pub tls_port: u16,
    /// Where Pebble validates HTTP-01 (certbot's standalone port).
    pub http_port: u16,
    /// Lifetime of the certificates Pebble issues, seconds.
    pub validity_seconds: u64,
    /// Pebble's longest random wait before validating (0: none).
    pub va_sleep_seconds: u64,
    /// External Account Binding required, with this key id and HMAC key (base64url).
    pub eab: Option<(&'static str, &'static str)>,
}

/// BIND and Pebble, running.
pub struct AcmeLab {
    dir: TempDir,
    named: Child,
    pebble: Option<Child>,
    options: LabOptions,
    /// named's port (UDP and TCP).
    pub dns_port: u16,
    /// Pebble's ACME port.
    pub acme_port: u16,
    /// Pebble's management port (its roots).
    pub management_port: u16,
    /// The CA of Pebble's own HTTPS certificate (PEM).
    pub https_ca: String,
}

impl AcmeLab {
    /// Starts named and Pebble.
    pub async fn start(options: LabOptions) -> AcmeLab {
        let dir = TempDir::new().unwrap();
        let dns_port = free_port();
        let authority = Authority::generate("Pebble HTTPS test CA").unwrap();
        let https: Issued = authority.issue_server(&["127.0.0.1", "localhost"]).unwrap();
        std::fs::write(dir.path().join("pebble.pem"), &https.cert_pem).unwrap();
        std::fs::write(dir.path().join("pebble.key"), &https.key_pem).unwrap();
        let named = start_named(dir.path(), dns_port).await;
        let mut lab = AcmeLab {
            named,
            pebble: None,
            dns_port,
            acme_port: free_port(),
            management_port: free_port(),
            https_ca: authority.issued.cert_pem.clone(),
            options,
            dir,
        };
        lab.start_pebble().await;
        lab
    }

    /// Where Pebble validates HTTP-01.
    pub fn http_port(&self) -> u16 {
        self.options.http_port
    }

    /// The directory URL.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// Starts Pebble (again, on the same ports; a new root each time).
    pub async fn start_pebble(&mut self) {
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{}", self.acme_port),
            "managementListenAddress": format!("127.0.0.1:{}", self.management_port),
            "certificate": self.dir.path().join("pebble.pem"),
            "privateKey": self.dir.path().join("pebble.key"),
            "httpPort": self.options.http_port,
            "tlsPort": self.options.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.options.eab.is_some(),
            "externalAccountMACKeys": self.options.eab.map(|(kid, key)| serde_json::json!({ kid: key })),
            "certificateValidityPeriod": self.options.validity_seconds,
        }});
        let path = self.dir.path().join("pebble.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pebble.log"))
            .unwrap();
        let mut command = Command::new("pebble");
        command
            .arg("-config")
            .arg(&path)
            .arg("-dnsserver")
            .arg(format!("127.0.0.1:{}", self.dns_port))
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        if self.options.va_sleep_seconds == 0 {
            command.env("PEBBLE_VA_NOSLEEP", "1");
        } else {
            command.env(
                "PEBBLE_VA_SLEEPTIME",
                self.options.va_sleep_seconds.to_string(),
            );
        }
        self.pebble = Some(
            command
                .spawn()
                .expect("pebble must be installed (scripts/test-all.sh installs it)"),
        );
        wait_for_port(self.acme_port).await;
        wait_for_port(self.management_port).await;
    }

    /// Stops Pebble: the CA is unreachable until [`Self::start_pebble`].
    pub async fn stop_pebble(&mut self) {
        if let Some(mut pebble) = self.pebble.take() {
            let _ = pebble.kill().await;
        }
    }

    /// The root Pebble issues from now (PEM), from its management port.
    pub async fn issuing_root(&self) -> String {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.https_ca.as_bytes()).unwrap()])
            .build()
            .unwrap();
        client
            .get(format!(
                "https://127.0.0.1:{}/roots/0",
                self.management_port
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The TXT values at `name` now, asked of named with `dig`.
    pub async fn txt(&self, name: &str) -> Vec<String> {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.dns_port.to_string(),
                "+short",
                name,
                "TXT",
            ])
            .output()
            .await
            .expect("dig must be installed (bind9-dnsutils, scripts/test-all.sh)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_matches('"').to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The `[tls.acme]` table for `challenge`, with files written into `dir`:
    /// Pebble's HTTPS CA and the TSIG key (0600; `secret` replaces the right one).
    pub fn acme_table(&self, dir: &Path, challenge: &str, secret: &str) -> String {
        std::fs::write(dir.join("pebble-https.pem"), &self.https_ca).unwrap();
        let key = dir.join("acme-update.key");
        std::fs::write(&key, tsig_key_text(secret)).unwrap();
        set_mode(&key, 0o600);
        let dns = if challenge == "dns-01" {
            format!(
                "[tls.acme.dns_update]\nserver = \"127.0.0.1:{}\"\nzone = \"acme.test\"\ntsig_key_file = \"acme-update.key\"\n",
                self.dns_port
            )
        } else {
            String::new()
        };
        format!(
            "[tls.acme]\ndirectory = \"{}\"\ncontact = [\"mailto:ops@acme.test\"]\nnames = [\"{NAME}\"]\nstate_dir = \"acme-state\"\nchallenge = \"{challenge}\"\ndirectory_ca = \"pebble-https.pem\"\n{dns}",
            self.directory()
        )
    }
}

impl Drop for AcmeLab {
    fn drop(&mut self) {
        let _ = self.named.start_kill();
        if let Some(pebble) = self.pebble.as_mut() {
            let _ = pebble.start_kill();
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A key file as `tsig-keygen` writes it.
pub fn tsig_key_text(secret: &str) -> String {
    format!("key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n")
}

async fn start_named(dir: &Path, port: u16) -> Child {
    let d = dir.display();
    std::fs::write(dir.join("update.key"), tsig_key_text(KEY_SECRET)).unwrap();
    std::fs::write(
        dir.join("acme.test.zone"),
        format!(
            "$TTL 60\n@ IN SOA ns.acme.test. admin.acme.test. 1 60 60 600 60\n@ IN NS ns.acme.test.\nns IN A 127.0.0.1\n{} IN A 127.0.0.1\n",
            NAME.trim_end_matches(".acme.test")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\"; dnssec-validation no; }};\ninclude \"{d}/update.key\";\nzone \"acme.test\" {{ type primary; file \"{d}/acme.test.zone\"; update-policy {{ grant {KEY_NAME} zonesub TXT; }}; }};\ncontrols {{ }};\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("named.log")).unwrap();
    // Debian puts named in /usr/sbin, which a non-login PATH may lack.
    let program = if Path::new("/usr/sbin/named").exists() {
        "/usr/sbin/named"
    } else {
        "named"
    };
    let named = Command::new(program)
        .arg("-g")
        .arg("-c")
        .arg(dir.join("named.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("named must be installed (bind9, scripts/test-all.sh)");
    wait_for_port(port).await;
    named
}
