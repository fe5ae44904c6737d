//! DNS-01 records set and removed by RFC 2136 dynamic update, signed with
//! TSIG (RFC 8945): what BIND, Knot and PowerDNS take from `nsupdate`. The
//! messages are built and signed by `hickory-proto`; this file sends them
//! (UDP, three tries, five seconds each), checks the answer's signature and
//! turns a refusal into an error that names the server, the record and the key.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, ResponseCode, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordSet, RecordType};
use tokio::net::UdpSocket;

use crate::config::acme::DnsUpdate;

/// How long one try waits for the server's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Tries per update (UDP may lose a datagram).
const TRIES: usize = 3;
/// The clock difference TSIG tolerates, seconds (BIND's default too).
const FUDGE: u16 = 300;

/// Sends signed updates to one zone's primary.
pub struct DnsUpdater {
    server: SocketAddr,
    zone: Name,
    ttl: u32,
    key_name: String,
    signer: TSigner,
}

/// What an update came to when it did not succeed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UpdateError(String);

impl DnsUpdater {
    /// An updater for `[tls.acme.dns_update]`.
    pub fn new(config: &DnsUpdate) -> Result<DnsUpdater, UpdateError> {
        let fail = |why: String| UpdateError(format!("tls.acme.dns_update: {why}"));
        let algorithm = match config.tsig.algorithm.as_str() {
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            other => return Err(fail(format!("TSIG algorithm `{other}` is not supported"))),
        };
        let key_name = Name::from_str(&config.tsig.name)
            .map_err(|e| fail(format!("TSIG key name `{}`: {e}", config.tsig.name)))?;
        let signer = TSigner::new(
            config.tsig.secret.expose().clone(),
            algorithm,
            key_name,
            FUDGE,
        )
        .map_err(|e| fail(format!("TSIG key `{}`: {e}", config.tsig.name)))?;
        let mut zone = Name::from_str(&config.zone)
            .map_err(|e| fail(format!("zone `{}`: {e}", config.zone)))?;
        zone.set_fqdn(true);
        Ok(DnsUpdater {
            server: config.server,
            zone,
            ttl: config.ttl,
            key_name: config.tsig.name.clone(),
            signer,
        })
    }

    /// Adds the TXT record `value` at `_acme-challenge.<name>`.
    pub async fn add_txt(&self, name: &str, value: &str) -> Result<(), UpdateError> {
        let rrset = self.txt(name, value)?;
        self.send(
            update_message::append(rrset, self.zone.clone(), false, false),
            name,
            "add",
        )
        .await
    }

    /// Removes that TXT record (and only that value).
    pub async fn remove_txt(&self, name: &str, value: &str) -> Result<(), UpdateError> {
        let rrset = self.txt(name, value)?;
        self.send(
            update_message::delete_by_rdata(rrset, self.zone.clone(), false),
            name,
            "remove",
        )
        .await
    }

    fn txt(&self, name: &str, value: &str) -> Result<RecordSet, UpdateError> {
        let mut owner = Name::from_str(&format!(
            "_acme-challenge.{}",
            name.trim_start_matches("*.")
        ))
        .map_err(|e| UpdateError(format!("`{name}` is not a DNS name: {e}")))?;
        owner.set_fqdn(true);
        if !self.zone.zone_of(&owner) {
            return Err(UpdateError(format!(
                "`{owner}` is not inside the zone `{}`",
                self.zone
            )));
        }
        let mut rrset = RecordSet::with_ttl(owner, RecordType::TXT, self.ttl);
        rrset.add_rdata(RData::TXT(TXT::new(vec![value.to_owned()])));
        Ok(rrset)
    }

    async fn send(&self, mut message: Message, name: &str, what: &str) -> Result<(), UpdateError> {
        let record = format!("_acme-challenge.{}", name.trim_start_matches("*."));
        let fail = |why: String| {
            UpdateError(format!(
                "DNS update ({what} TXT {record}) at {}: {why}",
                self.server
            ))
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let mut verify = message.finalize(&self.signer, now).map_err(|e| {
            fail(format!(
                "cannot sign with TSIG key `{}`: {e}",
                self.key_name
            ))
        })?;
        let bytes = message.to_vec().map_err(|e| fail(e.to_string()))?;
        let answer = self.exchange(&bytes, message.id()).await.map_err(fail)?;
        let parsed =
            Message::from_vec(&answer).map_err(|e| fail(format!("unreadable answer: {e}")))?;
        match parsed.response_code() {
            ResponseCode::NoError => {}
            code => {
                return Err(fail(refusal(
                    code,
                    tsig_error(&answer, &parsed),
                    &self.key_name,
                )));
            }
        }
        // A success must carry the server's signature: an unsigned NOERROR
        // could be anyone's.
        if let Some(verify) = verify.as_mut() {
            verify(&answer).map_err(|e| {
                fail(format!(
                    "the answer is not signed with TSIG key `{}` ({e})",
                    self.key_name
                ))
            })?;
        }
        Ok(())
    }

    async fn exchange(&self, request: &[u8], id: u16) -> Result<Vec<u8>, String> {
        let local: SocketAddr = if self.server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
        socket
            .connect(self.server)
            .await
            .map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; 4096];
        for _ in 0..TRIES {
            socket.send(request).await.map_err(|e| e.to_string())?;
            let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
            // Datagrams that are not the answer to this message are skipped.
            while let Ok(received) =
                tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await
            {
                let length = received.map_err(|e| format!("no answer ({e})"))?;
                if length >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
                    return Ok(buffer[..length].to_vec());
                }
            }
        }
        Err(format!(
            "no answer after {TRIES} tries of {} s",
            ANSWER_WAIT.as_secs()
        ))
    }
}

/// The TSIG error of an answer (RFC 8945 §5.3.2: BADSIG 16, BADKEY 17,
/// BADTIME 18, BADTRUNC 22). hickory-proto parses the record but keeps the
/// field private; it sits just before `Other Len` (and `Other Data`, six
/// bytes of server time with BADTIME) at the end of the message, the TSIG
/// record being always last.
fn tsig_error(answer: &[u8], parsed: &Message) -> Option<u16> {
    let has_tsig = parsed
        .signature()
        .iter()
        .any(|record| record.record_type() == RecordType::TSIG);
    if !has_tsig || answer.len() < 4 {
        return None;
    }
    let at = |i: usize| u16::from_be_bytes([answer[i], answer[i + 1]]);
    let other_len = usize::from(at(answer.len() - 2));
    let error_at = answer.len().checked_sub(4 + other_len)?;
    Some(at(error_at))
}

fn refusal(code: ResponseCode, tsig: Option<u16>, key: &str) -> String {
    let tsig_text = match tsig {
        Some(16) => Some("BADSIG: the secret of TSIG key"),
        Some(17) => Some("BADKEY: the server does not know TSIG key"),
        Some(18) => Some("BADTIME: the clocks differ by more than five minutes for TSIG key"),
        _ => None,
    };
    match (code, tsig_text) {
        (_, Some(text)) => format!(
            "refused ({code}, {text} `{key}` — check tls.acme.dns_update.tsig_key_file against the server's key)"
        ),
        (ResponseCode::Refused, None) | (ResponseCode::NotAuth, None) => format!(
            "refused ({code}): TSIG key `{key}` may not update this name (the zone's update-policy or allow-update)"
        ),
        (ResponseCode::NotZone, None) => {
            format!(
                "refused ({code}): the server is not authoritative for tls.acme.dns_update.zone"
            )
        }
        (code, None) => format!("failed ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;
    use hickory_proto::op::ResponseCode;

    #[test]
    fn a_refusal_names_the_key_and_what_to_check() {
        let text = refusal(ResponseCode::NotAuth, Some(16), "acme-update");
        assert!(
            text.contains("BADSIG") && text.contains("`acme-update`"),
            "{text}"
        );
        let text = refusal(ResponseCode::NotAuth, Some(17), "other");
        assert!(text.contains("does not know TSIG key `other`"), "{text}");
        let text = refusal(ResponseCode::Refused, None, "k");
        assert!(text.contains("update-policy"), "{text}");
    }
}
