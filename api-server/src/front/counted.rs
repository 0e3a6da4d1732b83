//! A TCP stream that holds its slot under the connection cap for as long as it lives.
//!
//! The slot travels with the socket, not with hyper's connection task: a WebSocket upgrade
//! hands the socket to the upgraded connection, and the slot (and the open-connections count)
//! is released only when that socket is finally dropped.

use super::accept::FrontStats;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

#[derive(Debug)]
pub(super) struct Counted {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
    stats: Arc<FrontStats>,
}

impl Counted {
    pub(super) fn new(
        stream: TcpStream,
        slot: Option<OwnedSemaphorePermit>,
        stats: Arc<FrontStats>,
    ) -> Counted {
        stats.open.fetch_add(1, Ordering::Relaxed);
        Counted {
            stream,
            _slot: slot,
            stats,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
