//! A private PostgreSQL cluster that `chaos` may stop and start again.
//!
//! The machine's shared server cannot be stopped (other tests and runs use it), so the scenario
//! makes its own: `initdb` into a temporary folder (trust authentication, no fsync), `pg_ctl`
//! on a free loopback port with its socket in that folder. PostgreSQL refuses to run as root;
//! as root every command runs as the `postgres` user through `runuser`, and the folder is
//! theirs. A stop is `pg_ctl stop -m immediate` (every backend is killed at once, like a
//! crash); a start runs crash recovery on the same folder and port. Dropping it stops the
//! server and removes the folder, also when a run fails.

use anyhow::{Context, anyhow, bail};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// The user PostgreSQL runs as when we are root.
const SERVICE_USER: &str = "postgres";
/// Bound on initdb, and on each start and stop.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Ports tried at the first start.
const START_ATTEMPTS: usize = 3;

/// A running (or stopped) private cluster.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_service_user: bool,
    running: bool,
}

impl PrivatePostgres {
    /// `initdb` and start a cluster; `bin` is the folder of `initdb` and `pg_ctl` (found when
    /// `None`: `/usr/lib/postgresql/<newest>/bin`, else `PATH`).
    pub async fn start(bin: Option<&Path>) -> anyhow::Result<PrivatePostgres> {
        let bin = match bin {
            Some(dir) => dir.to_owned(),
            None => find_bin_dir()?,
        };
        let as_service_user = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        // The service user must reach the folder: under root, in /tmp (TMPDIR may be private).
        let parent = match std::path::Path::new("/tmp") {
            tmp if as_service_user && tmp.is_dir() => tmp.to_owned(),
            _ => std::env::temp_dir(),
        };
        let dir = tempfile::Builder::new()
            .prefix("weft-chaos-pg-")
            .tempdir_in(parent)
            .context("creating the cluster's folder")?;
        if as_service_user {
            run(Command::new("chown")
                .arg(format!("{SERVICE_USER}:"))
                .arg(dir.path()))
            .await
            .with_context(|| format!("handing {} to {SERVICE_USER}", dir.path().display()))?;
        }
        let mut pg = PrivatePostgres {
            bin,
            dir,
            port: 0,
            as_service_user,
            running: false,
        };
        let data = pg.data_dir();
        run(pg.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))
        .await
        .context("initdb")?;
        // Another process may take a free port before the server binds it: then another port.
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            pg.port = crate::peers::free_port().context("finding a free port")?;
            match pg.start_again().await {
                Ok(()) => return Ok(pg),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("PostgreSQL did not start")))
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command of the cluster's binaries, run as the service user when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_service_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SERVICE_USER, "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    /// Starts the server on its folder and port and waits until it accepts connections.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        let data = self.data_dir();
        let started = run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"]))
        .await;
        if let Err(e) = started {
            let tail = crate::peers::read_tail(&log);
            return Err(e.context(format!("starting PostgreSQL; its log:\n{tail}")));
        }
        self.running = true;
        Ok(())
    }

    /// Stops the server at once (`-m immediate`: backends are killed, as in a crash).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let data = self.data_dir();
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]))
        .await
        .context("stopping PostgreSQL")?;
        self.running = false;
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let path = self.bin.join("pg_ctl");
        let data = self.data_dir();
        let mut cmd = if self.as_service_user {
            let mut cmd = std::process::Command::new("runuser");
            cmd.args(["-u", SERVICE_USER, "--"]).arg(path);
            cmd
        } else {
            std::process::Command::new(path)
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a command to its end (at most [`STEP_TIMEOUT`]); fails with its output unless it
/// succeeded.
async fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = tokio::time::timeout(STEP_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("no result within {STEP_TIMEOUT:?}"))?
        .context("could not run it")?;
    if !out.status.success() {
        bail!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, or the folder of `initdb`
/// on `PATH`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| {
            anyhow!(
                "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or \
                 on PATH: install the server package or give --pg-bin-dir"
            )
        })
}
