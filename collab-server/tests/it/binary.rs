//! The `collab-server` binary itself: `token` prints a verifiable token and nothing else, and
//! the server generates its key pair, serves, and exits cleanly on SIGTERM.

use crate::support::Client;
use crate::support::process::{BIN, ServerProcess};
use std::process::Command;
use weft_protocol::{Permission, TokenVerifier, public_pem_from_private};

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
    let server = ServerProcess::start(&["--data-dir", data.to_str().unwrap()], &[]).await;
    let mut client = Client::join(&server.ws_url("bin-doc", Some(token))).await;
    assert!(client.synced);

    server.signal("-TERM");
    assert_eq!(client.close_code().await, Some(1001));
    let exit = server.wait().await;
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}
