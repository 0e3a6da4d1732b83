//! The real npm `@hocuspocus/provider` 4 (with yjs 13, in Node) against `/hocuspocus`, beside
//! the npm y-websocket provider on `/ws`: `tests/interop/hocuspocus.mjs` says what it checks.

use super::hocus_url;
use crate::interop::{ensure_node_modules, interop_dir};
use crate::support::TestServer;
use std::time::Duration;
use weft_protocol::Permission;

#[tokio::test]
async fn npm_hocuspocus_providers_work_beside_y_websocket_providers() {
    tokio::task::spawn_blocking(ensure_node_modules)
        .await
        .unwrap();
    let server = TestServer::start().await;
    let (doc_a, doc_b) = ("hp-interop-a", "hp-interop-b");
    let tokens = serde_json::json!({
        "a1": server.token(doc_a, Permission::Write),
        "a2": server.token(doc_a, Permission::Write),
        "b1": server.token(doc_b, Permission::Write),
        "aYws": server.token(doc_a, Permission::Write),
        "bRead": server.token(doc_b, Permission::Read),
        "wrong": server.token(doc_b, Permission::Write),
    });
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("hocuspocus.mjs")
        .current_dir(interop_dir())
        .env("HP_URL", hocus_url(&server))
        .env("YWS_URL", format!("ws://{}/ws", server.addr))
        .env("DOC_A", doc_a)
        .env("DOC_B", doc_b)
        .env("TOKENS", tokens.to_string())
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
        "hocuspocus interop failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(
        summary["scopes"],
        serde_json::json!(["read-write", "readonly"])
    );
    assert_eq!(summary["readerUnacknowledged"], true);
    assert!(
        summary["failedReason"]
            .as_str()
            .unwrap()
            .contains("another document"),
        "{summary}"
    );
    let text = summary["text"].as_str().unwrap();
    for mark in ["[a1]", "[a2]", "[yws]", "[after]"] {
        assert!(text.contains(mark), "{mark} missing from {text}");
    }
    assert!(!text.contains("[b1]") && !text.contains("[reader]"));
}
