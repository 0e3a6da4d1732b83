//! Where the peer servers come from: the `loadtest/peers` folder and its npm packages, and the
//! `collab-server` binary next to this executable.

use super::*;

/// `loadtest/peers` in this source tree.
pub fn default_peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The `collab-server` binary of the same build: next to the current executable
/// (`target/<profile>/`), or one folder up when running from `target/<profile>/deps/` (test
/// binaries). Falls back to `collab-server` on PATH.
pub fn default_weft_bin() -> PathBuf {
    let name = format!("collab-server{}", std::env::consts::EXE_SUFFIX);
    let Ok(exe) = std::env::current_exe() else {
        return PathBuf::from(name);
    };
    let Some(dir) = exe.parent() else {
        return PathBuf::from(name);
    };
    let beside = dir.join(&name);
    if beside.is_file() {
        return beside;
    }
    if dir.file_name().is_some_and(|n| n == "deps")
        && let Some(profile_dir) = dir.parent()
    {
        return profile_dir.join(&name);
    }
    beside
}

/// Installs the peers' npm packages (`npm ci --no-audit --no-fund`, at most [`NPM_TIMEOUT`]) when
/// `node_modules` lacks them. Serialized within the process: concurrent `npm ci` runs in one
/// folder would delete each other's files.
pub async fn ensure_npm_installed(peers_dir: &Path) -> anyhow::Result<()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = LOCK.lock().await;
    let installed = [
        "@hocuspocus/server/package.json",
        "@y/websocket-server/package.json",
        "yjs/package.json",
    ]
    .iter()
    .all(|p| peers_dir.join("node_modules").join(p).is_file());
    if installed {
        return Ok(());
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(peers_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(NPM_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            anyhow!(
                "npm ci in {} took over {NPM_TIMEOUT:?}",
                peers_dir.display()
            )
        })?
        .with_context(|| "running npm (is Node.js/npm installed and on PATH?)")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let start = stderr.len().saturating_sub(4096);
        let tail = stderr.get(start..).unwrap_or(&stderr);
        bail!(
            "npm ci in {} failed ({}):\n{tail}",
            peers_dir.display(),
            out.status
        );
    }
    Ok(())
}
