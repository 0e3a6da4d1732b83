//! Serving the local blob store's presigned URLs: `GET` and `PUT /blobs/{*key}`.
//!
//! With S3, clients upload and download straight from the bucket through presigned URLs; with
//! the embedded local store, Weft itself plays that part. A request must carry a URL signed by
//! the store (see `weft_storage::blob::local`): the key is validated (400), the signature,
//! method and expiry are checked before anything else (403, so an unsigned request learns
//! nothing about which blobs exist), and an upload must have exactly the signed `Content-Type`
//! and length. The body is read chunk by chunk and refused (413) as soon as it passes the signed
//! length, so an oversized upload is never buffered. Downloads are served with `nosniff` and a
//! sandboxing CSP, since user content is served from the server's own origin.
//!
//! Both servers mount these routes when their store is local: api-server's [`crate::run`] and
//! collab-server (alone, or as the one-process default that also serves `/api`), so it lives
//! here as a public router that collab-server merges rather than in either server's internals.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::BytesMut;
use futures_util::StreamExt;
use weft_storage::blob::local::{LocalBlobStore, SignedGrant, now_unix};
use weft_storage::blob::{BlobKey, BlobStore};

use crate::Problem;

/// The content type of a blob stored without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Served with every blob: no script runs in it even when it is HTML opened directly.
const BLOB_CSP: &str = "default-src 'none'; sandbox";

/// The routes that serve `store`'s signed URLs.
pub fn blob_routes(store: Arc<LocalBlobStore>) -> Router {
    Router::new()
        .route("/blobs/{*key}", get(get_blob).put(put_blob))
        .with_state(store)
}

async fn get_blob(
    State(store): State<Arc<LocalBlobStore>>,
    key: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let key = parse_key(key)?;
    store
        .verify("GET", &key, query.as_deref().unwrap_or(""), now_unix())
        .map_err(|err| problem(StatusCode::FORBIDDEN, err.to_string()))?;
    let blob = store
        .get(&key)
        .await
        .map_err(|err| storage_failure(&err))?
        .ok_or_else(|| problem(StatusCode::NOT_FOUND, format!("no blob named {key}")))?;
    let content_type = blob
        .content_type
        .as_deref()
        .and_then(|ct| HeaderValue::from_str(ct).ok())
        .unwrap_or(HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(BLOB_CSP),
            ),
        ],
        blob.bytes,
    )
        .into_response())
}

async fn put_blob(
    State(store): State<Arc<LocalBlobStore>>,
    key: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, Problem> {
    let key = parse_key(key)?;
    let grant = store.verify("PUT", &key, query.as_deref().unwrap_or(""), now_unix());
    let (content_type, length) = match grant {
        Ok(SignedGrant::Put {
            content_type,
            content_length,
        }) => (content_type, content_length),
        Ok(SignedGrant::Get) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "the URL was not signed for uploads",
            ));
        }
        Err(err) => return Err(problem(StatusCode::FORBIDDEN, err.to_string())),
    };
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if sent_type != Some(content_type.as_str()) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            format!("the Content-Type must be {content_type:?}, as signed"),
        ));
    }
    if let Some(declared) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && declared != length
    {
        return Err(wrong_length(declared, length));
    }
    let bytes = read_at_most(body, length).await?;
    store
        .put(&key, bytes.freeze(), &content_type)
        .await
        .map_err(|err| storage_failure(&err))?;
    Ok(StatusCode::OK)
}

/// The body, which must be exactly `length` bytes; reading stops as soon as it is longer.
async fn read_at_most(body: Body, length: u64) -> Result<BytesMut, Problem> {
    let capacity = usize::try_from(length.min(1 << 20)).unwrap_or(0);
    let mut buf = BytesMut::with_capacity(capacity);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            problem(
                StatusCode::BAD_REQUEST,
                format!("could not read the body: {err}"),
            )
        })?;
        let total = (buf.len() as u64).saturating_add(chunk.len() as u64);
        if total > length {
            return Err(wrong_length(total, length));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.len() as u64 != length {
        return Err(wrong_length(buf.len() as u64, length));
    }
    Ok(buf)
}

fn wrong_length(got: u64, signed: u64) -> Problem {
    let status = if got > signed {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::FORBIDDEN
    };
    let got = if got > signed {
        format!("more than {signed}")
    } else {
        got.to_string()
    };
    problem(
        status,
        format!("the body has {got} bytes; the URL was signed for exactly {signed}"),
    )
}

fn parse_key(key: Result<Path<String>, PathRejection>) -> Result<BlobKey, Problem> {
    let Path(key) = key.map_err(|err| problem(StatusCode::BAD_REQUEST, err.body_text()))?;
    BlobKey::new(key).map_err(|err| problem(StatusCode::BAD_REQUEST, err.to_string()))
}

fn storage_failure(err: &weft_storage::blob::BlobError) -> Problem {
    tracing::error!(error = %err, "blob store failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the blob store failed; see the server log",
    )
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status).with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// The routes on a real socket, with presigned URLs pointing at it.
    async fn serve() -> (tempfile::TempDir, Arc<LocalBlobStore>, String) {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let store = Arc::new(LocalBlobStore::open(dir.path(), &base, KEY).unwrap());
        let app = blob_routes(store.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (dir, store, base)
    }

    async fn is_problem(res: reqwest::Response, status: u16) -> String {
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "status {status}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], status);
        body["detail"].as_str().unwrap().to_owned()
    }

    fn key(s: &str) -> BlobKey {
        BlobKey::new(s).unwrap()
    }

    /// Sends `head` (request line and headers, without the blank line) and `body` over a raw
    /// socket to the server of `base`, so nothing normalizes the path; returns the response.
    async fn raw(base: &str, head: &str, body: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = base.strip_prefix("http://").unwrap();
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        let mut req = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes();
        req.extend_from_slice(body);
        tcp.write_all(&req).await.unwrap();
        let mut res = Vec::new();
        tcp.read_to_end(&mut res).await.unwrap();
        String::from_utf8_lossy(&res).into_owned()
    }

    /// A PUT with `Transfer-Encoding: chunked`; returns the raw response.
    async fn chunked_put(base: &str, url: &str, content_type: &str, chunks: &[&[u8]]) -> String {
        let path = url.strip_prefix(base).unwrap();
        let mut body = Vec::new();
        for chunk in chunks {
            body.extend(format!("{:x}\r\n", chunk.len()).bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        let head = format!(
            "PUT {path} HTTP/1.1\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked"
        );
        raw(base, &head, &body).await
    }

    #[tokio::test]
    async fn signed_put_then_signed_get() {
        let (_dir, store, _) = serve().await;
        let k = key("a/b.txt");
        let put = store
            .presign_put(&k, "text/plain", 5, Duration::from_secs(60))
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let res = http
            .put(&put.url)
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let get = store
            .presign_get(&k, Duration::from_secs(60))
            .await
            .unwrap();
        let res = http.get(&get.url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.text().await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn uploads_must_match_what_was_signed() {
        let (_dir, store, base) = serve().await;
        let k = key("strict");
        let put = store
            .presign_put(&k, "image/png", 4, Duration::from_secs(60))
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let send = |ct: &'static str, body: Vec<u8>| {
            http.put(&put.url)
                .header("content-type", ct)
                .body(body)
                .send()
        };
        is_problem(send("text/html", vec![0; 4]).await.unwrap(), 403).await;
        is_problem(send("image/png", vec![0; 5]).await.unwrap(), 413).await;
        is_problem(send("image/png", vec![0; 3]).await.unwrap(), 403).await;
        // A chunked body (no Content-Length) is cut off once it is too long.
        let res = chunked_put(&base, &put.url, "image/png", &[b"abc", b"def"]).await;
        assert!(res.starts_with("HTTP/1.1 413"), "{res}");
        assert!(store.head(&k).await.unwrap().is_none());
        assert_eq!(send("image/png", vec![0; 4]).await.unwrap().status(), 200);
        assert_eq!(store.head(&k).await.unwrap().unwrap().size, 4);
    }

    #[tokio::test]
    async fn unsigned_tampered_and_misused_urls_are_forbidden() {
        let (_dir, store, base) = serve().await;
        let k = key("secret");
        store
            .put(&k, bytes::Bytes::from_static(b"s"), "text/plain")
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let detail = is_problem(
            http.get(format!("{base}/blobs/secret"))
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
        assert!(detail.contains("method"), "{detail}");
        let get = store
            .presign_get(&k, Duration::from_secs(60))
            .await
            .unwrap();
        let other = get.url.replace("/blobs/secret?", "/blobs/other?");
        is_problem(http.get(other).send().await.unwrap(), 403).await;
        let longer = format!("{}0", get.url);
        is_problem(http.get(longer).send().await.unwrap(), 403).await;
        // A download URL does not allow an upload.
        let res = http
            .put(&get.url)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        is_problem(res, 403).await;
        // A signed URL for a blob that is not there.
        let missing = store
            .presign_get(&key("missing"), Duration::from_secs(60))
            .await
            .unwrap();
        is_problem(http.get(&missing.url).send().await.unwrap(), 404).await;
    }

    #[tokio::test]
    async fn invalid_keys_are_bad_requests() {
        let (_dir, _store, base) = serve().await;
        let http = reqwest::Client::new();
        // (`..` and `%2E%2E` segments are resolved by the client's URL parser before sending.)
        for path in ["a//b", "a%5Cb", "a%2F..%2Fb", "a/", "%C3%A9"] {
            let res = http
                .get(format!("{base}/blobs/{path}?method=GET"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{path}");
            is_problem(res, 400).await;
        }
        for path in ["../x", "a/../../x", "a/./b", "%2E%2E/x"] {
            let res = raw(
                &base,
                &format!("GET /blobs/{path}?method=GET HTTP/1.1"),
                b"",
            )
            .await;
            assert!(res.starts_with("HTTP/1.1 400"), "{path}: {res}");
            assert!(res.contains("application/problem+json"), "{path}: {res}");
        }
    }
}
