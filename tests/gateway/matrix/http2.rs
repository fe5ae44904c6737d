//! Matrix rows for HTTP/2, frame by frame on a TLS connection with a good
//! certificate and token: the floods that took servers down (rapid reset,
//! CONTINUATION), header lists over the limit, and frames the protocol
//! forbids. A flood is ban-worthy (`DENY stage=http reason=http2_flood`): no
//! well-behaved client causes one; a broken frame is a `REFUSE`.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::ledger::{Ledger, Line, Seen};
use super::{VERSION, tool_call};
use crate::common::TestGateway;

const CLIENT: &str = "agent-2";
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

/// An HPACK string: 7-bit prefixed length, no Huffman coding.
fn hpack_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut length = bytes.len();
    if length < 127 {
        out.push(length as u8);
    } else {
        out.push(127);
        length -= 127;
        while length >= 128 {
            out.push((length % 128) as u8 | 0x80);
            length /= 128;
        }
        out.push(length as u8);
    }
    out.extend(bytes);
    out
}

/// A header field as a literal without indexing, with a literal name.
fn literal(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend(hpack_string(name.as_bytes()));
    out.extend(hpack_string(value));
    out
}

/// The header block of a stateless get_current_time call, plus `extra`.
fn request_block(gw: &TestGateway, body_length: usize, extra: &[u8]) -> Vec<u8> {
    let authority = format!("127.0.0.1:{}", gw.gateway.local_addr.port());
    let token = format!("Bearer {}", gw.pki.token(CLIENT));
    let mut block = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/mcp"),
        (":authority", &authority),
        ("authorization", &token),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", VERSION),
        ("mcp-method", "tools/call"),
        ("mcp-name", "get_current_time"),
        ("content-length", &body_length.to_string()),
    ] {
        block.extend(literal(name, value.as_bytes()));
    }
    block.extend(extra);
    block
}

fn call_body() -> Vec<u8> {
    tool_call(&json!("get_current_time"), json!({}))
        .to_string()
        .into_bytes()
}

/// HEADERS on `stream` carrying `block`, split into CONTINUATION frames of
/// at most 16 KiB.
fn headers(stream: u32, block: &[u8], flags: u8) -> Vec<u8> {
    let mut chunks = block.chunks(16 * 1024);
    let first = chunks.next().unwrap_or(&[]);
    let rest: Vec<&[u8]> = chunks.collect();
    let end = if rest.is_empty() { END_HEADERS } else { 0 };
    let mut out = frame(HEADERS, flags | end, stream, first);
    for (i, chunk) in rest.iter().enumerate() {
        let end = if i + 1 == rest.len() { END_HEADERS } else { 0 };
        out.extend(frame(CONTINUATION, end, stream, chunk));
    }
    out
}

/// A TLS connection speaking HTTP/2 that has sent the preface and `frames`.
async fn send(gw: &TestGateway, frames: &[u8]) -> Option<TlsStream<TcpStream>> {
    let mut tls = gw.tls_connect(&gw.client_cert(CLIENT), b"h2").await.ok()?;
    let mut opening = PREFACE.to_vec();
    opening.extend(frame(SETTINGS, 0, 0, &[]));
    opening.extend(frames);
    tls.write_all(&opening).await.ok()?;
    Some(tls)
}

/// What came back on `stream`: its status (from the answer's first header
/// field), or `NoAnswer` once the server sends GOAWAY or closes.
async fn answer(tls: Option<TlsStream<TcpStream>>, stream: u32) -> Seen {
    let Some(mut tls) = tls else {
        return Seen::NoAnswer;
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut buffer = Vec::new();
    loop {
        while buffer.len() >= 9 {
            let length = u32::from_be_bytes([0, buffer[0], buffer[1], buffer[2]]) as usize;
            if buffer.len() < 9 + length {
                break;
            }
            let (kind, flags) = (buffer[3], buffer[4]);
            let id = u32::from_be_bytes([buffer[5], buffer[6], buffer[7], buffer[8]]) & 0x7fff_ffff;
            let payload: Vec<u8> = buffer[9..9 + length].to_vec();
            buffer.drain(..9 + length);
            match kind {
                SETTINGS if flags & ACK == 0 => {
                    let _ = tls.write_all(&frame(SETTINGS, ACK, 0, &[])).await;
                }
                HEADERS if id == stream => return Seen::from_status(status_of(&payload)),
                GOAWAY => return Seen::NoAnswer,
                _ => {}
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, tls.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            _ => return Seen::NoAnswer,
        }
    }
}

/// The `:status` of a response header block when it is an indexed static
/// entry (200, 204, 400, 404, 500); 0 otherwise (this family reads only
/// those: a 431 is read through the h2 crate).
fn status_of(block: &[u8]) -> u16 {
    match block.first() {
        Some(0x88) => 200,
        Some(0x89) => 204,
        Some(0x8c) => 400,
        Some(0x8d) => 404,
        Some(0x8e) => 500,
        _ => 0,
    }
}

impl Seen {
    fn from_status(status: u16) -> Seen {
        match status {
            200 => Seen::Ok,
            other => Seen::Status(other),
        }
    }
}

#[tokio::test]
async fn every_http2_abuse_is_cut_with_one_line() {
    let gw = TestGateway::start().await;
    let http = |reason: &str| format!("stage=http reason={reason} ip=127.0.0.1 client={CLIENT}");
    let refuse = |reason: &str| format!("REFUSE {}", http(reason));
    let deny = |reason: &str| format!("DENY {}", http(reason));
    let mut ledger = Ledger::new("http2", &gw);
    let body = call_body();

    let mut call = headers(1, &request_block(&gw, body.len(), &[]), 0);
    call.extend(frame(DATA, END_STREAM, 1, &body));
    let seen = answer(send(&gw, &call).await, 1).await;
    ledger
        .row(
            &gw,
            "control: one call, frame by frame",
            seen,
            Seen::Ok,
            Line::None,
        )
        .await;

    // A header list over the limit (32 KiB), below twice it: h2 lets it
    // through, the gateway refuses it with its line; the whole answer arrives.
    let mut client = crate::http2::h2_connect(&gw, &gw.client_cert(CLIENT)).await;
    let token = format!("Bearer {}", gw.pki.token(CLIENT));
    let pad = "a".repeat(40 * 1024);
    let authority = format!("127.0.0.1:{}", gw.gateway.local_addr.port());
    let padded = [
        ("authorization", token.as_str()),
        ("mcp-protocol-version", VERSION),
        ("x-pad", pad.as_str()),
    ];
    let body_text = String::from_utf8(body.clone()).unwrap();
    let big = crate::http2::h2_post(&mut client, &authority, &padded, &body_text).await;
    assert!(big.body.is_ok(), "the 431 arrives whole: {:?}", big.body);
    let seen = Seen::from_status(big.status.as_u16());
    ledger
        .row(
            &gw,
            "a 40 KiB header list",
            seen,
            Seen::Status(431),
            Line::Refuse(&refuse("headers_too_large")),
        )
        .await;

    // CONTINUATION flood: a header block that never ends.
    let mut flood = frame(HEADERS, 0, 1, &request_block(&gw, body.len(), &[]));
    for _ in 0..2_000 {
        flood.extend(frame(CONTINUATION, 0, 1, &literal("x-a", b"b")));
    }
    let seen = answer(send(&gw, &flood).await, 1).await;
    ledger
        .row(
            &gw,
            "CONTINUATION flood",
            seen,
            Seen::NoAnswer,
            Line::Deny(&deny("http2_flood")),
        )
        .await;

    // Rapid reset: streams opened and cancelled before they are served.
    let mut resets = Vec::new();
    for i in 0..200u32 {
        let stream = 2 * i + 1;
        resets.extend(headers(stream, &request_block(&gw, body.len(), &[]), 0));
        resets.extend(frame(RST_STREAM, 0, stream, &8u32.to_be_bytes()));
    }
    let seen = answer(send(&gw, &resets).await, 401).await;
    ledger
        .row(
            &gw,
            "rapid reset, 200 streams",
            seen,
            Seen::NoAnswer,
            Line::Deny(&deny("http2_flood")),
        )
        .await;

    // Frames the protocol forbids: the connection ends with a GOAWAY.
    let block = request_block(&gw, body.len(), &[]);
    let broken: Vec<(&str, Vec<u8>)> = vec![
        ("HEADERS on stream 0", headers(0, &block, END_STREAM)),
        ("an even stream id", headers(2, &block, END_STREAM)),
        ("DATA on an idle stream", frame(DATA, END_STREAM, 5, b"{}")),
        (
            "a zero window update",
            frame(WINDOW_UPDATE, 0, 0, &0u32.to_be_bytes()),
        ),
        (
            "a frame over the size limit",
            frame(DATA, 0, 1, &vec![0; 20_000]),
        ),
        (
            "SETTINGS with a bad length",
            frame(SETTINGS, 0, 0, &[0, 1, 0]),
        ),
        (
            "a header block that is not HPACK",
            frame(HEADERS, END_HEADERS | END_STREAM, 1, &[0xff; 8]),
        ),
    ];
    for (name, frames) in broken {
        let seen = answer(send(&gw, &frames).await, 1).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::NoAnswer,
                Line::Refuse(&refuse("request_rejected")),
            )
            .await;
    }
    ledger.finish(&gw);
}
