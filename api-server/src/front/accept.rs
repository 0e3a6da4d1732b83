//! The accept loop and one task per connection (hyper's HTTP/1 with upgrades).
//!
//! hyper's header timer starts when a connection starts waiting for a request head (at accept,
//! and again after every response on a kept-alive connection) and is not reset by bytes that
//! arrive: a client that has not sent a whole head by then is dropped. One that sent nothing is
//! closed quietly; one that sent part of a head gets its connection closed (hyper writes no 408).
//! A head over the byte budget is answered `431 Request Header Fields Too Large` and closed.
//! Shutdown is `axum::serve`'s graceful shutdown: stop accepting, let every connection finish
//! the request it is in (idle ones close at once), wait for them; upgraded connections are no
//! longer HTTP and are the application's to close.

use super::FrontConfig;
use super::client_ip::TrustedProxies;
use super::counted::Counted;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;
use tracing::Instrument;

/// What the front door counts; the servers export it (collab-server at `/metrics`).
#[derive(Debug, Default)]
pub struct FrontStats {
    pub(super) open: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl FrontStats {
    /// Connections open now (HTTP, and WebSockets upgraded from it).
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections accepted since start, refused ones included.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections refused because the connection cap was reached.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// The smallest header budget accepted: a request line and a few headers.
const MIN_HEADER_BYTES: usize = 1024;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets open
/// requests finish and returns once every HTTP connection is closed (like `axum::serve` with
/// graceful shutdown). Requests carry `ConnectInfo<SocketAddr>` (the TCP peer) and
/// [`super::ClientIp`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &FrontConfig,
    stats: Arc<FrontStats>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let proxies = Arc::new(config.proxies());
    // No limit is a deadline no client reaches (tokio's timer saturates far-future instants).
    let body_timeout = match config.body_timeout {
        Duration::ZERO => Duration::from_secs(365 * 24 * 3600),
        timeout => timeout,
    };
    let slots = (config.max_connections > 0).then(|| {
        Arc::new(Semaphore::new(
            config.max_connections.min(Semaphore::MAX_PERMITS),
        ))
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Most likely out of file descriptors: wait for some to close (as
                        // axum::serve and hyper 0.14 do) instead of spinning.
                        tracing::error!(error = %e, "accept failed");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let slot = match &slots {
            None => None,
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    refuse(tcp, peer, &stats);
                    continue;
                }
            },
        };
        // Small frames must leave at once: with Nagle's algorithm a relayed update can wait
        // ~40 ms for the delayed ACK of the previous one.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let io = TokioIo::new(Counted::new(tcp, slot, stats.clone()));
        let service = FrontService {
            app: app.clone(),
            peer,
            proxies: proxies.clone(),
            body_timeout,
        };
        let conn = http.serve_connection(io, service).with_upgrades();
        let stop = stop.clone();
        let span = tracing::debug_span!("http", %peer);
        connections.spawn(
            async move {
                let mut conn = pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    () = stop.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            .instrument(span),
        );
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Errors of one connection that accept reports; the next accept is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What a connection over the cap is sent before it is closed (best effort: one non-blocking
/// write into an empty send buffer; a client whose request is already in our receive buffer
/// may see a reset instead).
static REFUSAL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many connections; retry later"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Closes a connection over the cap at once, without a task.
fn refuse(tcp: TcpStream, peer: SocketAddr, stats: &FrontStats) {
    let refused = stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
    if refused.is_power_of_two() {
        tracing::warn!(%peer, refused, "connection cap reached: refusing connections");
    }
    let _ = tcp.try_write(&REFUSAL);
}

/// The router, with the connection's peer and client address attached to every request.
#[derive(Clone)]
struct FrontService {
    app: Router,
    peer: SocketAddr,
    proxies: Arc<TrustedProxies>,
    /// The longest wait for a request body's next bytes ([`TimeoutBody`]).
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for FrontService {
    type Response = Response;
    type Error = Infallible;
    type Future = tower::util::Oneshot<Router, Request<TimeoutBody<Incoming>>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let client = self.proxies.client_ip(self.peer, req.headers());
        req.extensions_mut().insert(ConnectInfo(self.peer));
        req.extensions_mut().insert(client);
        let timeout = self.body_timeout;
        self.app
            .clone()
            .oneshot(req.map(|body| TimeoutBody::new(timeout, body)))
    }
}
