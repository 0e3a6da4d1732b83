//! The S3 blob store against a real S3 server (s3s-fs in CI): round trips, and presigned URLs
//! used with a plain HTTP client, including the uploads S3 must refuse.

use std::time::Duration;

use bytes::Bytes;
use weft_storage::blob::{BlobKey, BlobOpenOptions, BlobStore, PresignedRequest, open_blob_store};

use crate::support::s3::{TestS3, fresh_bucket};

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).unwrap()
}

/// Sends `req` with `body`, adding `extra` headers on top of (or instead of) the signed ones.
async fn send(req: &PresignedRequest, body: Vec<u8>, extra: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
    let mut builder = client.request(method, &req.url);
    for (name, value) in &req.headers {
        if extra.iter().all(|(n, _)| !n.eq_ignore_ascii_case(name)) {
            builder = builder.header(name, value);
        }
    }
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(body).send().await.unwrap()
}

#[tokio::test]
async fn put_get_head_delete_round_trip() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("docs/abc/snapshot-1.bin");
    assert!(store.get(&k).await.unwrap().is_none());
    assert!(store.head(&k).await.unwrap().is_none());

    store
        .put(&k, Bytes::from_static(b"hello s3"), "application/x-yjs")
        .await
        .unwrap();
    let blob = store.get(&k).await.unwrap().unwrap();
    assert_eq!(&blob.bytes[..], b"hello s3");
    assert_eq!(blob.content_type.as_deref(), Some("application/x-yjs"));
    let meta = store.head(&k).await.unwrap().unwrap();
    assert_eq!(meta.size, 8);
    assert_eq!(meta.content_type.as_deref(), Some("application/x-yjs"));

    store
        .put(&k, Bytes::from_static(b"{}"), "application/json")
        .await
        .unwrap();
    let blob = store.get(&k).await.unwrap().unwrap();
    assert_eq!(&blob.bytes[..], b"{}");
    assert_eq!(blob.content_type.as_deref(), Some("application/json"));

    store.delete(&k).await.unwrap();
    assert!(store.get(&k).await.unwrap().is_none());
    assert!(store.head(&k).await.unwrap().is_none());
    store.delete(&k).await.unwrap();
    store.delete(&key("never/was")).await.unwrap();
}

#[tokio::test]
async fn blob_url_opens_the_s3_store() {
    let Some(TestS3 { store, endpoint }) = fresh_bucket().await else {
        return;
    };
    let opts = BlobOpenOptions {
        data_dir: std::env::temp_dir(),
        public_base_url: "http://unused".to_owned(),
        signing_key: vec![7; 32],
    };
    let url = format!(
        "s3://{}?endpoint={endpoint}&region=us-east-1",
        store.bucket()
    );
    let opened = open_blob_store(Some(&url), &opts).unwrap();
    assert!(opened.local().is_none());
    opened
        .store()
        .put(&key("via/url"), Bytes::from_static(b"x"), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.head(&key("via/url")).await.unwrap().unwrap().size, 1);
}

#[tokio::test]
async fn presigned_put_with_the_signed_headers_uploads() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("up/image.png");
    let body = b"\x89PNG not really".to_vec();
    let req = store
        .presign_put(&k, "image/png", body.len() as u64, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(req.method, "PUT");
    assert_eq!(
        req.headers.keys().collect::<Vec<_>>(),
        ["content-length", "content-type"]
    );
    assert_eq!(req.headers["content-type"], "image/png");
    assert_eq!(req.headers["content-length"], body.len().to_string());
    let signed = req
        .url
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap();
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "{signed}"
    );

    let res = send(&req, body.clone(), &[]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let blob = store.get(&k).await.unwrap().unwrap();
    assert_eq!(blob.bytes.to_vec(), body);
    assert_eq!(blob.content_type.as_deref(), Some("image/png"));
}

#[tokio::test]
async fn presigned_put_refuses_another_length_or_type() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("up/strict.bin");
    let req = store
        .presign_put(&k, "application/octet-stream", 10, Duration::from_secs(60))
        .await
        .unwrap();

    // More bytes than signed (reqwest sets Content-Length from the body).
    let res = send(&req, vec![1; 11], &[("content-length", "11")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // Fewer bytes.
    let res = send(&req, vec![1; 9], &[("content-length", "9")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // Much more: a size limit must not be escapable.
    let res = send(&req, vec![1; 100_000], &[("content-length", "100000")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // Another content type.
    let res = send(&req, vec![1; 10], &[("content-type", "text/html")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // No content type at all.
    let mut untyped = req.clone();
    untyped.headers.remove("content-type");
    let res = send(&untyped, vec![1; 10], &[]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(store.head(&k).await.unwrap().is_none());

    // The exact request still works afterwards.
    let res = send(&req, vec![1; 10], &[]).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(store.head(&k).await.unwrap().unwrap().size, 10);
}

#[tokio::test]
async fn presigned_get_downloads() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("down/file.txt");
    store
        .put(&k, Bytes::from_static(b"download me"), "text/plain")
        .await
        .unwrap();
    let req = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(req.method, "GET");
    let res = send(&req, Vec::new(), &[]).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(&res.bytes().await.unwrap()[..], b"download me");
    // Unsigned access is refused.
    let plain = req.url.split('?').next().unwrap();
    let res = reqwest::get(plain).await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn expired_presigned_urls_are_refused() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("late/file");
    store
        .put(&k, Bytes::from_static(b"old"), "text/plain")
        .await
        .unwrap();
    let get = store.presign_get(&k, Duration::from_secs(1)).await.unwrap();
    let put = store
        .presign_put(&k, "text/plain", 3, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = send(&get, Vec::new(), &[]).await;
    assert_eq!(res.status(), 403);
    let res = send(&put, b"new".to_vec(), &[]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(&store.get(&k).await.unwrap().unwrap().bytes[..], b"old");
}

#[tokio::test]
async fn tampered_presigned_urls_are_refused() {
    let Some(TestS3 { store, .. }) = fresh_bucket().await else {
        return;
    };
    let k = key("secret/a");
    store
        .put(&k, Bytes::from_static(b"a"), "text/plain")
        .await
        .unwrap();
    store
        .put(&key("secret/b"), Bytes::from_static(b"b"), "text/plain")
        .await
        .unwrap();

    let get = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    let mut other_key = get.clone();
    other_key.url = get.url.replacen("/secret/a?", "/secret/b?", 1);
    assert_ne!(other_key.url, get.url);
    assert_eq!(send(&other_key, Vec::new(), &[]).await.status(), 403);

    let mut bad_sig = get.clone();
    bad_sig.url = flip_signature(&get.url);
    assert_eq!(send(&bad_sig, Vec::new(), &[]).await.status(), 403);

    let mut longer = get.clone();
    longer.url = get.url.replace("X-Amz-Expires=60", "X-Amz-Expires=600");
    assert_ne!(longer.url, get.url);
    assert_eq!(send(&longer, Vec::new(), &[]).await.status(), 403);

    let put = store
        .presign_put(&k, "text/plain", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let mut moved = put.clone();
    moved.url = put.url.replacen("/secret/a?", "/secret/c?", 1);
    assert_eq!(send(&moved, b"x".to_vec(), &[]).await.status(), 403);
    let mut bad_sig = put.clone();
    bad_sig.url = flip_signature(&put.url);
    assert_eq!(send(&bad_sig, b"x".to_vec(), &[]).await.status(), 403);
    assert!(store.head(&key("secret/c")).await.unwrap().is_none());
    assert_eq!(&store.get(&k).await.unwrap().unwrap().bytes[..], b"a");

    // The untampered URLs work.
    assert!(send(&get, Vec::new(), &[]).await.status().is_success());
    assert!(send(&put, b"x".to_vec(), &[]).await.status().is_success());
}

/// Changes the last hex digit of `X-Amz-Signature`.
fn flip_signature(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let end = url[at..].find('&').map_or(url.len(), |i| at + i);
    let mut sig = url[at..end].to_owned();
    let last = sig.pop().unwrap();
    sig.push(if last == '0' { '1' } else { '0' });
    format!("{}{sig}{}", &url[..at], &url[end..])
}
