//! The real npm y-websocket v3 client (with yjs 13, in Node) against the server.
//!
//! `tests/interop/interop.mjs` runs three concurrent editors, checks convergence and presence,
//! a late joiner, and presence removal when a socket dies. npm packages come from the committed
//! lockfile; they are installed here with `npm ci` when missing.

use crate::support::TestServer;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use weft_protocol::Permission;

pub(crate) fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

pub(crate) fn ensure_node_modules() {
    let dir = interop_dir();
    if dir.join("node_modules/y-websocket").is_dir()
        && dir.join("node_modules/@hocuspocus/provider").is_dir()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("npm must be installed to run the interop test");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

#[tokio::test]
async fn npm_y_websocket_clients_sync_through_the_server() {
    tokio::task::spawn_blocking(ensure_node_modules)
        .await
        .unwrap();
    let server = TestServer::start().await;
    let doc = "interop-doc";
    let tokens: Vec<String> = (0..4)
        .map(|_| server.token(doc, Permission::Write))
        .collect();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("interop.mjs")
        .current_dir(interop_dir())
        .env("WS_URL", format!("ws://{}/ws", server.addr))
        .env("DOC", doc)
        .env("TOKENS", serde_json::to_string(&tokens).unwrap())
        .env("TIMEOUT_MS", "30000")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "interop failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["lateJoinerSynced"], true);
    assert_eq!(summary["serverRemovalOnSocketLoss"], true);
    assert!(summary["textLength"].as_u64().unwrap() > 0);
    // The server saw three editors plus the late joiner.
    assert!(server.metric("weft_collab_connections_opened_total").await >= 4.0);
}
