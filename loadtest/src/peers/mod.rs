//! Starting and stopping the servers `compare` drives with one scenario: ours (the
//! `collab-server` binary), the y-websocket reference server and Hocuspocus 4, each a child
//! process on a free loopback port.
//!
//! A comparison is only fair when every server runs as its users run it, in memory and with
//! default tuning: Weft gets a throwaway data folder (embedded SQLite, generated keys) and none of
//! the caller's `COLLAB_*`/`STORAGE_*`/database variables; the Node servers are the small scripts
//! in `loadtest/peers/`, which print `ready` once they listen. Each child is killed if its
//! [`RunningServer`] is dropped without [`RunningServer::stop`].

mod install;
mod ready;

pub use install::{default_peers_dir, default_weft_bin, ensure_npm_installed};
use ready::wait_for_ready_line;
pub(crate) use ready::{free_port, read_tail, wait_for_healthz};

use crate::wire::Protocol;
use anyhow::{Context, anyhow, bail};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};

/// How long a server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `npm ci` may take.
pub const NPM_TIMEOUT: Duration = Duration::from_secs(300);
/// Attempts at starting a server, each on a new free port (another process may take the port
/// between our probe and the child's bind).
const START_ATTEMPTS: usize = 3;

/// A server `compare` can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
pub enum ServerKind {
    /// Weft's `collab-server`
    #[value(name = "weft")]
    #[serde(rename = "weft")]
    Weft,
    /// Weft's `collab-server` at `/hocuspocus`, driven with the Hocuspocus framing
    #[value(name = "weft-hocuspocus")]
    #[serde(rename = "weft-hocuspocus")]
    WeftHocuspocus,
    /// @y/websocket-server 0.1.1, the y-websocket reference server
    #[value(name = "y-websocket")]
    #[serde(rename = "y-websocket")]
    YWebsocket,
    /// @hocuspocus/server 4
    #[value(name = "hocuspocus")]
    #[serde(rename = "hocuspocus")]
    Hocuspocus,
}

impl ServerKind {
    pub const ALL: [ServerKind; 4] = [
        ServerKind::Weft,
        ServerKind::WeftHocuspocus,
        ServerKind::YWebsocket,
        ServerKind::Hocuspocus,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Weft => "weft",
            ServerKind::WeftHocuspocus => "weft-hocuspocus",
            ServerKind::YWebsocket => "y-websocket",
            ServerKind::Hocuspocus => "hocuspocus",
        }
    }

    /// The framing its clients speak.
    pub fn protocol(self) -> Protocol {
        match self {
            ServerKind::Weft | ServerKind::YWebsocket => Protocol::YWebsocket,
            ServerKind::WeftHocuspocus | ServerKind::Hocuspocus => Protocol::Hocuspocus,
        }
    }

    /// Its WebSocket URL template on `port` (see [`crate::wire::Framing::url`]).
    fn url_template(self, port: u16) -> String {
        match self {
            ServerKind::Weft => format!("ws://127.0.0.1:{port}/ws/{{doc}}"),
            ServerKind::WeftHocuspocus => format!("ws://127.0.0.1:{port}/hocuspocus"),
            ServerKind::YWebsocket => format!("ws://127.0.0.1:{port}/{{doc}}"),
            ServerKind::Hocuspocus => format!("ws://127.0.0.1:{port}"),
        }
    }

    /// The script in the peers folder that starts it, for the Node servers.
    fn script(self) -> Option<&'static str> {
        match self {
            ServerKind::Weft | ServerKind::WeftHocuspocus => None,
            ServerKind::YWebsocket => Some("y-websocket.mjs"),
            ServerKind::Hocuspocus => Some("hocuspocus.mjs"),
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the servers come from.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// `loadtest/peers`: the Node scripts, `package.json` and (once installed) `node_modules`.
    pub peers_dir: PathBuf,
    /// The `collab-server` binary.
    pub weft_bin: PathBuf,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            peers_dir: default_peers_dir(),
            weft_bin: default_weft_bin(),
        }
    }
}

/// A server child process that accepts connections.
#[derive(Debug)]
pub struct RunningServer {
    pub kind: ServerKind,
    /// e.g. `ws://127.0.0.1:PORT/ws/{doc}`, `ws://127.0.0.1:PORT/{doc}`, `ws://127.0.0.1:PORT`.
    pub url_template: String,
    pub protocol: Protocol,
    /// The address it listens on (always loopback).
    pub addr: SocketAddr,
    /// Process id, e.g. to sample its memory and CPU.
    pub pid: u32,
    child: Child,
    /// Weft's data folder and every server's log file; removed when the server is dropped.
    dir: Option<tempfile::TempDir>,
}

impl RunningServer {
    /// Stops the server: SIGTERM, up to [`STOP_TIMEOUT`] for it to exit, then SIGKILL.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        // `kill` rather than a signal crate: this crate forbids unsafe code and has no libc.
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if matches!(sent, Ok(s) if s.success()) {
            // If it does not exit in time, it is killed below.
            if let Ok(status) = tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
                status.with_context(|| format!("waiting for {} to exit", self.kind))?;
                return Ok(());
            }
        }
        self.child
            .kill()
            .await
            .with_context(|| format!("killing {} (pid {})", self.kind, self.pid))?;
        Ok(())
    }

    /// The server's log so far (stderr), for error messages.
    pub fn log_tail(&self) -> String {
        self.dir
            .as_ref()
            .map(|d| read_tail(&d.path().join(LOG_FILE)))
            .unwrap_or_default()
    }
}

const LOG_FILE: &str = "server.log";

/// Starts `kind` on a free loopback port and waits (at most [`START_TIMEOUT`]) until it serves.
pub async fn start(kind: ServerKind, opts: &PeerOptions) -> anyhow::Result<RunningServer> {
    let mut last_err = None;
    for _ in 0..START_ATTEMPTS {
        match start_once(kind, opts).await {
            Ok(server) => return Ok(server),
            // Only an early exit may be a lost port race; a hang or a missing binary is not.
            Err(StartError::Exited(e)) => last_err = Some(e),
            Err(StartError::Fatal(e)) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("{kind} did not start")))
}

enum StartError {
    /// The process exited before it was ready.
    Exited(anyhow::Error),
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        StartError::Fatal(e)
    }
}

async fn start_once(kind: ServerKind, opts: &PeerOptions) -> Result<RunningServer, StartError> {
    let port = free_port().context("finding a free loopback port")?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let dir = tempfile::Builder::new()
        .prefix(&format!("weft-peer-{}-", kind.name()))
        .tempdir()
        .context("creating the server's temporary folder")?;
    let log_path = dir.path().join(LOG_FILE);
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;

    let mut cmd = match kind.script() {
        None => {
            if !opts.weft_bin.is_file() {
                return Err(StartError::Fatal(anyhow!(
                    "collab-server binary not found at {} (build it: cargo build -p weft-collab-server --bin collab-server)",
                    opts.weft_bin.display()
                )));
            }
            let mut cmd = Command::new(&opts.weft_bin);
            cmd.arg("--listen")
                .arg(addr.to_string())
                .arg("--allow-anonymous")
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null());
            for (name, _) in std::env::vars_os() {
                let Some(name) = name.to_str() else { continue };
                if name.starts_with("COLLAB_")
                    || name.starts_with("STORAGE_")
                    || matches!(
                        name,
                        "DATABASE_URL" | "BLOB_URL" | "WEFT_PUBLIC_URL" | "WEFT_DATA_DIR"
                    )
                {
                    cmd.env_remove(name);
                }
            }
            cmd
        }
        Some(script) => {
            let path = opts.peers_dir.join(script);
            if !path.is_file() {
                return Err(StartError::Fatal(anyhow!("{} not found", path.display())));
            }
            let mut cmd = Command::new("node");
            cmd.arg(script)
                .current_dir(&opts.peers_dir)
                .env("PORT", port.to_string())
                .env_remove("YPERSISTENCE")
                .env_remove("CALLBACK_URL")
                .stdout(Stdio::piped());
            cmd
        }
    };
    cmd.stdin(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    let what = match kind.script() {
        None => opts.weft_bin.display().to_string(),
        Some(_) => "node (is Node.js installed and on PATH?)".to_owned(),
    };
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {kind}: {what}"))?;
    let pid = child.id().ok_or_else(|| anyhow!("{kind} exited at once"))?;

    let deadline = Instant::now() + START_TIMEOUT;
    let ready = match child.stdout.take() {
        Some(stdout) => wait_for_ready_line(&mut child, stdout, deadline).await,
        None => wait_for_healthz(&mut child, addr, deadline).await,
    };
    if let Err(e) = ready {
        let tail = read_tail(&log_path);
        let _ = child.kill().await;
        let e = e.context(format!("{kind} did not become ready; its log:\n{tail}"));
        return Err(match e.downcast_ref::<Exited>() {
            Some(_) => StartError::Exited(e),
            None => StartError::Fatal(e),
        });
    }
    Ok(RunningServer {
        kind,
        url_template: kind.url_template(port),
        protocol: kind.protocol(),
        addr,
        pid,
        child,
        dir: Some(dir),
    })
}

/// The process ended before it was ready.
#[derive(Debug, thiserror::Error)]
#[error("exited before it was ready ({0})")]
struct Exited(ExitStatus);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_match_the_command_line_and_reports() {
        use clap::ValueEnum;
        for kind in ServerKind::ALL {
            let value = kind.to_possible_value().unwrap();
            assert_eq!(value.get_name(), kind.name());
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.name())
            );
        }
    }

    #[test]
    fn url_templates_fit_each_framing() {
        assert_eq!(
            ServerKind::Weft.url_template(4000),
            "ws://127.0.0.1:4000/ws/{doc}"
        );
        let f = ServerKind::WeftHocuspocus.protocol().framing();
        assert_eq!(
            f.url(&ServerKind::WeftHocuspocus.url_template(4000), "d", None),
            "ws://127.0.0.1:4000/hocuspocus"
        );
        let f = ServerKind::YWebsocket.protocol().framing();
        assert_eq!(
            f.url(&ServerKind::YWebsocket.url_template(1234), "d", None),
            "ws://127.0.0.1:1234/d"
        );
        let f = ServerKind::Hocuspocus.protocol().framing();
        assert_eq!(
            f.url(&ServerKind::Hocuspocus.url_template(1234), "d", None),
            "ws://127.0.0.1:1234"
        );
    }

    #[test]
    fn peers_dir_holds_the_scripts() {
        let dir = default_peers_dir();
        for kind in ServerKind::ALL {
            if let Some(script) = kind.script() {
                assert!(dir.join(script).is_file(), "{script}");
            }
        }
        assert!(dir.join("package.json").is_file());
        assert!(dir.join("package-lock.json").is_file());
    }
}
