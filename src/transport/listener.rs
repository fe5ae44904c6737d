//! The MCP listener's socket: bound to `listen.address` and, with
//! `listen.interface`, to one network interface (Linux `SO_BINDTODEVICE`),
//! so that only connections arriving on that interface — the VPN tunnel —
//! are accepted, whatever the routing table says. The allowlist stays the
//! second barrier (docs/VPN.md).

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Connections the kernel queues before the gateway accepts them.
const BACKLOG: i32 = 1024;

/// A listener on `address`, on `interface` alone when one is named; errors
/// name the config key and say what to do.
pub fn bind(address: SocketAddr, interface: Option<&str>) -> anyhow::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| anyhow::anyhow!("listen.address: cannot open a socket: {e}"))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    if let Some(name) = interface {
        socket
            .bind_device(Some(name.as_bytes()))
            .map_err(|e| interface_error(name, &e))?;
    }
    socket
        .bind(&address.into())
        .map_err(|e| anyhow::anyhow!("listen.address: cannot bind {address}: {e}"))?;
    socket
        .listen(BACKLOG)
        .map_err(|e| anyhow::anyhow!("listen.address: cannot listen on {address}: {e}"))?;
    Ok(TcpListener::from_std(socket.into())?)
}

/// What a failed `SO_BINDTODEVICE` means for the operator.
fn interface_error(name: &str, error: &std::io::Error) -> anyhow::Error {
    // ENODEV and EPERM, the two an operator can act on.
    match error.raw_os_error() {
        Some(19) => anyhow::anyhow!(
            "listen.interface: there is no network interface `{name}` (is the tunnel up? start the gateway after it, or let systemd restart it)"
        ),
        Some(1) => anyhow::anyhow!(
            "listen.interface: binding to `{name}` needs the CAP_NET_RAW capability on this kernel (before Linux 5.7): {error}"
        ),
        _ => anyhow::anyhow!("listen.interface: cannot bind to `{name}`: {error}"),
    }
}
