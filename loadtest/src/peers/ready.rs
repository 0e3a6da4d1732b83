//! Knowing when a started server is ready: a free port, its `ready` line or `/healthz`, and
//! the tail of its log for error messages.

use super::*;

pub(crate) fn free_port() -> std::io::Result<u16> {
    let l = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// Waits for the Node scripts' `ready` line, then drains the rest of stdout in the background
/// so the child never blocks on a full pipe.
pub(super) async fn wait_for_ready_line(
    child: &mut Child,
    stdout: ChildStdout,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = tokio::select! {
            line = lines.next_line() => line?,
            status = child.wait() => return Err(Exited(status?).into()),
            () = tokio::time::sleep(remaining) => bail!("no `ready` within {START_TIMEOUT:?}"),
        };
        match line {
            Some(l) if l.trim() == "ready" => break,
            Some(_) => continue,
            None => {
                // stdout closed: the process is exiting.
                let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
                    .await
                    .map_err(|_| anyhow!("stdout closed before `ready`"))??;
                return Err(Exited(status).into());
            }
        }
    }
    let mut rest = lines.into_inner();
    tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut rest, &mut sink).await;
    });
    Ok(())
}

/// Waits until Weft answers `GET /healthz` with 200: listening alone is not enough, the
/// server opens its storage between binding and serving.
pub(crate) async fn wait_for_healthz(
    child: &mut Child,
    addr: SocketAddr,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(Exited(status).into());
        }
        let probe = tokio::time::timeout(Duration::from_secs(2), healthz_ok(addr)).await;
        if matches!(probe, Ok(Ok(true))) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{addr} did not answer /healthz within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn healthz_ok(addr: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
}

/// The last few KB of a log file, for error messages.
pub(crate) fn read_tail(path: &Path) -> String {
    const TAIL: usize = 4096;
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(TAIL);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
