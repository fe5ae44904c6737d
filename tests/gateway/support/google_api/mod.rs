//! A local stand-in for the Google Calendar API v3 and Google's OAuth token
//! endpoint, on 127.0.0.1, written from Google's API reference: the JSON
//! shapes of calendarList, events (with etags, instances, pagination) and
//! freeBusy, Google's error objects, the JWT-bearer and refresh-token grants,
//! and fault injection (statuses with Retry-After, slow and malformed replies).

mod events;
mod store;
mod token;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub use crate::google_api::store::CalendarData;

/// What a user may do with a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read and write.
    Owner,
    /// Read only: writes get 403 forbidden.
    Reader,
}

/// A Google user: their calendars and the role they hold on each.
#[derive(Debug, Clone, Default)]
pub struct User {
    /// Calendar id → role; the first `Owner` entry named like the user is their primary.
    pub calendars: BTreeMap<String, Role>,
}

/// A canned reply for the next matching API request.
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP status to answer with.
    pub status: u16,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
    /// Raw body; `None` gives Google's JSON error object for `status`.
    pub body: Option<String>,
    /// Pause before answering (to outlast the gateway's timeout); a 200
    /// fault without a body then gives the real reply.
    pub delay: Option<Duration>,
    /// Only requests whose `METHOD /path` starts with this (all when `None`).
    pub matching: Option<&'static str>,
    /// Close the connection without any reply (after `delay`, if any).
    pub drop_connection: bool,
}

impl Fault {
    /// A fault with Google's error JSON for `status` and `reason`.
    pub fn status(status: u16) -> Fault {
        Fault {
            status,
            retry_after: None,
            body: None,
            delay: None,
            matching: None,
            drop_connection: false,
        }
    }

    /// A connection closed without a reply, as a crashing proxy does.
    pub fn dropped() -> Fault {
        Fault {
            drop_connection: true,
            ..Fault::status(200)
        }
    }

    /// This fault for requests starting with `prefix` (e.g. `PATCH`) only.
    pub fn on(mut self, prefix: &'static str) -> Fault {
        self.matching = Some(prefix);
        self
    }
}

/// Everything the emulator knows; tests read and change it directly.
pub struct State {
    /// Users by email.
    pub users: HashMap<String, User>,
    /// Calendars by id.
    pub calendars: HashMap<String, CalendarData>,
    /// Access token → (user, expiry).
    pub access_tokens: HashMap<String, (String, Instant)>,
    /// Refresh token → user.
    pub refresh_tokens: HashMap<String, String>,
    /// The OAuth client allowed to use refresh tokens.
    pub oauth_client: (String, String),
    /// The service account's email and public key (PEM) for JWT-bearer assertions.
    pub service_account: (String, String),
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Replies to give instead of the real ones, in order.
    pub faults: VecDeque<Fault>,
    /// Every API request: `METHOD /path`.
    pub api_requests: Vec<String>,
    /// Every token grant: `grant_type subject-or-user`.
    pub token_grants: Vec<String>,
}

/// The running emulator.
pub struct GoogleApi {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GoogleApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The OAuth scope the gateway must ask for.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

impl GoogleApi {
    /// Starts the emulator for a service account (`email`, public key PEM).
    pub async fn start(service_account: (String, String)) -> GoogleApi {
        let state = Arc::new(Mutex::new(State {
            users: HashMap::new(),
            calendars: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            oauth_client: ("oauth-client".into(), "oauth-secret".into()),
            service_account,
            token_lifetime: Duration::from_secs(3600),
            faults: VecDeque::new(),
            api_requests: Vec::new(),
            token_grants: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let origin = format!("http://{addr}");
        let shared = Arc::clone(&state);
        let token_uri = format!("{origin}/token");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                let token_uri = token_uri.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        let token_uri = token_uri.clone();
                        async move {
                            // No reply: hyper closes the connection on a service error.
                            handle(state, &token_uri, req)
                                .await
                                .ok_or_else(|| std::io::Error::other("fault: connection dropped"))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        GoogleApi {
            origin,
            state,
            task,
        }
    }

    /// The API root the gateway's `api_base_url` points at.
    pub fn api_base_url(&self) -> String {
        format!("{}/calendar/v3/", self.origin)
    }

    /// The token endpoint (`token_uri`).
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.origin)
    }

    /// Adds a user owning a primary calendar (id = email) in `zone`.
    pub fn add_user(&self, email: &str, zone: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .calendars
            .insert(email.into(), CalendarData::new(email, zone));
        let mut user = User::default();
        user.calendars.insert(email.into(), Role::Owner);
        state.users.insert(email.into(), user);
    }

    /// Adds a calendar and gives `user` `role` on it.
    pub fn add_calendar(&self, user: &str, id: &str, summary: &str, zone: &str, role: Role) {
        let mut state = self.state.lock().unwrap();
        state
            .calendars
            .entry(id.into())
            .or_insert_with(|| CalendarData::new(summary, zone));
        state
            .users
            .get_mut(user)
            .expect("add the user first")
            .calendars
            .insert(id.into(), role);
    }

    /// Queues faults for the next API requests.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Makes every access token issued so far expire now.
    pub fn expire_access_tokens(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        for (_, expiry) in self.state.lock().unwrap().access_tokens.values_mut() {
            *expiry = past;
        }
    }

    /// The API requests seen so far.
    pub fn api_requests(&self) -> Vec<String> {
        self.state.lock().unwrap().api_requests.clone()
    }

    /// The token grants seen so far.
    pub fn token_grants(&self) -> Vec<String> {
        self.state.lock().unwrap().token_grants.clone()
    }

    /// The credentials it issued or holds (access and refresh tokens, the
    /// OAuth client secret), which no output of the gateway may hold.
    pub fn secrets(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .access_tokens
            .keys()
            .chain(state.refresh_tokens.keys())
            .cloned()
            .chain([state.oauth_client.1.clone()])
            .collect()
    }
}

/// A reply with a JSON body.
pub fn json_reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Google's error object for `status`.
pub fn google_error(status: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let label = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    json_reply(
        status,
        &json!({ "error": {
            "code": status,
            "message": message,
            "errors": [{ "domain": "global", "reason": reason, "message": message }],
            "status": label.to_uppercase().replace(' ', "_"),
        }}),
    )
}

fn reason_for(status: u16) -> &'static str {
    match status {
        401 => "authError",
        403 => "forbidden",
        404 => "notFound",
        409 => "duplicate",
        410 => "deleted",
        412 => "conditionNotMet",
        429 => "rateLimitExceeded",
        500 => "internalError",
        _ => "backendError",
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    token_uri: &str,
    req: Request<Incoming>,
) -> Option<Response<Full<Bytes>>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    if path == "/token" && method == Method::POST {
        return Some(token::grant(&state, token_uri, &body));
    }
    let Some(rest) = path.strip_prefix("/calendar/v3/") else {
        return Some(google_error(404, "notFound", "Not Found"));
    };
    let fault = {
        let mut state = state.lock().unwrap();
        let request = format!("{method} /{rest}");
        state.api_requests.push(request.clone());
        let due = state
            .faults
            .iter()
            .position(|f| f.matching.is_none_or(|m| request.starts_with(m)));
        due.and_then(|at| state.faults.remove(at))
    };
    if let Some(fault) = fault {
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        if fault.drop_connection {
            return None;
        }
        if fault.status != 200 || fault.body.is_some() {
            let mut reply = match &fault.body {
                Some(raw) => Response::builder()
                    .status(fault.status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(raw.clone())))
                    .unwrap(),
                None => google_error(fault.status, reason_for(fault.status), "injected fault"),
            };
            if let Some(seconds) = fault.retry_after {
                reply
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().unwrap());
            }
            return Some(reply);
        }
    }
    let user = {
        let state = state.lock().unwrap();
        bearer
            .and_then(|t| state.access_tokens.get(&t).cloned())
            .filter(|(_, expiry)| *expiry > Instant::now())
            .map(|(user, _)| user)
    };
    let Some(user) = user else {
        return Some(google_error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        ));
    };
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return Some(google_error(400, "parseError", "Parse Error")),
        }
    };
    let mut state = state.lock().unwrap();
    Some(events::route(
        &mut state, &user, &method, &segments, &query, body,
    ))
}
