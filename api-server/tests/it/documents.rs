//! Documents and their collab tokens: a token minted here opens the document on a real
//! collab-server sharing the data folder's key pair, with write access for editors and read
//! access for viewers, and opens no other document.

use crate::server::{Backend, TestServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_protocol::{Message, TokenVerifier, decode_frame};

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// Opens `url` and returns the first binary frame's messages, or the close code.
async fn open(url: &str) -> Result<Vec<Message>, u16> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let step = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Ws::Binary(b))) => {
                    let messages = decode_frame(&b).unwrap();
                    if messages
                        .iter()
                        .any(|m| matches!(m, Message::PermissionDenied(_)))
                    {
                        continue;
                    }
                    return Ok(messages);
                }
                Some(Ok(Ws::Close(frame))) => {
                    return Err(frame.map(|f| u16::from(f.code)).unwrap_or(0));
                }
                Some(Ok(_)) => continue,
                _ => return Err(0),
            }
        }
    })
    .await
    .unwrap();
    let _ = ws.close(None).await;
    step
}

#[tokio::test]
async fn a_collab_token_opens_its_document_on_collab_server() {
    let api = TestServer::start_with(Backend::Sqlite, |_| {}).await;
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for name in ["ed", "vi"] {
        let response = http
            .post(api.url("/api/auth/register"))
            .json(&json!({"email": format!("{name}@example.com"), "password": "a long password", "name": name}))
            .send()
            .await
            .unwrap();
        let session: Value = response.json().await.unwrap();
        sessions.push(session["access_token"].as_str().unwrap().to_owned());
    }
    let (editor, viewer) = (&sessions[0], &sessions[1]);
    let org = post(&http, api.url("/api/orgs"), editor, json!({"name": "Acme"})).await;
    let org = org["id"].as_str().unwrap();
    let project = post(
        &http,
        api.url(&format!("/api/orgs/{org}/projects")),
        editor,
        json!({"name": "P"}),
    )
    .await;
    let project = project["id"].as_str().unwrap();
    let invitation = post(
        &http,
        api.url(&format!("/api/orgs/{org}/invitations")),
        editor,
        json!({"email": "vi@example.com", "role": "viewer"}),
    )
    .await;
    post(
        &http,
        api.url(&format!(
            "/api/invitations/{}/accept",
            invitation["id"].as_str().unwrap()
        )),
        viewer,
        json!({}),
    )
    .await;
    let docs = api.url(&format!("/api/projects/{project}/documents"));
    let a = post(&http, docs.clone(), editor, json!({"name": "A"})).await;
    let b = post(&http, docs.clone(), editor, json!({"name": "B"})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    // collab-server on the same data folder verifies with the key pair api-server minted with.
    let collab_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collab_addr = collab_listener.local_addr().unwrap();
    let mut config = weft_collab_server::Config::with_data_dir(api.data_dir());
    config.database_url = Some(format!("sqlite://{}/collab.db", api.data_dir().display()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let collab = tokio::spawn(weft_collab_server::run(collab_listener, config, async {
        let _ = stopped.await;
    }));

    let write = post(&http, format!("{docs}/{a}/token"), editor, json!({})).await;
    assert_eq!(write["permission"], "write");
    assert_eq!(write["doc"], a);
    assert!(
        write["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/ws/{a}"))
    );
    let read = post(&http, format!("{docs}/{a}/token"), viewer, json!({})).await;
    assert_eq!(read["permission"], "read");
    let pem = std::fs::read_to_string(api.data_dir().join("collab-ed25519.key.pem")).unwrap();
    let verifier = TokenVerifier::from_pem(
        weft_protocol::public_pem_from_private(&pem)
            .unwrap()
            .as_bytes(),
        0,
    )
    .unwrap();
    let claims = verifier.verify(write["token"].as_str(), a).unwrap();
    assert!(claims.perm.can_write());
    assert!(
        !verifier
            .verify(read["token"].as_str(), a)
            .unwrap()
            .perm
            .can_write()
    );

    let ws = |doc: &str, token: &Value| {
        format!(
            "ws://{collab_addr}/ws/{doc}?token={}",
            token["token"].as_str().unwrap()
        )
    };
    for token in [&write, &read] {
        let first = open(&ws(a, token))
            .await
            .expect("the token opens its document");
        assert!(matches!(first[0], Message::SyncStep1(_)), "{first:?}");
    }
    // A token names one document.
    assert_eq!(open(&ws(b, &write)).await.unwrap_err(), 4403);

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), collab).await;
    api.stop().await;
}
