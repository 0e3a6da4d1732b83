//! The local blob store's `/blobs/{*key}` routes on a running server: URLs presigned with the
//! server's own signing key (read from its data folder, as the one-process default shares it)
//! upload and download; unsigned, forged, mismatched and expired requests are refused.

use crate::support::TestServer;
use bytes::Bytes;
use std::time::Duration;
use weft_storage::blob::{BlobKey, BlobOpenOptions, BlobStore, open_blob_store};

/// The server's local blob store, opened from its data folder with its signing key.
async fn servers_store(server: &TestServer) -> std::sync::Arc<dyn BlobStore> {
    // Answering means storage is open, so the signing key exists.
    reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap();
    let data = &server.config.keys.data_dir;
    let signing_key = std::fs::read(data.join("blob-signing.key")).unwrap();
    let opts = BlobOpenOptions {
        data_dir: data.clone(),
        public_base_url: format!("http://{}", server.addr),
        signing_key,
    };
    open_blob_store(None, &opts).unwrap().store()
}

#[tokio::test]
async fn presigned_urls_upload_and_download_through_the_server() {
    let server = TestServer::start().await;
    let store = servers_store(&server).await;
    let http = reqwest::Client::new();
    let key = BlobKey::new("files/report.txt").unwrap();
    let body = "quarterly numbers";

    let put = store
        .presign_put(
            &key,
            "text/plain",
            body.len() as u64,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    // The wrong type or length is refused and stores nothing.
    let res = http
        .put(&put.url)
        .header("content-type", "text/html")
        .body(body)
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = http
        .put(&put.url)
        .header("content-type", "text/plain")
        .body(format!("{body} and more"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(store.head(&key).await.unwrap().is_none());

    let mut req = http.put(&put.url).body(body);
    for (name, value) in &put.headers {
        req = req.header(name, value);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let meta = store.head(&key).await.unwrap().unwrap();
    assert_eq!(meta.size, body.len() as u64);

    let get = store
        .presign_get(&key, Duration::from_secs(60))
        .await
        .unwrap();
    let res = http.get(&get.url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(res.bytes().await.unwrap(), Bytes::from(body));

    // A GET URL cannot be used to upload, and an expired URL is refused.
    let res = http.put(&get.url).body("x").send().await.unwrap();
    problem(res, 403).await;
    let short = store
        .presign_get(&key, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = http.get(&short.url).send().await.unwrap();
    problem(res, 403).await;
    server.stop().await;
}

async fn problem(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    body["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn blobs_need_a_valid_signature() {
    let server = TestServer::start_with(|c| {
        c.blob_url = None;
        c.public_url = None;
    })
    .await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();

    let res = http.get(format!("{base}/blobs/a/b")).send().await.unwrap();
    problem(res, 403).await;
    let forged = "method=GET&expires=99999999999&sig=00";
    let res = http
        .get(format!("{base}/blobs/a/b?{forged}"))
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = http
        .put(format!(
            "{base}/blobs/a/b?method=PUT&expires=99999999999&ct=text%2Fplain&len=1&sig=00"
        ))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    problem(res, 403).await;
    let res = http
        .get(format!("{base}/blobs/a%5Cb?{forged}"))
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    server.stop().await;
}
