//! Presigned file uploads end to end: declare, PUT the bytes exactly as presigned, complete,
//! list, download through the presigned GET, delete. On SQLite and Postgres, and on both blob
//! stores: the local store (whose signed URLs api-server serves itself) and S3 (s3s-fs, when
//! `TEST_S3_ENDPOINT` is set; a fresh bucket per server). Also: declarations outside the rules,
//! objects that differ from the declaration, expired upload URLs, and the sweeper.

use crate::server::{Backend, TestServer, backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use weft_api_server::Config;
use weft_storage::accounts::{Uuid, file_blob_key};
use weft_storage::blob::s3::{S3BlobStore, S3Credentials, S3Settings};
use weft_storage::blob::{BlobKey, BlobOpenOptions, BlobStore, open_blob_store};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Local,
    S3,
}

/// The local store always; S3 when `TEST_S3_ENDPOINT` names a server.
pub(crate) fn stores() -> Vec<Store> {
    match std::env::var("TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => vec![Store::Local, Store::S3],
        _ if std::env::var_os("CI").is_some() => panic!("TEST_S3_ENDPOINT not set in CI"),
        _ => {
            eprintln!("skipping the S3 variants: TEST_S3_ENDPOINT not set");
            vec![Store::Local]
        }
    }
}

/// Every (database, blob store) pair.
fn variants() -> Vec<(Backend, Store)> {
    let stores = stores();
    backends()
        .into_iter()
        .flat_map(|b| stores.iter().map(move |s| (b, *s)))
        .collect()
}

/// A running api-server, a handle on its blob store, and an organization with a project where
/// `owner` owns, `editor` edits and `viewer` views; `outsider` has no role.
struct Stack {
    server: TestServer,
    http: reqwest::Client,
    blobs: Arc<dyn BlobStore>,
    project: String,
    owner: String,
    editor: String,
    viewer: String,
    outsider: String,
}

/// A fresh bucket on the test S3 server; its `BLOB_URL`.
pub(crate) async fn fresh_bucket() -> String {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").unwrap();
    let bucket = format!("weft-files-{:016x}", rand::random::<u64>());
    let store = S3BlobStore::new(
        S3Settings {
            bucket: bucket.clone(),
            endpoint: Some(endpoint.clone()),
            region: Some("us-east-1".into()),
        },
        S3Credentials::from_env().expect("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"),
    );
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot create bucket {bucket} at {endpoint}: {e:?}"));
    format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1")
}

impl Stack {
    async fn start(backend: Backend, store: Store, tune: impl FnOnce(&mut Config)) -> Stack {
        let blob_url = match store {
            Store::Local => None,
            Store::S3 => Some(fresh_bucket().await),
        };
        let server = TestServer::start_with(backend, |c| {
            c.blob_url = blob_url.clone();
            tune(c);
        })
        .await;
        server.ready().await;
        // The same store as the server's (the local one in its data folder), for HEADs and
        // for putting objects behind its back.
        let blobs = open_blob_store(
            blob_url.as_deref(),
            &BlobOpenOptions {
                data_dir: server.data_dir(),
                public_base_url: server.url(""),
                signing_key: vec![7; 32],
            },
        )
        .unwrap()
        .store();
        let mut stack = Stack {
            server,
            http: reqwest::Client::new(),
            blobs,
            project: String::new(),
            owner: String::new(),
            editor: String::new(),
            viewer: String::new(),
            outsider: String::new(),
        };
        stack.owner = stack.user("owner").await;
        stack.editor = stack.user("editor").await;
        stack.viewer = stack.user("viewer").await;
        stack.outsider = stack.user("outsider").await;
        let org = stack
            .ok(
                Method::POST,
                "/api/orgs",
                &stack.owner,
                Some(json!({"name": "Acme"})),
            )
            .await;
        let org = org["id"].as_str().unwrap().to_owned();
        for (who, role) in [("editor", "editor"), ("viewer", "viewer")] {
            let invitation = stack
                .ok(
                    Method::POST,
                    &format!("/api/orgs/{org}/invitations"),
                    &stack.owner,
                    Some(json!({"email": format!("{who}@example.com"), "role": role})),
                )
                .await;
            let token = if who == "editor" {
                stack.editor.clone()
            } else {
                stack.viewer.clone()
            };
            stack
                .ok(
                    Method::POST,
                    &format!(
                        "/api/invitations/{}/accept",
                        invitation["id"].as_str().unwrap()
                    ),
                    &token,
                    None,
                )
                .await;
        }
        let project = stack
            .ok(
                Method::POST,
                &format!("/api/orgs/{org}/projects"),
                &stack.owner,
                Some(json!({"name": "Site"})),
            )
            .await;
        stack.project = project["id"].as_str().unwrap().to_owned();
        stack
    }

    async fn user(&self, name: &str) -> String {
        let (status, session) = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": format!("{name}@example.com"), "password": "a long password", "name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session["access_token"].as_str().unwrap().to_owned()
    }

    /// A JSON call; its status and body (Null when empty). Every 4xx must be a problem.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if status.is_client_error() {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{path}"
            );
        }
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    async fn ok(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method.clone(), path, Some(token), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    fn files(&self) -> String {
        format!("/api/projects/{}/files", self.project)
    }

    /// Declares a file as the editor; the response (`file` and `upload`).
    async fn declare(&self, name: &str, content_type: &str, size: usize) -> Value {
        let (status, created) = self
            .call(
                Method::POST,
                &self.files(),
                Some(&self.editor),
                Some(json!({"name": name, "content_type": content_type, "size": size})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// The object key of a file of this stack's project.
    fn key(&self, file: &str) -> BlobKey {
        let project = Uuid::parse_str(&self.project).unwrap();
        BlobKey::new(file_blob_key(project, Uuid::parse_str(file).unwrap())).unwrap()
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

/// Sends the presigned `upload` with `body`, its headers exactly as given.
async fn put(upload: &Value, body: Vec<u8>) -> reqwest::Response {
    let method = Method::from_bytes(upload["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.body(body).send().await.unwrap()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_complete_list_download_and_delete() {
    for (backend, store) in variants() {
        let at = format!("{backend:?}/{store:?}");
        let s = Stack::start(backend, store, |_| {}).await;
        let bytes = b"quarterly numbers\n".repeat(100);
        let created = s
            .declare(
                "Report (final).txt",
                "text/plain; charset=utf-8",
                bytes.len(),
            )
            .await;
        let file = &created["file"];
        let upload = &created["upload"];
        let fid = id(file);
        assert_eq!(file["status"], "pending", "{at}");
        assert_eq!(file["name"], "Report (final).txt");
        assert_eq!(file["size"], bytes.len());
        assert_eq!(upload["method"], "PUT");
        assert_eq!(
            upload["headers"]["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(upload["headers"]["content-length"], bytes.len().to_string());
        assert_eq!(file["expires_at"], upload["expires_at"]);
        let url = upload["url"].as_str().unwrap();
        assert!(url.contains(&format!("files/{}/{fid}", s.project)), "{url}");
        assert!(
            !url.contains("Report"),
            "the key carries no user text: {url}"
        );

        // Nothing uploaded yet: completing is a conflict, downloading too.
        let path = format!("{}/{fid}", s.files());
        let (status, problem) = s
            .call(
                Method::POST,
                &format!("{path}/complete"),
                Some(&s.editor),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{at}: {problem}");
        let (status, _) = s
            .call(
                Method::GET,
                &format!("{path}/download"),
                Some(&s.viewer),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        let response = put(upload, bytes.clone()).await;
        assert!(response.status().is_success(), "{at}: {response:?}");
        let ready = s
            .ok(Method::POST, &format!("{path}/complete"), &s.editor, None)
            .await;
        assert_eq!(ready["status"], "ready", "{at}");
        assert!(ready["completed_at"].is_i64());
        assert!(ready.get("expires_at").is_none());
        // Completing again is idempotent.
        let again = s
            .ok(Method::POST, &format!("{path}/complete"), &s.owner, None)
            .await;
        assert_eq!(again, ready);

        // Viewers list and read it.
        let listed = s.ok(Method::GET, &s.files(), &s.viewer, None).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        assert_eq!(listed["items"][0], ready);
        assert_eq!(s.ok(Method::GET, &path, &s.viewer, None).await, ready);

        // The presigned GET serves exactly the bytes.
        let download = s
            .ok(Method::GET, &format!("{path}/download"), &s.viewer, None)
            .await;
        assert!(download["expires_at"].as_i64().unwrap() > ready["completed_at"].as_i64().unwrap());
        let got = reqwest::get(download["url"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "{at}");
        assert_eq!(got.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(
            got.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "{at}"
        );

        // Pages by id.
        for i in 0..4 {
            s.declare(&format!("draft {i}.png"), "image/png", 10).await;
        }
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page_path = match &next {
                Some(after) => format!("{}?limit=2&after={after}", s.files()),
                None => format!("{}?limit=2", s.files()),
            };
            let page = s.ok(Method::GET, &page_path, &s.viewer, None).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(id));
            match page["next"].as_str() {
                Some(n) => next = Some(n.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "{at}");
        assert_eq!(seen[0], fid);

        // Deleting removes the record and the object.
        let key = s.key(&fid);
        assert!(s.blobs.head(&key).await.unwrap().is_some());
        let (status, _) = s.call(Method::DELETE, &path, Some(&s.viewer), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = s.call(Method::DELETE, &path, Some(&s.editor), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{at}");
        assert_eq!(s.blobs.head(&key).await.unwrap(), None, "{at}");
        for (method, p) in [
            (Method::GET, path.clone()),
            (Method::GET, format!("{path}/download")),
            (Method::POST, format!("{path}/complete")),
            (Method::DELETE, path.clone()),
        ] {
            let (status, _) = s.call(method.clone(), &p, Some(&s.owner), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{at}: {method} {p}");
        }
        let gone = reqwest::get(download["url"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(gone.status(), 404, "{at}: the old download URL");
        s.stop().await;
    }
}

#[tokio::test]
async fn declarations_outside_the_rules_are_refused() {
    for backend in backends() {
        let s = Stack::start(backend, Store::Local, |c| {
            c.upload_max_bytes = 1000;
            c.upload_types = vec!["text/plain".into(), "image/png".into()];
        })
        .await;
        let files = s.files();
        let refused = [
            (
                json!({"name": "a.html", "content_type": "text/html", "size": 1}),
                "type",
            ),
            (
                json!({"name": "big.txt", "content_type": "text/plain", "size": 1001}),
                "bytes",
            ),
            (
                json!({"name": "", "content_type": "text/plain", "size": 1}),
                "name",
            ),
            (
                json!({"name": "x".repeat(256), "content_type": "text/plain", "size": 1}),
                "name",
            ),
            (
                json!({"name": "../etc/passwd", "content_type": "text/plain", "size": 1}),
                "name",
            ),
            (
                json!({"name": "a\\b.txt", "content_type": "text/plain", "size": 1}),
                "name",
            ),
            (
                json!({"name": "bell\u{7}.txt", "content_type": "text/plain", "size": 1}),
                "name",
            ),
            (
                json!({"name": "a.txt", "content_type": "text/plain\r\nx-evil: 1", "size": 1}),
                "content type",
            ),
        ];
        for (body, mentions) in refused {
            let (status, problem) = s
                .call(Method::POST, &files, Some(&s.editor), Some(body.clone()))
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend:?}: {body}"
            );
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(mentions), "{body}: {detail}");
        }
        let (status, _) = s
            .call(
                Method::POST,
                &files,
                Some(&s.editor),
                Some(json!({"name": "n.txt", "content_type": "text/plain", "size": -1})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // At the limits: exactly the maximum, a type with parameters and in other case, a
        // name of 255 characters.
        s.declare(&"é".repeat(255), "Image/PNG", 1000).await;
        s.declare("notes.txt", "text/plain; charset=utf-8", 0).await;

        // Viewers cannot declare; outsiders do not see the project; no token is a 401.
        let body = json!({"name": "v.txt", "content_type": "text/plain", "size": 1});
        let (status, _) = s
            .call(Method::POST, &files, Some(&s.viewer), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let listed = s.ok(Method::GET, &files, &s.viewer, None).await;
        let items = listed["items"].as_array().unwrap();
        assert_eq!(
            items.len(),
            2,
            "{backend:?}: only the accepted declarations"
        );
        let fid = id(&items[0]);
        let path = format!("{files}/{fid}");
        for (method, p, body) in [
            (Method::POST, files.clone(), Some(body.clone())),
            (Method::GET, files.clone(), None),
            (Method::GET, path.clone(), None),
            (Method::POST, format!("{path}/complete"), None),
            (Method::GET, format!("{path}/download"), None),
            (Method::DELETE, path.clone(), None),
        ] {
            let (status, _) = s
                .call(method.clone(), &p, Some(&s.outsider), body.clone())
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "outsider: {method} {p}");
            let (status, _) = s.call(method.clone(), &p, None, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous: {method} {p}");
        }
        // A file id of another project is not found there.
        let org = s
            .ok(
                Method::POST,
                "/api/orgs",
                &s.owner,
                Some(json!({"name": "Other"})),
            )
            .await;
        let other = s
            .ok(
                Method::POST,
                &format!("/api/orgs/{}/projects", id(&org)),
                &s.owner,
                Some(json!({"name": "Other"})),
            )
            .await;
        let (status, _) = s
            .call(
                Method::GET,
                &format!("/api/projects/{}/files/{fid}", id(&other)),
                Some(&s.owner),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        s.stop().await;
    }
}

#[tokio::test]
async fn complete_refuses_an_object_that_differs_from_the_declaration() {
    for (backend, store) in variants() {
        let at = format!("{backend:?}/{store:?}");
        let s = Stack::start(backend, store, |_| {}).await;
        let created = s.declare("pixel.png", "image/png", 5).await;
        let fid = id(&created["file"]);
        let key = s.key(&fid);
        let complete = format!("{}/{fid}/complete", s.files());

        // Four bytes where five were declared (put behind the URL's back).
        s.blobs
            .put(&key, bytes::Bytes::from_static(b"1234"), "image/png")
            .await
            .unwrap();
        let (status, problem) = s.call(Method::POST, &complete, Some(&s.editor), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("4 bytes") && detail.contains("5"),
            "{detail}"
        );
        let file = s
            .ok(
                Method::GET,
                &format!("{}/{fid}", s.files()),
                &s.viewer,
                None,
            )
            .await;
        assert_eq!(file["status"], "pending", "{at}");

        // The right size, the wrong type.
        s.blobs
            .put(&key, bytes::Bytes::from_static(b"12345"), "text/html")
            .await
            .unwrap();
        let (status, problem) = s.call(Method::POST, &complete, Some(&s.editor), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("content type") && detail.contains("text/html"),
            "{detail}"
        );
        let (status, _) = s
            .call(
                Method::GET,
                &format!("{}/{fid}/download", s.files()),
                Some(&s.viewer),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{at}: still not downloadable");

        // The presigned URL refuses another type or size itself.
        let upload = &created["upload"];
        let url = upload["url"].as_str().unwrap();
        let wrong_type = reqwest::Client::new()
            .put(url)
            .header("content-type", "text/html")
            .header("content-length", "5")
            .body("12345")
            .send()
            .await
            .unwrap();
        assert!(
            wrong_type.status().is_client_error(),
            "{at}: {wrong_type:?}"
        );
        let wrong_size = reqwest::Client::new()
            .put(url)
            .header("content-type", "image/png")
            .body("123456")
            .send()
            .await
            .unwrap();
        assert!(
            wrong_size.status().is_client_error(),
            "{at}: {wrong_size:?}"
        );

        // Uploading again as presigned, the file completes.
        let response = put(upload, b"\x89PNG!".to_vec()).await;
        assert!(response.status().is_success(), "{at}: {response:?}");
        let ready = s.ok(Method::POST, &complete, &s.editor, None).await;
        assert_eq!(ready["status"], "ready", "{at}");
        s.stop().await;
    }
}

#[tokio::test]
async fn an_expired_upload_url_is_refused() {
    for (backend, store) in variants() {
        let at = format!("{backend:?}/{store:?}");
        let s = Stack::start(backend, store, |c| {
            c.upload_url_ttl = Duration::from_secs(1);
        })
        .await;
        let created = s.declare("late.txt", "text/plain", 4).await;
        let fid = id(&created["file"]);
        // Signed URLs count whole seconds; wait past any rounding.
        tokio::time::sleep(Duration::from_millis(3100)).await;
        let response = put(&created["upload"], b"late".to_vec()).await;
        assert_eq!(response.status(), 403, "{at}: {response:?}");
        assert_eq!(s.blobs.head(&s.key(&fid)).await.unwrap(), None, "{at}");
        let (status, problem) = s
            .call(
                Method::POST,
                &format!("{}/{fid}/complete", s.files()),
                Some(&s.editor),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{at}");
        assert!(
            problem["detail"].as_str().unwrap().contains("expired"),
            "{problem}"
        );
        s.stop().await;
    }
}

/// Polls `done` until it holds or [`WAIT`] passes; whether it held.
async fn eventually<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_sweeper_removes_uploads_nobody_completed_and_objects_of_deleted_projects() {
    for (backend, store) in variants() {
        let at = format!("{backend:?}/{store:?}");
        let s = Stack::start(backend, store, |c| {
            c.upload_url_ttl = Duration::from_secs(2);
            c.upload_sweep_grace = Duration::ZERO;
            c.upload_sweep_interval = Duration::from_millis(100);
        })
        .await;
        // Uploaded but never completed; never uploaded; completed.
        let uploaded = s.declare("uploaded.txt", "text/plain", 3).await;
        let response = put(&uploaded["upload"], b"abc".to_vec()).await;
        assert!(response.status().is_success(), "{at}: {response:?}");
        let never = s.declare("never.txt", "text/plain", 3).await;
        let kept = s.declare("kept.txt", "text/plain", 3).await;
        let response = put(&kept["upload"], b"xyz".to_vec()).await;
        assert!(response.status().is_success(), "{at}: {response:?}");
        let kept_id = id(&kept["file"]);
        s.ok(
            Method::POST,
            &format!("{}/{kept_id}/complete", s.files()),
            &s.editor,
            None,
        )
        .await;

        let uploaded_id = id(&uploaded["file"]);
        let key = s.key(&uploaded_id);
        assert!(s.blobs.head(&key).await.unwrap().is_some());
        let (st, key_ref) = (&s, &key);
        let path = format!("{}/{uploaded_id}", s.files());
        let path = path.as_str();
        let swept = eventually(move || async move {
            let (status, _) = st.call(Method::GET, path, Some(&st.viewer), None).await;
            status == StatusCode::NOT_FOUND
        })
        .await;
        assert!(swept, "{at}: the expired upload was never swept");
        assert!(
            eventually(move || async move { st.blobs.head(key_ref).await.unwrap().is_none() })
                .await,
            "{at}: its object stayed"
        );
        // Declared a little later, so it may expire a sweep later.
        let never = format!("{}/{}", s.files(), id(&never["file"]));
        let never = never.as_str();
        let swept = eventually(move || async move {
            let (status, _) = st.call(Method::GET, never, Some(&st.viewer), None).await;
            status == StatusCode::NOT_FOUND
        })
        .await;
        assert!(swept, "{at}: the upload that never came was never swept");
        // The completed file stays, whatever its URL's expiry.
        let listed = s.ok(Method::GET, &s.files(), &s.viewer, None).await;
        let items = listed["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{at}: {listed}");
        assert_eq!(items[0]["id"], kept_id.as_str());
        let kept_key = s.key(&kept_id);
        assert!(s.blobs.head(&kept_key).await.unwrap().is_some());

        // Deleting the project cascades to its files; the sweeper deletes their objects.
        let (status, _) = s
            .call(
                Method::DELETE,
                &format!("/api/projects/{}", s.project),
                Some(&s.owner),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let kept_key = &kept_key;
        assert!(
            eventually(move || async move { st.blobs.head(kept_key).await.unwrap().is_none() })
                .await,
            "{at}: the deleted project's object stayed"
        );
        s.stop().await;
    }
}
