//! Bodies and documents nested to overflow a stack, and bodies far too large. Every JSON body
//! route gets arrays and objects nested 100,000 deep (as the body and inside a field) and a
//! body past its size limit: each is a 4xx problem and the server goes on. Yjs updates posted
//! over REST with a value nested 100,000 deep or shared types nested past the limit are refused;
//! a document nested exactly to the limit is read as JSON completely, versioned, restored and
//! deleted. A document stored deeper before the limit existed is read without overflowing
//! (cut off at the limit) and a restore that cannot copy it is a 422, not a crash.

use super::{Rest, read, text};
use crate::server::backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weft_protocol::MAX_NESTING;
use weft_protocol::yrs::{Doc, Map, MapPrelim, MapRef, ReadTxn, StateVector, Transact};

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

async fn post_raw(rest: &Rest, path: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = rest
        .http
        .post(rest.server.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    read(&Method::POST, path, response).await
}

#[tokio::test]
async fn nested_and_oversized_json_bodies_are_problems() {
    let rest = Rest::start(crate::server::Backend::Sqlite).await;
    let owner = rest.register("owner").await;
    let (org, project) = rest.org_project(&owner).await;
    let paths = [
        "/api/auth/register".to_owned(),
        "/api/auth/login".into(),
        "/api/orgs".into(),
        format!("/api/orgs/{org}/projects"),
        format!("/api/orgs/{org}/invitations"),
        format!("/api/projects/{project}/documents"),
        format!("/api/projects/{project}/channels"),
        format!("/api/projects/{project}/files"),
        format!("/api/projects/{project}/webhooks"),
        format!("/api/projects/{project}/imports"),
    ];
    for path in &paths {
        let bodies = [
            nested_arrays(100_000),
            nested_objects(100_000),
            format!("{{\"name\":{}}}", nested_arrays(100_000)),
            format!(
                "{{\"name\":\"x\",\"document\":{}}}",
                nested_objects(100_000)
            ),
            format!(
                "{{\"name\":\"x\",\"document\":{}}}",
                nested_arrays(1_000_000)
            ),
        ];
        for body in bodies {
            let (status, problem) = post_raw(&rest, path, &owner.token, body.into_bytes()).await;
            assert!(status.is_client_error(), "{path}: {status} {problem}");
        }
        // Past the body limit: 2 MiB for ordinary routes, API_IMPORT_MAX_BYTES for imports.
        let size = if path.ends_with("/imports") {
            33 << 20
        } else {
            3 << 20
        };
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(size));
        let (status, problem) = post_raw(&rest, path, &owner.token, big.into_bytes()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {problem}");
    }
    // A design within JSON's depth but past the design's own depth limit fails as an import.
    let mut node = json!({"id": "leaf", "type": "frame", "name": "F"});
    for i in 0..60 {
        node = json!({"id": format!("n{i}"), "type": "frame", "name": "F", "children": [node]});
    }
    let design = json!({"id": "d", "type": "document", "name": "D",
        "children": [{"id": "p", "type": "page", "name": "P", "children": [node]}]});
    let (status, import) = rest
        .call(
            Method::POST,
            &format!("/api/projects/{project}/imports"),
            Some(&owner.token),
            Some(json!({"name": "Deep", "document": design})),
        )
        .await;
    // serde_json's own limit (128) or the design's (48 levels) refuses it.
    if status == StatusCode::ACCEPTED {
        let path = format!("/api/imports/{}", text(&import["id"]));
        let view = loop {
            let view = rest.ok(Method::GET, &path, &owner.token, None).await;
            if view["status"] == "failed" || view["status"] == "succeeded" {
                break view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(view["status"], "failed", "{view}");
    } else {
        assert!(status.is_client_error());
    }
    let (status, _) = rest.call(Method::GET, "/api/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    rest.stop().await;
}

fn state_of(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// Maps nested `levels` deep under root map `m` (key `deep`), each level's key `c`.
fn nested_maps(client: u64, levels: u32) -> (Doc, MapRef) {
    let doc = Doc::with_client_id(client);
    let root = doc.get_or_insert_map("m");
    let mut txn = doc.transact_mut();
    let mut current = root.insert(&mut txn, "deep", MapPrelim::default());
    for _ in 1..levels {
        current = current.insert(&mut txn, "c", MapPrelim::default());
    }
    drop(txn);
    (doc, current)
}

/// How many levels of `{"c": …}` the JSON view of `base` shows under `m.deep` (the innermost is
/// `{}`). Counted in the text: the view of a document nested to the limit is deeper than the
/// 128 levels serde_json parses by default (it is read with JavaScript's `JSON.parse`).
async fn json_levels(rest: &Rest, base: &str, token: &str) -> u32 {
    let response = rest
        .http
        .get(rest.server.url(&format!("{base}/content")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    if !text.contains("\"deep\":") {
        return 0;
    }
    1 + text.matches("\"c\":{").count() as u32
}

#[tokio::test]
async fn deep_yjs_documents_over_rest() {
    for backend in backends() {
        let rest = Rest::start(backend).await;
        let owner = rest.register("owner").await;
        let (_, project) = rest.org_project(&owner).await;
        let t = &owner.token;
        let docs = format!("/api/projects/{project}/documents");
        let doc = text(
            &rest
                .ok(Method::POST, &docs, t, Some(json!({"name": "Deep"})))
                .await["id"],
        );
        let base = format!("{docs}/{doc}");

        // A value nested 100,000 deep: 400, not a crash.
        let value_bomb = {
            let d = Doc::with_client_id(5);
            d.get_or_insert_map("m")
                .insert(&mut d.transact_mut(), "k", 7);
            let mut bytes = state_of(&d);
            let pos = bytes.windows(2).rposition(|w| w == [0x7d, 0x07]).unwrap();
            let mut nested: Vec<u8> = std::iter::repeat_n([117u8, 1], 100_000).flatten().collect();
            nested.push(126);
            bytes.splice(pos..pos + 2, nested);
            bytes
        };
        let (status, problem) = rest.post_update(&base, t, value_bomb).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        // Shared types nested past the limit: 422.
        let (deep, _) = nested_maps(6, 10_000);
        let (status, problem) = rest.post_update(&base, t, state_of(&deep)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(text(&problem["detail"]).contains("deeper than 128"));

        // Exactly at the limit, level by level from the stored document: accepted; one more is
        // refused against what is stored.
        let (at_limit, innermost) = nested_maps(7, MAX_NESTING);
        let (status, _) = rest.post_update(&base, t, state_of(&at_limit)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let sv = at_limit.transact().state_vector();
        innermost.insert(&mut at_limit.transact_mut(), "c", MapPrelim::default());
        let one_more = at_limit.transact().encode_diff_v1(&sv);
        let (status, problem) = rest.post_update(&base, t, one_more).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            json_levels(&rest, &base, t).await,
            MAX_NESTING,
            "the JSON view reads every level"
        );
        let version = rest
            .ok(
                Method::POST,
                &format!("{base}/versions"),
                t,
                Some(json!({"name": "deep"})),
            )
            .await;
        // Delete the outermost level (recursive in yrs) over REST, then restore the version.
        let (fresh, _) = nested_maps(7, MAX_NESTING);
        let sv = fresh.transact().state_vector();
        fresh
            .get_or_insert_map("m")
            .remove(&mut fresh.transact_mut(), "deep");
        let delete = fresh.transact().encode_diff_v1(&sv);
        let (status, _) = rest.post_update(&base, t, delete).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(json_levels(&rest, &base, t).await, 0);
        rest.ok(
            Method::POST,
            &format!("{base}/versions/{}/restore", text(&version["id"])),
            t,
            None,
        )
        .await;
        assert_eq!(json_levels(&rest, &base, t).await, MAX_NESTING, "restored");

        // A document stored deeper before the limit existed (written behind the API).
        let legacy = text(
            &rest
                .ok(Method::POST, &docs, t, Some(json!({"name": "Legacy"})))
                .await["id"],
        );
        let (too_deep, _) = nested_maps(8, 5_000);
        let db = rest.db().await;
        let blob_dir = tempfile::tempdir().unwrap();
        let blobs = weft_storage::blob::local::LocalBlobStore::open(
            blob_dir.path(),
            "http://127.0.0.1",
            &[7; 32],
        )
        .unwrap();
        let store = weft_storage::docs::DocStore::new(
            db.clone(),
            std::sync::Arc::new(blobs),
            weft_storage::docs::DocStoreConfig::default(),
        );
        store
            .append(&legacy, &[bytes::Bytes::from(state_of(&too_deep))])
            .await
            .unwrap();
        let legacy_base = format!("{docs}/{legacy}");
        assert_eq!(
            json_levels(&rest, &legacy_base, t).await,
            MAX_NESTING,
            "read up to the limit"
        );
        let version = rest
            .ok(
                Method::POST,
                &format!("{legacy_base}/versions"),
                t,
                Some(json!({"name": "v"})),
            )
            .await;
        let (status, problem) = rest
            .call(
                Method::POST,
                &format!("{legacy_base}/versions/{}/restore", text(&version["id"])),
                Some(t),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        db.close().await;
        rest.stop().await;
    }
}
