//! A body read plainly is the body the duplicate check passes and rmcp
//! reads the same way; anything else is not read plainly.

use proptest::prelude::{Strategy, prop, prop_oneof};
use proptest::strategy::Just;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, JsonRpcRequest};
use serde_json::Value;

use super::PlainRequest;
use crate::mcp::strict_json::check_no_duplicate_keys;

const META: &str = r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}"#;

/// The plain reading put back together as rmcp's message, as JSON.
fn plain_as_rmcp(plain: PlainRequest) -> Value {
    let (id, mut request, meta) = plain.into_parts();
    request.extensions_mut().insert(meta);
    let message = ClientJsonRpcMessage::Request(JsonRpcRequest::new(id, request));
    serde_json::to_value(message).unwrap()
}

/// When `body` reads plainly, the duplicate check passes it and rmcp reads
/// the same request from it; returns whether it read plainly.
fn read_alike(body: &str) -> bool {
    let Some(plain) = PlainRequest::read(body.as_bytes()) else {
        return false;
    };
    assert!(check_no_duplicate_keys(body.as_bytes()).is_ok(), "{body}");
    let rmcp: ClientJsonRpcMessage = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("rmcp cannot read a plain body {body}: {e}"));
    assert!(
        matches!(rmcp, ClientJsonRpcMessage::Request(_)),
        "{body}: {rmcp:?}"
    );
    let written: Value = serde_json::from_str(body).unwrap();
    assert_eq!(plain.id_json(), &written["id"], "{body}");
    assert_eq!(Some(plain.method()), written["method"].as_str(), "{body}");
    assert_eq!(
        plain.tool_name(),
        written["params"]["name"].as_str(),
        "{body}"
    );
    assert_eq!(
        plain_as_rmcp(plain),
        serde_json::to_value(rmcp).unwrap(),
        "{body}"
    );
    true
}

fn call(params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{params}}}"#)
}

#[test]
fn plain_calls_and_lists_read_as_rmcp_reads_them() {
    for body in [
        call(&format!(
            r#"{{"name":"get_current_time","arguments":{{"timeZone":"UTC"}},"_meta":{META}}}"#
        )),
        call(&format!(r#"{{"_meta":{META},"name":"list_calendars"}}"#)),
        call(&format!(
            r#"{{"name":"x","arguments":null,"_meta":{META}}}"#
        )),
        call(&format!(
            r#"{{"na\u006de":"list_events","arguments":{{"a":[1,-0,2.5,1e3,{{"b":null}}],"c":"\u00e9\n"}},"_meta":{META}}}"#
        )),
        format!(
            r#"{{"params":{{"_meta":{META},"name":"t"}},"method":"tools\/call","id":"a-1","jsonrpc":"2.0"}}"#
        ),
        format!(r#"{{"jsonrpc":"2.0","id":-3,"method":"tools/list","params":{{"_meta":{META}}}}}"#),
        format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{"cursor":"c","_meta":{META}}}}}"#
        ),
        " {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":null,\"_meta\":{}}}\n"
            .to_owned(),
    ] {
        assert!(read_alike(&body), "not read plainly: {body}");
    }
}

#[test]
fn anything_unusual_is_left_to_the_usual_reading() {
    for body in [
        // A key twice: at the top, in params, in arguments, in _meta, in an id.
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"id":8,"method":"tools/call","params":{{"name":"t","_meta":{META}}}}}"#
        ),
        call(&format!(r#"{{"name":"t","name":"u","_meta":{META}}}"#)),
        call(&format!(r#"{{"name":"t","na\u006de":"u","_meta":{META}}}"#)),
        call(&format!(
            r#"{{"name":"t","arguments":{{"a":1,"a":2}},"_meta":{META}}}"#
        )),
        call(&format!(
            r#"{{"name":"t","arguments":{{"a":[{{"k":1,"k":1}}]}},"_meta":{META}}}"#
        )),
        call(r#"{"name":"t","_meta":{"k":1,"k":2}}"#),
        // Keys these types do not name.
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"t","_meta":{META}}},"extra":1}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"t","_meta":{META}}},"result":null}}"#
        ),
        call(&format!(r#"{{"name":"t","task":{{}},"_meta":{META}}}"#)),
        call(&format!(
            r#"{{"name":"t","requestState":"s","_meta":{META}}}"#
        )),
        // serde_json's raw-value marker, which `Value` reads as a command.
        call(&format!(
            r#"{{"name":"t","arguments":{{"a":{{"$serde_json::private::RawValue":"[1]"}}}},"_meta":{META}}}"#
        )),
        // Keys in the wrong method, or missing.
        call(&format!(r#"{{"name":"t","cursor":"c","_meta":{META}}}"#)),
        call(&format!(r#"{{"arguments":{{}},"_meta":{META}}}"#)),
        call(r#"{"name":"t"}"#),
        call(r#"{"name":"t","_meta":null}"#),
        format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{"name":"t","_meta":{META}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{"arguments":{{}},"_meta":{META}}}}}"#
        ),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#.to_owned(),
        // Other ids, versions, methods; text after the message.
        format!(
            r#"{{"jsonrpc":"2.0","id":null,"method":"tools/list","params":{{"_meta":{META}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":1.5,"method":"tools/list","params":{{"_meta":{META}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc":"2.0","id":{{}},"method":"tools/list","params":{{"_meta":{META}}}}}"#
        ),
        format!(r#"{{"jsonrpc":"2.0","method":"tools/list","params":{{"_meta":{META}}}}}"#),
        format!(r#"{{"jsonrpc":"1.0","id":1,"method":"tools/list","params":{{"_meta":{META}}}}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"_meta":{META}}}}}"#),
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"_meta":{META}}}}} {{}}"#
        ),
        format!(
            r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"_meta":{META}}}}}]"#
        ),
    ] {
        assert!(
            PlainRequest::read(body.as_bytes()).is_none(),
            "read plainly: {body}"
        );
    }
}

/// One `"key":value` member, from a pool that repeats keys, spells them
/// with escapes, and holds keys no plain body has.
fn member(
    keys: &'static [(&'static str, &'static [&'static str])],
) -> impl Strategy<Value = String> {
    prop::sample::select(keys).prop_flat_map(|(key, values)| {
        prop::sample::select(values).prop_map(move |value| format!("\"{key}\":{value}"))
    })
}

fn object(members: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::vec(members, 0..6).prop_map(|members| format!("{{{}}}", members.join(",")))
}

const ARGUMENTS: &[&str] = &[
    "{}",
    "null",
    r#"{"timeZone":"UTC"}"#,
    r#"{"a":1,"a":2}"#,
    r#"{"a":{"b":[1,{"c":1,"c":1}]}}"#,
    r#"{"a":{"$serde_json::private::RawValue":"1"}}"#,
    "[]",
];
const METAS: &[&str] = &[
    META,
    "{}",
    "null",
    r#"{"k":1,"k":1}"#,
    r#"{"k":{"j":1,"\u006a":2}}"#,
];
const PARAM_KEYS: &[(&str, &[&str])] = &[
    ("name", &[r#""get_current_time""#, "null", "1"]),
    ("na\\u006de", &[r#""t""#]),
    ("arguments", ARGUMENTS),
    ("cursor", &[r#""c""#, "null"]),
    ("_meta", METAS),
    ("task", &["{}"]),
];

fn params() -> impl Strategy<Value = String> {
    prop_oneof![
        object(member(PARAM_KEYS)),
        Just(format!(r#"{{"name":"t","arguments":{{}},"_meta":{META}}}"#)),
        Just(format!(r#"{{"_meta":{META}}}"#)),
    ]
}

proptest::proptest! {
    /// Whatever mix of keys a body holds, a body read plainly is read by
    /// the duplicate check and by rmcp as the same request.
    #[test]
    fn a_plain_reading_is_the_usual_reading(
        top in prop::collection::vec(
            prop_oneof![
                Just(r#""jsonrpc":"2.0""#.to_owned()),
                Just(r#""jsonrpc":"2.1""#.to_owned()),
                prop::sample::select(&["1", "\"x\"", "1.0", "null", "{}", "-0"][..])
                    .prop_map(|id| format!(r#""id":{id}"#)),
                prop::sample::select(&[r#""tools/call""#, r#""tools/list""#, r#""tools\/list""#, r#""ping""#][..])
                    .prop_map(|method| format!(r#""method":{method}"#)),
                params().prop_map(|params| format!(r#""params":{params}"#)),
                Just(r#""extra":1"#.to_owned()),
            ],
            3..7,
        )
    ) {
        let body = format!("{{{}}}", top.join(","));
        read_alike(&body);
    }
}

/// Every params object of up to three members from the pool, in every
/// order, under both methods: each body read plainly reads alike, and the
/// plain ones are many (the check above is not idle).
#[test]
fn every_params_mix_reads_alike() {
    let members: Vec<String> = PARAM_KEYS
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |value| format!("\"{key}\":{value}")))
        .collect();
    let mut mixes: Vec<Vec<&str>> = vec![vec![]];
    let mut longest: Vec<Vec<&str>> = vec![vec![]];
    for _ in 0..3 {
        longest = longest
            .iter()
            .flat_map(|mix| {
                members.iter().map(move |member| {
                    let mut mix = mix.clone();
                    mix.push(member.as_str());
                    mix
                })
            })
            .collect();
        mixes.extend(longest.iter().cloned());
    }
    let mut plain = 0;
    for method in ["tools/call", "tools/list"] {
        for mix in &mixes {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":5,"method":"{method}","params":{{{}}}}}"#,
                mix.join(",")
            );
            plain += usize::from(read_alike(&body));
        }
    }
    assert!(plain > 100, "only {plain} bodies read plainly");
}

#[test]
fn the_plain_reading_gives_the_call_and_its_meta() {
    let body = call(&format!(
        r#"{{"name":"get_current_time","arguments":{{"timeZone":"UTC"}},"_meta":{META}}}"#
    ));
    let plain = PlainRequest::read(body.as_bytes()).unwrap();
    assert_eq!(plain.method(), "tools/call");
    assert_eq!(plain.tool_name(), Some("get_current_time"));
    assert_eq!(plain.id_json(), &serde_json::json!(7));
    assert_eq!(
        plain.meta().protocol_version(),
        Some(rmcp::model::ProtocolVersion::V_2026_07_28)
    );
    let (_, request, _) = plain.into_parts();
    let rmcp::model::ClientRequest::CallToolRequest(call) = request else {
        panic!("not a tools/call: {request:?}");
    };
    assert_eq!(
        call.params
            .arguments
            .and_then(|a| a.get("timeZone").cloned()),
        Some(serde_json::json!("UTC"))
    );
}
