//! Real CalDAV servers on loopback for the CalDAV backend's tests: Radicale
//! with two users behind Basic authentication (htpasswd), and Xandikos, which
//! has no authentication of its own and serves one principal per process
//! (so two users are two processes). Both come from the test venv that
//! `scripts/test-all.sh` installs (`tests/caldav/requirements.txt`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use mcp_gateway::calendar::caldav::dav::{DavClient, DavSettings};
use mcp_gateway::calendar::retry::RetryPolicy;
use tempfile::TempDir;

use crate::support::tools::{free_port, wait_for_port};

/// The users of every server the harness starts, with their passwords.
pub const USERS: [(&str, &str); 2] = [("alice", "alice-secret-1"), ("bob", "bob-secret-2")];

/// A CalDAV server process, stopped when dropped.
pub struct DavServer {
    child: Child,
    /// How it was started, to start it again on the same port and data.
    command: (String, Vec<String>, u16),
    /// Where it listens (`http://127.0.0.1:port`).
    pub url: String,
    /// Its data and log.
    pub dir: TempDir,
}

impl Drop for DavServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DavServer {
    /// Stops the server (its data stays).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, on the same port with the same data.
    pub async fn start_again(&mut self) {
        let (program, args, port) = self.command.clone();
        self.child = spawn_child(&program, &args, self.dir.path());
        wait_for_port(port).await;
    }

    /// The gateway's CalDAV client for this server, as `credentials` (none
    /// for Xandikos), with short retry bounds.
    pub fn client(&self, credentials: Option<(&str, &str)>) -> DavClient {
        DavClient::new(DavSettings {
            url: self.url.parse().unwrap(),
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
            roots: None,
            identity: None,
            policy: RetryPolicy {
                timeout: Duration::from_secs(10),
                max_attempts: 2,
                deadline: Duration::from_secs(20),
                base_delay: Duration::from_millis(100),
            },
        })
        .unwrap()
    }

    /// Makes a calendar collection at `path` holding `component`s, as a
    /// calendar app would (MKCALENDAR as `user`).
    pub async fn make_calendar(&self, user: (&str, &str), path: &str, name: &str, component: &str) {
        self.make_zoned_calendar(user, path, name, component, None)
            .await;
    }

    /// Like [`DavServer::make_calendar`], with a `calendar-timezone` naming `zone`.
    pub async fn make_zoned_calendar(
        &self,
        (user, password): (&str, &str),
        path: &str,
        name: &str,
        component: &str,
        zone: Option<&str>,
    ) {
        let url = &self.url;
        let zone = zone.map_or_else(String::new, |zone| {
            format!(
                "<C:calendar-timezone>BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:{zone}\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n</C:calendar-timezone>"
            )
        });
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
    <C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
    <D:displayname>{name}</D:displayname>{zone}
    <C:supported-calendar-component-set><C:comp name="{component}"/></C:supported-calendar-component-set>
    </D:prop></D:set></C:mkcalendar>"#
        );
        let answer = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(b"MKCALENDAR").unwrap(),
                format!("{url}{path}"),
            )
            .basic_auth(user, Some(password))
            .header("Content-Type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            201,
            "MKCALENDAR {path}: {}",
            answer.text().await.unwrap()
        );
    }

    /// Runs `tests/caldav/<script>` — the independent Python `caldav`
    /// client — on the calendar at `collection` as `credentials`, with
    /// `input` on its standard input; what it printed, as JSON when it is.
    pub fn python_client(
        &self,
        script: &str,
        collection: &str,
        credentials: Option<(&str, &str)>,
        input: &str,
    ) -> serde_json::Value {
        use std::io::Write;
        let (user, password) = credentials.unwrap_or(("-", "-"));
        let mut child = Command::new(venv_program("python"))
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/caldav")
                    .join(script),
            )
            .args([
                &self.url,
                &format!("{}{collection}", self.url),
                user,
                password,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.trim().to_owned()))
    }

    /// The text of the object at `href` (a GET as `credentials`).
    pub async fn object_text(&self, href: &str, credentials: Option<(&str, &str)>) -> String {
        let url = if href.starts_with("http") {
            href.to_owned()
        } else {
            format!("{}{href}", self.url)
        };
        let mut request = reqwest::Client::new().get(url);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 200, "GET {href}");
        answer.text().await.unwrap()
    }

    /// Writes `text` at `href` as `credentials`, as a person's calendar app
    /// would (no precondition).
    pub async fn put_text(&self, href: &str, credentials: Option<(&str, &str)>, text: String) {
        let mut request = reqwest::Client::new()
            .put(format!("{}{href}", self.url))
            .header("Content-Type", "text/calendar")
            .body(text);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let answer = request.send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "PUT {href}: {}",
            answer.status()
        );
    }

    /// Sets the colour of the calendar at `path`, as Apple's apps do
    /// (`calendar-color`, `#RRGGBBAA`).
    pub async fn set_color(&self, credentials: Option<(&str, &str)>, path: &str, color: &str) {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><A:calendar-color>{color}</A:calendar-color></D:prop></D:set></D:propertyupdate>"#
        );
        let mut request = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(b"PROPPATCH").unwrap(),
                format!("{}{path}", self.url),
            )
            .header("Content-Type", "application/xml")
            .body(body);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 207, "PROPPATCH {path}");
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// A program of the test venv.
fn venv_program(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-all.sh, which installs tests/caldav/requirements.txt",
        path.display()
    );
    path
}

fn spawn(program: &str, args: &[String], dir: TempDir, port: u16) -> DavServer {
    DavServer {
        child: spawn_child(program, args, dir.path()),
        command: (program.to_owned(), args.to_vec(), port),
        url: format!("http://127.0.0.1:{port}"),
        dir,
    }
}

fn spawn_child(program: &str, args: &[String], dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    Command::new(venv_program(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

/// Radicale with [`USERS`], each reaching only their own collections
/// (Radicale's default `owner_only` rights).
pub async fn radicale() -> DavServer {
    let dir = TempDir::new().unwrap();
    let users: String = USERS
        .iter()
        .map(|(user, password)| format!("{user}:{password}\n"))
        .collect();
    std::fs::write(dir.path().join("users"), users).unwrap();
    let port = free_port();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let args = vec![
        "--server-hosts".to_owned(),
        format!("127.0.0.1:{port}"),
        "--storage-filesystem-folder".to_owned(),
        path("collections"),
        "--auth-type".to_owned(),
        "htpasswd".to_owned(),
        "--auth-htpasswd-filename".to_owned(),
        path("users"),
        "--auth-htpasswd-encryption".to_owned(),
        "plain".to_owned(),
    ];
    let server = spawn("radicale", &args, dir, port);
    wait_for_port(port).await;
    server
}

/// Xandikos serving one principal (`/user/`) with a calendar
/// (`/user/calendars/calendar/`), as `--defaults` creates it.
pub async fn xandikos() -> DavServer {
    xandikos_with("--defaults").await
}

/// Xandikos serving one principal (`/user/`) with an empty calendar home
/// (`/user/calendars/`).
pub async fn xandikos_empty() -> DavServer {
    xandikos_with("--autocreate").await
}

async fn xandikos_with(creating: &str) -> DavServer {
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let args = vec![
        "serve".to_owned(),
        creating.to_owned(),
        "-d".to_owned(),
        dir.path().join("data").display().to_string(),
        "-l".to_owned(),
        "127.0.0.1".to_owned(),
        "-p".to_owned(),
        port.to_string(),
    ];
    let server = spawn("xandikos", &args, dir, port);
    wait_for_port(port).await;
    server
}
