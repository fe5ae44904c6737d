//! `mcp-gateway certs …`: a small certificate authority in one folder, made
//! with rcgen (no openssl): `ca.pem` + `ca.key`, an index of what it issued
//! (`issued.json`: serial, kind, identity, expiry, revocation), and `crl.pem`,
//! rewritten with a fresh `nextUpdate` by `revoke` and `crl`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use serde::{Deserialize, Serialize};

use crate::cli::pki::{Authority, Issued};

/// How long a CRL written here stays fresh: publish the next one before then.
/// (Well past the gateway's 7-day warning, which a fresh CRL must not raise.)
pub const CRL_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

/// One certificate the CA issued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// Hex serial number.
    pub serial: String,
    /// `server` or `client`.
    pub kind: String,
    /// The client identity, or the server's first name.
    pub name: String,
    /// Expiry, RFC 3339.
    pub not_after: String,
    /// When it was revoked (RFC 3339), if it was.
    pub revoked_at: Option<String>,
}

/// The CA folder.
pub struct CaFolder {
    dir: PathBuf,
}

/// Time since the Unix epoch (rcgen dates are built from it).
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn write_pair(stem: &Path, issued: &Issued) -> anyhow::Result<()> {
    write_private(&stem.with_extension("key"), &issued.key_pem)?;
    std::fs::write(stem.with_extension("pem"), &issued.cert_pem)?;
    Ok(())
}

impl CaFolder {
    /// The CA folder at `dir`.
    pub fn at(dir: &Path) -> CaFolder {
        CaFolder {
            dir: dir.to_owned(),
        }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("issued.json")
    }

    fn authority(&self) -> anyhow::Result<Authority> {
        let read = |name: &str| {
            std::fs::read_to_string(self.dir.join(name)).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e} (run certs init-ca first)",
                    self.dir.join(name).display()
                )
            })
        };
        Authority::load(&read("ca.pem")?, &read("ca.key")?)
    }

    /// What the CA has issued.
    pub fn records(&self) -> anyhow::Result<Vec<Record>> {
        match std::fs::read_to_string(self.index_path()) {
            Ok(text) => Ok(serde_json::from_str(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, records: &[Record]) -> anyhow::Result<()> {
        let temporary = self.index_path().with_extension("json.new");
        std::fs::write(&temporary, serde_json::to_string_pretty(records)?)?;
        std::fs::rename(&temporary, self.index_path())?;
        Ok(())
    }

    /// `certs init-ca`: a new CA (never over an existing one) and an empty CRL.
    pub fn init(&self, name: &str) -> anyhow::Result<String> {
        std::fs::create_dir_all(&self.dir)?;
        if self.dir.join("ca.key").exists() {
            anyhow::bail!("{}: a CA already exists here", self.dir.display());
        }
        let authority = Authority::generate(name)?;
        write_pair(&self.dir.join("ca"), &authority.issued)?;
        self.save(&[])?;
        self.write_crl(&authority, &[])?;
        Ok(format!(
            "{}: CA `{name}` created, with an empty crl.pem",
            self.dir.display()
        ))
    }

    fn record(&self, issued: &Issued, kind: &str, name: &str) -> anyhow::Result<String> {
        use rustls::pki_types::pem::PemObject;
        use x509_parser::prelude::{FromDer, X509Certificate};
        let der = rustls::pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())?;
        let (_, cert) =
            X509Certificate::from_der(der.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let serial = cert.raw_serial_as_string().replace(':', "");
        let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let mut records = self.records()?;
        records.push(Record {
            serial: serial.clone(),
            kind: kind.into(),
            name: name.into(),
            not_after,
            revoked_at: None,
        });
        self.save(&records)?;
        Ok(serial)
    }

    /// `certs issue-server`: a server certificate for `names` at `out` (.pem, .key).
    pub fn issue_server(&self, names: &[String], out: &Path) -> anyhow::Result<String> {
        let authority = self.authority()?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let issued = authority.issue_server(&refs)?;
        write_pair(out, &issued)?;
        let serial = self.record(&issued, "server", names.first().map_or("", String::as_str))?;
        Ok(format!(
            "{}: server certificate, serial {serial}",
            out.with_extension("pem").display()
        ))
    }

    /// `certs issue-client`: a client certificate for `identity`, valid `days`, at `out`.
    pub fn issue_client(&self, identity: &str, days: u64, out: &Path) -> anyhow::Result<String> {
        let authority = self.authority()?;
        let mut params = Authority::client_params(identity)?;
        // clap bounds --days; checked here too, for every other caller.
        let validity = days
            .checked_mul(86_400)
            .filter(|_| (1..=super::args::MAX_CERT_DAYS).contains(&days))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--days: {days} is out of range 1..={}",
                    super::args::MAX_CERT_DAYS
                )
            })?;
        params.not_after =
            rcgen::date_time_ymd(1970, 1, 1) + since_epoch() + Duration::from_secs(validity);
        let issued = authority.sign(&params)?;
        write_pair(out, &issued)?;
        let serial = self.record(&issued, "client", identity)?;
        Ok(format!(
            "{}: client certificate for `{identity}`, serial {serial}",
            out.with_extension("pem").display()
        ))
    }

    /// `certs revoke`: marks `serial` revoked and writes a new CRL.
    pub fn revoke(&self, serial: &str) -> anyhow::Result<String> {
        let authority = self.authority()?;
        let mut records = self.records()?;
        let wanted = serial.replace(':', "").to_ascii_lowercase();
        let record = records
            .iter_mut()
            .find(|r| r.serial.to_ascii_lowercase() == wanted)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--serial: no certificate {serial} in {}",
                    self.index_path().display()
                )
            })?;
        if record.revoked_at.is_none() {
            record.revoked_at = Some(chrono::Utc::now().to_rfc3339());
        }
        self.save(&records)?;
        self.write_crl(&authority, &records)?;
        Ok(format!(
            "{serial}: revoked; {} rewritten (install it and reload the gateway)",
            self.dir.join("crl.pem").display()
        ))
    }

    /// `certs crl`: the CRL again with a fresh `nextUpdate` (before the old one runs out).
    pub fn refresh_crl(&self) -> anyhow::Result<String> {
        let authority = self.authority()?;
        self.write_crl(&authority, &self.records()?)?;
        Ok(format!(
            "{}: fresh for {} days",
            self.dir.join("crl.pem").display(),
            CRL_VALIDITY.as_secs() / 86_400
        ))
    }

    fn write_crl(&self, authority: &Authority, records: &[Record]) -> anyhow::Result<()> {
        let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch();
        let revoked = records
            .iter()
            .filter(|r| r.revoked_at.is_some())
            .filter_map(|r| hex_bytes(&r.serial))
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: now,
                reason_code: None,
                invalidity_date: None,
            })
            .collect();
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let crl = CertificateRevocationListParams {
            this_update: now - Duration::from_secs(60),
            next_update: now + CRL_VALIDITY,
            crl_number: SerialNumber::from(seconds),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(authority.issuer())?;
        let path = self.dir.join("crl.pem");
        let temporary = path.with_extension("pem.new");
        std::fs::write(&temporary, crl.pem()?)?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    /// `certs list`: one line per certificate issued.
    pub fn list(&self) -> anyhow::Result<String> {
        let lines: Vec<String> = self
            .records()?
            .iter()
            .map(|r| {
                let state = r
                    .revoked_at
                    .as_deref()
                    .map_or("valid".to_owned(), |at| format!("revoked {at}"));
                format!(
                    "{}  {:6}  {}  expires {}  {state}",
                    r.serial, r.kind, r.name, r.not_after
                )
            })
            .collect();
        Ok(lines.join("\n"))
    }
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
