//! The one-process default: the access token its REST tier signs at registration opens the chat
//! socket on the same port (both read the data folder's `api-jwt-secret`).

use super::support::{ChatClient, Enc};
use crate::support::process::ServerProcess;
use serde_json::json;
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::{Accounts, Uuid};
use weft_storage::sql::{Database, default_sqlite_url};

#[tokio::test]
async fn the_rest_tiers_access_token_opens_the_chat_socket() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&["--data-dir", data.to_str().unwrap()], &[]).await;
    let session: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/api/auth/register",
            server.port
        ))
        .json(&json!({"email": "ada@example.com", "password": "a long password", "name": "Ada"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().unwrap();
    let user = Uuid::parse_str(session["user"]["id"].as_str().unwrap()).unwrap();

    // The project and channel are made in the same database, directly.
    let accounts = Accounts::new(Database::connect(&default_sqlite_url(&data)).await.unwrap());
    let org = accounts.create_org("Acme", user).await.unwrap();
    let project = accounts.create_project(org.id, "p").await.unwrap();
    let channel = accounts
        .create_channel(project.id, "general", "", user)
        .await
        .unwrap();

    let url = format!("ws://127.0.0.1:{}/chat?token={token}", server.port);
    let mut ada = ChatClient::connect_url(&url, Enc::Json).await;
    assert_eq!(ada.user, user.to_string());
    let (subscribed, _) = ada.subscribe(channel.id, None).await;
    assert!(
        matches!(&subscribed, ServerFrame::Subscribed { online, .. } if *online == [user.to_string()]),
        "{subscribed:?}"
    );
    ada.say(channel.id, "one", "from the one process").await;
    ada.receive("from the one process").await;
    ada.close().await;
    server.signal("-TERM");
    assert!(server.wait().await.success());
}
