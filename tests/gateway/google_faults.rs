//! The Google backend under load while the API misbehaves: for three seconds
//! the stand-in answers slowly (past the gateway's per-attempt timeout), with
//! 500, 503 (with `Retry-After`) and 429, or drops the connection, while six
//! clients list and create events. Every call ends within the retry deadline
//! plus one attempt, as a result or a tool error that says what happened and
//! leaks nothing; once the faults stop every call succeeds again, and every
//! acknowledged create is there.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestGateway, call_stateless, http_client_with_token};
use crate::google_api::Fault;

/// `retry_deadline` (10 s in the test tables) plus one attempt's timeout (2 s)
/// and slack for a loaded machine.
const CALL_BOUND: Duration = Duration::from_secs(14);

/// What a worker saw: (latency, Ok(created id or None) or the tool error).
type Seen = Vec<(Duration, Result<Option<String>, String>)>;

fn event(worker: usize, n: usize) -> Value {
    json!({
        "calendarId": "team",
        "summary": format!("load {worker}-{n}"),
        "start": { "dateTime": format!("2032-03-{:02}T{:02}:00:00Z", 1 + worker, n % 24) },
        "end": { "dateTime": format!("2032-03-{:02}T{:02}:30:00Z", 1 + worker, n % 24) },
    })
}

async fn work(client: reqwest::Client, url: String, worker: usize, until: Instant) -> Seen {
    let mut seen = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let started = Instant::now();
        let (tool, arguments) = if n % 2 == 0 {
            ("create_event", event(worker, n))
        } else {
            (
                "list_events",
                json!({ "calendarId": "team", "timeMin": "2032-03-01T00:00:00Z", "maxResults": 5 }),
            )
        };
        let (status, answer) = call_stateless(&client, &url, tool, arguments).await;
        let result = &answer["result"];
        let outcome = if status != 200 || result.is_null() {
            Err(format!("{tool}: HTTP {status}: {answer}"))
        } else if result["isError"] == true {
            Err(result["structuredContent"]["error"]["message"]
                .as_str()
                .unwrap_or("(no message)")
                .to_owned())
        } else {
            Ok(result["structuredContent"]["id"]
                .as_str()
                .map(str::to_owned))
        };
        seen.push((started.elapsed(), outcome));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_under_load_end_in_bounded_clear_errors_and_recover() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let cert = gw.client_cert("agent-a");
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&cert),
        Some(&gw.pki.token("agent-a")),
    );
    // Warm: the access token and the calendar's zone are fetched.
    let (status, _) = call_stateless(&client, &gw.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200);

    let faults = [
        Fault {
            delay: Some(Duration::from_millis(2500)),
            ..Fault::status(200)
        },
        Fault::status(500),
        Fault {
            retry_after: Some(1),
            ..Fault::status(503)
        },
        Fault::status(429),
        Fault::dropped(),
    ];
    let stormy = Instant::now() + Duration::from_secs(3);
    let until = Instant::now() + Duration::from_secs(4);
    let workers: Vec<_> = (0..6)
        .map(|w| tokio::spawn(work(client.clone(), gw.url(), w, until)))
        .collect();
    let mut injected = 0;
    while Instant::now() < stormy {
        api.fail_next([faults[injected % faults.len()].clone()]);
        injected += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let mut seen = Vec::new();
    for worker in workers {
        seen.extend(worker.await.unwrap());
    }
    let left = std::mem::take(&mut api.state.lock().unwrap().faults).len();

    let slowest = seen.iter().map(|(took, _)| *took).max().unwrap();
    let errors: Vec<&String> = seen.iter().filter_map(|(_, o)| o.as_ref().err()).collect();
    let created: Vec<String> = seen
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().cloned().flatten())
        .collect();
    println!(
        "google faults: {injected} injected ({left} unused), {} calls, {} tool errors, {} creates acknowledged, slowest {slowest:?}",
        seen.len(),
        errors.len(),
        created.len()
    );
    assert!(slowest <= CALL_BOUND, "a call took {slowest:?}");
    assert!(!errors.is_empty(), "the faults never showed: {seen:?}");
    for error in &errors {
        assert!(
            error.starts_with("Google Calendar did not answer successfully: gave up after")
                && error.ends_with("try again later"),
            "not a clear error: {error}"
        );
        for secret in ["Bearer", "access_token", "127.0.0.1", "ya29", "private_key"] {
            assert!(!error.contains(secret), "{error}");
        }
    }

    // The faults are over: every call succeeds, and nothing acknowledged is missing.
    for n in 0..6 {
        let (_, answer) = call_stateless(&client, &gw.url(), "create_event", event(9, n)).await;
        assert!(answer["result"]["isError"] != true, "{answer}");
    }
    for id in &created {
        let (_, answer) = call_stateless(
            &client,
            &gw.url(),
            "get_event",
            json!({ "calendarId": "team", "eventId": id }),
        )
        .await;
        assert!(answer["result"]["isError"] != true, "{id}: {answer}");
    }
}
