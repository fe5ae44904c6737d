//! The client certificate and key `connect` presents, and the TLS client
//! configuration built from them: PEM (the key plain or PKCS#8-encrypted)
//! or a PKCS#12 bundle. A file holding a private key (or a token) must not
//! be readable by group or others — refused, as ssh refuses such a key,
//! naming the file and its mode. No passphrase, key or token ever appears
//! in an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Where the passphrase of an encrypted key or bundle comes from.
#[derive(Debug, Clone)]
pub enum Passphrase {
    /// None given.
    None,
    /// A file (its first line).
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

impl Passphrase {
    /// The passphrase, or why it cannot be had; `what` names the file that needs it.
    fn read(&self, what: &Path) -> Result<String, String> {
        match self {
            Passphrase::None => Err(format!(
                "{} is encrypted: give its passphrase with --passphrase-file or --passphrase-env",
                what.display()
            )),
            Passphrase::File(path) => {
                require_private(path, "passphrase file")?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read passphrase file {}: {e}", path.display()))?;
                Ok(text.lines().next().unwrap_or_default().to_owned())
            }
            Passphrase::Env(name) => std::env::var(name)
                .map_err(|_| format!("--passphrase-env: the variable {name} is not set")),
        }
    }
}

/// A certificate chain and its key.
pub struct Credentials {
    /// The client certificate first, then its intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

/// Refuses a secret file that group or others may read (or that is not a
/// regular file), naming it, its mode and the fix.
pub fn require_private(path: &Path, what: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{what} {} is not a regular file", path.display()));
    }
    if let Some(mode) = crate::config::mode_open_to_others(path) {
        return Err(format!(
            "{what} {} has mode {mode:04o}: it must not be readable by group or others; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Whether `path` names a PKCS#12 bundle (by its extension).
fn is_bundle(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"))
}

/// Loads `--cert` (and `--key` unless the certificate file is a bundle).
pub fn load(
    cert: &Path,
    key: Option<&Path>,
    passphrase: &Passphrase,
) -> Result<Credentials, String> {
    if is_bundle(cert) {
        if key.is_some() {
            return Err(format!(
                "--key: {} is a PKCS#12 bundle that holds the key; leave --key out",
                cert.display()
            ));
        }
        return load_bundle(cert, passphrase);
    }
    let key = key.ok_or_else(|| {
        format!(
            "--key: needed with the PEM certificate {} (or give a .p12 bundle as --cert)",
            cert.display()
        )
    })?;
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("--cert: cannot read {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--cert: {} is not PEM certificates: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--cert: {} holds no certificate", cert.display()));
    }
    require_private(key, "key file")?;
    let text =
        std::fs::read(key).map_err(|e| format!("--key: cannot read {}: {e}", key.display()))?;
    Ok(Credentials {
        chain,
        key: load_key(&text, key, passphrase)?,
    })
}

/// The private key in the PEM text of `path`: plain, or PKCS#8-encrypted.
fn load_key(
    text: &[u8],
    path: &Path,
    passphrase: &Passphrase,
) -> Result<PrivateKeyDer<'static>, String> {
    let as_text = String::from_utf8_lossy(text);
    if as_text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "--key: {} uses OpenSSL's legacy PEM encryption; convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in {} -out key.p8`",
            path.display(),
            path.display()
        ));
    }
    if as_text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        use pkcs8::der::Decode;
        // PEM armour off first: der's PEM reader cannot read this structure.
        let not_pkcs8 = |e: &dyn std::fmt::Display| {
            format!(
                "--key: {} is not an encrypted PKCS#8 key: {e}",
                path.display()
            )
        };
        let (_, der) = pkcs8::der::pem::decode_vec(text).map_err(|e| not_pkcs8(&e))?;
        let encrypted =
            pkcs8::EncryptedPrivateKeyInfoOwned::from_der(&der).map_err(|e| not_pkcs8(&e))?;
        let secret = passphrase.read(path)?;
        let plain = encrypted.decrypt(secret.as_bytes()).map_err(|_| {
            format!(
                "--key: cannot decrypt {}: wrong passphrase, or an unsupported cipher",
                path.display()
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    PrivateKeyDer::from_pem_slice(text)
        .map_err(|e| format!("--key: {} holds no PEM private key: {e}", path.display()))
}

/// The key and chain of a PKCS#12 bundle.
fn load_bundle(path: &Path, passphrase: &Passphrase) -> Result<Credentials, String> {
    require_private(path, "PKCS#12 bundle")?;
    let data =
        std::fs::read(path).map_err(|e| format!("--cert: cannot read {}: {e}", path.display()))?;
    // Bundles exported without a password still carry one: the empty one.
    let secret = match passphrase {
        Passphrase::None => String::new(),
        given => given.read(path)?,
    };
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        &secret,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| {
        format!(
            "--cert: cannot open the PKCS#12 bundle {}: {e} (wrong passphrase?)",
            path.display()
        )
    })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        format!(
            "--cert: the PKCS#12 bundle {} holds no key with its certificate",
            path.display()
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "--cert: the PKCS#12 bundle {} holds no certificate",
            path.display()
        ));
    }
    Ok(Credentials {
        chain: certs,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
    })
}

/// The CAs the gateway's certificate must chain to: `--ca`, else the system's.
fn trusted_roots(ca: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("--ca: cannot read {}: {e}", path.display()))?
            {
                let cert = cert.map_err(|e| {
                    format!("--ca: {} is not PEM certificates: {e}", path.display())
                })?;
                roots
                    .add(cert)
                    .map_err(|e| format!("--ca: {}: {e}", path.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // One unreadable system certificate does not spoil the others.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err("no CA to check the gateway's certificate: give --ca".into());
    }
    Ok(roots)
}

/// The TLS client configuration: the gateway checked against `ca`, this
/// machine's certificate presented, HTTP/2 preferred.
pub fn client_config(
    credentials: Credentials,
    ca: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = trusted_roots(ca)?;
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(credentials.chain, credentials.key)
        .map_err(|e| {
            format!("--cert/--key: the key does not fit the certificate, or is not usable: {e}")
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::{Passphrase, load, require_private};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_others_may_read_is_refused_naming_file_and_mode() {
        let dir = tempfile::TempDir::new().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let why = require_private(&key, "key file").unwrap_err();
        assert!(
            why.contains("client.key has mode 0644") && why.contains("chmod 600"),
            "{why}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(require_private(&key, "key file").is_ok());
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(require_private(&key, "key file").is_err());
    }

    #[test]
    fn an_encrypted_key_without_a_passphrase_says_how_to_give_one() {
        let dir = tempfile::TempDir::new().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("c.key"));
        let issued = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        std::fs::write(&cert, issued.cert.pem()).unwrap();
        std::fs::write(
            &key,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let why = load(&cert, Some(&key), &Passphrase::None).err().unwrap();
        assert!(why.contains("c.key"), "{why}");
    }
}
