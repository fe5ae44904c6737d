//! What the gateway answers itself, as the MCP specification asks (issue 21,
//! items 16–20, found by the official conformance suite): errors carry the
//! request's id whenever its body was read; an unknown tool is -32602 naming
//! the callable tools, never a permission problem; an unsupported protocol
//! version is -32022 with `data.supported`/`data.requested`; methods of the
//! capabilities the server does not declare are -32601; only the revisions
//! the README lists are negotiated.

use serde_json::{Value, json};

use mcp_gateway::cli::token::TokenRequest;

use crate::common::{
    STATELESS, TestGateway, http_client_with_token, open_session, post, rpc_message,
    stateless_tool_call,
};

/// A stateless `tools/call` body naming `body_tool` (id 77), its headers naming `header_tool`.
async fn stateless(
    client: &reqwest::Client,
    gw: &TestGateway,
    version: &str,
    header_tool: &str,
    body_tool: &str,
) -> (u16, Value) {
    let mut body = stateless_tool_call(&json!(body_tool), json!({}));
    body["id"] = json!(77);
    let response = post(client, &gw.url(), body.to_string())
        .header("mcp-protocol-version", version)
        .header("mcp-method", "tools/call")
        .header("mcp-name", header_tool)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, rpc_message(&response.text().await.unwrap()))
}

#[tokio::test]
async fn unknown_tools_and_versions_are_named_not_passed_off_as_scope() {
    let gw = TestGateway::start().await;
    let reader = TokenRequest {
        permissions: vec!["readCalendars".into()],
        ..TokenRequest::full_access(
            "agent-c",
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    };
    let cert = gw.client_cert("agent-c");
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&cert),
        Some(&gw.pki.token_with(&reader)),
    );

    // A typo: -32602, the tools this token can call, and no 403 challenge.
    let (status, answer) = stateless(&client, &gw, STATELESS, "delete_evnt", "delete_evnt").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], 77);
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let tools = answer["error"]["data"]["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("list_events")), "{answer}");
    assert!(!tools.contains(&json!("delete_event")), "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown tool `delete_evnt`"),
        "{answer}"
    );

    // A header naming an unknown tool and a body naming another: a mismatch.
    let (status, answer) =
        stateless(&client, &gw, STATELESS, "no_such_tool", "get_current_time").await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (400, json!(-32020)),
        "{answer}"
    );
    assert_eq!(answer["id"], 77);

    // A tool the token may not call, refused on its headers: the id is there too.
    let (status, answer) = stateless(&client, &gw, STATELESS, "delete_event", "delete_event").await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (403, json!(-32003)),
        "{answer}"
    );
    assert_eq!(answer["id"], 77);

    // An unsupported version: -32022 with what was asked and what is served.
    let (status, answer) = stateless(
        &client,
        &gw,
        "2099-01-01",
        "get_current_time",
        "get_current_time",
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["id"], 77);
    assert_eq!(answer["error"]["code"], -32022, "{answer}");
    assert_eq!(answer["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(
        answer["error"]["data"]["supported"],
        json!(["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"])
    );
    let (status, answer) = stateless(
        &client,
        &gw,
        "2024-11-05",
        "get_current_time",
        "get_current_time",
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (400, json!(-32022)),
        "{answer}"
    );

    // The audit line of the typo says failed, and no scope line was written for it.
    assert!(
        gw.audit_lines()
            .iter()
            .any(|l| l.starts_with("AUDIT tool=delete_evnt client=agent-c")
                && l.contains("outcome=failed"))
    );
    assert!(
        !gw.security_lines()
            .iter()
            .any(|l| l.contains("delete_evnt")),
        "{:?}",
        gw.security_lines()
    );
}

#[tokio::test]
async fn undeclared_capabilities_are_unknown_methods() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let session = open_session(&client, &gw.url()).await;
    for method in ["prompts/list", "resources/list", "resources/templates/list"] {
        let body = json!({ "jsonrpc": "2.0", "id": 5, "method": method, "params": {} });
        let response = post(&client, &gw.url(), body.to_string())
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        let answer = rpc_message(&response.text().await.unwrap());
        assert_eq!(answer["error"]["code"], -32601, "{method}: {answer}");
    }
    // A session call of an unknown tool: -32602 too.
    let call = json!({ "jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": { "name": "nope", "arguments": {} } });
    let response = post(&client, &gw.url(), call.to_string())
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    let answer = rpc_message(&response.text().await.unwrap());
    assert_eq!(answer["error"]["code"], -32602, "{answer}");

    // 2024-11-05 is not negotiated: the server offers a revision it serves.
    let init = crate::common::initialize_body("2024-11-05");
    let response = post(&client, &gw.url(), init).send().await.unwrap();
    let answer = rpc_message(&response.text().await.unwrap());
    let agreed = answer["result"]["protocolVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        ["2025-03-26", "2025-06-18", "2025-11-25"].contains(&agreed.as_str()),
        "{answer}"
    );
}
