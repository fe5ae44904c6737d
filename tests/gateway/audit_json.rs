//! `log.audit_format = "json"` (issue 21, item 27): every tool call, whatever
//! its outcome, is one JSON object on one line in the audit log, written
//! before the answer; the security log keeps its fail2ban format.

use serde_json::{Value, json};

use crate::common::{TestGateway, call_err, call_ok};

fn audit_objects(gw: &TestGateway) -> Vec<Value> {
    std::fs::read_to_string(gw.dir_path().join("audit.log"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

#[tokio::test]
async fn every_tool_call_is_one_json_object() {
    let gw = TestGateway::start_custom(|_, _, s| s.log = "audit_format = \"json\"".into()).await;
    let client = gw.mcp("agent-a").await;
    call_ok(&client, "list_calendars", json!({})).await;
    let error = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "primary", "eventId": "no\"such\nevent" }),
    )
    .await;
    assert!(error.contains("not found"), "{error}");
    let objects = audit_objects(&gw);
    assert_eq!(objects.len(), 2, "{objects:?}");
    let first = &objects[0];
    for field in [
        "timestamp",
        "pid",
        "event",
        "tool",
        "client",
        "ip",
        "jti",
        "calendars",
        "outcome",
        "ms",
    ] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(first["event"], "AUDIT");
    assert_eq!(first["tool"], "list_calendars");
    assert_eq!(first["client"], "agent-a");
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(first["outcome"], "ok");
    assert_eq!(objects[1]["calendars"], json!(["primary"]));
    assert_eq!(objects[1]["outcome"], "tool_error");
    // The security log is still the fail2ban format.
    assert!(
        gw.security_lines()
            .iter()
            .any(|l| l.starts_with("ALLOW stage=tls ip=127.0.0.1 client=agent-a")),
        "{:?}",
        gw.security_lines()
    );
}
