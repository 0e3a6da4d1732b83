//! Connection-level limits as attacks: slowloris on the upgrade, silent and oversized
//! requests, a flood of idle unauthenticated sockets against the connection cap, the
//! per-address and per-user WebSocket caps, and forwarded client addresses from trusted and
//! untrusted peers.

mod caps;
mod flood;
mod slowloris;

use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// How a raw connection ended.
#[derive(Debug)]
pub enum Ending {
    /// The server closed it; these bytes arrived first.
    Closed(Vec<u8>),
    /// Still open when the wait ended; these bytes arrived meanwhile.
    Open(Vec<u8>),
}

/// Reads until the server closes the connection (EOF or reset) or `within` passes.
pub async fn read_until_closed<R: AsyncRead + Unpin>(stream: &mut R, within: Duration) -> Ending {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    match read {
        Ok(()) => Ending::Closed(got),
        Err(_) => Ending::Open(got),
    }
}

/// 127.0.0.`last`, a loopback source address of its own.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A TCP connection to `server` from the loopback address `source`.
pub async fn connect_from(server: std::net::SocketAddr, source: IpAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    socket.connect(server).await.unwrap()
}
