//! Clients mapped to different Google accounts never see each other's data;
//! an authorized user's refresh token works, and its failure asks for
//! re-authorization; credentials stored encrypted need the right key.

use std::path::Path;

use serde_json::json;

use mcp_gateway::cli::token::TokenRequest;
use mcp_gateway::secrets::{SecretKey, generate_key};

use crate::common::{Setup, TestGateway, call_err, call_ok};
use crate::google_api::GoogleApi;
use crate::google_setup::{ALICE, BOB};

const BOB_REFRESH_TOKEN: &str = "1//bob-refresh-token";

/// Alice for `agent-a` (service account), Bob for `agent-b` (refresh token),
/// no default: Bob's refresh token and the OAuth client secret stored encrypted
/// with the key in `gateway.key`.
fn two_accounts(dir: &Path, api: &GoogleApi, setup: &mut Setup) {
    let key_text = generate_key();
    std::fs::write(dir.join("gateway.key"), &key_text).unwrap();
    let key = SecretKey::from_base64(&key_text, "test").unwrap();
    api.state
        .lock()
        .unwrap()
        .refresh_tokens
        .insert(BOB_REFRESH_TOKEN.into(), BOB.into());
    let extra = format!(
        r#"encryption_key_file = "gateway.key"
oauth_client_id = "oauth-client"
oauth_client_secret = "{secret}"

[backend.google.clients]
"agent-a" = "alice"
"agent-b" = "bob"

[backend.google.accounts.bob]
refresh_token = "{token}"
"#,
        secret = key.encrypt(b"oauth-secret"),
        token = key.encrypt(BOB_REFRESH_TOKEN.as_bytes()),
    );
    setup.backend = crate::google_setup::google_tables(api, &extra)
        .replace("default_account = \"alice\"\n", "");
}

#[tokio::test]
async fn two_mapped_clients_never_see_each_others_data() {
    let gw = TestGateway::start_google(two_accounts).await;
    let alice = gw.mcp("agent-a").await;
    let bob = gw.mcp("agent-b").await;

    let private = call_ok(
        &alice,
        "create_event",
        json!({ "summary": "Alice private", "start": { "dateTime": "2031-05-01T09:00:00Z" }, "end": { "dateTime": "2031-05-01T10:00:00Z" } }),
    )
    .await;
    let window = json!({ "timeMin": "2031-05-01T00:00:00Z", "timeMax": "2031-05-02T00:00:00Z" });
    let seen_by_bob = call_ok(&bob, "list_events", window.clone()).await;
    assert!(seen_by_bob["items"].as_array().unwrap().is_empty());
    let seen_by_alice = call_ok(&alice, "list_events", window).await;
    assert_eq!(seen_by_alice["items"][0]["summary"], "Alice private");

    let message = call_err(
        &bob,
        "get_event",
        json!({ "calendarId": ALICE, "eventId": private["id"] }),
    )
    .await;
    assert_eq!(message, format!("calendar not found: {ALICE}"));
    let message = call_err(
        &bob,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2031-05-01T00:00:00Z", "timeMax": "2031-05-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(message, "calendar not found: team");
    let busy = call_err(
        &bob,
        "get_freebusy",
        json!({ "calendarIds": [ALICE], "timeMin": "2031-05-01T00:00:00Z", "timeMax": "2031-05-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(busy, format!("calendar not found: {ALICE}"));

    let bobs: Vec<String> = call_ok(&bob, "list_calendars", json!({})).await["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bobs, [BOB, "holidays"]);
    let grants = gw.google_api().token_grants();
    assert!(
        grants.contains(&format!("refresh_token {BOB}")),
        "{grants:?}"
    );
    assert!(
        grants.contains(&format!("jwt-bearer {ALICE}")),
        "{grants:?}"
    );

    // A client with no mapping (and no default account) reaches nothing.
    let stranger = gw.mcp("agent-c").await;
    let message = call_err(&stranger, "list_calendars", json!({})).await;
    assert_eq!(
        message,
        "no Google account is mapped to client `agent-c` (backend.google.clients)"
    );
}

#[tokio::test]
async fn token_calendar_scope_applies_on_top_of_the_account() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let mut request = TokenRequest::full_access(
        "agent-t",
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(600),
    );
    request.calendars = vec!["team".into()];
    let client = gw.mcp_with("agent-t", &gw.pki.token_with(&request)).await;
    let calendars = call_ok(&client, "list_calendars", json!({})).await;
    let ids: Vec<&str> = calendars["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["team"], "the account's other calendars stay hidden");
    let refused = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("list_events")
                .with_arguments(json!({ "calendarId": ALICE }).as_object().unwrap().clone()),
        )
        .await
        .unwrap_err();
    assert!(
        format!("{refused}").contains("calendar not allowed"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_reauthorization() {
    let gw = TestGateway::start_google(two_accounts).await;
    gw.google_api().state.lock().unwrap().refresh_tokens.clear();
    let bob = gw.mcp("agent-b").await;
    let message = call_err(&bob, "list_calendars", json!({})).await;
    assert_eq!(
        message,
        "Google refused the refresh token of account `bob` (invalid_grant): re-authorize the account and store its new refresh token"
    );
    assert!(!message.contains(BOB_REFRESH_TOKEN));
}

#[tokio::test]
async fn an_authorized_users_access_token_is_renewed_when_it_expires() {
    let gw = TestGateway::start_google(two_accounts).await;
    let api = gw.google_api();
    let bob = gw.mcp("agent-b").await;
    call_ok(&bob, "list_calendars", json!({})).await;
    call_ok(&bob, "list_calendars", json!({})).await;
    let bob_grants = || {
        api.token_grants()
            .iter()
            .filter(|g| **g == format!("refresh_token {BOB}"))
            .count()
    };
    assert_eq!(bob_grants(), 1, "the access token is reused while valid");
    api.expire_access_tokens();
    let listed = call_ok(&bob, "list_calendars", json!({})).await;
    assert_eq!(listed["calendars"][0]["id"], BOB);
    assert_eq!(bob_grants(), 2, "a 401 fetched a new access token");
}
