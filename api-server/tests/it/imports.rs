//! Design imports end to end: a realistic design posted inline becomes a document that a
//! y-websocket client opens (pages, order, geometry, text as `Y.Text`) and edits, with the edit
//! visible over REST; an invalid design fails with pointers at the offending nodes and leaves
//! no document; request errors, the backlog bound and access rules are problems; imports left
//! queued or running by a stopped server are finished by the next one. Every test runs on
//! SQLite and Postgres.

use crate::live_stack::LiveStack;
use crate::server::{Backend, TestServer, backends};
use crate::yclient::YClient;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use weft_protocol::yrs::{
    Array, Doc, GetString, Map, MapRef, Out, ReadTxn, Text, TextRef, Transact,
};

const WAIT: Duration = Duration::from_secs(20);

fn rect(id: &str, name: &str, x: f64, width: f64, color: &str) -> Value {
    json!({"id": id, "type": "rectangle", "name": name,
        "geometry": {"x": x, "y": 0, "width": width, "height": 48},
        "style": {"fills": [{"type": "solid", "color": color}], "cornerRadius": 8}})
}

fn text(id: &str, name: &str, characters: &str, size: f64) -> Value {
    json!({"id": id, "type": "text", "name": name, "characters": characters,
        "geometry": {"x": 24, "y": 12, "width": 320, "height": size * 1.5},
        "style": {"font": {"family": "Inter", "size": size, "weight": 600, "lineHeight": size * 1.5},
                  "fills": [{"type": "solid", "color": "#101828"}]}})
}

/// A landing page and a components page: frames with nested groups, rectangles, ellipses and
/// styled text.
fn design() -> Value {
    json!({
        "id": "0:0", "type": "document", "name": "FluxStudio landing",
        "children": [
            {"id": "1:0", "type": "page", "name": "Landing",
             "style": {"fills": [{"type": "solid", "color": "#F2F4F7"}]},
             "children": [
                {"id": "1:1", "type": "frame", "name": "Desktop",
                 "geometry": {"x": 0, "y": 0, "width": 1440, "height": 1024},
                 "style": {"fills": [{"type": "solid", "color": "#FFFFFF"}]},
                 "children": [
                    text("1:2", "Headline", "Design together", 56.0),
                    text("1:3", "Subhead", "Import your files and edit live", 20.0),
                    {"id": "1:4", "type": "group", "name": "CTA",
                     "geometry": {"x": 24, "y": 320, "width": 420, "height": 48},
                     "children": [
                        rect("1:5", "Primary button", 0.0, 200.0, "#7F56D9"),
                        {"id": "1:6", "type": "group", "name": "Secondary",
                         "geometry": {"x": 220, "y": 0, "width": 200, "height": 48},
                         "children": [
                            rect("1:7", "Outline", 0.0, 200.0, "#FFFFFF"),
                            text("1:8", "Label", "Watch demo", 16.0)
                         ]}
                     ]},
                    {"id": "1:9", "type": "ellipse", "name": "Blob",
                     "geometry": {"x": 980, "y": 120, "width": 360.5, "height": 360.5, "rotation": 12.5},
                     "style": {"opacity": 0.6, "fills": [{"type": "radial-gradient", "stops": [
                        {"position": 0, "color": "#9E77ED"}, {"position": 1, "color": "#9E77ED00"}]}]}}
                 ]},
                {"id": "1:10", "type": "frame", "name": "Mobile",
                 "geometry": {"x": 1600, "y": 0, "width": 390, "height": 844},
                 "children": [text("1:11", "Headline", "Design together", 32.0)]}
             ]},
            {"id": "2:0", "type": "page", "name": "Components",
             "children": [
                {"id": "2:1", "type": "component", "name": "Avatar",
                 "geometry": {"x": 0, "y": 0, "width": 40, "height": 40},
                 "children": [
                    {"id": "2:2", "type": "ellipse", "name": "Circle",
                     "geometry": {"x": 0, "y": 0, "width": 40, "height": 40},
                     "style": {"fills": [{"type": "solid", "color": "#D0D5DD"}]}},
                    text("2:3", "Initials", "FS", 14.0)
                 ]},
                {"id": "2:4", "type": "instance", "name": "Avatar / Large", "componentId": "2:1",
                 "geometry": {"x": 80, "y": 0, "width": 64, "height": 64}}
             ]}
        ]
    })
}

/// Polls `GET /api/imports/{id}` until the import finished; its body.
async fn finished(stack: &LiveStack, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let import = stack
            .call(
                Method::GET,
                &format!("/api/imports/{id}"),
                Some(token),
                None,
            )
            .await;
        if import["status"] == "succeeded" || import["status"] == "failed" {
            return import;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "import never finished: {import}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Posts an inline import; (status, body, Location header).
async fn post(
    stack: &LiveStack,
    token: Option<&str>,
    project: &str,
    body: Value,
) -> (u16, Value, Option<String>) {
    let response = stack
        .send(
            Method::POST,
            &format!("/api/projects/{project}/imports"),
            token,
            Some(body),
        )
        .await;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    if status >= 400 {
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    (status, response.json().await.unwrap(), location)
}

fn child<T: ReadTxn>(txn: &T, node: &MapRef, index: u32) -> MapRef {
    let Some(Out::YArray(children)) = node.get(txn, "children") else {
        panic!("no children array");
    };
    match children.get(txn, index) {
        Some(Out::YMap(map)) => map,
        other => panic!("child {index}: {other:?}"),
    }
}

fn names<T: ReadTxn>(txn: &T, node: &MapRef) -> Vec<String> {
    let Some(Out::YArray(children)) = node.get(txn, "children") else {
        panic!("no children array");
    };
    children
        .iter(txn)
        .map(|c| match c {
            Out::YMap(m) => m.get(txn, "name").unwrap().to_string(txn),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn number<T: ReadTxn>(txn: &T, node: &MapRef, key: &str) -> f64 {
    let Some(Out::YMap(geometry)) = node.get(txn, "geometry") else {
        panic!("no geometry");
    };
    geometry.get(txn, key).unwrap().cast::<f64>().unwrap()
}

fn characters<T: ReadTxn>(txn: &T, node: &MapRef) -> TextRef {
    match node.get(txn, "characters") {
        Some(Out::YText(text)) => text,
        other => panic!("characters: {other:?}"),
    }
}

fn design_root(doc: &Doc) -> MapRef {
    doc.get_or_insert_map(weft_protocol::design::ROOT)
}

#[tokio::test]
async fn an_imported_design_opens_live_and_takes_edits() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;

        let (status, queued, location) = post(
            &stack,
            Some(&owner),
            &project,
            json!({"name": "Landing page", "document": design()}),
        )
        .await;
        assert_eq!(status, 202, "{backend:?}: {queued}");
        let id = queued["id"].as_str().unwrap().to_owned();
        assert_eq!(
            location.as_deref(),
            Some(format!("/api/imports/{id}").as_str())
        );
        assert!(matches!(
            queued["status"].as_str(),
            Some("queued" | "running")
        ));
        assert_eq!(queued["project_id"], project.as_str());
        assert!(queued["document_id"].is_null());

        let done = finished(&stack, &owner, &id).await;
        assert_eq!(done["status"], "succeeded", "{backend:?}: {done}");
        assert_eq!(done["node_count"], 18);
        assert!(done["error"].is_null());
        let doc = done["document_id"].as_str().unwrap().to_owned();
        let listed = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/documents/{doc}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(listed["name"], "Landing page");

        // A browser client opens it over the collab tier.
        let mut client = YClient::connect(&stack.ws_url(&owner, &project, &doc).await).await;
        client
            .until(WAIT, |c| design_root(&c.doc).len(&c.doc.transact()) > 0)
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: the design never arrived: {e:?}"));
        {
            let root = design_root(&client.doc);
            let txn = client.doc.transact();
            assert_eq!(root.get(&txn, "type").unwrap().to_string(&txn), "document");
            assert_eq!(names(&txn, &root), ["Landing", "Components"]);
            let landing = child(&txn, &root, 0);
            assert_eq!(names(&txn, &landing), ["Desktop", "Mobile"]);
            let desktop = child(&txn, &landing, 0);
            assert_eq!(
                names(&txn, &desktop),
                ["Headline", "Subhead", "CTA", "Blob"]
            );
            assert_eq!(number(&txn, &desktop, "width"), 1440.0);
            let headline = child(&txn, &desktop, 0);
            assert_eq!(
                characters(&txn, &headline).get_string(&txn),
                "Design together"
            );
            let cta = child(&txn, &desktop, 2);
            assert_eq!(names(&txn, &cta), ["Primary button", "Secondary"]);
            let label = child(&txn, &child(&txn, &cta, 1), 1);
            assert_eq!(characters(&txn, &label).get_string(&txn), "Watch demo");
            let blob = child(&txn, &desktop, 3);
            assert_eq!(number(&txn, &blob, "width"), 360.5);
            assert_eq!(number(&txn, &blob, "rotation"), 12.5);
            let components = child(&txn, &root, 1);
            assert_eq!(names(&txn, &components), ["Avatar", "Avatar / Large"]);
            let instance = child(&txn, &components, 1);
            assert_eq!(
                instance.get(&txn, "componentId").unwrap().to_string(&txn),
                "2:1"
            );
        }

        // The client edits the headline and moves the frame; REST sees both.
        // (Roots are looked up outside the transaction: yrs would block on its own lock.)
        let root = design_root(&client.doc);
        client
            .edit(move |_, txn| {
                let desktop = child(txn, &child(txn, &root, 0), 0);
                let headline = child(txn, &desktop, 0);
                characters(txn, &headline).insert(txn, 15, ", live");
                let Some(Out::YMap(geometry)) = desktop.get(txn, "geometry") else {
                    panic!("no geometry");
                };
                geometry.insert(txn, "x", 64.0);
            })
            .await;
        let path = format!("/api/projects/{project}/documents/{doc}/content");
        let deadline = tokio::time::Instant::now() + WAIT;
        let content = loop {
            let content = stack.call(Method::GET, &path, Some(&owner), None).await;
            let desktop = &content["design"]["children"][0]["children"][0];
            if desktop["children"][0]["characters"] == "Design together, live"
                && desktop["geometry"]["x"] == 64.0
                || tokio::time::Instant::now() > deadline
            {
                break content;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let desktop = &content["design"]["children"][0]["children"][0];
        assert_eq!(
            desktop["children"][0]["characters"], "Design together, live",
            "{backend:?}"
        );
        assert_eq!(desktop["geometry"]["x"], 64.0);
        assert_eq!(
            content["design"]["children"][1]["children"][0]["children"][1]["characters"],
            "FS"
        );
        client.close().await;
        stack.stop().await;
    }
}

#[tokio::test]
async fn an_invalid_design_fails_with_pointers_and_leaves_no_document() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let mut bad = design();
        bad["children"][1]["children"][0]["geometry"]["width"] = json!(-40);
        bad["children"][0]["children"][0]["children"][0]["children"] =
            json!([rect("9:9", "Inside", 0.0, 1.0, "#000000")]);
        bad["children"][0]["children"][1]["type"] = json!("artboard");
        bad["children"][1]["children"][1]
            .as_object_mut()
            .unwrap()
            .remove("name");
        bad["children"][1]["children"][0]["children"][1]["id"] = json!("1:5");

        let (status, queued, _) = post(
            &stack,
            Some(&owner),
            &project,
            json!({"name": "Broken", "document": bad}),
        )
        .await;
        assert_eq!(status, 202, "{queued}");
        let done = finished(&stack, &owner, queued["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{backend:?}: {done}");
        assert!(done["document_id"].is_null() && done["node_count"].is_null());
        let error = &done["error"];
        assert_eq!(error["status"], 422);
        assert_eq!(error["type"], "about:blank");
        assert_eq!(error["title"], "Unprocessable Entity");
        let pointers: Vec<&str> = error["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(
            pointers,
            [
                "/children/0/children/0/children/0/children",
                "/children/0/children/1/type",
                "/children/1/children/0/geometry/width",
                "/children/1/children/0/children/1/id",
                "/children/1/children/1",
            ],
            "{backend:?}: {error}"
        );
        let details: Vec<&str> = error["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert!(details[0].contains("a text cannot have children"));
        assert!(details[1].contains("unknown node type \"artboard\""));
        assert!(details[2].contains("width must not be negative"));
        assert!(details[3].contains("duplicate id \"1:5\""));
        assert_eq!(details[4], "missing name");

        // A design whose root is not a document fails at the root pointer.
        let (status, queued, _) = post(
            &stack,
            Some(&owner),
            &project,
            json!({"name": "Page only", "document": {"id": "p", "type": "page", "name": "P"}}),
        )
        .await;
        assert_eq!(status, 202);
        let done = finished(&stack, &owner, queued["id"].as_str().unwrap()).await;
        assert_eq!(done["error"]["errors"][0]["pointer"], "/type");
        assert!(
            done["error"]["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("the root must be a document node")
        );

        // No document was made.
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

#[tokio::test]
async fn import_requests_are_checked_and_bounded() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let imports = format!("/api/projects/{project}/imports");
        for (body, status) in [
            (json!({"name": "X"}), 422),
            (
                json!({"name": "X", "document": {}, "file_id": uuid::Uuid::now_v7()}),
                422,
            ),
            (json!({"name": " ", "document": {}}), 422),
            (json!({"name": "X", "file_id": uuid::Uuid::now_v7()}), 404),
            (json!({"name": "X", "document": 42}), 422),
            (json!({"name": "X", "document": [{}]}), 422),
            (json!({"name": "X", "document": {}, "extra": 1}), 400),
            (json!({"document": {}}), 400),
        ] {
            let (got, problem, _) = post(&stack, Some(&owner), &project, body.clone()).await;
            assert_eq!(got, status, "{backend:?}: {body}: {problem}");
        }
        let response = stack
            .http
            .post(stack.api.url(&imports))
            .bearer_auth(&owner)
            .header("content-type", "text/plain")
            .body(r#"{"name": "X", "document": {}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415);
        let response = stack
            .http
            .post(stack.api.url(&imports))
            .bearer_auth(&owner)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        stack.stop().await;

        // The body limit and the backlog bound.
        let server = TestServer::start_with(backend, |c| {
            c.import_max_bytes = 1024;
            c.import_backlog = 1;
        })
        .await;
        server.ready().await;
        let http = reqwest::Client::new();
        let token = register(&http, &server, "owner").await;
        let project = project_of(&http, &server, &token).await;
        let url = server.url(&format!("/api/projects/{project}/imports"));
        let big = json!({"name": "Big", "document": {"pad": "x".repeat(2000)}});
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{backend:?}");
        // Fill the backlog of one, then the next is refused until the worker catches up: the
        // worker is busy only briefly, so the check is on the first refusal's shape.
        let mut refused = None;
        for _ in 0..50 {
            let response = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"name": "Small", "document": design()["children"][1]["children"][1]}))
                .send()
                .await
                .unwrap();
            if response.status() == 503 {
                refused = Some(response);
                break;
            }
            assert_eq!(response.status(), 202);
        }
        let refused = refused.expect("the backlog bound never refused an import");
        assert_eq!(refused.headers()["retry-after"], "10");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
        server.stop().await;
    }
}

async fn register(http: &reqwest::Client, server: &TestServer, name: &str) -> String {
    let session: Value = http
        .post(server.url("/api/auth/register"))
        .json(&json!({"email": format!("{name}@example.com"), "password": "a long password", "name": name}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["access_token"].as_str().unwrap().to_owned()
}

async fn project_of(http: &reqwest::Client, server: &TestServer, token: &str) -> String {
    let org: Value = http
        .post(server.url("/api/orgs"))
        .bearer_auth(token)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project: Value = http
        .post(server.url(&format!(
            "/api/orgs/{}/projects",
            org["id"].as_str().unwrap()
        )))
        .bearer_auth(token)
        .json(&json!({"name": "Site"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    project["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn imports_are_seen_only_by_their_project() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let viewer = stack.user("viewer").await;
        let outsider = stack.user("outsider").await;
        let project = stack.project(&owner).await;
        let me: Value = stack
            .call(Method::GET, "/api/me", Some(&viewer), None)
            .await;
        stack
            .call(
                Method::PUT,
                &format!(
                    "/api/projects/{project}/members/{}",
                    me["id"].as_str().unwrap()
                ),
                Some(&owner),
                Some(json!({"role": "viewer"})),
            )
            .await;
        let body = json!({"name": "Design", "document": design()});
        let (status, queued, _) = post(&stack, Some(&owner), &project, body.clone()).await;
        assert_eq!(status, 202);
        let id = queued["id"].as_str().unwrap();

        assert_eq!(
            post(&stack, Some(&viewer), &project, body.clone()).await.0,
            403
        );
        assert_eq!(
            post(&stack, Some(&outsider), &project, body.clone())
                .await
                .0,
            404
        );
        assert_eq!(post(&stack, None, &project, body.clone()).await.0, 401);
        let get = |token: Option<String>| {
            let stack = &stack;
            async move {
                stack
                    .send(
                        Method::GET,
                        &format!("/api/imports/{id}"),
                        token.as_deref(),
                        None,
                    )
                    .await
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(get(Some(viewer.clone())).await, 200, "{backend:?}");
        assert_eq!(get(Some(outsider.clone())).await, 404);
        assert_eq!(get(None).await, 401);
        let missing = stack
            .send(
                Method::GET,
                &format!("/api/imports/{}", uuid::Uuid::now_v7()),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(missing.status(), 404);
        // Deleting the project deletes its imports.
        finished(&stack, &owner, id).await;
        stack
            .call(
                Method::DELETE,
                &format!("/api/projects/{project}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(get(Some(owner.clone())).await, 404);
        stack.stop().await;
    }
}

#[tokio::test]
async fn imports_left_by_a_stopped_server_are_finished_by_the_next() {
    use weft_storage::accounts::{Accounts, NewImport};
    use weft_storage::sql::{Database, scratch};
    for backend in backends() {
        // The database as a server that died mid-import left it: one import queued, one
        // running with a heartbeat long gone.
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("left.db").display()),
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").unwrap();
                scratch::create_database(&admin, "imports").await.unwrap()
            }
        };
        let db = Database::connect(&url).await.unwrap();
        let accounts = Accounts::new(db.clone());
        let user = accounts
            .create_user("owner@example.com", "Owner", "$argon2id$stub")
            .await
            .unwrap();
        let org = accounts.create_org("Acme", user.id).await.unwrap();
        let project = accounts.create_project(org.id, "Site").await.unwrap();
        let source = design().to_string();
        let new = |name| NewImport {
            project: project.id,
            created_by: user.id,
            name,
            file_id: None,
            source: source.as_bytes(),
        };
        let running = accounts.create_import(new("Was running")).await.unwrap();
        accounts.claim_import().await.unwrap().unwrap();
        sqlx::query("UPDATE imports SET heartbeat_at = 0 WHERE id = $1")
            .bind(running.id.to_string())
            .execute(db.pool())
            .await
            .unwrap();
        let queued = accounts.create_import(new("Was queued")).await.unwrap();

        let server = TestServer::start_with(backend, |c| c.database_url = Some(url.clone())).await;
        server.ready().await;
        let deadline = tokio::time::Instant::now() + WAIT;
        for (id, attempts) in [(running.id, 2), (queued.id, 1)] {
            let import = loop {
                let import = accounts.import(id).await.unwrap().unwrap();
                if import.finished_at.is_some() || tokio::time::Instant::now() > deadline {
                    break import;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(
                import.status,
                weft_storage::accounts::ImportStatus::Succeeded,
                "{backend:?}: {import:?}"
            );
            assert_eq!(import.attempts, attempts);
            assert_eq!(import.node_count, Some(18));
            let document = accounts
                .document(import.document_id.unwrap())
                .await
                .unwrap();
            assert_eq!(document.unwrap().name, import.name);
        }
        server.stop().await;
        db.close().await;
        if let Backend::Postgres = backend {
            let admin = std::env::var("TEST_DATABASE_URL").unwrap();
            scratch::drop_database(&admin, &url).await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_openapi_document_declares_the_import_routes() {
    let server = TestServer::start().await;
    server.ready().await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let post = &doc["paths"]["/api/projects/{project}/imports"]["post"];
    assert_eq!(post["operationId"], "create_import");
    for status in ["202", "400", "403", "404", "413", "415", "422", "503"] {
        assert!(post["responses"][status].is_object(), "{status} undeclared");
    }
    assert!(post["responses"]["202"]["headers"]["Location"].is_object());
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ImportRequest"]["oneOf"].as_array().unwrap().len(),
        2
    );
    for variant in ["InlineImport", "FileImport"] {
        assert_eq!(schemas[variant]["additionalProperties"], false, "{variant}");
    }
    assert!(
        schemas["InlineImport"]["properties"]["document"]["description"]
            .as_str()
            .unwrap()
            .contains("design-import.md")
    );
    let get = &doc["paths"]["/api/imports/{import}"]["get"];
    assert!(get["responses"]["200"].is_object() && get["responses"]["404"].is_object());
    assert_eq!(get["parameters"][0]["schema"]["format"], "uuid");
    assert!(schemas["ImportView"]["properties"]["error"].is_object());
    server.stop().await;
}

#[test]
fn the_documented_example_is_valid_and_fails_as_documented_when_broken() {
    use weft_protocol::design::{Limits, parse_value};
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/design-import.md"
    ))
    .unwrap();
    let blocks: Vec<&str> = doc
        .split("```json")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    let example: Value = serde_json::from_str(blocks[0]).unwrap();
    let design = example["document"].clone();
    assert_eq!(
        parse_value(design.clone(), &Limits::DEFAULT)
            .unwrap()
            .node_count,
        8
    );

    let mut broken = design;
    broken["children"][0]["children"][0]["children"][1]["children"][0]["geometry"]["width"] =
        json!(-200);
    broken["children"][1]["children"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    let issues = parse_value(broken, &Limits::DEFAULT).unwrap_err();
    let problem = weft_api_server::imports::view::ImportProblem::invalid(issues);
    let documented: Value = serde_json::from_str(blocks[1]).unwrap();
    assert_eq!(serde_json::to_value(&problem).unwrap(), documented["error"]);
}

/// Declares a file of `bytes` and PUTs it through its presigned URL; its id.
async fn upload(stack: &LiveStack, token: &str, project: &str, bytes: &[u8]) -> String {
    let created = stack
        .call(
            Method::POST,
            &format!("/api/projects/{project}/files"),
            Some(token),
            Some(json!({"name": "design.json", "content_type": "application/json", "size": bytes.len()})),
        )
        .await;
    let upload = &created["upload"];
    let mut put = stack.http.put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    let response = put.body(bytes.to_vec()).send().await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    created["file"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_uploaded_design_file_imports_once_its_upload_is_complete() {
    for backend in backends() {
        let stack = LiveStack::start(backend).await;
        let owner = stack.user("owner").await;
        let project = stack.project(&owner).await;
        let bytes = serde_json::to_vec(&design()).unwrap();
        let file = upload(&stack, &owner, &project, &bytes).await;
        // Uploaded but not completed: refused.
        let (status, problem, _) = post(
            &stack,
            Some(&owner),
            &project,
            json!({"name": "From a file", "file_id": file}),
        )
        .await;
        assert_eq!(status, 409, "{backend:?}: {problem}");
        stack
            .call(
                Method::POST,
                &format!("/api/projects/{project}/files/{file}/complete"),
                Some(&owner),
                None,
            )
            .await;
        let (status, accepted, _) = post(
            &stack,
            Some(&owner),
            &project,
            json!({"name": "From a file", "file_id": file}),
        )
        .await;
        assert_eq!(status, 202, "{backend:?}: {accepted}");
        let done = finished(&stack, &owner, accepted["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{backend:?}: {done}");
        // The same tree as the inline import of the same design.
        let doc = done["document_id"].as_str().unwrap();
        let content = stack
            .call(
                Method::GET,
                &format!("/api/projects/{project}/documents/{doc}/content"),
                Some(&owner),
                None,
            )
            .await;
        let text = content.to_string();
        for name in ["Landing", "Components", "Desktop"] {
            assert!(text.contains(name), "{backend:?}: {name} missing in {text}");
        }
        // Another project's file is not found from this one.
        let other = stack.project(&owner).await;
        let (status, _, _) = post(
            &stack,
            Some(&owner),
            &other,
            json!({"name": "Elsewhere", "file_id": file}),
        )
        .await;
        assert_eq!(status, 404);
    }
}
