//! The one-process default that `cargo run --release` starts: the `collab-server` binary with
//! nothing configured serves the REST tier at `/api` on the same port, and the tokens that tier
//! mints (with the data folder's generated key pair) open documents on the collab tier. REST
//! changes reach live editors through the in-process bus, and `--no-rest` leaves `/api` out.

use crate::support::Client;
use crate::support::process::ServerProcess;
use serde_json::{Value, json};
use std::time::Duration;

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut request = http.request(method, url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

#[tokio::test]
async fn one_process_serves_rest_and_collab_with_one_key_pair_and_one_bus() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&["--data-dir", data.to_str().unwrap()], &[]).await;
    let api = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
    let http = reqwest::Client::new();
    use reqwest::Method;

    let session = call(
        &http,
        Method::POST,
        api("/api/auth/register"),
        None,
        json!({"email": "ada@example.com", "password": "a long password", "name": "Ada"}),
    )
    .await;
    let token = session["access_token"].as_str().unwrap();
    let org = call(
        &http,
        Method::POST,
        api("/api/orgs"),
        Some(token),
        json!({"name": "Acme"}),
    )
    .await;
    let project = call(
        &http,
        Method::POST,
        api(&format!(
            "/api/orgs/{}/projects",
            org["id"].as_str().unwrap()
        )),
        Some(token),
        json!({"name": "Launch"}),
    )
    .await;
    let project = project["id"].as_str().unwrap();
    let doc = call(
        &http,
        Method::POST,
        api(&format!("/api/projects/{project}/documents")),
        Some(token),
        json!({"name": "Plan"}),
    )
    .await;
    let doc = doc["id"].as_str().unwrap();
    let collab = call(
        &http,
        Method::POST,
        api(&format!("/api/projects/{project}/documents/{doc}/token")),
        Some(token),
        json!({}),
    )
    .await;
    // The token's URL points at this very process.
    let url = collab["url"].as_str().unwrap();
    assert_eq!(url, format!("ws://127.0.0.1:{}/ws/{doc}", server.port));

    let mut editor = Client::join(&format!(
        "{url}?token={}",
        collab["token"].as_str().unwrap()
    ))
    .await;
    editor.insert(0, "typed live").await;
    let content_url = api(&format!("/api/projects/{project}/documents/{doc}/content"));
    let mut content = Value::Null;
    for _ in 0..200 {
        content = call(
            &http,
            Method::GET,
            content_url.clone(),
            Some(token),
            Value::Null,
        )
        .await;
        if content["content"] == "typed live" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(content, json!({"content": "typed live"}));

    // A REST update reaches the editor through the in-process bus.
    let update = editor.edit_local(|d| {
        use weft_protocol::yrs::{Text, Transact};
        let text = d.get_or_insert_text("content");
        text.insert(&mut d.transact_mut(), 0, "REST: ");
    });
    // Made on the editor's replica but posted over REST: a second client must get it live.
    let fresh = Client::join(&format!(
        "{url}?token={}",
        collab["token"].as_str().unwrap()
    ))
    .await;
    let response = http
        .post(api(&format!(
            "/api/projects/{project}/documents/{doc}/updates"
        )))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(update)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let mut fresh = fresh;
    fresh.until(|c| c.text() == "REST: typed live").await;

    // Deleting the document closes both connections.
    let response = http
        .delete(api(&format!("/api/projects/{project}/documents/{doc}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(fresh.close_code().await, Some(4404));
    assert_eq!(editor.close_code().await, Some(4404));

    server.signal("-TERM");
    assert!(server.wait().await.success());
}

#[tokio::test]
async fn no_rest_serves_the_collab_tier_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server =
        ServerProcess::start(&["--data-dir", data.to_str().unwrap(), "--no-rest"], &[]).await;
    let response = reqwest::get(format!("http://127.0.0.1:{}/api/healthz", server.port))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = reqwest::get(format!("http://127.0.0.1:{}/healthz", server.port))
        .await
        .unwrap();
    assert!(response.status().is_success());
    server.signal("-TERM");
    assert!(server.wait().await.success());
}

#[tokio::test]
async fn one_process_serves_presigned_uploads_and_sweeps_abandoned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(
        &["--data-dir", data.to_str().unwrap()],
        &[
            ("API_UPLOAD_URL_TTL", "2s"),
            ("API_UPLOAD_SWEEP_GRACE", "0s"),
            ("API_UPLOAD_SWEEP_INTERVAL", "100ms"),
        ],
    )
    .await;
    let api = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
    let http = reqwest::Client::new();
    use reqwest::Method;
    let session = call(
        &http,
        Method::POST,
        api("/api/auth/register"),
        None,
        json!({"email": "ada@example.com", "password": "a long password", "name": "Ada"}),
    )
    .await;
    let token = session["access_token"].as_str().unwrap();
    let org = call(
        &http,
        Method::POST,
        api("/api/orgs"),
        Some(token),
        json!({"name": "Acme"}),
    )
    .await;
    let project = call(
        &http,
        Method::POST,
        api(&format!(
            "/api/orgs/{}/projects",
            org["id"].as_str().unwrap()
        )),
        Some(token),
        json!({"name": "Launch"}),
    )
    .await;
    let files = api(&format!(
        "/api/projects/{}/files",
        project["id"].as_str().unwrap()
    ));
    let declare = |name: &'static str| {
        call(
            &http,
            Method::POST,
            files.clone(),
            Some(token),
            json!({"name": name, "content_type": "application/json", "size": 2}),
        )
    };

    // The upload URL points at this process, which stores and serves the bytes itself.
    let created = declare("a.json").await;
    let upload = &created["upload"];
    let url = upload["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{}/blobs/files/", server.port)),
        "{url}"
    );
    let mut put = http.put(url);
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    let response = put.body("{}").send().await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    let file = format!("{files}/{}", created["file"]["id"].as_str().unwrap());
    let ready = call(
        &http,
        Method::POST,
        format!("{file}/complete"),
        Some(token),
        Value::Null,
    )
    .await;
    assert_eq!(ready["status"], "ready");
    let download = call(
        &http,
        Method::GET,
        format!("{file}/download"),
        Some(token),
        Value::Null,
    )
    .await;
    let got = reqwest::get(download["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "{}");

    // An upload nobody completes is swept by the sweeper this process runs.
    let abandoned = declare("b.json").await;
    let abandoned = format!("{files}/{}", abandoned["file"]["id"].as_str().unwrap());
    let mut status = 200;
    for _ in 0..400 {
        status = http
            .get(&abandoned)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404, "the abandoned upload was never swept");

    server.signal("-TERM");
    assert!(server.wait().await.success());
}
