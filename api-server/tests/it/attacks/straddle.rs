//! An update posted over REST whose item starts inside what the stored document holds for its
//! client, runs past it, and depends on content the document does not have (found by fuzzing the
//! collab tier: applied, the document's encoding would claim more than its state vector, so a
//! copy rebuilt from it diverges). It is refused with a 422 against the stored document, which
//! is left unchanged; honest updates around it are applied.

use super::{Rest, text};
use crate::server::backends;
use reqwest::{Method, StatusCode};
use serde_json::json;
use weft_protocol::yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact};

async fn stored_text(rest: &Rest, base: &str, token: &str) -> String {
    let response = rest
        .http
        .get(rest.server.url(&format!("{base}/state")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    let doc = Doc::new();
    let update = weft_protocol::decode_update(&bytes).unwrap();
    doc.transact_mut().apply_update(update).unwrap();
    let text = doc.get_or_insert_text("t");
    text.get_string(&doc.transact())
}

#[tokio::test]
async fn an_item_straddling_the_stored_clock_with_an_unknown_parent_is_refused() {
    for backend in backends() {
        let rest = Rest::start(backend).await;
        let owner = rest.register("owner").await;
        let (_, project) = rest.org_project(&owner).await;
        let t = &owner.token;
        let docs = format!("/api/projects/{project}/documents");
        let doc = text(
            &rest
                .ok(Method::POST, &docs, t, Some(json!({"name": "Straddle"})))
                .await["id"],
        );
        let base = format!("{docs}/{doc}");

        // The stored document holds client 1 up to clock 42.
        let writer = Doc::with_client_id(1);
        let body = "x".repeat(42);
        writer
            .get_or_insert_text("t")
            .insert(&mut writer.transact_mut(), 0, &body);
        let state = writer
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(
            rest.post_update(&base, t, state).await.0,
            StatusCode::NO_CONTENT
        );

        // Client 1 from clock 40: a deleted item of 116 whose parent is the unknown item
        // 109:101 (the fuzzer's minimal input).
        let straddle = vec![0x01, 0x01, 0x01, 0x28, 0x01, 0x00, 0x6d, 0x65, 0x74, 0x00];
        let (status, problem) = rest.post_update(&base, t, straddle.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(stored_text(&rest, &base, t).await, body, "stored unchanged");

        // The same item wholly beyond the stored clock (from clock 200) is ordinary
        // out-of-order delivery: accepted, it waits for what it depends on.
        let beyond = vec![
            0x01, 0x01, 0x01, 0xc8, 0x01, 0x01, 0x00, 0x6d, 0x65, 0x74, 0x00,
        ];
        assert_ne!(beyond, straddle);
        assert_eq!(
            rest.post_update(&base, t, beyond).await.0,
            StatusCode::NO_CONTENT
        );
        // And honest edits go on.
        let sv = writer.transact().state_vector();
        writer
            .get_or_insert_text("t")
            .insert(&mut writer.transact_mut(), 42, "!");
        let more = writer.transact().encode_diff_v1(&sv);
        assert_eq!(
            rest.post_update(&base, t, more).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(stored_text(&rest, &base, t).await, format!("{body}!"));
        rest.stop().await;
    }
}
