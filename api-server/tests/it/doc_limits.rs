//! The document size limit (`COLLAB_MAX_DOCUMENT_BYTES`) on REST writes: an update, a version
//! restore or a design import that would take a document past it is refused with a 413
//! problem and changes nothing; deletions always pass and make room again. And the largest
//! update body (`API_MAX_UPDATE_BYTES`) is a 413 too. SQLite and Postgres.

use crate::live_stack::LiveStack;
use crate::server::backends;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use weft_protocol::doc_size::encoded_size;
use weft_protocol::yrs::{Doc, Map, ReadTxn, Text, Transact};

const LIMIT: u64 = 16 * 1024;

/// An edit of `doc` as the update a client would post.
fn edit(doc: &Doc, f: impl FnOnce(&Doc)) -> Vec<u8> {
    let before = doc.transact().state_vector();
    f(doc);
    doc.transact().encode_diff_v1(&before)
}

fn insert(doc: &Doc, at: u32, s: &str) -> Vec<u8> {
    edit(doc, |d| {
        d.get_or_insert_text("content")
            .insert(&mut d.transact_mut(), at, s)
    })
}

/// Posts a binary update; (status, problem body when there is one).
async fn post_update(stack: &LiveStack, token: &str, base: &str, update: Vec<u8>) -> (u16, Value) {
    let response = stack
        .http
        .post(stack.api.url(&format!("{base}/updates")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(update)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 204 {
        return (status, Value::Null);
    }
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    (status, response.json().await.unwrap())
}

async fn content(stack: &LiveStack, token: &str, base: &str) -> Value {
    stack
        .call(Method::GET, &format!("{base}/content"), Some(token), None)
        .await
}

async fn stack_with_limit(backend: crate::server::Backend) -> LiveStack {
    LiveStack::start_with(
        backend,
        |c| {
            c.max_document_bytes = LIMIT;
            c.max_update_bytes = 64 * 1024;
        },
        |c| c.max_document_bytes = LIMIT,
    )
    .await
}

#[tokio::test]
async fn rest_updates_past_the_document_limit_answer_413_and_change_nothing() {
    for backend in backends() {
        let stack = stack_with_limit(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Big").await;
        let base = format!("/api/projects/{project}/documents/{doc}");

        let local = Doc::new();
        let a = "a".repeat(10_000);
        let (status, _) = post_update(&stack, &owner, &base, insert(&local, 0, &a)).await;
        assert_eq!(status, 204, "{backend:?}");

        // 10 kB + 8 kB is past the limit: refused, nothing stored.
        let growth = insert(&local, 10_000, &"b".repeat(8_000));
        let (status, problem) = post_update(&stack, &owner, &base, growth.clone()).await;
        assert_eq!(status, 413, "{backend:?}: {problem}");
        assert_eq!(problem["status"], 413);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("document too large: limit 16384 bytes"),
            "{detail}"
        );
        assert_eq!(content(&stack, &owner, &base).await["content"], a);

        // A deletion always passes, and makes room for the same growth.
        let deletion = edit(&local, |d| {
            d.get_or_insert_text("content")
                .remove_range(&mut d.transact_mut(), 0, 5_000)
        });
        let (status, _) = post_update(&stack, &owner, &base, deletion).await;
        assert_eq!(status, 204);
        let (status, problem) = post_update(&stack, &owner, &base, growth).await;
        assert_eq!(status, 204, "{problem}");
        assert_eq!(
            content(&stack, &owner, &base).await["content"],
            format!("{}{}", "a".repeat(5_000), "b".repeat(8_000))
        );

        // A body above API_MAX_UPDATE_BYTES is a 413 as well.
        let huge = insert(&Doc::new(), 0, &"h".repeat(100 * 1024));
        let (status, problem) = post_update(&stack, &owner, &base, huge).await;
        assert_eq!(status, 413, "{problem}");
        stack.stop().await;
    }
}

#[tokio::test]
async fn a_restore_past_the_document_limit_answers_413_and_changes_nothing() {
    for backend in backends() {
        let stack = stack_with_limit(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Versions").await;
        let base = format!("/api/projects/{project}/documents/{doc}");

        // A map of many keys, close to the limit.
        let local = Doc::new();
        let mut keys = 0;
        let fill = edit(&local, |d| {
            let map = d.get_or_insert_map("m");
            let mut txn = d.transact_mut();
            while encoded_size_of(&txn) < 14_000 {
                map.insert(&mut txn, format!("key{keys}"), "x".repeat(40));
                keys += 1;
            }
        });
        let (status, problem) = post_update(&stack, &owner, &base, fill).await;
        assert_eq!(status, 204, "{problem}");
        let version = stack
            .call(
                Method::POST,
                &format!("{base}/versions"),
                Some(&owner),
                Some(json!({"name": "full"})),
            )
            .await;

        // Clearing it leaves a tombstone per key: restoring writes every key anew on top.
        let clear = edit(&local, |d| {
            d.get_or_insert_map("m").clear(&mut d.transact_mut())
        });
        assert!(
            encoded_size(&local) + 14_000 > LIMIT,
            "the tombstones are too small for this test"
        );
        let (status, _) = post_update(&stack, &owner, &base, clear).await;
        assert_eq!(status, 204);

        let response = stack
            .send(
                Method::POST,
                &format!(
                    "{base}/versions/{}/restore",
                    version["id"].as_str().unwrap()
                ),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(response.status(), 413, "{backend:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("document too large: limit 16384 bytes")
        );
        // Unchanged: the map is still empty.
        assert_eq!(content(&stack, &owner, &base).await, json!({}));
        stack.stop().await;
    }
}

fn encoded_size_of(txn: &impl ReadTxn) -> u64 {
    txn.encode_state_as_update_v1(&Default::default()).len() as u64
}

#[tokio::test]
async fn an_import_past_the_document_limit_fails_with_413_and_makes_no_document() {
    for backend in backends() {
        let stack = stack_with_limit(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let design = json!({
            "id": "0:0", "type": "document", "name": "Long",
            "children": [{"id": "1:0", "type": "page", "name": "Page", "children": [
                {"id": "1:1", "type": "text", "name": "Essay", "characters": "w".repeat(20_000),
                 "geometry": {"x": 0, "y": 0, "width": 400, "height": 800}}
            ]}]
        });
        let queued = stack
            .call(
                Method::POST,
                &format!("/api/projects/{project}/imports"),
                Some(&owner),
                Some(json!({"name": "Long", "document": design})),
            )
            .await;
        let id = queued["id"].as_str().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let done = loop {
            let import = stack
                .call(
                    Method::GET,
                    &format!("/api/imports/{id}"),
                    Some(&owner),
                    None,
                )
                .await;
            if import["status"] == "failed" || import["status"] == "succeeded" {
                break import;
            }
            assert!(tokio::time::Instant::now() < deadline, "{import}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(done["status"], "failed", "{backend:?}: {done}");
        assert_eq!(done["error"]["status"], 413, "{done}");
        assert!(
            done["error"]["detail"]
                .as_str()
                .unwrap()
                .starts_with("document too large: limit 16384 bytes")
        );
        assert!(done["document_id"].is_null());
        let docs = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/documents"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(docs["items"], json!([]), "{backend:?}");
        stack.stop().await;
    }
}
