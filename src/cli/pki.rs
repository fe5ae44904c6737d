//! Certificates for development and tests, made with rcgen: a CA, a server
//! certificate for local names, and client certificates carrying an identity.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// PKCS#8 private key, PEM.
    pub key_pem: String,
}

/// A certificate authority able to sign server and client certificates.
pub struct Authority {
    /// The CA's own certificate and key.
    pub issued: Issued,
    /// rcgen's signer built from them.
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// A new self-signed CA named `name`, valid ten years.
    pub fn generate(name: &str) -> anyhow::Result<Authority> {
        let params = ca_params(name, BasicConstraints::Unconstrained, 3650)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        Ok(Authority {
            issued,
            issuer: Issuer::new(params, key),
        })
    }

    /// An intermediate CA named `name`, signed by this one, valid five years;
    /// its `cert_pem` holds its own certificate only.
    pub fn intermediate(&self, name: &str) -> anyhow::Result<Authority> {
        let params = ca_params(name, BasicConstraints::Constrained(0), 1825)?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Authority {
            issued: Issued {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA read back from its PEM certificate and key.
    pub fn load(cert_pem: &str, key_pem: &str) -> anyhow::Result<Authority> {
        let issuer = Issuer::from_ca_cert_pem(cert_pem, KeyPair::from_pem(key_pem)?)?;
        Ok(Authority {
            issued: Issued {
                cert_pem: cert_pem.to_owned(),
                key_pem: key_pem.to_owned(),
            },
            issuer,
        })
    }

    /// Signs `params` for a fresh key.
    pub fn sign(&self, params: &CertificateParams) -> anyhow::Result<Issued> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid one year.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<Issued> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        valid_for_a_year(&mut params);
        self.sign(&params)
    }

    /// Parameters of a client certificate for `identity`: the subject CN is the
    /// identity, and it is also a URI SAN when it looks like a URI (`spiffe://…`),
    /// else a DNS SAN. Callers may adjust them (tests make bad ones).
    pub fn client_params(identity: &str) -> anyhow::Result<CertificateParams> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, identity);
        params.subject_alt_names = if identity.contains("://") {
            vec![SanType::URI(identity.try_into()?)]
        } else {
            vec![SanType::DnsName(identity.try_into()?)]
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        valid_for_a_year(&mut params);
        Ok(params)
    }

    /// A client certificate for `identity`, valid one year.
    pub fn issue_client(&self, identity: &str) -> anyhow::Result<Issued> {
        self.sign(&Authority::client_params(identity)?)
    }

    /// rcgen's signer, for CRLs and unusual certificates.
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

/// Parameters of a CA certificate named `name`, valid `days` from 2025-01-01.
fn ca_params(
    name: &str,
    constraints: BasicConstraints,
    days: u64,
) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = params.not_before + std::time::Duration::from_secs(days * 86_400);
    Ok(params)
}

fn valid_for_a_year(params: &mut CertificateParams) {
    // rcgen takes `time` dates; derive "now" from the Unix epoch it can build.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = now - std::time::Duration::from_secs(3600);
    params.not_after = now + std::time::Duration::from_secs(365 * 86_400);
}
