//! Webhooks end to end: a receiver on 127.0.0.1 checks every delivery's signature with the
//! secret the create answer showed, fails the first attempts to force retries, and the log
//! over REST shows the attempts and the outcome. Changes come from REST writes (two in quick
//! succession give one debounced delivery), from a live y-websocket editor through a collab
//! node sharing the database, and from the `message_created` helper; a hook on a closed port
//! ends failed. Every test runs on SQLite and Postgres.

use crate::live_stack::LiveStack;
use crate::server::backends;
use crate::yclient::YClient;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_protocol::yrs::{Doc, ReadTxn, Text, Transact};

const WAIT: Duration = Duration::from_secs(20);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    delivery: String,
    attempt: String,
    signature: String,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    requests: Mutex<Vec<Received>>,
    /// Requests still to answer with 500.
    fail_next: AtomicUsize,
}

/// A webhook receiver on an ephemeral loopback port.
struct Receiver {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let inbox = Arc::new(Inbox::default());
        inbox.fail_next.store(fail_first, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, inbox, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn requests(&self) -> Vec<Received> {
        self.inbox.requests.lock().unwrap().clone()
    }

    fn of(&self, event: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.event == event)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    inbox.requests.lock().unwrap().push(Received {
        event: header("weft-event"),
        delivery: header("weft-delivery"),
        attempt: header("weft-attempt"),
        signature: header("weft-signature"),
        body,
    });
    let failing = inbox
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Whether `header` (`t=<secs>,v1=<hex>`) signs `body` with `secret`, checked the way a
/// receiver would: HMAC-SHA256 over `"<t>.<body>"`, compared in constant time.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if t.parse::<u64>().is_err() {
        return false;
    }
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Checks every request's signature with `secret`, and that it fails with another secret
/// and with a changed body.
fn assert_signed(requests: &[Received], secret: &str) {
    assert!(!requests.is_empty());
    for r in requests {
        assert!(verify(secret, &r.signature, &r.body), "{r:?}");
        assert!(!verify("whsec_not-the-secret", &r.signature, &r.body));
        let mut tampered = r.body.to_vec();
        tampered.push(b' ');
        assert!(!verify(secret, &r.signature, &tampered));
    }
}

/// Short timers: retries after ~20–40 ms, polls every 20 ms.
fn fast(c: &mut weft_api_server::Config, debounce: Duration, max_attempts: u32) {
    c.webhook_debounce = debounce;
    c.webhook_retry_base = Duration::from_millis(40);
    c.webhook_poll_interval = Duration::from_millis(20);
    c.webhook_timeout = Duration::from_secs(5);
    c.webhook_max_attempts = max_attempts;
}

/// Creates a hook; the create answer.
async fn create_hook(
    stack: &LiveStack,
    token: &str,
    project: &str,
    url: &str,
    events: &[&str],
) -> Value {
    let response = stack
        .send(
            Method::POST,
            &format!("/api/projects/{project}/webhooks"),
            Some(token),
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Polls the hook's delivery log until `done` holds for its items; the last items.
async fn log_until(
    stack: &LiveStack,
    token: &str,
    project: &str,
    hook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/webhooks/{hook}/deliveries"),
                Some(token),
                None,
            )
            .await;
        let items = page["items"].as_array().unwrap().clone();
        if done(&items) || tokio::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn of_event<'a>(items: &'a [Value], event: &str) -> Vec<&'a Value> {
    items.iter().filter(|d| d["event"] == event).collect()
}

/// Posts an update inserting `text` into the root text `body` of `doc`.
async fn post_text(stack: &LiveStack, token: &str, base: &str, text: &str) {
    let copy = Doc::new();
    let root = copy.get_or_insert_text("body");
    let before = copy.transact().state_vector();
    root.insert(&mut copy.transact_mut(), 0, text);
    let update = copy.transact().encode_diff_v1(&before);
    let response = stack
        .http
        .post(stack.api.url(&format!("{base}/updates")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(update)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn rest_changes_are_debounced_signed_retried_and_logged() {
    for backend in backends() {
        // The window is far longer than two back-to-back REST calls take.
        let stack =
            LiveStack::start_with(backend, |c| fast(c, Duration::from_secs(2), 8), |_| {}).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Notes").await;
        let receiver = Receiver::start(2).await;
        let created = create_hook(
            &stack,
            &owner,
            &project,
            &receiver.url(),
            &["document.changed", "message.created", "document.changed"],
        )
        .await;
        let hook = created["id"].as_str().unwrap().to_owned();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(
            secret.starts_with("whsec_") && secret.len() > 40,
            "{created}"
        );
        assert_eq!(
            created["events"],
            json!(["document.changed", "message.created"])
        );
        assert_eq!(created["active"], true);
        // Later reads never show the secret.
        let read = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/webhooks/{hook}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(read["url"], receiver.url());
        assert!(read.get("secret").is_none(), "{read}");
        let list = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/webhooks"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert!(list["items"][0].get("secret").is_none());

        // Two updates in quick succession: one delivery, failed twice (500), then delivered.
        let base = format!("/api/projects/{project}/documents/{doc}");
        post_text(&stack, &owner, &base, "one").await;
        post_text(&stack, &owner, &base, "two").await;
        let items = log_until(&stack, &owner, &project, &hook, |items| {
            items.iter().any(|d| d["status"] == "delivered")
        })
        .await;
        let changed = of_event(&items, "document.changed");
        assert_eq!(changed.len(), 1, "{backend:?}: {items:?}");
        let delivery = changed[0];
        assert_eq!(delivery["status"], "delivered", "{backend:?}: {delivery}");
        assert_eq!(delivery["attempts"], 3, "{delivery}");
        assert_eq!(delivery["last_status_code"], 200);
        assert_eq!(delivery["last_error"], Value::Null);
        assert_eq!(delivery["next_attempt_at"], Value::Null);
        assert!(
            delivery["delivered_at"].as_i64().unwrap() >= delivery["created_at"].as_i64().unwrap()
        );

        let requests = receiver.of("document.changed");
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert_signed(&requests, &secret);
        for (i, r) in requests.iter().enumerate() {
            assert_eq!(r.delivery, delivery["id"].as_str().unwrap());
            assert_eq!(r.attempt, (i + 1).to_string());
            let body = r.json();
            assert_eq!(body["id"], delivery["id"]);
            assert_eq!(body["event"], "document.changed");
            assert_eq!(body["webhook_id"], hook.as_str());
            assert_eq!(body["project_id"], project.as_str());
            assert_eq!(body["data"]["document_id"], doc.as_str());
            assert_eq!(body["data"]["name"], "Notes");
        }

        // A message sent over REST: message.created, with the message as the chat socket
        // shows it; a retried send (same client id) adds no second delivery.
        let channel: Value = stack
            .call(
                Method::POST,
                &format!("/api/projects/{project}/channels"),
                Some(&owner),
                Some(json!({"name": "general"})),
            )
            .await;
        let messages_url = format!(
            "/api/projects/{project}/channels/{}/messages",
            channel["id"].as_str().unwrap()
        );
        let mut sent = Value::Null;
        for _ in 0..2 {
            sent = stack
                .call(
                    Method::POST,
                    &messages_url,
                    Some(&owner),
                    Some(json!({"client_id": "hook-1", "body": "hello hooks"})),
                )
                .await;
        }
        let items = log_until(&stack, &owner, &project, &hook, |items| {
            of_event(items, "message.created")
                .iter()
                .any(|d| d["status"] == "delivered")
        })
        .await;
        let messages = of_event(&items, "message.created");
        assert_eq!(messages.len(), 1, "{backend:?}: {items:?}");
        assert_eq!(messages[0]["attempts"], 1);
        let requests = receiver.of("message.created");
        assert_signed(&requests, &secret);
        let data = requests[0].json()["data"].clone();
        assert_eq!(data["id"], sent["id"], "{data}");
        assert_eq!(data["body"], "hello hooks");
        assert_eq!(data["client_id"], "hook-1");

        // A ping on request, whatever the hook subscribes to.
        let ping = stack
            .send(
                Method::POST,
                &format!("/api/projects/{project}/webhooks/{hook}/test"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(ping.status(), 202);
        let ping: Value = ping.json().await.unwrap();
        assert_eq!(ping["event"], "ping");
        assert_eq!(ping["status"], "pending");
        let items = log_until(&stack, &owner, &project, &hook, |items| {
            items
                .iter()
                .any(|d| d["id"] == ping["id"] && d["status"] == "delivered")
        })
        .await;
        assert!(
            items
                .iter()
                .any(|d| d["id"] == ping["id"] && d["status"] == "delivered")
        );
        assert_signed(&receiver.of("ping"), &secret);

        // Deleting the hook removes it and its log.
        stack
            .call(
                Method::DELETE,
                &format!("/api/projects/{project}/webhooks/{hook}"),
                Some(&owner),
                None,
            )
            .await;
        let gone = stack
            .send(
                Method::GET,
                &format!("/api/projects/{project}/webhooks/{hook}/deliveries"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(gone.status(), 404);
        stack.stop().await;
    }
}

#[tokio::test]
async fn an_edit_from_a_live_editor_fires_document_changed() {
    for backend in backends() {
        let stack = LiveStack::start_with(
            backend,
            |c| fast(c, Duration::from_millis(300), 8),
            |c| c.webhook_debounce = Duration::from_millis(300),
        )
        .await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Live").await;
        let receiver = Receiver::start(0).await;
        let created = create_hook(
            &stack,
            &owner,
            &project,
            &receiver.url(),
            &["document.changed"],
        )
        .await;
        let hook = created["id"].as_str().unwrap().to_owned();
        let secret = created["secret"].as_str().unwrap().to_owned();

        let mut editor = YClient::connect(&stack.ws_url(&owner, &project, &doc).await).await;
        editor.settle().await;
        editor.type_text("body", 0, "typed live").await;
        editor.type_text("body", 10, ", twice").await;
        let items = log_until(&stack, &owner, &project, &hook, |items| {
            items.iter().any(|d| d["status"] == "delivered")
        })
        .await;
        assert!(
            items
                .iter()
                .any(|d| d["event"] == "document.changed" && d["status"] == "delivered"),
            "{backend:?}: {items:?}"
        );
        let requests = receiver.of("document.changed");
        assert_signed(&requests, &secret);
        assert_eq!(requests[0].json()["data"]["document_id"], doc.as_str());
        editor.close().await;
        stack.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_hook_fails_after_the_last_attempt() {
    for backend in backends() {
        let stack =
            LiveStack::start_with(backend, |c| fast(c, Duration::from_millis(50), 3), |_| {}).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        // A port that was just free: nothing listens there.
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let created = create_hook(
            &stack,
            &owner,
            &project,
            &format!("http://{closed}/hook"),
            &["message.created"],
        )
        .await;
        let hook = created["id"].as_str().unwrap().to_owned();
        stack
            .call(
                Method::POST,
                &format!("/api/projects/{project}/webhooks/{hook}/test"),
                Some(&owner),
                None,
            )
            .await;
        let items = log_until(&stack, &owner, &project, &hook, |items| {
            items.iter().any(|d| d["status"] == "failed")
        })
        .await;
        assert_eq!(items.len(), 1, "{backend:?}: {items:?}");
        let delivery = &items[0];
        assert_eq!(delivery["status"], "failed", "{backend:?}: {delivery}");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["last_status_code"], Value::Null);
        assert!(!delivery["last_error"].as_str().unwrap().is_empty());
        assert_eq!(delivery["delivered_at"], Value::Null);
        stack.stop().await;
    }
}

#[tokio::test]
async fn bad_hooks_are_refused_and_only_admins_see_hooks() {
    for backend in backends() {
        let stack = LiveStack::start_with(backend, |c| c.no_webhook_delivery = true, |_| {}).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let path = format!("/api/projects/{project}/webhooks");
        for body in [
            json!({"url": "ftp://127.0.0.1/hook", "events": ["document.changed"]}),
            json!({"url": "not a url", "events": ["document.changed"]}),
            json!({"url": "http://127.0.0.1/hook", "events": []}),
            json!({"url": "http://127.0.0.1/hook", "events": ["document.deleted"]}),
            json!({"url": format!("http://127.0.0.1/{}", "x".repeat(2100)), "events": ["document.changed"]}),
        ] {
            let response = stack
                .send(Method::POST, &path, Some(&owner), Some(body.clone()))
                .await;
            assert_eq!(response.status(), 422, "{body}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        let created = create_hook(
            &stack,
            &owner,
            &project,
            "https://hooks.example.com/weft",
            &["document.changed"],
        )
        .await;
        let hook = created["id"].as_str().unwrap();

        // Someone outside the project learns nothing; a hook id under another project is unknown.
        let stranger = stack.user("stranger").await;
        let other = stack.project(&owner).await;
        for (token, path) in [
            (&stranger, format!("/api/projects/{project}/webhooks")),
            (
                &stranger,
                format!("/api/projects/{project}/webhooks/{hook}"),
            ),
            (&owner, format!("/api/projects/{other}/webhooks/{hook}")),
            (
                &owner,
                format!("/api/projects/{other}/webhooks/{hook}/deliveries"),
            ),
        ] {
            let response = stack.send(Method::GET, &path, Some(token), None).await;
            assert_eq!(response.status(), 404, "{path}");
        }
        stack.stop().await;
    }
}
