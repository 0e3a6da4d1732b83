//! Documents over REST against live editors: what a y-websocket client types shows in
//! `content` and `state`, an update posted over REST reaches the client, a restored version
//! reaches it as a new update, and deleting a document closes its connections and removes its
//! data. api-server and collab-server run apart, sharing the database and Redis; every test runs
//! on SQLite and Postgres.

use crate::live_stack::LiveStack;
use crate::server::backends;
use crate::yclient::{Ended, YClient, map_string};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

const WAIT: Duration = Duration::from_secs(10);

/// Polls `GET …/content` until `done` holds for it; the last body.
async fn content_until(
    stack: &LiveStack,
    token: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let body = stack.call(Method::GET, path, Some(token), None).await;
        if done(&body) || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn typed_text_shows_in_content_and_a_rest_update_reaches_the_editor() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Notes").await;
        let base = format!("/api/projects/{project}/documents/{doc}");

        let mut editor = YClient::connect(&stack.ws_url(&owner, &project, &doc).await).await;
        editor.settle().await;
        editor.type_text("content", 0, "hello from yrs").await;
        editor.set_key("meta", "title", "Plan").await;

        let content = content_until(&stack, &owner, &format!("{base}/content"), |c| {
            c["content"] == "hello from yrs" && c["meta"]["title"] == "Plan"
        })
        .await;
        assert_eq!(
            content,
            json!({"content": "hello from yrs", "meta": {"title": "Plan"}}),
            "{backend:?}"
        );

        // The binary state is the whole document.
        let response = stack
            .send(Method::GET, &format!("{base}/state"), Some(&owner), None)
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        let state = response.bytes().await.unwrap();
        let copy = Doc::new();
        copy.transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        let text = copy.get_or_insert_text("content");
        assert_eq!(text.get_string(&copy.transact()), "hello from yrs");

        // An update made on that copy, posted over REST, reaches the live editor.
        let before = copy.transact().state_vector();
        text.insert(&mut copy.transact_mut(), 14, " + rest");
        let update = copy.transact().encode_diff_v1(&before);
        let response = stack
            .http
            .post(stack.api.url(&format!("{base}/updates")))
            .bearer_auth(&owner)
            .header("content-type", "application/octet-stream")
            .body(update)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{backend:?}");
        editor
            .until(WAIT, |c| c.text("content") == "hello from yrs + rest")
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: the REST update never arrived: {e:?}"));
        let content = stack
            .call(Method::GET, &format!("{base}/content"), Some(&owner), None)
            .await;
        assert_eq!(content["content"], "hello from yrs + rest");

        // Garbage is refused with a problem and changes nothing; the editor stays connected.
        let response = stack
            .http
            .post(stack.api.url(&format!("{base}/updates")))
            .bearer_auth(&owner)
            .header("content-type", "application/octet-stream")
            .body(vec![0xff, 0x13, 0x37, 0x00, 0x42])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        editor.type_text("content", 0, ">").await;
        let content = content_until(&stack, &owner, &format!("{base}/content"), |c| {
            c["content"] == ">hello from yrs + rest"
        })
        .await;
        assert_eq!(content["content"], ">hello from yrs + rest", "{backend:?}");

        // Someone outside the project learns nothing.
        let stranger = stack.user("stranger").await;
        for path in ["content", "state"] {
            let response = stack
                .send(
                    Method::GET,
                    &format!("{base}/{path}"),
                    Some(&stranger),
                    None,
                )
                .await;
            assert_eq!(response.status(), 404, "{path}");
        }
        editor.close().await;
        stack.stop().await;
    }
}

#[tokio::test]
async fn a_restored_version_reaches_live_editors_as_a_new_update() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Essay").await;
        let base = format!("/api/projects/{project}/documents/{doc}");
        let mut editor = YClient::connect(&stack.ws_url(&owner, &project, &doc).await).await;
        editor.settle().await;
        editor.type_text("body", 0, "version one").await;
        editor.set_key("meta", "title", "first").await;
        let v1_content = content_until(&stack, &owner, &format!("{base}/content"), |c| {
            c["body"] == "version one" && c["meta"]["title"] == "first"
        })
        .await;
        let v1 = stack
            .call(
                Method::POST,
                &format!("{base}/versions"),
                Some(&owner),
                Some(json!({"name": "v1"})),
            )
            .await;
        assert_eq!(v1["name"], "v1");
        assert!(v1["size_bytes"].as_u64().unwrap() > 0);

        editor.delete_text("body", 8, 3).await;
        editor.type_text("body", 8, "two, much longer").await;
        editor.set_key("meta", "title", "second").await;
        editor.set_key("meta", "extra", "added later").await;
        content_until(&stack, &owner, &format!("{base}/content"), |c| {
            c["meta"]["extra"] == "added later"
        })
        .await;
        let v2 = stack
            .call(
                Method::POST,
                &format!("{base}/versions"),
                Some(&owner),
                Some(json!({"name": "v2"})),
            )
            .await;

        let list = stack
            .call(
                Method::GET,
                &format!("{base}/versions?limit=1"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(list["items"][0]["id"], v1["id"]);
        assert_eq!(list["next"], v1["id"]);
        let rest = stack
            .call(
                Method::GET,
                &format!("{base}/versions?after={}", v1["id"].as_str().unwrap()),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(rest["items"][0]["id"], v2["id"]);

        let restored = stack
            .call(
                Method::POST,
                &format!("{base}/versions/{}/restore", v1["id"].as_str().unwrap()),
                Some(&owner),
                None,
            )
            .await;
        assert!(restored["update_bytes"].as_u64().unwrap() > 0);
        editor
            .until(WAIT, |c| {
                c.text("body") == "version one"
                    && map_string(&c.doc, "meta", "title").as_deref() == Some("first")
                    && map_string(&c.doc, "meta", "extra").is_none()
            })
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: the restore never arrived: {e:?}"));
        let now = stack
            .call(Method::GET, &format!("{base}/content"), Some(&owner), None)
            .await;
        assert_eq!(now, v1_content, "{backend:?}");

        // History is kept: v2 restores the later text, and a restore to the current state is empty.
        let v2_restore = format!("{base}/versions/{}/restore", v2["id"].as_str().unwrap());
        stack
            .call(Method::POST, &v2_restore, Some(&owner), None)
            .await;
        editor
            .until(WAIT, |c| c.text("body") == "version two, much longer")
            .await
            .unwrap();
        let again = stack
            .call(Method::POST, &v2_restore, Some(&owner), None)
            .await;
        assert_eq!(again["update_bytes"], 0);

        let missing = stack
            .send(
                Method::POST,
                &format!("{base}/versions/{}/restore", uuid::Uuid::now_v7()),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(missing.status(), 404);
        // The editor's own replica holds exactly what storage does.
        let stored = stack
            .send(Method::GET, &format!("{base}/state"), Some(&owner), None)
            .await
            .bytes()
            .await
            .unwrap();
        let copy = Doc::new();
        copy.transact_mut()
            .apply_update(Update::decode_v1(&stored).unwrap())
            .unwrap();
        assert_eq!(
            weft_protocol::doc_to_json(&copy),
            weft_protocol::doc_to_json(&editor.doc)
        );
        editor.close().await;
        stack.stop().await;
    }
}

#[tokio::test]
async fn deleting_a_document_or_its_project_closes_connections_and_removes_its_data() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let doc = stack.document(&owner, &project, "Doomed").await;
        let other = stack.document(&owner, &project, "Also doomed").await;
        let url = stack.ws_url(&owner, &project, &doc).await;
        let other_url = stack.ws_url(&owner, &project, &other).await;
        let mut editor = YClient::connect(&url).await;
        let mut other_editor = YClient::connect(&other_url).await;
        editor.settle().await;
        other_editor.settle().await;
        editor.type_text("content", 0, "short-lived").await;
        let base = format!("/api/projects/{project}/documents/{doc}");
        content_until(&stack, &owner, &format!("{base}/content"), |c| {
            c["content"] == "short-lived"
        })
        .await;

        let response = stack.send(Method::DELETE, &base, Some(&owner), None).await;
        assert_eq!(response.status(), 204);
        assert_eq!(
            editor.closed(WAIT).await,
            Ended::Closed(4404),
            "{backend:?}"
        );
        // The other document is untouched.
        other_editor.type_text("content", 0, "still here").await;
        assert!(matches!(
            other_editor
                .until(Duration::from_millis(200), |_| false)
                .await,
            Err(Ended::TimedOut)
        ));
        assert_eq!(
            stack
                .send(Method::GET, &format!("{base}/content"), Some(&owner), None)
                .await
                .status(),
            404
        );
        // The token is still within its lifetime, but the document stays gone.
        let mut late = YClient::connect(&url).await;
        assert_eq!(late.closed(WAIT).await, Ended::Closed(4404), "{backend:?}");

        // Deleting the project closes the connections of its documents.
        let response = stack
            .send(
                Method::DELETE,
                &format!("/api/projects/{project}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(response.status(), 204);
        assert_eq!(
            other_editor.closed(WAIT).await,
            Ended::Closed(4404),
            "{backend:?}"
        );
        stack.stop().await;
    }
}
