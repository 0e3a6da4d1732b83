//! SQL injection strings in every text field, path parameter and query parameter of the REST
//! API, driven by the OpenAPI document so a new route or field cannot be left out: the test
//! fails when an operation with a JSON body has no valid example here, or when a string
//! property of a request schema is not exercised by one.
//!
//! Each value is the payload alone and the payload appended to a valid value. Whatever the
//! outcome it must not be a 5xx; a 2xx must have stored the value verbatim (read back through
//! the API; names are trimmed and emails lower-cased as documented), a 4xx must be a problem.
//! Afterwards a canary account created first still signs in, its project is unchanged, and no
//! table is missing.

use super::{Account, Rest, read, row_counts, text};
use crate::server::backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Classic payloads, and characters that mean something to SQL, LIKE, shells or C strings.
const PAYLOADS: &[&str] = &[
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "\"); DELETE FROM projects; --",
    "1; SELECT pg_sleep(5)",
    "1' AND (SELECT 1 FROM pg_sleep(5)) IS NOT NULL --",
    "'||(SELECT sqlite_version())||'",
    "Robert'); DROP TABLE messages;--",
    "';DROP/**/TABLE/**/users;--",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2018}1",
    "\u{02BC}; DROP TABLE users; --",
    "a\u{0}b",
    "\\'; --",
    "\\\\",
    "%",
    "_",
    "%_%",
    "$1",
    "?",
    ":name",
    "\u{FEFF}bom",
];

/// The payloads used inside imported designs (each import is a background job, so fewer).
const DESIGN_PAYLOADS: &[&str] = &[
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "\"); DELETE FROM projects; --",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2018}1",
    "a\u{0}b",
    "\\'; --",
    "%_%",
];

/// Fields that take free text: the appended `%_%` must be accepted and stored verbatim.
const FREE_TEXT: &[&str] = &[
    "name",
    "topic",
    "body",
    "characters",
    "password",
    "content_type",
];

/// Percent-encodes everything but unreserved characters, for a path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Everything an operation's path may name, created once per backend.
struct Fixture {
    owner: Account,
    ids: HashMap<&'static str, String>,
}

impl Fixture {
    fn path(&self, template: &str, injected: Option<(&str, &str)>) -> String {
        let mut out = template.to_owned();
        for (name, value) in &self.ids {
            let value = match injected {
                Some((param, payload)) if param == *name => encode(payload),
                _ => value.clone(),
            };
            out = out.replace(&format!("{{{name}}}"), &value);
        }
        if let Some((param, payload)) = injected
            && param == "emoji"
        {
            out = out.replace("{emoji}", &encode(payload));
        }
        out.replace("{emoji}", "%F0%9F%91%8D")
    }
}

fn design(leaf: &str) -> Value {
    json!({"id": "d", "type": "document", "name": "Design", "children": [
        {"id": "p", "type": "page", "name": "Page", "children": [
            {"id": "t", "type": "text", "name": "Title", "characters": leaf,
             "geometry": {"x": 0, "y": 0, "width": 10, "height": 10}}
        ]}
    ]})
}

/// Valid bodies of every operation with a JSON body, by `METHOD path`.
fn bases(f: &Fixture) -> HashMap<String, Vec<Value>> {
    let owner = &f.owner;
    let mut m: HashMap<String, Vec<Value>> = HashMap::new();
    let mut add = |op: &str, body: Value| m.entry(op.to_owned()).or_default().push(body);
    add(
        "POST /api/auth/register",
        json!({"email": "new@example.com", "password": "a long password", "name": "New"}),
    );
    add(
        "POST /api/auth/login",
        json!({"email": owner.email, "password": "a long password"}),
    );
    add(
        "POST /api/auth/refresh",
        json!({"refresh_token": "unknown"}),
    );
    add("POST /api/auth/logout", json!({"refresh_token": "unknown"}));
    for op in [
        "POST /api/orgs",
        "PATCH /api/orgs/{org}",
        "POST /api/orgs/{org}/projects",
        "PATCH /api/projects/{project}",
        "POST /api/projects/{project}/documents",
        "PATCH /api/projects/{project}/documents/{doc}",
        "POST /api/projects/{project}/documents/{doc}/versions",
    ] {
        add(op, json!({"name": "Name"}));
    }
    add(
        "POST /api/orgs/{org}/invitations",
        json!({"email": "member@example.com", "role": "viewer"}),
    );
    add(
        "PUT /api/orgs/{org}/members/{user}",
        json!({"role": "viewer"}),
    );
    add(
        "PUT /api/projects/{project}/members/{user}",
        json!({"role": "viewer"}),
    );
    add(
        "POST /api/projects/{project}/channels",
        json!({"name": "Chan", "topic": "Topic"}),
    );
    add(
        "POST /api/projects/{project}/channels/{channel}/messages",
        json!({"client_id": "c", "body": "Body"}),
    );
    add(
        "PATCH /api/projects/{project}/channels/{channel}/messages/{message}",
        json!({"body": "Body"}),
    );
    add(
        "POST /api/projects/{project}/channels/{channel}/read",
        json!({"message_id": f.ids["message"]}),
    );
    add(
        "POST /api/projects/{project}/files",
        json!({"name": "a.txt", "content_type": "text/plain; charset=utf-8", "size": 3}),
    );
    add(
        "POST /api/projects/{project}/webhooks",
        json!({"url": "http://127.0.0.1:9/hook", "events": ["document.changed"]}),
    );
    add(
        "POST /api/projects/{project}/imports",
        json!({"name": "Imported", "document": design("Text")}),
    );
    add(
        "POST /api/projects/{project}/imports",
        json!({"name": "Imported", "file_id": f.ids["design_file"]}),
    );
    m
}

/// JSON pointers of every string leaf of `v` (array elements included).
fn string_leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                string_leaves(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Pointers (arrays as `/0`) of every string property a request schema declares.
fn schema_strings(schema: &Value, doc: &Value, at: String, out: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return schema_strings(&doc["components"]["schemas"][name], doc, at, out);
    }
    for variant in schema["oneOf"].as_array().into_iter().flatten() {
        schema_strings(variant, doc, at.clone(), out);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"string") {
        out.push(at.clone());
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, p) in props {
            schema_strings(p, doc, format!("{at}/{k}"), out);
        }
    }
    if schema.get("items").is_some() {
        schema_strings(&schema["items"], doc, format!("{at}/0"), out);
    }
}

fn contains_string(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(items) => items.iter().any(|i| contains_string(i, s)),
        Value::Object(map) => map.values().any(|i| contains_string(i, s)),
        _ => false,
    }
}

/// The forms a stored value may legitimately take: as sent, trimmed (names), lower-cased
/// (emails), normalized (URLs).
fn stored_forms(field: &str, value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned(), value.trim().to_owned()];
    if field == "email" {
        forms.push(value.trim().to_lowercase());
    }
    if field == "url"
        && let Ok(url) = url::Url::parse(value.trim())
    {
        forms.push(url.to_string());
    }
    forms
}

/// Reads back what a successful write stored; panics unless `value` is there verbatim.
async fn verify_stored(
    rest: &Rest,
    f: &Fixture,
    op: &str,
    pointer: &str,
    value: &str,
    body: &Value,
    response: &Value,
) {
    let field = pointer.rsplit('/').next().unwrap_or("");
    let owner = &f.owner.token;
    let mut reads: Vec<(String, String)> = Vec::new();
    let id = || text(&response["id"]);
    match op {
        "POST /api/auth/register" => {
            // The password is kept (hashed): signing in with it works.
            let (status, _) = rest
                .call(
                    Method::POST,
                    "/api/auth/login",
                    None,
                    Some(json!({"email": body["email"], "password": body["password"]})),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{op} {pointer} {value:?}: cannot sign in"
            );
            if field == "password" {
                return;
            }
            reads.push(("/api/me".into(), text(&response["access_token"])));
        }
        "POST /api/orgs" => reads.push((format!("/api/orgs/{}", id()), owner.clone())),
        "POST /api/orgs/{org}/projects" => {
            reads.push((format!("/api/projects/{}", id()), owner.clone()))
        }
        "POST /api/projects/{project}/documents"
        | "POST /api/projects/{project}/files"
        | "POST /api/projects/{project}/webhooks"
        | "POST /api/projects/{project}/channels" => {
            let kind = op.rsplit('/').next().unwrap();
            let created = if kind == "files" {
                text(&response["file"]["id"])
            } else {
                id()
            };
            reads.push((
                format!("{}/{created}", f.path(&op[5..], None)),
                owner.clone(),
            ));
        }
        "POST /api/projects/{project}/imports" => {
            return verify_import(rest, f, pointer, value, response).await;
        }
        "POST /api/auth/login"
        | "POST /api/auth/refresh"
        | "POST /api/auth/logout"
        | "POST /api/orgs/{org}/invitations"
        | "PUT /api/orgs/{org}/members/{user}"
        | "PUT /api/projects/{project}/members/{user}"
        | "POST /api/projects/{project}/channels/{channel}/read" => return,
        "POST /api/projects/{project}/documents/{doc}/versions" => reads.push((
            f.path(
                "/api/projects/{project}/documents/{doc}/versions?limit=100",
                None,
            ),
            owner.clone(),
        )),
        "POST /api/projects/{project}/channels/{channel}/messages"
        | "PATCH /api/projects/{project}/channels/{channel}/messages/{message}" => reads.push((
            f.path(
                "/api/projects/{project}/channels/{channel}/messages?limit=100",
                None,
            ),
            owner.clone(),
        )),
        other => {
            // A PATCH: read the resource it changed.
            let path = other.split_once(' ').unwrap().1;
            reads.push((f.path(path, None), owner.clone()));
        }
    }
    let forms = stored_forms(field, value);
    for (path, token) in reads {
        let (status, stored) = rest.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "read back {path}");
        assert!(
            forms.iter().any(|form| contains_string(&stored, form)),
            "{op} {pointer}: {value:?} not stored verbatim; {path} has {stored}"
        );
    }
}

/// Waits for an import to end; a succeeded one must hold the value in its document.
async fn verify_import(rest: &Rest, f: &Fixture, pointer: &str, value: &str, response: &Value) {
    let owner = &f.owner.token;
    let path = format!("/api/imports/{}", text(&response["id"]));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = rest.ok(Method::GET, &path, owner, None).await;
        let status = text(&view["status"]);
        if status == "succeeded" || status == "failed" {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "import never ended: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if view["status"] == "failed" {
        assert!(view["error"]["status"].as_u64().unwrap() < 500, "{view}");
        return;
    }
    let doc = text(&view["document_id"]);
    let base = f.path("/api/projects/{project}/documents", None);
    let (status, meta) = rest
        .call(Method::GET, &format!("{base}/{doc}"), Some(owner), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, content) = rest
        .call(
            Method::GET,
            &format!("{base}/{doc}/content"),
            Some(owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let forms = stored_forms(pointer.rsplit('/').next().unwrap_or(""), value);
    assert!(
        forms
            .iter()
            .any(|form| contains_string(&meta, form) || contains_string(&content, form)),
        "import {pointer}: {value:?} not stored verbatim: {meta} {content}"
    );
}

/// A file of the project uploaded through its presigned URL and completed; its id.
async fn uploaded(
    rest: &Rest,
    owner: &str,
    project: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    let created = rest
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/files"),
            owner,
            Some(json!({"name": "design.json", "content_type": content_type, "size": bytes.len()})),
        )
        .await;
    let upload = &created["upload"];
    let mut put = rest.http.put(text(&upload["url"]));
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name, text(value));
    }
    let response = put.body(bytes.to_vec()).send().await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    let file = text(&created["file"]["id"]);
    rest.ok(
        Method::POST,
        &format!("/api/projects/{project}/files/{file}/complete"),
        owner,
        None,
    )
    .await;
    file
}

async fn fixture(rest: &Rest) -> Fixture {
    let owner = rest.register("owner").await;
    let target = rest.register("target").await;
    let t = &owner.token;
    let (org, project) = rest.org_project(&owner).await;
    let invitation = rest
        .ok(
            Method::POST,
            &format!("/api/orgs/{org}/invitations"),
            t,
            Some(json!({"email": target.email, "role": "viewer"})),
        )
        .await;
    let id = |v: &Value| text(&v["id"]);
    let docs = format!("/api/projects/{project}/documents");
    let doc = id(&rest
        .ok(Method::POST, &docs, t, Some(json!({"name": "Doc"})))
        .await);
    let version = id(&rest
        .ok(
            Method::POST,
            &format!("{docs}/{doc}/versions"),
            t,
            Some(json!({"name": "V"})),
        )
        .await);
    let channel = id(&rest
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/channels"),
            t,
            Some(json!({"name": "general"})),
        )
        .await);
    let message = id(&rest
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/channels/{channel}/messages"),
            t,
            Some(json!({"client_id": "first", "body": "hello"})),
        )
        .await);
    let hook = id(&rest
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/webhooks"),
            t,
            Some(json!({"url": "http://127.0.0.1:9/h", "events": ["message.created"]})),
        )
        .await);
    let file = uploaded(rest, t, &project, "text/plain", b"abc").await;
    let design_file = uploaded(
        rest,
        t,
        &project,
        "application/json",
        design("From a file").to_string().as_bytes(),
    )
    .await;
    let import = id(&rest
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/imports"),
            t,
            Some(json!({"name": "Fixture import", "document": design("x")})),
        )
        .await);
    let ids = HashMap::from([
        ("org", org),
        ("project", project),
        ("doc", doc),
        ("version", version),
        ("channel", channel),
        ("message", message),
        ("hook", hook),
        ("file", file),
        ("design_file", design_file),
        ("import", import),
        ("invitation", id(&invitation)),
        ("user", target.id.clone()),
    ]);
    Fixture { owner, ids }
}

fn set(body: &mut Value, pointer: &str, value: &str) {
    *body.pointer_mut(pointer).unwrap() = Value::String(value.to_owned());
}

/// Makes the fields that must be unique (an email, a channel name, a message's client id)
/// fresh, unless they are the one being attacked, so each request stands on its own.
fn freshen(key: &str, body: &mut Value, attacked: &str, n: usize) {
    let unique = [
        (
            "POST /api/auth/register",
            "/email",
            format!("new-{n}@example.com"),
        ),
        (
            "POST /api/projects/{project}/channels",
            "/name",
            format!("chan-{n}"),
        ),
        (
            "POST /api/projects/{project}/channels/{channel}/messages",
            "/client_id",
            format!("c-{n}"),
        ),
    ];
    for (op, pointer, value) in unique {
        if key == op && attacked != pointer {
            set(body, pointer, &value);
        }
    }
}

#[tokio::test]
async fn injection_strings_in_every_field_and_parameter_are_data() {
    for backend in backends() {
        let rest = Rest::start(backend).await;
        // The canary: created first, checked last.
        let canary = rest.register("canary").await;
        let (_, canary_project) = rest.org_project(&canary).await;
        let db = rest.db().await;
        let tables_before: Vec<String> =
            row_counts(&db).await.into_iter().map(|(t, _)| t).collect();

        let f = fixture(&rest).await;
        let spec: Value = rest
            .ok(Method::GET, "/api/openapi.json", &f.owner.token, None)
            .await;
        let bases = bases(&f);
        let mut accepted: HashMap<(String, String), usize> = HashMap::new();
        let mut requests = 0usize;
        for (template, ops) in spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let key = format!("{} {template}", method.to_uppercase());
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let params: Vec<(String, String)> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (text(&p["name"]), text(&p["in"])))
                    .collect();
                // Path and query parameters.
                for (name, place) in &params {
                    for payload in PAYLOADS {
                        let path = match place.as_str() {
                            "path" => f.path(template, Some((name, payload))),
                            "query" => {
                                format!("{}?{name}={}", f.path(template, None), encode(payload))
                            }
                            _ => continue,
                        };
                        // Side-effect-free where the payload is not the target: a body that is
                        // valid when the operation needs one.
                        let body = bases.get(&key).and_then(|b| b.first().cloned());
                        let body = if op
                            .get("requestBody")
                            .is_some_and(|rb| rb["content"].get("application/json").is_some())
                        {
                            body
                        } else {
                            None
                        };
                        let (status, answer) = rest
                            .call(method.clone(), &path, Some(&f.owner.token), body)
                            .await;
                        requests += 1;
                        if status.is_success() {
                            assert!(
                                name == "emoji" || name == "limit",
                                "{key} accepted {name}={payload:?}: {answer}"
                            );
                        }
                    }
                }
                // JSON bodies.
                let Some(schema) = op["requestBody"]["content"].get("application/json") else {
                    continue;
                };
                let examples = bases
                    .get(&key)
                    .unwrap_or_else(|| panic!("{key} has a JSON body but no example here"));
                let mut declared = Vec::new();
                schema_strings(&schema["schema"], &spec, String::new(), &mut declared);
                for pointer in &declared {
                    assert!(
                        examples
                            .iter()
                            .any(|b| b.pointer(pointer).is_some_and(Value::is_string)),
                        "{key}: the examples do not exercise string field {pointer}"
                    );
                }
                for example in examples {
                    let mut leaves = Vec::new();
                    string_leaves(example, String::new(), &mut leaves);
                    for pointer in leaves {
                        let in_design = pointer.starts_with("/document/");
                        let payloads = if in_design { DESIGN_PAYLOADS } else { PAYLOADS };
                        let original = text(example.pointer(&pointer).unwrap());
                        for payload in payloads {
                            for value in [payload.to_string(), format!("{original}{payload}")] {
                                let mut body = example.clone();
                                freshen(&key, &mut body, &pointer, requests);
                                set(&mut body, &pointer, &value);
                                let path = f.path(template, None);
                                let (status, answer) = rest
                                    .call(
                                        method.clone(),
                                        &path,
                                        Some(&f.owner.token),
                                        Some(body.clone()),
                                    )
                                    .await;
                                requests += 1;
                                if !status.is_success() {
                                    continue;
                                }
                                verify_stored(&rest, &f, &key, &pointer, &value, &body, &answer)
                                    .await;
                                *accepted.entry((key.clone(), pointer.clone())).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        // Free-text fields took the payloads as text (at least the wildcard one appended).
        for (key, examples) in &bases {
            for example in examples {
                let mut leaves = Vec::new();
                string_leaves(example, String::new(), &mut leaves);
                for pointer in leaves {
                    let field = pointer.rsplit('/').next().unwrap();
                    if FREE_TEXT.contains(&field) && !key.starts_with("POST /api/auth/login") {
                        assert!(
                            accepted
                                .get(&(key.clone(), pointer.clone()))
                                .copied()
                                .unwrap_or(0)
                                > 0,
                            "{key} {pointer} accepted no payload at all"
                        );
                    }
                }
            }
        }
        eprintln!(
            "{backend:?}: {requests} requests, {} fields accepted some payload",
            accepted.len()
        );

        // The database is intact: the canary signs in, its project is as it was, every table
        // is still there.
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": canary.email, "password": "a long password"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let project = rest
            .ok(
                Method::GET,
                &format!("/api/projects/{canary_project}"),
                &canary.token,
                None,
            )
            .await;
        assert_eq!(project["name"], "Launch");
        let tables_after: Vec<String> = row_counts(&db).await.into_iter().map(|(t, _)| t).collect();
        assert_eq!(tables_before, tables_after);
        db.close().await;
        rest.stop().await;
    }
}

#[tokio::test]
async fn a_raw_nul_or_broken_json_body_is_a_problem() {
    let rest = Rest::start(crate::server::Backend::Sqlite).await;
    let owner = rest.register("owner").await;
    for raw in [
        "{\"name\": \"a\u{0}b\"}".to_owned(),
        "{\"name\": \"a\\ud800\"}".to_owned(),
        "{\"name\": \"\\u0000\"}".to_owned(),
        "{\"name\": \"\\\\u0000\"}".to_owned(),
        "{\"name\": 'single'}".to_owned(),
    ] {
        let response = rest
            .http
            .post(rest.server.url("/api/orgs"))
            .bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        let (status, body) = read(&Method::POST, "/api/orgs", response).await;
        if raw.contains("\\\\u0000") {
            // An escaped backslash followed by `u0000` is six ordinary characters.
            assert_eq!(status, StatusCode::CREATED, "{raw}: {body}");
            assert_eq!(body["name"], "\\u0000");
        } else {
            assert!(status.is_client_error(), "{raw}: {status} {body}");
        }
    }
    rest.stop().await;
}
