//! The session caps hold against bodies that two JSON parsers could read
//! differently (issue 21, item 1): one token sent `initialize` requests whose
//! `params` named a key twice; the gateway's own reading failed, so no place
//! was reserved, while rmcp made a session each time — 4,344 of them.

use crate::common::{TestGateway, post, rpc_message};

const PER_CLIENT: usize = 2;

/// An initialize whose params hold `extra` after the usual fields.
fn initialize_with(extra: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"raw","version":"1"}}{extra}}}}}"#
    )
}

#[tokio::test]
async fn a_body_with_a_key_written_twice_is_refused_and_makes_no_session() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.mcp = format!("max_sessions = 50\nmax_sessions_per_client = {PER_CLIENT}");
    })
    .await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let bodies = [
        initialize_with(r#","name":"a","name":"b""#),
        initialize_with(r#","uri":"a","uri":"b""#),
        initialize_with(r#","clientInfo":{"name":"again","version":"2"}"#),
        // Escaped and plain spellings of one key are one key.
        initialize_with(r#","name":"a","na\u006de":"b""#),
        r#"{"jsonrpc":"2.0","id":"init-1","method":"tools/list","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#.to_owned(),
    ];
    for body in &bodies {
        for _ in 0..4 {
            let response = post(&client, &gw.url(), body.as_str())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{body}");
            assert!(response.headers().get("mcp-session-id").is_none());
            let answer = rpc_message(&response.text().await.unwrap());
            assert_eq!(answer["error"]["code"], -32600, "{answer}");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("duplicate key"),
                "{answer}"
            );
        }
    }
    let refusals: Vec<String> = gw
        .security_lines()
        .into_iter()
        .filter(|l| {
            l.starts_with("REFUSE stage=http reason=duplicate_json_key ip=127.0.0.1 client=agent-a")
        })
        .collect();
    assert_eq!(refusals.len(), bodies.len() * 4, "one line per refusal");
    assert!(
        refusals[0].contains("duplicate key `name`"),
        "{}",
        refusals[0]
    );

    // The caps are whole: the client still gets exactly its share, then 429.
    let mut made = 0;
    let mut capped = 0;
    for _ in 0..PER_CLIENT + 3 {
        let response = post(&client, &gw.url(), initialize_with(""))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {
                assert!(response.headers().get("mcp-session-id").is_some());
                made += 1;
            }
            429 => {
                let answer = rpc_message(&response.text().await.unwrap());
                // The refusal carries the request's id (the body was read).
                assert_eq!(answer["id"], "init-1", "{answer}");
                capped += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((made, capped), (PER_CLIENT, 3));
}

/// Bodies the gateway cannot read as one JSON-RPC message object are refused
/// by the gateway itself, never handed to rmcp to read its own way.
#[tokio::test]
async fn a_body_that_is_not_one_message_object_is_refused_with_a_line() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    for body in [
        r#"[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]"#,
        r#""initialize""#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}"#,
    ] {
        let response = post(&client, &gw.url(), body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.headers().get("mcp-session-id").is_none());
    }
    let lines = gw
        .security_lines()
        .into_iter()
        .filter(|l| {
            l.starts_with("REFUSE stage=http reason=body_not_json ip=127.0.0.1 client=agent-a")
        })
        .count();
    assert_eq!(lines, 3);
}
