//! How `connect` speaks MCP to the gateway, whatever the local client
//! speaks: the newest generation both share. First `server/discover` with
//! 2026-07-28 (stateless: every request carries `_meta` and the
//! `Mcp-Method`/`Mcp-Name` headers); a gateway that answers it with a
//! JSON-RPC error other than a modern rejection is an older one, spoken to
//! with `initialize` at 2025-11-25 and a session (re-initialised when the
//! gateway forgets it: 404). What the gateway declares (capabilities,
//! server info, instructions) answers the local client's `initialize`.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::connect::failure::Failure;
use crate::connect::options::ProtocolChoice;
use crate::connect::upstream::Upstream;

/// The stateless revision.
pub const STATELESS: &str = "2026-07-28";
/// The newest revision with sessions.
pub const SESSIONS: &str = "2025-11-25";
/// Revisions the local side may ask for in `initialize` (stdio).
pub const LOCAL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// JSON-RPC codes of a modern server refusing a discover it understood.
const MODERN_REJECTIONS: [i64; 2] = [-32020, -32021];
/// Ids of the requests `connect` sends on its own behalf.
const OWN_ID: &str = "mcp-gateway-connect";

/// The generation agreed with the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generation {
    /// 2026-07-28, no session.
    Stateless,
    /// A session of this revision.
    Session {
        /// The revision the gateway agreed to.
        version: String,
        /// Its `Mcp-Session-Id`.
        id: String,
    },
}

/// What the gateway declared, and how to speak to it.
#[derive(Debug, Clone)]
pub struct Agreed {
    /// The generation.
    pub generation: Generation,
    /// `capabilities`, `serverInfo`, `instructions` as the gateway declared them.
    pub declared: Value,
}

/// Who the local client said it is (from its `initialize`), sent in the
/// `_meta` of every stateless request.
#[derive(Debug, Clone)]
pub struct LocalClient {
    /// `capabilities`.
    pub capabilities: Value,
    /// `clientInfo`.
    pub info: Value,
}

impl Default for LocalClient {
    fn default() -> Self {
        LocalClient {
            capabilities: json!({}),
            info: json!({ "name": "mcp-gateway-connect", "version": env!("CARGO_PKG_VERSION") }),
        }
    }
}

/// Agrees a generation with the gateway, as `choice` allows.
pub async fn agree(
    upstream: &Upstream,
    token: &str,
    choice: ProtocolChoice,
    local: &LocalClient,
) -> Result<Agreed, Failure> {
    if choice != ProtocolChoice::Sessions {
        match discover(upstream, token, local).await {
            Ok(agreed) => return Ok(agreed),
            Err(Discovery::Failed(failure)) => return Err(failure),
            Err(Discovery::Older(why)) if choice == ProtocolChoice::Stateless => {
                return Err(Failure::Garbled(format!(
                    "the gateway does not serve {STATELESS} ({why}); leave --gateway-protocol at auto"
                )));
            }
            Err(Discovery::Older(why)) => {
                tracing::info!(%why, "the gateway does not serve {STATELESS}: using {SESSIONS} sessions");
            }
        }
    }
    initialize(upstream, token, local).await
}

/// Why discovery did not agree on the stateless generation.
enum Discovery {
    /// The gateway is older: try a session.
    Older(String),
    /// It could not be asked (unreachable, refused).
    Failed(Failure),
}

async fn discover(
    upstream: &Upstream,
    token: &str,
    local: &LocalClient,
) -> Result<Agreed, Discovery> {
    let request = json!({
        "jsonrpc": "2.0", "id": OWN_ID, "method": "server/discover",
        "params": { "_meta": stateless_meta(local, None) },
    });
    let headers = [
        ("mcp-protocol-version", STATELESS.to_owned()),
        ("mcp-method", "server/discover".to_owned()),
    ];
    let answer = match upstream
        .post(Bytes::from(request.to_string()), token, &headers)
        .await
    {
        Ok(answer) => answer,
        // An older gateway answers 400 (unsupported version), or 404/405 for a
        // method outside a session.
        Err(Failure::Refused {
            status,
            reason,
            code,
            ..
        }) if matches!(status, 400 | 404 | 405) && !MODERN_REJECTIONS.contains(&code) => {
            return Err(Discovery::Older(format!("{status} {reason}")));
        }
        Err(failure) => return Err(Discovery::Failed(failure)),
    };
    let message = one_message(answer).await.map_err(Discovery::Failed)?;
    if let Some(error) = message.get("error") {
        let code = error["code"].as_i64().unwrap_or_default();
        let supported = error["data"]["supported"].as_array();
        let serves_stateless = supported.is_some_and(|s| s.iter().any(|v| v == STATELESS));
        if MODERN_REJECTIONS.contains(&code) || serves_stateless {
            return Err(Discovery::Failed(Failure::Garbled(format!(
                "server/discover refused: {error}"
            ))));
        }
        return Err(Discovery::Older(format!(
            "server/discover: {}",
            error["message"]
        )));
    }
    let result = &message["result"];
    let versions = result["supportedVersions"].as_array();
    if !versions.is_some_and(|v| v.iter().any(|v| v == STATELESS)) {
        return Err(Discovery::Older(
            "server/discover lists no 2026-07-28".into(),
        ));
    }
    Ok(Agreed {
        generation: Generation::Stateless,
        declared: json!({
            "capabilities": result["capabilities"],
            "serverInfo": result["_meta"]["io.modelcontextprotocol/serverInfo"],
            "instructions": result["instructions"],
        }),
    })
}

async fn initialize(
    upstream: &Upstream,
    token: &str,
    local: &LocalClient,
) -> Result<Agreed, Failure> {
    let request = json!({
        "jsonrpc": "2.0", "id": OWN_ID, "method": "initialize",
        "params": {
            "protocolVersion": SESSIONS,
            "capabilities": local.capabilities,
            "clientInfo": local.info,
        },
    });
    let answer = upstream
        .post(Bytes::from(request.to_string()), token, &[])
        .await?;
    let id = answer
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Failure::Garbled("initialize answered without a session id".into()))?;
    let message = one_message(answer).await?;
    let result = message
        .get("result")
        .ok_or_else(|| Failure::Garbled(format!("initialize refused: {}", message["error"])))?;
    let version = result["protocolVersion"]
        .as_str()
        .unwrap_or(SESSIONS)
        .to_owned();
    let generation = Generation::Session { version, id };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let headers = session_headers(&generation);
    upstream
        .post(Bytes::from(initialized.to_string()), token, &headers)
        .await?;
    Ok(Agreed {
        generation,
        declared: json!({
            "capabilities": result["capabilities"],
            "serverInfo": result["serverInfo"],
            "instructions": result["instructions"],
        }),
    })
}

/// The single JSON-RPC message of an answer.
pub async fn one_message(answer: crate::connect::upstream::Answer) -> Result<Value, Failure> {
    let mut found = None;
    answer
        .messages(|m| {
            found = Some(m);
            std::future::ready(())
        })
        .await?;
    let found = found.ok_or_else(|| Failure::Garbled("an empty answer".into()))?;
    serde_json::from_slice(&found).map_err(|e| Failure::Garbled(e.to_string()))
}

/// The `_meta` a stateless request carries, over `existing` keys the local
/// client set (a progress token, say).
fn stateless_meta(local: &LocalClient, existing: Option<&Map<String, Value>>) -> Value {
    let mut meta = existing.cloned().unwrap_or_default();
    meta.insert(
        "io.modelcontextprotocol/protocolVersion".into(),
        STATELESS.into(),
    );
    meta.insert(
        "io.modelcontextprotocol/clientCapabilities".into(),
        local.capabilities.clone(),
    );
    meta.insert(
        "io.modelcontextprotocol/clientInfo".into(),
        local.info.clone(),
    );
    Value::Object(meta)
}

/// The headers of every message within a session.
pub fn session_headers(generation: &Generation) -> Vec<(&'static str, String)> {
    match generation {
        Generation::Stateless => Vec::new(),
        Generation::Session { version, id } => vec![
            ("mcp-protocol-version", version.clone()),
            ("mcp-session-id", id.clone()),
        ],
    }
}

/// `message` (read from the line `raw`) as the gateway must receive it
/// under `generation`, with its headers. In a session, `raw` goes as it
/// came; stateless: `_meta` added to the params, `Mcp-Method` and (for a
/// named tool, prompt or resource) `Mcp-Name`.
pub fn prepare(
    message: &Value,
    raw: Bytes,
    generation: &Generation,
    local: &LocalClient,
) -> (Bytes, Vec<(&'static str, String)>) {
    if *generation != Generation::Stateless {
        return (raw, session_headers(generation));
    }
    let mut message = message.clone();
    let mut headers = vec![("mcp-protocol-version", STATELESS.to_owned())];
    if let Some(method) = message["method"].as_str().map(str::to_owned) {
        if message.get("id").is_some() {
            let params = message
                .as_object_mut()
                .expect("a message with a method is an object")
                .entry("params")
                .or_insert_with(|| json!({}));
            if let Some(params) = params.as_object_mut() {
                let meta = stateless_meta(local, params.get("_meta").and_then(Value::as_object));
                params.insert("_meta".into(), meta);
            }
        }
        let name = match method.as_str() {
            "tools/call" | "prompts/get" => message["params"]["name"].as_str(),
            "resources/read" => message["params"]["uri"].as_str(),
            _ => None,
        };
        if let Some(name) = name {
            headers.push(("mcp-name", name.to_owned()));
        }
        headers.push(("mcp-method", method));
    }
    (Bytes::from(message.to_string()), headers)
}

/// The local client's `initialize` answered from what the gateway declared
/// (or, when it could not be asked, from what this gateway always declares).
pub fn initialize_result(requested: Option<&str>, declared: Option<&Value>) -> Value {
    let version = requested
        .filter(|v| LOCAL_VERSIONS.contains(v))
        .unwrap_or(SESSIONS);
    let fallback = json!({
        "capabilities": { "tools": {} },
        "serverInfo": { "name": "mcp-gateway", "version": env!("CARGO_PKG_VERSION") },
    });
    let declared = declared.unwrap_or(&fallback);
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": declared["capabilities"],
        "serverInfo": declared["serverInfo"],
    });
    if declared["serverInfo"].is_null() {
        result["serverInfo"] = fallback["serverInfo"].clone();
    }
    if let Some(text) = declared["instructions"].as_str() {
        result["instructions"] = text.into();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::{Generation, LocalClient, initialize_result, prepare};
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn a_stateless_call_carries_meta_and_its_headers_and_keeps_the_clients_meta() {
        let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_events","arguments":{},"_meta":{"progressToken":7}}});
        let raw = Bytes::from(call.to_string());
        let (body, headers) = prepare(&call, raw, &Generation::Stateless, &LocalClient::default());
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["params"]["_meta"]["progressToken"], 7);
        assert_eq!(
            sent["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(sent["id"], 3);
        assert!(headers.contains(&("mcp-name", "list_events".to_owned())));
        assert!(headers.contains(&("mcp-method", "tools/call".to_owned())));
        let list = json!({"jsonrpc":"2.0","id":4,"method":"tools/list"});
        let raw = Bytes::from(list.to_string());
        let (body, _) = prepare(&list, raw, &Generation::Stateless, &LocalClient::default());
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(sent["params"]["_meta"].is_object());
    }

    #[test]
    fn the_local_initialize_gets_a_version_it_asked_for_when_known() {
        assert_eq!(
            initialize_result(Some("2025-06-18"), None)["protocolVersion"],
            "2025-06-18"
        );
        assert_eq!(
            initialize_result(Some("1999-01-01"), None)["protocolVersion"],
            "2025-11-25"
        );
        assert_eq!(
            initialize_result(None, None)["capabilities"]["tools"],
            json!({})
        );
    }
}
