//! The PROXY protocol (v1 text, v2 binary; parsed by the `ppp` crate): the real
//! client address behind a trusted load balancer. Only peers in
//! `listen.proxy_protocol.trusted` may send a header, and from them it is
//! required; anyone else sending one is refused. Exactly the header's bytes are
//! consumed, so the TLS handshake that follows starts on the right byte.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use ppp::HeaderResult;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::denial::{Denial, Reason};
use crate::policy::address::ip::contains;

/// The v2 signature that starts every binary header.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 line is at most 107 bytes, CRLF included.
const V1_MAX: usize = 107;
/// Largest v2 payload accepted (addresses plus a few TLVs).
const V2_MAX_PAYLOAD: usize = 1024;

/// Parses a complete header; `Ok(None)` for LOCAL/UNKNOWN headers (health
/// checks), which carry no client address.
pub fn parse_header(bytes: &[u8]) -> Result<Option<IpAddr>, Denial> {
    let malformed = |why: String| Denial::new(Reason::MalformedProxyHeader).with_detail(why);
    match HeaderResult::parse(bytes) {
        HeaderResult::V1(Ok(header)) => Ok(match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(IpAddr::V4(a.source_address)),
            ppp::v1::Addresses::Tcp6(a) => Some(IpAddr::V6(a.source_address)),
            ppp::v1::Addresses::Unknown => None,
        }),
        HeaderResult::V2(Ok(header)) => Ok(match header.addresses {
            ppp::v2::Addresses::IPv4(a) => Some(IpAddr::V4(a.source_address)),
            ppp::v2::Addresses::IPv6(a) => Some(IpAddr::V6(a.source_address)),
            ppp::v2::Addresses::Unspecified | ppp::v2::Addresses::Unix(_) => None,
        }),
        HeaderResult::V1(Err(e)) => Err(malformed(e.to_string())),
        HeaderResult::V2(Err(e)) => Err(malformed(e.to_string())),
    }
}

/// Whether the first byte of a connection could start a PROXY header.
fn looks_like_proxy(first: u8) -> bool {
    first == b'P' || first == V2_SIGNATURE[0]
}

/// Reads exactly one header from `stream`; `None` when the peer closed
/// without sending a byte.
async fn read_header(stream: &mut TcpStream) -> Result<Option<Vec<u8>>, Denial> {
    let io =
        |e: std::io::Error| Denial::new(Reason::MalformedProxyHeader).with_detail(e.to_string());
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.map_err(io)? == 0 {
        return Ok(None);
    }
    if first[0] == b'P' {
        let mut line = Vec::with_capacity(V1_MAX);
        while !line.ends_with(b"\r\n") {
            if line.len() == V1_MAX {
                return Err(Denial::new(Reason::MalformedProxyHeader)
                    .with_detail("v1 line longer than 107 bytes"));
            }
            line.push(stream.read_u8().await.map_err(io)?);
        }
        return Ok(Some(line));
    }
    if first[0] != V2_SIGNATURE[0] {
        return Err(Denial::new(Reason::MissingProxyHeader));
    }
    let mut header = vec![0u8; 16];
    stream.read_exact(&mut header).await.map_err(io)?;
    if &header[..12] != V2_SIGNATURE {
        return Err(Denial::new(Reason::MalformedProxyHeader).with_detail("bad v2 signature"));
    }
    let length = usize::from(u16::from_be_bytes([header[14], header[15]]));
    if length > V2_MAX_PAYLOAD {
        return Err(Denial::new(Reason::MalformedProxyHeader)
            .with_detail(format!("v2 payload of {length} bytes")));
    }
    header.resize(16 + length, 0);
    stream.read_exact(&mut header[16..]).await.map_err(io)?;
    Ok(Some(header))
}

/// Who a new connection is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A client at this address: the socket peer, or the one a trusted
    /// balancer's PROXY header names.
    Client(IpAddr),
    /// A trusted balancer's own connection (a LOCAL or UNKNOWN header, as
    /// health checks send): the balancer at this address is the client.
    Balancer(IpAddr),
    /// A trusted balancer that connected and closed without a byte: a TCP
    /// health check, which is answered by the accept alone.
    Probe(IpAddr),
}

/// The client address of a new connection. `trusted` is `None` when the
/// PROXY protocol is off: then nothing is read and the socket peer is the client.
pub async fn client_address(
    stream: &mut TcpStream,
    peer: SocketAddr,
    trusted: Option<&[IpNet]>,
) -> Result<Arrival, Denial> {
    let Some(trusted) = trusted else {
        return Ok(Arrival::Client(peer.ip()));
    };
    if contains(trusted, peer.ip()) {
        let Some(header) = read_header(stream).await? else {
            return Ok(Arrival::Probe(peer.ip()));
        };
        return Ok(match parse_header(&header)? {
            Some(client) => Arrival::Client(client),
            None => Arrival::Balancer(peer.ip()),
        });
    }
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if looks_like_proxy(first[0]) => Err(Denial::new(Reason::UntrustedProxyHeader)),
        _ => Ok(Arrival::Client(peer.ip())),
    }
}

#[cfg(test)]
mod tests {
    use super::{IpAddr, Reason, parse_header};
    use ppp::v2::{Builder, Command, Protocol, Version};
    use proptest::prelude::{any, proptest};
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn local_and_unknown_headers_carry_no_address() {
        assert_eq!(parse_header(b"PROXY UNKNOWN\r\n"), Ok(None));
        let local = Builder::new(Version::Two | Command::Local, 0)
            .build()
            .unwrap();
        assert_eq!(parse_header(&local), Ok(None));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let err = parse_header(b"PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n").unwrap_err();
        assert_eq!(err.reason, Reason::MalformedProxyHeader);
    }

    proptest! {
        #[test]
        fn v1_headers_give_their_source(src in any::<u32>(), dst in any::<u32>(), sp in any::<u16>(), dp in any::<u16>()) {
            let line = format!("PROXY TCP4 {} {} {sp} {dp}\r\n", Ipv4Addr::from(src), Ipv4Addr::from(dst));
            assert_eq!(parse_header(line.as_bytes()), Ok(Some(IpAddr::V4(Ipv4Addr::from(src)))));
        }

        #[test]
        fn v2_headers_give_their_source(src in any::<u128>(), dst in any::<u128>(), sp in any::<u16>(), dp in any::<u16>()) {
            let addresses = ppp::v2::IPv6::new(Ipv6Addr::from(src), Ipv6Addr::from(dst), sp, dp);
            let bytes = Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses).build().unwrap();
            assert_eq!(parse_header(&bytes), Ok(Some(IpAddr::V6(Ipv6Addr::from(src)))));
        }

        #[test]
        fn arbitrary_bytes_give_an_address_or_a_malformed_denial(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Err(denial) = parse_header(&bytes) {
                assert_eq!(denial.reason, Reason::MalformedProxyHeader);
            }
        }
    }
}
