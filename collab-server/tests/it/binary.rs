//! The `collab-server` binary itself: `token` prints a verifiable token and nothing else, and
//! the server generates its key pair, serves, and exits cleanly on SIGTERM.

use crate::support::Client;
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_protocol::{Permission, TokenVerifier, public_pem_from_private};

const BIN: &str = env!("CARGO_BIN_EXE_collab-server");

#[tokio::test]
async fn token_prints_one_token_signed_with_the_generated_key_and_sigterm_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "token",
            "bin-doc",
            "--read-only",
            "--ttl",
            "120",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout holds the token only: {stdout:?}"
    );
    let token = stdout.trim();

    let private = std::fs::read_to_string(data.join("collab-ed25519.key.pem")).unwrap();
    let verifier =
        TokenVerifier::from_pem(public_pem_from_private(&private).unwrap().as_bytes(), 0).unwrap();
    let claims = verifier.verify(Some(token), "bin-doc").unwrap();
    assert_eq!(claims.perm, Permission::Read);
    assert!(claims.exp - claims.iat == 120);

    // The server started on the same data folder accepts that token.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}/ws/bin-doc?token={token}");
    let mut client = None;
    for _ in 0..100 {
        if tokio_tungstenite::connect_async(&url).await.is_ok() {
            client = Some(Client::join(&url).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = client.expect("server did not start");
    assert!(client.synced);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(client.close_code().await, Some(1001));
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}
