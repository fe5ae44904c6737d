//! CalDAV discovery against real servers (issue 23, in progress): from the
//! configured URL to the account's principal, its calendar home and the
//! calendars in it that hold events, on Radicale (two users behind Basic
//! authentication) and Xandikos; wrong credentials and hrefs that leave the
//! server are refused with a message that names the problem.

use mcp_gateway::calendar::caldav::dav::DavError;
use mcp_gateway::calendar::caldav::discovery::{DiscoveryError, discover};

use crate::caldav_servers::{USERS, radicale, xandikos};

#[tokio::test]
async fn each_radicale_user_finds_only_their_own_event_calendars() {
    let server = radicale().await;
    let (alice, bob) = (USERS[0], USERS[1]);
    server
        .make_calendar(alice, "/alice/work/", "Work", "VEVENT")
        .await;
    server
        .make_calendar(alice, "/alice/tasks/", "Tasks", "VTODO")
        .await;
    server
        .make_calendar(bob, "/bob/home/", "Home", "VEVENT")
        .await;

    let found = discover(&server.client(Some(alice)), "/").await.unwrap();
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|c| (c.href.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(names, [("/alice/work/", "Work")], "{}", server.log());

    let found = discover(&server.client(Some(bob)), "/").await.unwrap();
    let names: Vec<&str> = found.iter().map(|c| c.href.as_str()).collect();
    assert_eq!(names, ["/bob/home/"]);

    // Pointed at another user's collections, an account is refused by the
    // server (Radicale's owner_only rights), and the refusal says so.
    let error = discover(&server.client(Some(bob)), "/alice/")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DiscoveryError::Refused { status, .. } if status.as_u16() == 403),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("the account may not read it"),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_named_and_never_echoed() {
    let server = radicale().await;
    let wrong = server.client(Some((USERS[0].0, "not-the-password")));
    let error = discover(&wrong, "/").await.unwrap_err();
    assert!(
        matches!(&error, DiscoveryError::Refused { status, .. } if status.as_u16() == 401),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("the username or password is wrong"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn xandikos_default_calendar_is_found() {
    let server = xandikos().await;
    let found = discover(&server.client(None), "/").await.unwrap();
    let hrefs: Vec<&str> = found.iter().map(|c| c.href.as_str()).collect();
    assert_eq!(hrefs, ["/user/calendars/calendar/"], "{}", server.log());
}

#[tokio::test]
async fn hrefs_that_leave_the_server_are_refused_and_a_dead_server_is_named() {
    let server = xandikos().await;
    let dav = server.client(None);
    for href in [
        "http://192.0.2.1/user/",
        "https://127.0.0.1:1/x",
        "relative/path",
    ] {
        assert!(
            matches!(dav.resolve(href), Err(DavError::Garbage(_))),
            "{href}"
        );
    }
    // A path that climbs stays on the server: it is the server's to refuse.
    let climbing = dav.resolve("/user/../../etc/passwd").unwrap();
    assert_eq!(
        climbing.authority(),
        server.url.parse::<http::Uri>().unwrap().authority()
    );

    drop(server);
    let error = discover(&dav, "/").await.unwrap_err();
    assert!(
        matches!(&error, DiscoveryError::Dav(DavError::Unreachable(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot be reached"), "{error}");
}
