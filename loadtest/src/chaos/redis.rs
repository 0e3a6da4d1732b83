//! A private `redis-server` that `chaos` may kill and restart: on a free loopback port, with
//! nothing saved (`--save "" --appendonly no`), so a restart comes back empty, as a crashed
//! Redis without persistence does. Whoever answers on the port must be our child (its
//! `process_id`), not another Redis that took the port first. Killed when dropped.

use anyhow::{Context, anyhow, bail};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How long Redis may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Ports tried at the first start (another process may take a free port before Redis binds).
const START_ATTEMPTS: usize = 3;

pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    pub async fn start() -> anyhow::Result<PrivateRedis> {
        let mut redis = PrivateRedis {
            port: 0,
            child: None,
            dir: tempfile::Builder::new()
                .prefix("weft-chaos-redis-")
                .tempdir()?,
        };
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            redis.port = crate::peers::free_port().context("finding a free port")?;
            match redis.spawn().await {
                Ok(()) => return Ok(redis),
                Err(e) => {
                    redis.kill().await;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("redis-server did not start")))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (is it installed?)")?;
        let pid = child.id();
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(answered) = process_id(&addr).await {
                if Some(answered) != pid {
                    bail!("another Redis (pid {answered}) serves {addr}");
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("redis-server did not listen on {addr} within {START_TIMEOUT:?}")
    }

    /// SIGKILL, like a crash: every connection drops at once.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts a new, empty Redis on the same port.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        self.spawn().await
    }
}

/// The `process_id` the Redis at `addr` reports in `INFO server`.
async fn process_id(addr: &str) -> anyhow::Result<u32> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            .await?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
            if let Some(pid) = parse_process_id(&String::from_utf8_lossy(&reply)) {
                return Ok(pid);
            }
        }
        Err(anyhow!("no process_id in INFO server"))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| anyhow!("INFO server timed out"))?
}

fn parse_process_id(info: &str) -> Option<u32> {
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_id_is_read_from_info() {
        let info = "$50\r\n# Server\r\nredis_version:7.0.15\r\nprocess_id:4242\r\ntcp_port:1\r\n";
        assert_eq!(super::parse_process_id(info), Some(4242));
        assert_eq!(super::parse_process_id("# Server\r\n"), None);
    }
}
