//! Why a message did not get through, told so that the person in front of
//! the desktop client can act: every failure becomes one JSON-RPC error
//! whose message says what happened and what to do — the gateway's refusal
//! reason (the same label as its security log), never the token. Transport
//! failures (the gateway unreachable) are retried with back-off; refusals
//! (the gateway said no) never are: repeating a refused token or address
//! only earns a ban.

use std::path::PathBuf;

use serde_json::{Value, json};

/// JSON-RPC code for a gateway that could not be reached.
pub const UNREACHABLE: i64 = -32000;
/// JSON-RPC code for a refusal that carries none of its own (TLS, address).
pub const REFUSED: i64 = -32001;

/// What the messages refer the user to.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The gateway's URL.
    pub url: String,
    /// `--token-file`.
    pub token_file: PathBuf,
    /// `--cert`.
    pub cert: PathBuf,
}

/// Why a message did not get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The gateway could not be reached (name, route, port, timeout): retried.
    Unreachable(String),
    /// The connection closed before TLS finished: the gateway refuses this
    /// address (allowlist, country, ban) before any TLS work.
    ClosedBeforeTls,
    /// The gateway's certificate is not trusted here.
    GatewayUntrusted(String),
    /// The gateway refused this machine's certificate (a TLS alert).
    CertificateRefused(String),
    /// The request was sent and no answer came (not retried: it may have
    /// taken effect).
    Lost(String),
    /// The gateway answered with a refusal: status, reason label, its
    /// JSON-RPC code and message.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The refusal label (`token_expired`, …).
        reason: String,
        /// The gateway's JSON-RPC code.
        code: i64,
        /// The gateway's message.
        message: String,
    },
    /// The token file cannot be used.
    Token(String),
    /// The gateway's answer is not one MCP can read.
    Garbled(String),
}

impl Failure {
    /// Whether trying again soon may help.
    pub fn retryable(&self) -> bool {
        matches!(self, Failure::Unreachable(_))
    }

    /// The JSON-RPC error object for the local client.
    pub fn rpc_error(&self, setting: &Setting) -> Value {
        let (code, message, reason) = match self {
            Failure::Refused {
                reason,
                code,
                message,
                status,
            } => (
                *code,
                format!(
                    "{} (gateway said {status}: {message})",
                    advice(reason, setting)
                ),
                reason.as_str(),
            ),
            other => (self.code(), other.describe(setting), other.label()),
        };
        json!({ "code": code, "message": message, "data": { "reason": reason } })
    }

    fn code(&self) -> i64 {
        match self {
            Failure::Unreachable(_) | Failure::Lost(_) | Failure::Garbled(_) => UNREACHABLE,
            _ => REFUSED,
        }
    }

    /// A short label for the `data.reason` field and stderr.
    pub fn label(&self) -> &str {
        match self {
            Failure::Unreachable(_) => "unreachable",
            Failure::ClosedBeforeTls => "closed_before_tls",
            Failure::GatewayUntrusted(_) => "gateway_untrusted",
            Failure::CertificateRefused(_) => "certificate_refused",
            Failure::Lost(_) => "answer_lost",
            Failure::Refused { reason, .. } => reason,
            Failure::Token(_) => "token_file",
            Failure::Garbled(_) => "garbled_answer",
        }
    }

    /// What happened and what to do.
    pub fn describe(&self, setting: &Setting) -> String {
        let url = &setting.url;
        match self {
            Failure::Unreachable(why) => format!(
                "cannot reach the gateway at {url} ({why}): is it running, and is this machine on its network (VPN)? connect tries again at the next call"
            ),
            Failure::ClosedBeforeTls => format!(
                "the gateway at {url} closed the connection before TLS: it does not admit this machine's address (its allowlist, country rule or a ban); ask its operator"
            ),
            Failure::GatewayUntrusted(why) => format!(
                "the gateway at {url} is not trusted here ({why}): pass its CA with --ca, and check that the URL names the host its certificate is for"
            ),
            Failure::CertificateRefused(alert) => format!(
                "the gateway refused this machine's certificate {} ({alert}): it must be issued by the gateway's client CA, unexpired and not revoked; ask its operator for a new one",
                setting.cert.display()
            ),
            Failure::Lost(why) => format!(
                "the request reached the gateway at {url} but no answer came back ({why}); it may or may not have taken effect: check before repeating a change"
            ),
            Failure::Refused { reason, .. } => advice(reason, setting),
            Failure::Token(why) => {
                format!("{why}; write a valid token there (connect re-reads it, no restart needed)")
            }
            Failure::Garbled(why) => format!(
                "the gateway at {url} answered something that is not MCP ({why}): is the URL its MCP endpoint?"
            ),
        }
    }
}

/// What to do about a refusal with `reason`.
fn advice(reason: &str, setting: &Setting) -> String {
    let file = setting.token_file.display();
    match reason {
        "token_expired" => format!(
            "the token in {file} has expired: write a fresh one there (connect picks it up at once, no restart)"
        ),
        "token_revoked" => format!(
            "the token in {file} has been revoked: ask the gateway's operator for a new one and write it to {file}"
        ),
        "client_mismatch" => format!(
            "the token in {file} is for another identity than the certificate {}: use the token issued for this certificate",
            setting.cert.display()
        ),
        "cert_binding_mismatch" | "cert_binding_missing" => format!(
            "the token in {file} is not bound to the certificate {} ({reason}): use the certificate it was issued for, or ask for a token bound to this one",
            setting.cert.display()
        ),
        "ip_not_in_token" => format!(
            "this machine's address is not among the allowedIPs of the token in {file}: connect from an allowed network (the VPN?) or ask for a token that allows it"
        ),
        "token_not_renewable" => format!(
            "the token in {file} may not be renewed ({reason}): before it expires, ask the gateway's operator for a new one"
        ),
        "renewal_limit_reached" => format!(
            "the token in {file} has reached its renewal limit (renewableUntil) and expires: ask the gateway's operator for a new token and write it to {file}"
        ),
        "revocations_unavailable" | "log_unavailable" => {
            "the gateway cannot admit anyone right now (its own fault, not yours): try again later and tell its operator".to_owned()
        }
        "rate_limited" => "too many requests: wait a moment and try again".to_owned(),
        "permission_missing" | "calendar_not_allowed" => {
            "the token does not permit this call".to_owned()
        }
        label if label.starts_with("token_")
            || matches!(
                label,
                "alg_not_allowed" | "unknown_kid" | "alg_key_mismatch" | "bad_signature"
                    | "lifetime_too_long" | "wrong_audience" | "wrong_issuer" | "claims_invalid"
            ) =>
        {
            format!(
                "the gateway does not accept the token in {file} ({label}): ask its operator for a token this gateway issued for this certificate"
            )
        }
        label => format!("the gateway refused the request ({label})"),
    }
}

/// The refusal an HTTP answer carries: the reason from the
/// `WWW-Authenticate` challenge or the JSON-RPC message, and the code.
pub fn refusal(status: u16, challenge: Option<&str>, body: &[u8]) -> Failure {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .unwrap_or(Value::Null);
    let message = error["message"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    let code = error["code"].as_i64().unwrap_or(REFUSED);
    let reason = challenge
        .and_then(|c| c.split("error_description=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .unwrap_or_else(|| label_of(&message, status));
    Failure::Refused {
        status,
        reason,
        code,
        message: if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        },
    }
}

/// The refusal label a gateway message starts with ("token refused:
/// token_expired", "rate_limited: …", "session not found").
fn label_of(message: &str, status: u16) -> String {
    let head = message.strip_prefix("token refused: ").unwrap_or(message);
    let label = head
        .split(':')
        .next()
        .unwrap_or("")
        .trim()
        .replace(' ', "_");
    if !label.is_empty() && label.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        label
    } else {
        format!("http_{status}")
    }
}

/// A failed exchange, classified: a connection that could not be opened
/// says why ([`crate::connect::connector`]); anything after the request
/// left is an answer lost.
pub fn classify(error: &hyper_util::client::legacy::Error) -> Failure {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(failed) = e.downcast_ref::<crate::connect::connector::ConnectFailed>() {
            return failed.0.clone();
        }
        current = e.source();
    }
    if error.is_connect() {
        return Failure::Unreachable(chain_text(error));
    }
    Failure::Lost(chain_text(error))
}

/// An error and its sources, one line (at most 300 characters).
pub fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::{Failure, Setting, refusal};

    fn setting() -> Setting {
        Setting {
            url: "https://gw:8443/mcp".into(),
            token_file: "/home/me/token".into(),
            cert: "/home/me/client.pem".into(),
        }
    }

    #[test]
    fn a_token_refusal_names_the_reason_and_what_to_do_never_the_token() {
        let body = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"token refused: token_expired"}}"#;
        let challenge = r#"Bearer error="invalid_token", error_description="token_expired", resource_metadata="x""#;
        let failure = refusal(401, Some(challenge), body);
        assert!(!failure.retryable());
        let error = failure.rpc_error(&setting());
        assert_eq!(error["code"], -32001);
        assert_eq!(error["data"]["reason"], "token_expired");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("has expired") && message.contains("/home/me/token"),
            "{message}"
        );
        // Without a challenge, the label comes from the message.
        let rate = refusal(
            429,
            None,
            br#"{"error":{"code":-32029,"message":"rate_limited: requests per address"}}"#,
        );
        assert!(matches!(&rate, Failure::Refused { reason, .. } if reason == "rate_limited"));
    }

    #[test]
    fn only_an_unreachable_gateway_is_retried() {
        assert!(Failure::Unreachable("refused".into()).retryable());
        for other in [
            Failure::ClosedBeforeTls,
            Failure::CertificateRefused("x".into()),
            Failure::Lost("x".into()),
        ] {
            assert!(!other.retryable(), "{other:?}");
        }
    }
}
