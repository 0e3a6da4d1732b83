//! The authorization matrix: every organization and project route called as owner, admin,
//! editor, viewer, an outsider and anonymously, on SQLite and Postgres. A role at or above the
//! route's minimum succeeds, a lower role gets 403, an outsider 404 (the resource does not exist
//! for them), no token 401.

use crate::server::{Backend, TestServer, backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    server: TestServer,
}

#[derive(Clone)]
struct User {
    id: String,
    email: String,
    token: String,
}

impl Client {
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
        // `{"$bytes": [..]}` stands for a binary (Yjs update) body.
        match body {
            Some(Value::Object(o)) if o.contains_key("$bytes") => {
                let bytes: Vec<u8> = serde_json::from_value(o["$bytes"].clone()).unwrap();
                request = request
                    .header("content-type", "application/octet-stream")
                    .body(bytes);
            }
            Some(body) => request = request.json(&body),
            None => {}
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        if status.is_client_error() {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        let binary = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t == "application/octet-stream");
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() || binary {
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

    async fn register(&self, name: &str) -> User {
        let email = format!("{name}@example.com");
        let (status, session) = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "a long password", "name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        User {
            id: session["user"]["id"].as_str().unwrap().into(),
            email,
            token: session["access_token"].as_str().unwrap().into(),
        }
    }

    async fn join(&self, org: &str, owner: &User, user: &User, role: &str) {
        let invitation = self
            .ok(
                Method::POST,
                &format!("/api/orgs/{org}/invitations"),
                &owner.token,
                Some(json!({"email": user.email, "role": role})),
            )
            .await;
        let id = invitation["id"].as_str().unwrap();
        self.ok(
            Method::POST,
            &format!("/api/invitations/{id}/accept"),
            &user.token,
            None,
        )
        .await;
    }
}

struct Cast {
    owner: User,
    admin: User,
    editor: User,
    viewer: User,
    outsider: User,
    target: User,
    invitee: User,
    /// Invited by the invitation route itself (the fixture already invites `invitee`).
    newcomer: User,
}

/// A fresh organization with everyone in their role, a project with a document, an override
/// for the target and a pending invitation.
async fn fixture(c: &Client, cast: &Cast) -> Fixture {
    let org = c
        .ok(
            Method::POST,
            "/api/orgs",
            &cast.owner.token,
            Some(json!({"name": "Acme"})),
        )
        .await;
    let org = org["id"].as_str().unwrap().to_owned();
    c.join(&org, &cast.owner, &cast.admin, "admin").await;
    c.join(&org, &cast.owner, &cast.editor, "editor").await;
    c.join(&org, &cast.owner, &cast.viewer, "viewer").await;
    c.join(&org, &cast.owner, &cast.target, "viewer").await;
    let project = c
        .ok(
            Method::POST,
            &format!("/api/orgs/{org}/projects"),
            &cast.owner.token,
            Some(json!({"name": "Site"})),
        )
        .await;
    let project = project["id"].as_str().unwrap().to_owned();
    c.ok(
        Method::PUT,
        &format!("/api/projects/{project}/members/{}", cast.target.id),
        &cast.owner.token,
        Some(json!({"role": "editor"})),
    )
    .await;
    let invitation = c
        .ok(
            Method::POST,
            &format!("/api/orgs/{org}/invitations"),
            &cast.owner.token,
            Some(json!({"email": cast.invitee.email, "role": "viewer"})),
        )
        .await;
    let doc = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/documents"),
            &cast.owner.token,
            Some(json!({"name": "Notes"})),
        )
        .await;
    let doc = doc["id"].as_str().unwrap().to_owned();
    let version = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/documents/{doc}/versions"),
            &cast.owner.token,
            Some(json!({"name": "v1"})),
        )
        .await;
    let version = version["id"].as_str().unwrap().to_owned();
    let file = ready_file(c, &cast.owner, &project).await;
    let channel = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/channels"),
            &cast.owner.token,
            Some(json!({"name": "general"})),
        )
        .await;
    let channel = channel["id"].as_str().unwrap().to_owned();
    let message = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/channels/{channel}/messages"),
            &cast.owner.token,
            Some(json!({"client_id": "seed", "body": "hello"})),
        )
        .await;
    let message = message["id"].as_str().unwrap().to_owned();
    // Nothing listens on the discard port: the test route's ping fails there, on loopback.
    let hook = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/webhooks"),
            &cast.owner.token,
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["message.created"]})),
        )
        .await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    let import = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/imports"),
            &cast.owner.token,
            Some(import_body()),
        )
        .await;
    let import = import["id"].as_str().unwrap().to_owned();
    Fixture {
        file,
        import,
        version,
        channel,
        message,
        hook,
        org,
        project,
        doc,
        invitation: invitation["id"].as_str().unwrap().to_owned(),
    }
}

/// A file uploaded through its presigned URL and completed; its id.
async fn ready_file(c: &Client, owner: &User, project: &str) -> String {
    let created = c
        .ok(
            Method::POST,
            &format!("/api/projects/{project}/files"),
            &owner.token,
            Some(json!({"name": "a.txt", "content_type": "text/plain", "size": 3})),
        )
        .await;
    let upload = &created["upload"];
    let mut put = c.http.put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    let response = put.body("abc").send().await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    let file = created["file"]["id"].as_str().unwrap().to_owned();
    c.ok(
        Method::POST,
        &format!("/api/projects/{project}/files/{file}/complete"),
        &owner.token,
        None,
    )
    .await;
    file
}

/// A design import of the smallest valid design.
fn import_body() -> Value {
    json!({"name": "Imported", "document": {"id": "d", "type": "document", "name": "D",
        "children": [{"id": "p", "type": "page", "name": "P"}]}})
}

struct Fixture {
    file: String,
    import: String,
    org: String,
    project: String,
    doc: String,
    version: String,
    hook: String,
    invitation: String,
    /// A channel of the project, and a message in it by the owner.
    channel: String,
    message: String,
}

/// Route, least role (owner 3 … viewer 0), status on success.
fn routes(
    f: &Fixture,
    target: &str,
    invitee_email: &str,
) -> Vec<(Method, String, Option<Value>, u8, u16)> {
    let (org, project, doc, invitation) = (&f.org, &f.project, &f.doc, &f.invitation);
    let docs = format!("/api/projects/{project}/documents");
    let files = format!("/api/projects/{project}/files");
    let file = format!("{files}/{}", f.file);
    let channels = format!("/api/projects/{project}/channels");
    let channel = format!("{channels}/{}", f.channel);
    let message = format!("{channel}/messages/{}", f.message);
    let (hooks, hook) = (format!("/api/projects/{project}/webhooks"), &f.hook);
    vec![
        (
            Method::POST,
            files.clone(),
            Some(json!({"name": "b.png", "content_type": "image/png", "size": 10})),
            1,
            201,
        ),
        (Method::GET, files.clone(), None, 0, 200),
        (Method::GET, file.clone(), None, 0, 200),
        (Method::POST, format!("{file}/complete"), None, 1, 200),
        (Method::GET, format!("{file}/download"), None, 0, 200),
        (Method::DELETE, file.clone(), None, 1, 204),
        (
            Method::POST,
            channels.clone(),
            Some(json!({"name": "New"})),
            1,
            201,
        ),
        (Method::GET, channels.clone(), None, 0, 200),
        (Method::GET, channel.clone(), None, 0, 200),
        (
            Method::POST,
            format!("{channel}/messages"),
            Some(json!({"client_id": "k", "body": "hi"})),
            0,
            201,
        ),
        (Method::GET, format!("{channel}/messages"), None, 0, 200),
        // Only the author (the owner, in the fixture) edits a message.
        (
            Method::PATCH,
            message.clone(),
            Some(json!({"body": "edited"})),
            3,
            200,
        ),
        // The author or a project admin deletes it.
        (Method::DELETE, message.clone(), None, 2, 200),
        (
            Method::PUT,
            format!("{message}/reactions/%F0%9F%91%8D"),
            None,
            0,
            200,
        ),
        (
            Method::DELETE,
            format!("{message}/reactions/%F0%9F%91%8D"),
            None,
            0,
            200,
        ),
        (
            Method::POST,
            format!("{channel}/read"),
            Some(json!({"message_id": f.message})),
            0,
            200,
        ),
        (
            Method::GET,
            format!("/api/projects/{project}/unread"),
            None,
            0,
            200,
        ),
        (
            Method::POST,
            docs.clone(),
            Some(json!({"name": "New"})),
            1,
            201,
        ),
        (Method::GET, docs.clone(), None, 0, 200),
        (Method::GET, format!("{docs}/{doc}"), None, 0, 200),
        (
            Method::PATCH,
            format!("{docs}/{doc}"),
            Some(json!({"name": "Renamed"})),
            1,
            200,
        ),
        (Method::DELETE, format!("{docs}/{doc}"), None, 2, 204),
        (Method::POST, format!("{docs}/{doc}/token"), None, 0, 200),
        (Method::GET, format!("{docs}/{doc}/content"), None, 0, 200),
        (Method::GET, format!("{docs}/{doc}/state"), None, 0, 200),
        (
            Method::POST,
            format!("{docs}/{doc}/updates"),
            Some(json!({"$bytes": [0, 0]})),
            1,
            204,
        ),
        (
            Method::POST,
            format!("{docs}/{doc}/versions"),
            Some(json!({"name": "Draft"})),
            1,
            201,
        ),
        (Method::GET, format!("{docs}/{doc}/versions"), None, 0, 200),
        (
            Method::POST,
            format!("{docs}/{doc}/versions/{}/restore", f.version),
            None,
            1,
            200,
        ),
        (
            Method::POST,
            format!("/api/projects/{project}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:9/new", "events": ["document.changed"]})),
            2,
            201,
        ),
        (
            Method::GET,
            format!("/api/projects/{project}/webhooks"),
            None,
            2,
            200,
        ),
        (Method::GET, format!("{hooks}/{hook}"), None, 2, 200),
        (Method::DELETE, format!("{hooks}/{hook}"), None, 2, 204),
        (
            Method::GET,
            format!("{hooks}/{hook}/deliveries"),
            None,
            2,
            200,
        ),
        (Method::POST, format!("{hooks}/{hook}/test"), None, 2, 202),
        (
            Method::POST,
            format!("/api/projects/{project}/imports"),
            Some(import_body()),
            1,
            202,
        ),
        (
            Method::GET,
            format!("/api/imports/{}", f.import),
            None,
            0,
            200,
        ),
        (Method::GET, format!("/api/orgs/{org}"), None, 0, 200),
        (
            Method::PATCH,
            format!("/api/orgs/{org}"),
            Some(json!({"name": "Renamed"})),
            2,
            200,
        ),
        (Method::DELETE, format!("/api/orgs/{org}"), None, 3, 204),
        (
            Method::GET,
            format!("/api/orgs/{org}/members"),
            None,
            0,
            200,
        ),
        (
            Method::PUT,
            format!("/api/orgs/{org}/members/{target}"),
            Some(json!({"role": "editor"})),
            2,
            204,
        ),
        (
            Method::DELETE,
            format!("/api/orgs/{org}/members/{target}"),
            None,
            2,
            204,
        ),
        (
            Method::POST,
            format!("/api/orgs/{org}/invitations"),
            Some(json!({"email": invitee_email, "role": "editor"})),
            2,
            201,
        ),
        (
            Method::GET,
            format!("/api/orgs/{org}/invitations"),
            None,
            2,
            200,
        ),
        (
            Method::DELETE,
            format!("/api/orgs/{org}/invitations/{invitation}"),
            None,
            2,
            204,
        ),
        (
            Method::POST,
            format!("/api/orgs/{org}/projects"),
            Some(json!({"name": "New"})),
            2,
            201,
        ),
        (
            Method::GET,
            format!("/api/orgs/{org}/projects"),
            None,
            0,
            200,
        ),
        (
            Method::GET,
            format!("/api/projects/{project}"),
            None,
            0,
            200,
        ),
        (
            Method::PATCH,
            format!("/api/projects/{project}"),
            Some(json!({"name": "Renamed"})),
            2,
            200,
        ),
        (
            Method::DELETE,
            format!("/api/projects/{project}"),
            None,
            2,
            204,
        ),
        (
            Method::GET,
            format!("/api/projects/{project}/members"),
            None,
            0,
            200,
        ),
        (
            Method::PUT,
            format!("/api/projects/{project}/members/{target}"),
            Some(json!({"role": "viewer"})),
            2,
            204,
        ),
        (
            Method::DELETE,
            format!("/api/projects/{project}/members/{target}"),
            None,
            2,
            204,
        ),
    ]
}

async fn cast(c: &Client) -> Cast {
    Cast {
        owner: c.register("owner").await,
        admin: c.register("admin").await,
        editor: c.register("editor").await,
        viewer: c.register("viewer").await,
        outsider: c.register("outsider").await,
        target: c.register("target").await,
        invitee: c.register("invitee").await,
        newcomer: c.register("newcomer").await,
    }
}

#[tokio::test]
async fn every_route_enforces_roles() {
    for backend in backends() {
        let c = Client {
            http: reqwest::Client::new(),
            // One owner sets up a fixture for every call (thousands of requests as fast as the
            // server answers): the general rate limit is lifted, since this tests roles.
            server: TestServer::start_with(backend, |c| c.rate_burst = 1_000_000).await,
        };
        let cast = cast(&c).await;
        let callers: [(&str, Option<&User>, Option<u8>); 6] = [
            ("owner", Some(&cast.owner), Some(3)),
            ("admin", Some(&cast.admin), Some(2)),
            ("editor", Some(&cast.editor), Some(1)),
            ("viewer", Some(&cast.viewer), Some(0)),
            ("outsider", Some(&cast.outsider), None),
            ("anonymous", None, None),
        ];
        let blank = Fixture {
            file: String::new(),
            import: String::new(),
            org: String::new(),
            project: String::new(),
            doc: String::new(),
            version: String::new(),
            hook: String::new(),
            invitation: String::new(),
            channel: String::new(),
            message: String::new(),
        };
        let route_count = routes(&blank, "t", "e").len();
        for r in 0..route_count {
            for (who, user, rank) in &callers {
                let f = fixture(&c, &cast).await;
                let (method, path, body, least, success) =
                    routes(&f, &cast.target.id, &cast.newcomer.email).swap_remove(r);
                let token = user.map(|u| u.token.as_str());
                let (status, value) = c.call(method.clone(), &path, token, body).await;
                let expected = match (user, rank) {
                    (None, _) => 401,
                    (Some(_), None) => 404,
                    (Some(_), Some(rank)) if *rank >= least => success,
                    _ => 403,
                };
                assert_eq!(
                    status.as_u16(),
                    expected,
                    "{backend:?}: {method} {path} as {who}: {value}"
                );
            }
        }
        // Routes outside any organization.
        for (method, path) in [
            (Method::POST, "/api/orgs"),
            (Method::GET, "/api/orgs"),
            (Method::GET, "/api/invitations"),
        ] {
            let body = (method == Method::POST).then(|| json!({"name": "Mine"}));
            assert_eq!(
                c.call(method.clone(), path, None, body.clone()).await.0,
                StatusCode::UNAUTHORIZED
            );
            assert!(
                c.call(method.clone(), path, Some(&cast.outsider.token), body)
                    .await
                    .0
                    .is_success()
            );
        }
        // Only the invitee accepts an invitation.
        let invitation = fixture(&c, &cast).await.invitation;
        let accept = format!("/api/invitations/{invitation}/accept");
        for user in [&cast.owner, &cast.outsider] {
            assert_eq!(
                c.call(Method::POST, &accept, Some(&user.token), None)
                    .await
                    .0,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(
            c.call(Method::POST, &accept, None, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            c.call(Method::POST, &accept, Some(&cast.invitee.token), None)
                .await
                .0,
            StatusCode::OK
        );
        c.server.stop().await;
    }
}

#[tokio::test]
async fn project_overrides_owners_and_pages() {
    let c = Client {
        http: reqwest::Client::new(),
        server: TestServer::start_with(Backend::Sqlite, |_| {}).await,
    };
    let cast = cast(&c).await;
    let Fixture { org, project, .. } = fixture(&c, &cast).await;

    // An override grants a project to someone outside the organization, and nothing else.
    c.ok(
        Method::PUT,
        &format!("/api/projects/{project}/members/{}", cast.outsider.id),
        &cast.owner.token,
        Some(json!({"role": "viewer"})),
    )
    .await;
    let seen = c
        .ok(
            Method::GET,
            &format!("/api/projects/{project}"),
            &cast.outsider.token,
            None,
        )
        .await;
    assert_eq!(seen["role"], "viewer");
    assert_eq!(
        c.call(
            Method::GET,
            &format!("/api/orgs/{org}"),
            Some(&cast.outsider.token),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // An override can also lower a role inside one project.
    c.ok(
        Method::PUT,
        &format!("/api/projects/{project}/members/{}", cast.admin.id),
        &cast.owner.token,
        Some(json!({"role": "viewer"})),
    )
    .await;
    let (status, _) = c
        .call(
            Method::PATCH,
            &format!("/api/projects/{project}"),
            Some(&cast.admin.token),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Admins cannot make owners; the last owner cannot leave or be demoted.
    let (status, _) = c
        .call(
            Method::PUT,
            &format!("/api/orgs/{org}/members/{}", cast.editor.id),
            Some(&cast.admin.token),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .call(
            Method::DELETE,
            &format!("/api/orgs/{org}/members/{}", cast.owner.id),
            Some(&cast.owner.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = c
        .call(
            Method::PUT,
            &format!("/api/orgs/{org}/members/{}", cast.owner.id),
            Some(&cast.owner.token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Anyone may leave.
    c.ok(
        Method::DELETE,
        &format!("/api/orgs/{org}/members/{}", cast.viewer.id),
        &cast.viewer.token,
        None,
    )
    .await;
    assert_eq!(
        c.call(
            Method::GET,
            &format!("/api/orgs/{org}"),
            Some(&cast.viewer.token),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Cursor pagination returns every project once.
    for i in 0..6 {
        c.ok(
            Method::POST,
            &format!("/api/orgs/{org}/projects"),
            &cast.owner.token,
            Some(json!({"name": format!("p{i}")})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/orgs/{org}/projects?limit=3&after={a}"),
            None => format!("/api/orgs/{org}/projects?limit=3"),
        };
        let page = c.ok(Method::GET, &path, &cast.owner.token, None).await;
        for p in page["items"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7);
    // Bad query and path values are problems too.
    assert_eq!(
        c.call(
            Method::GET,
            &format!("/api/orgs/{org}/projects?limit=abc"),
            Some(&cast.owner.token),
            None
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.call(
            Method::GET,
            "/api/orgs/not-a-uuid",
            Some(&cast.owner.token),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    c.server.stop().await;
}
