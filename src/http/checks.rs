//! Checks on the shape of an HTTP request that the gateway makes itself,
//! before rmcp sees it, so that each refusal is a [`Denial`] with its one log
//! line: the authority the request names (DNS-rebinding defence), the
//! `MCP-Protocol-Version` header, the body read once as JSON, and
//! `Mcp-Method`/`Mcp-Name` headers that
//! must agree with the body. Pure functions over headers and bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Uri, header};
use serde::Deserialize;
use serde_json::Value;

use crate::denial::{Denial, Reason};
use crate::mcp::header_names;
use crate::mcp::plain_request::PlainRequest;

/// A host and optional port, as written in `Host`, `:authority` or a config entry.
fn split_authority(text: &str) -> (String, Option<&str>) {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => (rest, None),
        }
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':').unwrap_or((text, ""));
        (host, Some(port))
    } else {
        // A bare IPv6 address (config entries such as `::1`) or a plain name.
        (text, None)
    };
    (host.to_ascii_lowercase(), port)
}

/// Whether `authority` is one of `allowed` (a host entry matches any port; a
/// `host:port` entry only that port). Userinfo and a port that is not a
/// number never pass: `allowed-host:1@elsewhere` names `elsewhere`.
fn authority_allowed(authority: &str, allowed: &[String]) -> bool {
    let (host, port) = split_authority(authority);
    // Digits only: `parse` alone would take `+80`.
    let port_is_number = port
        .is_none_or(|port| port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok());
    if authority.contains('@') || !port_is_number {
        return false;
    }
    allowed.iter().any(|entry| {
        let (allowed_host, allowed_port) = split_authority(entry);
        allowed_host == host && (allowed_port.is_none() || allowed_port == port)
    })
}

/// Checks every authority the request names: the target's (HTTP/2
/// `:authority`, or an absolute-form HTTP/1 target) and the `Host` header.
/// Both must be allowed when both are present; at least one must be.
pub fn check_authority(uri: &Uri, headers: &HeaderMap, allowed: &[String]) -> Result<(), Denial> {
    let refuse = |what: &str| Denial::new(Reason::HostNotAllowed).with_detail(what.to_owned());
    let target = uri.authority().map(|a| a.as_str());
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(refuse("more than one Host header")),
        (Some(value), None) => Some(value.to_str().map_err(|_| refuse("Host is not text"))?),
        (None, _) => None,
    };
    if target.is_none() && host.is_none() {
        return Err(refuse("no Host header or :authority"));
    }
    for named in [target, host].into_iter().flatten() {
        if !authority_allowed(named, allowed) {
            return Err(refuse(named));
        }
    }
    Ok(())
}

/// An HTTP/2 request's header list, counted as RFC 9113 counts it (each
/// field's name and value plus 32 bytes, pseudo-headers included), must fit
/// in `max`. h2 refuses lists over twice `max` on its own, without a word to
/// the gateway; this check refuses the rest, with a line.
pub fn check_header_list_size(parts: &http::request::Parts, max: usize) -> Result<(), Denial> {
    const FIELD_OVERHEAD: usize = 32;
    let pseudo = [
        ":method".len() + parts.method.as_str().len(),
        ":scheme".len() + parts.uri.scheme_str().map_or(0, str::len),
        ":authority".len() + parts.uri.authority().map_or(0, |a| a.as_str().len()),
        ":path".len() + parts.uri.path_and_query().map_or(0, |p| p.as_str().len()),
    ];
    let size = pseudo.iter().map(|n| n + FIELD_OVERHEAD).sum::<usize>()
        + parts
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD)
            .sum::<usize>();
    if size > max {
        return Err(Denial::new(Reason::HeadersTooLarge)
            .with_detail(format!("{size} bytes of headers, limit {max}")));
    }
    Ok(())
}

/// The `MCP-Protocol-Version` header, when present, must be a version this
/// gateway serves ([`crate::mcp::PROTOCOL_VERSIONS`]); the refusal's detail is
/// the version requested (cut to 64 characters).
pub fn check_protocol_version(headers: &HeaderMap) -> Result<(), Denial> {
    let Some(value) = headers.get(header_names::PROTOCOL_VERSION) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    if crate::mcp::PROTOCOL_VERSIONS
        .iter()
        .any(|v| v.as_str() == text)
    {
        return Ok(());
    }
    Err(Denial::new(Reason::ProtocolVersionUnsupported)
        .with_detail(text.chars().take(64).collect::<String>()))
}

/// A header value in the MCP encoding: plain, or `=?base64?…?=`.
fn decode_mcp_header(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded).ok()?).ok(),
        None => Some(raw.to_owned()),
    }
}

/// The tool a `tools/call` names in its `Mcp-Method`/`Mcp-Name` headers
/// (required from protocol 2026-07-28 on), so its permission can be checked
/// before the body — and the arguments in it — are read. The body must then
/// agree ([`check_mcp_headers`]).
pub fn named_tool(headers: &HeaderMap) -> Option<String> {
    let method = headers.get(header_names::METHOD)?.to_str().ok()?;
    if method != "tools/call" {
        return None;
    }
    decode_mcp_header(headers.get(header_names::NAME)?.to_str().ok()?)
}

/// What the gateway reads of a JSON-RPC message: its method and what its
/// params name. Everything else (arguments above all) is skipped unparsed.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
pub struct MessageHead {
    id: Option<Value>,
    method: Option<Value>,
    params: Option<ParamsHead>,
    /// Whether the keys are there, whatever their value (`null` included):
    /// a message with a method and a `result` or `error` key is no request
    /// to rmcp.
    #[serde(default, deserialize_with = "key_present")]
    result: bool,
    #[serde(default, deserialize_with = "key_present")]
    error: bool,
}

/// True for a key that is present, whatever its value.
fn key_present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(value).map(|_| true)
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ParamsHead {
    name: Option<Value>,
    uri: Option<Value>,
    #[serde(rename = "taskId")]
    task_id: Option<Value>,
}

impl MessageHead {
    /// The head of a body read once as a plain stateless request: what
    /// [`read_message`] reads from the same body (a test holds them equal).
    pub fn of_plain(plain: &PlainRequest) -> MessageHead {
        MessageHead {
            id: Some(plain.id_json().clone()),
            method: Some(Value::String(plain.method().to_owned())),
            params: Some(ParamsHead {
                name: plain.tool_name().map(|name| Value::String(name.to_owned())),
                uri: None,
                task_id: None,
            }),
            result: false,
            error: false,
        }
    }

    /// The message's method, when it is a string.
    pub fn method(&self) -> Option<&str> {
        self.method.as_ref().and_then(Value::as_str)
    }

    /// Whether rmcp reads the message as a request: a method and an id,
    /// and neither a `result` nor an `error` key.
    pub fn is_request(&self) -> bool {
        self.method.is_some() && self.id.is_some() && !self.result && !self.error
    }

    /// The JSON-RPC id of a request (absent on notifications).
    pub fn id(&self) -> Option<&Value> {
        self.id.as_ref()
    }

    /// What its params name: `name`, `uri` or `taskId`, as `Mcp-Name` must.
    fn named(&self) -> Option<&str> {
        let params = self.params.as_ref()?;
        [&params.name, &params.uri, &params.task_id]
            .into_iter()
            .find_map(|value| value.as_ref().and_then(Value::as_str))
    }
}

/// Reads a request body once, for every check that needs it: a POST body must
/// be one JSON-RPC message object that the gateway reads exactly as rmcp will
/// (no key written twice anywhere, [`crate::mcp::strict_json`]), so that every later
/// check, the session caps above all, decides on what rmcp acts on. Other
/// methods carry none.
pub fn read_message(method: &http::Method, body: &[u8]) -> Result<MessageHead, Denial> {
    if method != http::Method::POST {
        return Ok(MessageHead::default());
    }
    crate::mcp::strict_json::check_no_duplicate_keys(body).map_err(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => Reason::DuplicateJsonKey,
            _ => Reason::BodyNotJson,
        };
        Denial::new(reason).with_detail(e.to_string())
    })?;
    serde_json::from_slice::<MessageHead>(body).map_err(|e| {
        Denial::new(Reason::BodyNotJson)
            .with_detail(format!("not a single JSON-RPC message object: {e}"))
    })
}

/// `Mcp-Method` and `Mcp-Name` headers, when sent, must name what the body
/// does: intermediaries (and this gateway's logs) route and decide on them.
/// Missing headers are left to rmcp, which knows which versions require them.
pub fn check_mcp_headers(headers: &HeaderMap, message: &MessageHead) -> Result<(), Denial> {
    let method_header = headers.get(header_names::METHOD);
    let name_header = headers.get(header_names::NAME);
    if method_header.is_none() && name_header.is_none() {
        return Ok(());
    }
    let refuse =
        |detail: &str| Denial::new(Reason::McpHeaderMismatch).with_detail(detail.to_owned());
    if let Some(header) = method_header {
        let sent = header
            .to_str()
            .map_err(|_| refuse("Mcp-Method is not text"))?;
        if Some(sent) != message.method() {
            return Err(refuse(&format!(
                "Mcp-Method `{sent}` is not the body's method"
            )));
        }
    }
    if let Some(header) = name_header {
        let raw = header
            .to_str()
            .map_err(|_| refuse("Mcp-Name is not text"))?;
        let sent = decode_mcp_header(raw).ok_or_else(|| refuse("Mcp-Name is not valid base64"))?;
        if message.named() != Some(sent.as_str()) {
            return Err(refuse(&format!(
                "Mcp-Name `{sent}` is not what the body names"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        HeaderMap, MessageHead, PlainRequest, Reason, check_authority, check_mcp_headers,
        check_protocol_version, read_message,
    };

    proptest::proptest! {
        /// Whatever follows an allowed name, an admitted authority is an
        /// allowed host, optionally with a numeric port, and nothing else.
        #[test]
        fn an_admitted_authority_is_an_allowed_host_and_port(
            authority in "(localhost|LocalHost|127\\.0\\.0\\.1|\\[::1\\])[ -~]{0,12}"
        ) {
            let allowed = ["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
            let uri = "/mcp".parse().unwrap();
            if check_authority(&uri, &headers(&[("host", &authority)]), &allowed).is_ok() {
                let (host, port) = match authority.strip_prefix("[::1]") {
                    Some(rest) => ("::1", rest.strip_prefix(':')),
                    None => match authority.split_once(':') {
                        Some((host, port)) => (host, Some(port)),
                        None => (authority.as_str(), None),
                    },
                };
                proptest::prop_assert!(allowed.iter().any(|a| a.eq_ignore_ascii_case(host)), "{authority}");
                proptest::prop_assert!(port.is_none_or(|p| p.parse::<u16>().is_ok()), "{authority}");
            }
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn every_named_authority_must_be_allowed() {
        let allowed = [
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "gw.example:8443".to_owned(),
        ];
        let ok = |uri: &str, host: &[(&'static str, &str)]| {
            check_authority(&uri.parse().unwrap(), &headers(host), &allowed).is_ok()
        };
        assert!(ok("/mcp", &[("host", "127.0.0.1:8443")]));
        // Userinfo, or a "port" that is not a number, never passes.
        assert!(!ok("/mcp", &[("host", "127.0.0.1:8443@evil.test")]));
        assert!(!ok("/mcp", &[("host", "127.0.0.1@evil.test")]));
        assert!(!ok("https://127.0.0.1:8443@evil.test/mcp", &[]));
        assert!(!ok("/mcp", &[("host", "127.0.0.1:84x3")]));
        assert!(!ok("/mcp", &[("host", "127.0.0.1:")]));
        assert!(!ok("/mcp", &[("host", "127.0.0.1:99999")]));
        assert!(ok("/mcp", &[("host", "[::1]:8443")]));
        assert!(ok("/mcp", &[("host", "LOCALHOST")]));
        assert!(ok(
            "https://gw.example:8443/mcp",
            &[("host", "gw.example:8443")]
        ));
        assert!(!ok("/mcp", &[("host", "gw.example:9999")]));
        assert!(!ok("/mcp", &[("host", "evil.example")]));
        assert!(!ok("/mcp", &[]));
        assert!(!ok("/mcp", &[("host", "127.0.0.1"), ("host", "127.0.0.1")]));
        // HTTP/2 :authority and absolute-form targets are checked, not just Host.
        assert!(!ok("https://evil.example/mcp", &[("host", "127.0.0.1")]));
        assert!(!ok("https://127.0.0.1/mcp", &[("host", "evil.example")]));
        assert!(ok("https://127.0.0.1:8443/mcp", &[]));
    }

    #[test]
    fn unknown_protocol_versions_are_refused() {
        assert!(check_protocol_version(&headers(&[])).is_ok());
        assert!(
            check_protocol_version(&headers(&[("mcp-protocol-version", "2025-11-25")])).is_ok()
        );
        assert!(
            check_protocol_version(&headers(&[("mcp-protocol-version", "2026-07-28")])).is_ok()
        );
        let refused = check_protocol_version(&headers(&[("mcp-protocol-version", "1999-01-01")]))
            .unwrap_err();
        assert_eq!(refused.reason, Reason::ProtocolVersionUnsupported);
    }

    /// rmcp reads a message with a method, an id and neither a `result`
    /// nor an `error` key as a request; a key present with a null value counts.
    #[test]
    fn a_request_is_told_by_its_keys() {
        let read = |body: &str| read_message(&http::Method::POST, body.as_bytes()).unwrap();
        assert!(read(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_request());
        assert!(!read(r#"{"jsonrpc":"2.0","method":"tools/list"}"#).is_request());
        assert!(
            !read(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","result":null}"#).is_request()
        );
        assert!(!read(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","error":{}}"#).is_request());
        assert!(!read(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#).is_request());
    }

    /// A body read once as a plain request gives the checks the head
    /// `read_message` reads from it.
    #[test]
    fn plain_reads_match_the_usual_reads() {
        let meta = r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
        for body in [
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"get_current_time","arguments":{{"timeZone":"UTC"}},"_meta":{meta}}}}}"#
            ),
            format!(
                r#"{{"params":{{"_meta":{meta},"na\u006de":"t\u00e9"}},"id":"a\"b","method":"tools\/call","jsonrpc":"2.0"}}"#
            ),
            format!(
                r#"{{"jsonrpc":"2.0","id":-0,"method":"tools/list","params":{{"_meta":{meta}}}}}"#
            ),
            format!(
                r#"{{"jsonrpc":"2.0","id":9223372036854775807,"method":"tools/list","params":{{"cursor":"c","_meta":{meta}}}}}"#
            ),
        ] {
            let plain =
                PlainRequest::read(body.as_bytes()).unwrap_or_else(|| panic!("not plain: {body}"));
            let usual = read_message(&http::Method::POST, body.as_bytes()).unwrap();
            assert_eq!(MessageHead::of_plain(&plain), usual, "{body}");
        }
    }

    #[test]
    fn mcp_headers_must_match_the_body() {
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_current_time"}}"#;
        let message = read_message(&http::Method::POST, call).unwrap();
        let check = |pairs: &[(&'static str, &str)]| check_mcp_headers(&headers(pairs), &message);
        assert!(check(&[]).is_ok());
        assert!(
            check(&[
                ("mcp-method", "tools/call"),
                ("mcp-name", "get_current_time")
            ])
            .is_ok()
        );
        assert!(check(&[("mcp-name", "=?base64?Z2V0X2N1cnJlbnRfdGltZQ==?=")]).is_ok());
        assert!(check(&[("mcp-name", "delete_event")]).is_err());
        assert!(check(&[("mcp-method", "tools/list")]).is_err());
    }
}
