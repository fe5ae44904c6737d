//! Reading a request body within its limits: at most
//! `listen.max_request_body_bytes` kept, within `listen.body_read_timeout`.
//! A body over the limit is read a little further and dropped, so that an
//! HTTP/2 client gets the 413 instead of a stream reset.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::denial::{Denial, Reason};

/// How much of a refused request's body is read and dropped before answering,
/// as a multiple of the body limit; beyond it the stream is simply reset.
const DRAIN_FACTOR: usize = 2;

/// Reads `body` within `max` bytes and `timeout`. A body over the limit is
/// drained a little further (so HTTP/2 clients get the 413), then refused.
pub async fn read_body(body: Incoming, max: usize, timeout: Duration) -> Result<Bytes, Denial> {
    let mut body = body;
    let mut kept = BytesMut::new();
    let mut seen = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(Denial::new(Reason::BodyTimeout).with_detail("body ended early"));
            };
            if let Some(data) = frame.data_ref() {
                seen = seen.saturating_add(data.len());
                if seen <= max {
                    kept.extend_from_slice(data);
                } else if seen > max.saturating_mul(DRAIN_FACTOR) {
                    break;
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, reading).await {
        Err(_) => Err(Denial::new(Reason::BodyTimeout).with_detail(format!(
            "body not received within {}s",
            timeout.as_secs_f32()
        ))),
        Ok(Err(denial)) => Err(denial),
        Ok(Ok(())) if seen > max => {
            Err(Denial::new(Reason::BodyTooLarge).with_detail(format!("larger than {max} bytes")))
        }
        Ok(Ok(())) => Ok(kept.freeze()),
    }
}
