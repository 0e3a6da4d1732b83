//! The `collab-server` binary the tests start as a child process, built when missing or stale.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::OnceCell;
use weft_loadtest::peers;

const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);

/// The `collab-server` binary of this build (`target/<profile>/collab-server`). `cargo test
/// --workspace` builds it for collab-server's own tests; when it is missing or older than the
/// sources it is built from (e.g. `cargo test -p weft-loadtest` after editing collab-server), it
/// is built here with the same cargo, profile and target folder. Not rebuilt when fresh: a
/// `-p weft-collab-server` build resolves features differently from a workspace build and would
/// recompile much of the dependency tree for nothing.
pub async fn weft_bin() -> PathBuf {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let bin = peers::default_weft_bin();
            if is_fresh(&bin) {
                return bin;
            }
            match build_collab_server(&bin).await {
                Ok(()) => {}
                Err(e) if bin.is_file() => {
                    eprintln!("using the existing, possibly stale {}: {e}", bin.display());
                }
                Err(e) => panic!("no collab-server binary at {}: {e}", bin.display()),
            }
            assert!(bin.is_file(), "{} missing after the build", bin.display());
            bin
        })
        .await
        .clone()
}

/// Whether `bin` exists and is newer than every source of the crates it is built from.
fn is_fresh(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut visit = vec![root.join("Cargo.lock"), root.join("Cargo.toml")];
    for krate in ["protocol", "storage", "collab-server"] {
        visit.push(root.join(krate).join("Cargo.toml"));
        visit.push(root.join(krate).join("src"));
        visit.push(root.join(krate).join("migrations"));
    }
    while let Some(path) = visit.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                visit.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
    }
    built >= newest
}

async fn build_collab_server(bin: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").ok_or("not run by cargo (CARGO unset)")?;
    let profile_dir = bin.parent().ok_or("binary path has no folder")?;
    let target_dir = profile_dir.parent().ok_or("no target folder")?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("no profile folder")?;
    let mut cmd = tokio::process::Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "weft-collab-server",
        "--bin",
        "collab-server",
    ])
    .arg("--target-dir")
    .arg(target_dir)
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .kill_on_drop(true);
    // Cargo sets these for this test process only; inherited, they would look like a changed
    // environment to build scripts that watch them (ring's watches CARGO_MANIFEST_DIR) and
    // rebuild half the dependency tree on every run, for this build and the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            )
        {
            cmd.env_remove(name);
        }
    }
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = tokio::time::timeout(BUILD_TIMEOUT, cmd.status())
        .await
        .map_err(|_| "cargo build timed out".to_owned())?
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build failed: {status}"))
    }
}
