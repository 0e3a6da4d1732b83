//! Opening a y-websocket connection from a chosen loopback source address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{WebSocketStream, client_async};

pub type Ws = WebSocketStream<TcpStream>;

/// The loopback source address for connection `i`: 127.0.0.1 … 127.0.0.250, so many
/// connections to one server port do not run out of ephemeral ports on one source address.
pub fn source_addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % 250) as u8))
}

/// Connects to `url` (ws://host:port/…) from `source`.
pub async fn connect(url: &str, server: SocketAddr, source: IpAddr) -> anyhow::Result<Ws> {
    if !server.ip().is_loopback() {
        anyhow::bail!("measurements only target loopback addresses, not {server}");
    }
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = client_async(url, stream).await?;
    Ok(ws)
}

/// `ws://host:port/base/doc?token=…` for one document.
pub fn doc_url(base: &str, doc: &str, token: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    match token {
        Some(t) => format!("{base}/{doc}?token={t}"),
        None => format!("{base}/{doc}"),
    }
}

/// The socket address of a `ws://host:port/...` URL.
pub fn server_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| anyhow::anyhow!("only ws:// URLs are supported"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = hostport.replace("localhost", "127.0.0.1");
    Ok(hostport.parse()?)
}
