//! The retry rules against a scripted server on loopback: each connection
//! gets the next scripted answer, and the server counts the requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{DavClient, DavError, DavSettings};
use crate::calendar::retry::RetryPolicy;

const MULTISTATUS: &str = r#"<multistatus xmlns="DAV:"><response><href>/p/</href><propstat><prop><displayname>p</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;

/// An answer with `status` and `body`, closing the connection.
fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A server answering the n-th request with `script[n]` (the last one
/// again past the end; `None` never answers), and the request count.
async fn scripted(script: Vec<Option<String>>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let reply = script[n.min(script.len() - 1)].clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut buffer).await;
                match reply {
                    Some(reply) => {
                        let _ = stream.write_all(reply.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (address, count)
}

fn client(address: SocketAddr) -> DavClient {
    DavClient::new(DavSettings {
        url: format!("http://{address}/").parse().unwrap(),
        credentials: Some(("alice".to_owned(), "secret".to_owned())),
        roots: None,
        identity: None,
        policy: RetryPolicy {
            timeout: Duration::from_millis(300),
            max_attempts: 3,
            deadline: Duration::from_secs(5),
            base_delay: Duration::from_millis(10),
        },
    })
    .unwrap()
}

#[tokio::test]
async fn a_server_error_is_tried_again_and_the_answer_after_it_used() {
    let unavailable = answer("503 Service Unavailable", "");
    let (address, count) = scripted(vec![
        Some(unavailable.clone()),
        Some(unavailable),
        Some(answer("207 Multi-Status", MULTISTATUS)),
    ])
    .await;
    let found = client(address).propfind("/p/", 0, "<D:displayname/>").await;
    let resources = found.unwrap().unwrap();
    assert_eq!(resources[0].href, "/p/");
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn refusals_and_a_full_server_are_not_tried_again() {
    for status in [
        "400 Bad Request",
        "403 Forbidden",
        "412 Precondition Failed",
        "507 Insufficient Storage",
    ] {
        let (address, count) = scripted(vec![Some(answer(status, ""))]).await;
        let refused = client(address).propfind("/p/", 0, "<D:displayname/>").await;
        assert_eq!(
            refused.unwrap().unwrap_err().as_u16(),
            status[..3].parse::<u16>().unwrap()
        );
        assert_eq!(count.load(Ordering::SeqCst), 1, "{status}");
    }
}

#[tokio::test]
async fn garbage_is_named_and_not_tried_again() {
    let (address, count) = scripted(vec![Some(answer("207 Multi-Status", "<html>oops"))]).await;
    let error = client(address)
        .propfind("/p/", 0, "<D:displayname/>")
        .await
        .unwrap_err();
    assert!(matches!(error, DavError::Garbage(_)), "{error:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_silent_server_costs_the_attempts_and_no_more() {
    let (address, count) = scripted(vec![None]).await;
    let error = client(address)
        .propfind("/p/", 0, "<D:displayname/>")
        .await
        .unwrap_err();
    assert_eq!(error, DavError::Timeout);
    // Each attempt timed out, and the policy's three were all it took.
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_server_that_is_down_is_named_without_the_credentials() {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let error = client(address)
        .propfind("/p/", 0, "<D:displayname/>")
        .await
        .unwrap_err();
    assert!(matches!(error, DavError::Unreachable(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        !message.contains("secret") && !message.contains("YWxpY2U6"),
        "{message}"
    );
}
