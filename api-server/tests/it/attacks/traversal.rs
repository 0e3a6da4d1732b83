//! Path traversal. Upload names built to escape a folder (`../../etc/passwd`, backslashes,
//! percent-encoded and double-encoded dots, absolute paths, unicode look-alikes, NUL, very long)
//! never reach the object key (`files/<project>/<file id>`), and every accepted one downloads
//! exactly the bytes uploaded, on the local store and S3. The local store's own routes
//! (`/blobs/{key}`) get traversal in the key, raw (over a socket, so no client normalizes it),
//! encoded, double-encoded, with backslashes, empty segments and look-alike dots, unsigned and
//! with genuine signatures of other keys: each is a 4xx problem, no canary file beside or
//! inside the store is ever served, and no upload lands anywhere.

use super::{Rest, text};
use crate::files::{Store, fresh_bucket, stores};
use crate::server::backends;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;

/// Names a client may try; `true` when the rules accept them (they are only a label).
fn hostile_names() -> Vec<(String, bool)> {
    vec![
        ("../../etc/passwd".into(), false),
        ("..\\..\\windows\\win.ini".into(), false),
        ("/etc/passwd".into(), false),
        ("C:\\Windows\\system32".into(), false),
        ("~/.ssh/id_rsa".into(), false),
        ("a\u{0}b.txt".into(), false),
        ("line\r\nbreak.txt".into(), false),
        (String::new(), false),
        ("x".repeat(256), false),
        ("x".repeat(100_000), false),
        ("..".into(), true),
        (".".into(), true),
        ("%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(), true),
        ("%252e%252e%252fetc".into(), true),
        ("..%5c..%5cwin.ini".into(), true),
        ("\u{2024}\u{2024}\u{2215}etc\u{2215}passwd".into(), true),
        ("\u{FF0E}\u{FF0E}\u{FF0F}etc".into(), true),
        ("C:".into(), true),
        ("CON".into(), true),
        ("<img src=x onerror=alert(1)>.html".into(), true),
        ("<script>alert(1)</script>.html".into(), false),
        ("x".repeat(255), true),
    ]
}

#[tokio::test]
async fn upload_names_never_reach_the_object_key() {
    for backend in backends() {
        for store in stores() {
            let blob_url = match store {
                Store::Local => None,
                Store::S3 => Some(fresh_bucket().await),
            };
            let rest = Rest::start_with(backend, |c| c.blob_url = blob_url.clone()).await;
            let owner = rest.register("owner").await;
            let (_, project) = rest.org_project(&owner).await;
            let files = format!("/api/projects/{project}/files");
            for (i, (name, allowed)) in hostile_names().into_iter().enumerate() {
                let bytes = format!("contents of upload {i}").into_bytes();
                let (status, created) = rest
                    .call(
                        Method::POST,
                        &files,
                        Some(&owner.token),
                        Some(json!({"name": name, "content_type": "text/plain", "size": bytes.len()})),
                    )
                    .await;
                if !allowed {
                    assert_eq!(
                        status,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "{name:?}: {created}"
                    );
                    continue;
                }
                assert_eq!(status, StatusCode::CREATED, "{name:?}: {created}");
                let file = text(&created["file"]["id"]);
                assert_eq!(created["file"]["name"], name.as_str());
                // The object key is the project and the file id, nothing of the name.
                let key = weft_storage::accounts::file_blob_key(
                    project.parse().unwrap(),
                    file.parse().unwrap(),
                );
                assert_eq!(key, format!("files/{project}/{file}"));
                let upload_url = text(&created["upload"]["url"]);
                let url = url::Url::parse(&upload_url).unwrap();
                assert!(
                    url.path().ends_with(&format!("files/{project}/{file}")),
                    "{upload_url}"
                );
                let mut put = rest.http.put(&upload_url);
                for (header, value) in created["upload"]["headers"].as_object().unwrap() {
                    put = put.header(header, text(value));
                }
                let response = put.body(bytes.clone()).send().await.unwrap();
                assert!(response.status().is_success(), "{name:?}: {response:?}");
                rest.ok(
                    Method::POST,
                    &format!("{files}/{file}/complete"),
                    &owner.token,
                    None,
                )
                .await;
                let download = rest
                    .ok(
                        Method::GET,
                        &format!("{files}/{file}/download"),
                        &owner.token,
                        None,
                    )
                    .await;
                let got = rest
                    .http
                    .get(text(&download["url"]))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(got.as_ref(), bytes.as_slice(), "{name:?}");
                let listed = rest
                    .ok(Method::GET, &format!("{files}/{file}"), &owner.token, None)
                    .await;
                assert_eq!(listed["name"], name.as_str());
            }
            rest.stop().await;
        }
    }
}

/// Sends a raw request over TCP, so the path reaches the server exactly as written.
async fn raw(addr: std::net::SocketAddr, method: &str, target: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    tcp.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Every file under `dir` whose contents hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
            {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn the_local_blob_routes_never_leave_their_folder() {
    let rest = Rest::start(crate::server::Backend::Sqlite).await;
    let owner = rest.register("owner").await;
    let (_, project) = rest.org_project(&owner).await;
    let data = rest.server.data_dir();
    let blobs = data.join("blobs");
    // Canaries beside the store, at its root, in its metadata tree, and a file outside all.
    let canaries = [
        (data.join("canary.txt"), "CANARY-DATA"),
        (blobs.join("canary.txt"), "CANARY-ROOT"),
        (blobs.join("meta").join("canary"), "CANARY-META"),
        (data.parent().unwrap().join("canary.txt"), "CANARY-ABOVE"),
    ];
    for (path, content) in &canaries {
        std::fs::write(path, content).unwrap();
    }
    // A real object with a genuine download URL, and a pending upload with a genuine PUT URL.
    let files = format!("/api/projects/{project}/files");
    let declared = rest
        .ok(
            Method::POST,
            &files,
            &owner.token,
            Some(json!({"name": "real.txt", "content_type": "text/plain", "size": 4})),
        )
        .await;
    let put_url = url::Url::parse(&text(&declared["upload"]["url"])).unwrap();
    let put_query = put_url.query().unwrap().to_owned();
    let response = rest
        .http
        .put(put_url.as_str())
        .header("content-type", "text/plain")
        .body("real")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let file = text(&declared["file"]["id"]);
    rest.ok(
        Method::POST,
        &format!("{files}/{file}/complete"),
        &owner.token,
        None,
    )
    .await;
    let second = rest
        .ok(
            Method::POST,
            &files,
            &owner.token,
            Some(json!({"name": "pending.txt", "content_type": "text/plain", "size": 5})),
        )
        .await;
    let pending_query = url::Url::parse(&text(&second["upload"]["url"]))
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let download = rest
        .ok(
            Method::GET,
            &format!("{files}/{file}/download"),
            &owner.token,
            None,
        )
        .await;
    let get_query = url::Url::parse(&text(&download["url"]))
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let real = format!("files/{project}/{file}");

    let keys = [
        "../canary.txt".to_owned(),
        "../../canary.txt".into(),
        "../../../canary.txt".into(),
        "%2e%2e/canary.txt".into(),
        "%2E%2E%2Fcanary.txt".into(),
        "%2e%2e%2f%2e%2e%2fcanary.txt".into(),
        "%252e%252e%252fcanary.txt".into(),
        "..%5ccanary.txt".into(),
        "..\\canary.txt".into(),
        "%5c..%5c..%5ccanary.txt".into(),
        "/canary.txt".into(),
        "//canary.txt".into(),
        "%2Fetc%2Fpasswd".into(),
        "%E2%80%A4%E2%80%A4/canary.txt".into(),
        "%EF%BC%8E%EF%BC%8E/canary.txt".into(),
        "canary.txt%00".into(),
        "meta/canary".into(),
        "objects/../meta/canary".into(),
        format!("{real}/../../../../canary.txt"),
        format!("{real}%2F..%2F..%2F..%2F..%2Fcanary.txt"),
        format!("{real}/"),
        format!("{real}/."),
        "files/./x".into(),
    ];
    let queries = [
        "",
        "?method=GET",
        &format!("?{get_query}"),
        &format!("?{put_query}"),
        &format!("?{pending_query}"),
    ];
    let mut answered = 0;
    for key in &keys {
        for query in queries {
            for method in ["GET", "PUT"] {
                let response = raw(
                    rest.server.addr,
                    method,
                    &format!("/blobs/{key}{query}"),
                    b"PWNED",
                )
                .await;
                let status: u16 = response[9..12].parse().unwrap();
                assert!(
                    (400..500).contains(&status),
                    "{method} /blobs/{key}{query}: {response}"
                );
                assert!(
                    response.contains("application/problem+json"),
                    "{method} {key}: {response}"
                );
                assert!(
                    !response.contains("CANARY"),
                    "{method} {key} leaked: {response}"
                );
                answered += 1;
            }
        }
    }
    // The genuine URLs still work: the routes were not simply closed.
    let got = rest.http.get(text(&download["url"])).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.text().await.unwrap(), "real");
    for (path, content) in &canaries {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            *content,
            "{}",
            path.display()
        );
    }
    assert_eq!(
        files_holding(data.parent().unwrap(), b"PWNED"),
        Vec::<std::path::PathBuf>::new(),
        "an upload landed somewhere"
    );
    assert!(answered > 100);
    rest.stop().await;
}
