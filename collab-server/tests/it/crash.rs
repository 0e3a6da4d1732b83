//! A crash (`kill -9`) loses nothing that was written: once the flush interval has passed and
//! the server reports the updates persisted, a restarted process serves them.

use crate::support::Client;
use crate::support::db::backends;
use crate::support::process::ServerProcess;
use std::time::Duration;

#[tokio::test]
async fn content_survives_kill_9_once_the_durability_window_has_passed() {
    for db in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let args = ["--data-dir", data.to_str().unwrap(), "--allow-anonymous"];
        let mut envs = vec![("COLLAB_FLUSH_INTERVAL", "100ms")];
        if let Some(url) = &db.url {
            envs.push(("DATABASE_URL", url));
        }

        let server = ServerProcess::start(&args, &envs).await;
        let mut a = Client::join(&server.ws_url("crash", None)).await;
        let mut expected = String::new();
        for i in 0..30u32 {
            let piece = format!("{i},");
            a.insert(expected.len() as u32, &piece).await;
            expected.push_str(&piece);
        }
        // Wait for the durability window to pass, as /metrics reports it; no clean shutdown.
        let mut persisted = 0.0;
        for _ in 0..200 {
            persisted = server.metric("weft_collab_updates_persisted_total").await;
            if persisted >= 30.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(persisted, 30.0, "{}", db.name);
        server.signal("-KILL");
        let status = server.wait().await;
        assert!(!status.success(), "killed, not exited: {status:?}");

        let server = ServerProcess::start(&args, &envs).await;
        let b = Client::join(&server.ws_url("crash", None)).await;
        assert_eq!(b.text(), expected, "{}", db.name);
        server.signal("-TERM");
        assert!(server.wait().await.success());
        db.cleanup().await;
    }
}
