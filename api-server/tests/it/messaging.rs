//! Messaging over REST on SQLite and Postgres: idempotent sends, UUIDv7 ids, history pages in
//! both directions, edits, tombstones, reactions, read positions and unread counts, who may do
//! what, validation problems, and the chat frames every change puts on the bus (Redis, read
//! back by a subscriber of the test's own).

use crate::live_stack::redis_url;
use crate::server::{Backend, TestServer, backends};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;
use weft_protocol::chat::{ChatBusEvent, ChatEnvelope, ServerFrame, project_channel};
use weft_storage::bus::{Bus, BusEvent, BusOptions, RedisBus, Subscription};

/// How long a bus event may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

struct Chat {
    http: reqwest::Client,
    server: TestServer,
    /// The bus prefix the server publishes under, when it runs on Redis.
    prefix: Option<String>,
}

struct User {
    id: String,
    email: String,
    token: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// An owner's project with a channel, a viewer of it and an outsider.
struct Room {
    owner: User,
    viewer: User,
    outsider: User,
    project: String,
    channel: String,
}

impl Room {
    fn channels(&self) -> String {
        format!("/api/projects/{}/channels", self.project)
    }

    fn messages(&self) -> String {
        format!("{}/{}/messages", self.channels(), self.channel)
    }
}

impl Chat {
    async fn start(backend: Backend) -> Chat {
        let server = TestServer::start_with(backend, |_| {}).await;
        server.ready().await;
        Chat {
            http: reqwest::Client::new(),
            server,
            prefix: None,
        }
    }

    /// A server publishing on Redis under a prefix of this test's own.
    async fn start_on_redis(backend: Backend) -> Chat {
        let prefix = format!("weft-test-{:016x}", rand::random::<u64>());
        let server = TestServer::start_with(backend, |c| {
            c.redis_url = Some(redis_url());
            c.bus_prefix = prefix.clone();
        })
        .await;
        server.ready().await;
        Chat {
            http: reqwest::Client::new(),
            server,
            prefix: Some(prefix),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{path}: {status}"
            );
        }
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        if !status.is_success() {
            assert_eq!(body["status"], status.as_u16(), "{path}: {body}");
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A call that must answer `expected`; its body.
    async fn expect(
        &self,
        expected: u16,
        method: Method,
        path: &str,
        user: &User,
        body: Option<Value>,
    ) -> Value {
        let reply = self
            .call(method.clone(), path, Some(&user.token), body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            expected,
            "{method} {path}: {}",
            reply.body
        );
        reply.body
    }

    async fn register(&self, name: &str) -> User {
        let email = format!("{name}@example.com");
        let reply = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "a long password", "name": name})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        User {
            id: reply.body["user"]["id"].as_str().unwrap().into(),
            email,
            token: reply.body["access_token"].as_str().unwrap().into(),
        }
    }

    async fn join(&self, org: &str, owner: &User, user: &User, role: &str) {
        let invitation = self
            .expect(
                201,
                Method::POST,
                &format!("/api/orgs/{org}/invitations"),
                owner,
                Some(json!({"email": user.email, "role": role})),
            )
            .await;
        let id = invitation["id"].as_str().unwrap();
        self.expect(
            200,
            Method::POST,
            &format!("/api/invitations/{id}/accept"),
            user,
            None,
        )
        .await;
    }

    async fn room(&self) -> Room {
        let owner = self.register("owner").await;
        let viewer = self.register("viewer").await;
        let outsider = self.register("outsider").await;
        let org = self
            .expect(
                201,
                Method::POST,
                "/api/orgs",
                &owner,
                Some(json!({"name": "Acme"})),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.join(&org, &owner, &viewer, "viewer").await;
        let project = self
            .expect(
                201,
                Method::POST,
                &format!("/api/orgs/{org}/projects"),
                &owner,
                Some(json!({"name": "Site"})),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let channel = self
            .expect(
                201,
                Method::POST,
                &format!("/api/projects/{project}/channels"),
                &owner,
                Some(json!({"name": "general", "topic": "Anything"})),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Room {
            owner,
            viewer,
            outsider,
            project,
            channel,
        }
    }

    /// Sends a new message; its view.
    async fn send(&self, room: &Room, user: &User, client_id: &str, body: &str) -> Value {
        self.expect(
            201,
            Method::POST,
            &room.messages(),
            user,
            Some(json!({"client_id": client_id, "body": body})),
        )
        .await
    }

    /// A subscriber to the project's chat channel on the server's Redis bus.
    async fn subscribe(&self, project: &str) -> (RedisBus, Subscription) {
        let options = BusOptions {
            prefix: self.prefix.clone().expect("a server on Redis"),
            queue: 64,
        };
        let bus = RedisBus::connect(&redis_url(), options).await.unwrap();
        let subscription = bus.subscribe(&project_channel(project)).await;
        (bus, subscription)
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(id).collect()
}

#[tokio::test]
async fn a_retried_send_returns_the_first_message_with_a_uuid_v7_id() {
    for backend in backends() {
        let c = Chat::start(backend).await;
        let room = c.room().await;
        let body = json!({"client_id": "k-1", "body": "hello"});
        let first = c
            .call(
                Method::POST,
                &room.messages(),
                Some(&room.viewer.token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            first.status,
            StatusCode::CREATED,
            "{backend:?}: {}",
            first.body
        );
        assert!(first.headers.get("idempotent-replayed").is_none());
        let message = first.body;
        let parsed = Uuid::parse_str(message["id"].as_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 7, "{backend:?}");
        assert_eq!(message["channel_id"], room.channel.as_str());
        assert_eq!(message["author_id"], room.viewer.id.as_str());
        assert_eq!(message["client_id"], "k-1");
        assert_eq!(message["body"], "hello");
        assert_eq!(message["edited_at"], Value::Null);
        assert_eq!(message["deleted"], false);
        assert_eq!(message["deleted_at"], Value::Null);
        assert_eq!(message["reactions"], json!([]));
        assert!(message["created_at"].as_i64().unwrap() > 1_600_000_000_000);

        // The retry (even with another body) is the first message, flagged as a replay.
        let retry = c
            .call(
                Method::POST,
                &room.messages(),
                Some(&room.viewer.token),
                Some(json!({"client_id": "k-1", "body": "hello again"})),
            )
            .await;
        assert_eq!(retry.status, StatusCode::OK, "{backend:?}");
        assert_eq!(retry.headers["idempotent-replayed"], "true");
        assert_eq!(retry.body, message, "{backend:?}");
        let history = c
            .expect(200, Method::GET, &room.messages(), &room.viewer, None)
            .await;
        assert_eq!(history["items"], json!([message]), "{backend:?}");

        // A client id is its sender's own: the owner's "k-1" is another message.
        let owners = c.send(&room, &room.owner, "k-1", "mine").await;
        assert_ne!(owners["id"], message["id"]);
        let history = c
            .expect(200, Method::GET, &room.messages(), &room.viewer, None)
            .await;
        assert_eq!(
            ids(&history),
            vec![id(&message), id(&owners)],
            "{backend:?}"
        );
        c.stop().await;
    }
}

#[tokio::test]
async fn history_pages_walk_both_ways_without_gaps_or_repeats() {
    for backend in backends() {
        let c = Chat::start(backend).await;
        let room = c.room().await;
        let mut sent = Vec::new();
        for i in 0..250 {
            let user = if i % 3 == 0 {
                &room.viewer
            } else {
                &room.owner
            };
            sent.push(id(&c
                .send(&room, user, &format!("m{i}"), &format!("#{i}"))
                .await));
        }
        let mut sorted = sent.clone();
        sorted.sort();
        assert_eq!(sorted, sent, "{backend:?}: ids sort in send order");

        // Back from the newest, 100 at a time: 100, 100, 50.
        let mut back: Vec<String> = Vec::new();
        let mut sizes = Vec::new();
        let mut path = format!("{}?limit=100", room.messages());
        loop {
            let page = c.expect(200, Method::GET, &path, &room.viewer, None).await;
            let page_ids = ids(&page);
            sizes.push(page_ids.len());
            // Every page runs oldest first.
            assert!(page_ids.windows(2).all(|p| p[0] < p[1]), "{backend:?}");
            if !back.is_empty() {
                // A page reached with `before` has newer ones next to it.
                assert_eq!(page["after"], page_ids.last().unwrap().as_str());
            } else {
                assert!(page.get("after").is_none(), "{backend:?}: {page}");
            }
            back.splice(0..0, page_ids.clone());
            match page.get("before") {
                Some(before) => {
                    assert_eq!(before, page_ids.first().unwrap().as_str());
                    path = format!(
                        "{}?limit=100&before={}",
                        room.messages(),
                        before.as_str().unwrap()
                    );
                }
                None => break,
            }
        }
        assert_eq!(sizes, vec![100, 100, 50], "{backend:?}");
        assert_eq!(back, sent, "{backend:?}");

        // Forward from the start, 100 at a time.
        let mut forward: Vec<String> = Vec::new();
        let mut path = format!("{}?limit=100&after={}", room.messages(), Uuid::nil());
        loop {
            let page = c.expect(200, Method::GET, &path, &room.viewer, None).await;
            let page_ids = ids(&page);
            if forward.is_empty() {
                assert!(page.get("before").is_none(), "{backend:?}: {page}");
            } else {
                assert_eq!(page["before"], page_ids.first().unwrap().as_str());
            }
            forward.extend(page_ids);
            match page.get("after") {
                Some(after) => {
                    path = format!(
                        "{}?limit=100&after={}",
                        room.messages(),
                        after.as_str().unwrap()
                    );
                }
                None => break,
            }
        }
        assert_eq!(forward, sent, "{backend:?}");

        // The default page is the newest 50; past either end is empty, without cursors.
        let latest = c
            .expect(200, Method::GET, &room.messages(), &room.viewer, None)
            .await;
        assert_eq!(ids(&latest), sent[200..], "{backend:?}");
        assert_eq!(latest["before"], sent[200].as_str());
        let path = format!("{}?after={}", room.messages(), sent[249]);
        let end = c.expect(200, Method::GET, &path, &room.viewer, None).await;
        assert_eq!(end, json!({"items": []}), "{backend:?}");
        let path = format!("{}?before={}&limit=1", room.messages(), sent[0]);
        let start = c.expect(200, Method::GET, &path, &room.viewer, None).await;
        assert_eq!(start, json!({"items": []}), "{backend:?}");
        // A page in the middle points both ways.
        let path = format!("{}?before={}&limit=10", room.messages(), sent[100]);
        let middle = c.expect(200, Method::GET, &path, &room.viewer, None).await;
        assert_eq!(ids(&middle), sent[90..100]);
        assert_eq!(middle["before"], sent[90].as_str());
        assert_eq!(middle["after"], sent[99].as_str());

        // Bad pages are 400 problems.
        for query in [
            "limit=0",
            "limit=101",
            "limit=abc",
            "before=nope",
            &format!("before={}&after={}", sent[1], sent[0]),
        ] {
            let path = format!("{}?{query}", room.messages());
            c.expect(400, Method::GET, &path, &room.viewer, None).await;
        }
        c.stop().await;
    }
}

#[tokio::test]
async fn edits_tombstones_and_reactions_show_in_the_views() {
    for backend in backends() {
        let c = Chat::start(backend).await;
        let room = c.room().await;
        let mine = c.send(&room, &room.viewer, "a", "first draft").await;
        let path = format!("{}/{}", room.messages(), id(&mine));

        // Only the author edits.
        c.expect(
            403,
            Method::PATCH,
            &path,
            &room.owner,
            Some(json!({"body": "owned"})),
        )
        .await;
        let edited = c
            .expect(
                200,
                Method::PATCH,
                &path,
                &room.viewer,
                Some(json!({"body": "final"})),
            )
            .await;
        assert_eq!(edited["body"], "final", "{backend:?}");
        assert!(edited["edited_at"].as_i64().unwrap() >= mine["created_at"].as_i64().unwrap());
        assert_eq!(edited["created_at"], mine["created_at"]);

        // Reactions group by emoji, in the order they came, with their count.
        let thumbs = format!("{path}/reactions/%F0%9F%91%8D");
        let heart = format!("{path}/reactions/%E2%9D%A4%EF%B8%8F");
        c.expect(200, Method::PUT, &thumbs, &room.viewer, None)
            .await;
        c.expect(200, Method::PUT, &heart, &room.owner, None).await;
        let view = c.expect(200, Method::PUT, &thumbs, &room.owner, None).await;
        // Adding again changes nothing.
        let again = c.expect(200, Method::PUT, &thumbs, &room.owner, None).await;
        assert_eq!(again, view);
        assert_eq!(
            view["reactions"],
            json!([
                {"emoji": "👍", "users": [room.viewer.id, room.owner.id], "count": 2},
                {"emoji": "❤️", "users": [room.owner.id], "count": 1},
            ]),
            "{backend:?}"
        );
        let history = c
            .expect(200, Method::GET, &room.messages(), &room.owner, None)
            .await;
        assert_eq!(history["items"][0], view, "{backend:?}");
        let view = c
            .expect(200, Method::DELETE, &heart, &room.owner, None)
            .await;
        // Removing what is not there changes nothing.
        let again = c
            .expect(200, Method::DELETE, &heart, &room.owner, None)
            .await;
        assert_eq!(again, view);
        assert_eq!(
            view["reactions"],
            json!([{"emoji": "👍", "users": [room.viewer.id, room.owner.id], "count": 2}])
        );
        // Not a reaction: whitespace, control characters, too long.
        for bad in ["%20", "a%20b", "%07", &"x".repeat(33)] {
            let path = format!("{path}/reactions/{bad}");
            c.expect(400, Method::PUT, &path, &room.viewer, None).await;
        }

        // A viewer deletes only their own; a project admin deletes anyone's.
        let owners = c.send(&room, &room.owner, "b", "from the owner").await;
        let owners_path = format!("{}/{}", room.messages(), id(&owners));
        c.expect(403, Method::DELETE, &owners_path, &room.viewer, None)
            .await;
        let tombstone = c
            .expect(200, Method::DELETE, &path, &room.owner, None)
            .await;
        assert_eq!(tombstone["id"], mine["id"]);
        assert_eq!(tombstone["body"], "", "{backend:?}");
        assert_eq!(tombstone["deleted"], true);
        assert!(tombstone["deleted_at"].as_i64().is_some());
        assert_eq!(tombstone["reactions"], json!([]), "{backend:?}");
        assert_eq!(tombstone["edited_at"], edited["edited_at"]);
        // Deleting again returns the same tombstone.
        let twice = c
            .expect(200, Method::DELETE, &path, &room.viewer, None)
            .await;
        assert_eq!(twice, tombstone);
        // A tombstone takes no edits and no reactions, and stays in the history.
        c.expect(
            409,
            Method::PATCH,
            &path,
            &room.viewer,
            Some(json!({"body": "back"})),
        )
        .await;
        c.expect(409, Method::PUT, &thumbs, &room.viewer, None)
            .await;
        let history = c
            .expect(200, Method::GET, &room.messages(), &room.owner, None)
            .await;
        assert_eq!(history["items"], json!([tombstone, owners]), "{backend:?}");
        // The author deletes their own.
        c.expect(200, Method::DELETE, &owners_path, &room.owner, None)
            .await;
        c.stop().await;
    }
}

#[tokio::test]
async fn read_positions_and_unread_counts_are_per_user() {
    for backend in backends() {
        let c = Chat::start(backend).await;
        let room = c.room().await;
        let quiet = c
            .expect(
                201,
                Method::POST,
                &room.channels(),
                &room.owner,
                Some(json!({"name": "quiet"})),
            )
            .await;
        assert_eq!(quiet["topic"], "");
        let unread_path = format!("/api/projects/{}/unread", room.project);
        let read_path = format!("{}/{}/read", room.channels(), room.channel);
        let row = |channel: &str, last_read: Value, unread: u64| json!({"channel_id": channel, "last_read": last_read, "unread": unread});
        let o1 = c.send(&room, &room.owner, "o1", "one").await;
        let v1 = c.send(&room, &room.viewer, "v1", "two").await;
        let o2 = c.send(&room, &room.owner, "o2", "three").await;
        let o3 = c.send(&room, &room.owner, "o3", "four").await;

        // Nothing read yet: the others' messages count, the own ones never do.
        let owner_view = c
            .expect(200, Method::GET, &unread_path, &room.owner, None)
            .await;
        assert_eq!(
            owner_view,
            json!([
                row(&room.channel, Value::Null, 1),
                row(&id(&quiet), Value::Null, 0)
            ]),
            "{backend:?}"
        );
        let viewer_view = c
            .expect(200, Method::GET, &unread_path, &room.viewer, None)
            .await;
        assert_eq!(
            viewer_view[0],
            row(&room.channel, Value::Null, 3),
            "{backend:?}"
        );

        // The viewer reads up to o2: one left.
        let position = c
            .expect(
                200,
                Method::POST,
                &read_path,
                &room.viewer,
                Some(json!({"message_id": id(&o2)})),
            )
            .await;
        assert_eq!(
            position,
            row(&room.channel, json!(id(&o2)), 1),
            "{backend:?}"
        );
        // Marking an older one read does not move the position back.
        let position = c
            .expect(
                200,
                Method::POST,
                &read_path,
                &room.viewer,
                Some(json!({"message_id": id(&o1)})),
            )
            .await;
        assert_eq!(
            position,
            row(&room.channel, json!(id(&o2)), 1),
            "{backend:?}"
        );
        // A deleted message no longer counts.
        c.expect(
            200,
            Method::DELETE,
            &format!("{}/{}", room.messages(), id(&o3)),
            &room.owner,
            None,
        )
        .await;
        let viewer_view = c
            .expect(200, Method::GET, &unread_path, &room.viewer, None)
            .await;
        assert_eq!(
            viewer_view[0],
            row(&room.channel, json!(id(&o2)), 0),
            "{backend:?}"
        );
        // The owner's position is their own.
        let owner_view = c
            .expect(200, Method::GET, &unread_path, &room.owner, None)
            .await;
        assert_eq!(
            owner_view[0],
            row(&room.channel, Value::Null, 1),
            "{backend:?}"
        );
        let position = c
            .expect(
                200,
                Method::POST,
                &read_path,
                &room.owner,
                Some(json!({"message_id": id(&v1)})),
            )
            .await;
        assert_eq!(position, row(&room.channel, json!(id(&v1)), 0));

        // Only a message of this channel is a read position in it.
        let elsewhere = format!("{}/{}/read", room.channels(), id(&quiet));
        c.expect(
            404,
            Method::POST,
            &elsewhere,
            &room.viewer,
            Some(json!({"message_id": id(&o1)})),
        )
        .await;
        c.expect(
            404,
            Method::POST,
            &read_path,
            &room.viewer,
            Some(json!({"message_id": Uuid::now_v7()})),
        )
        .await;
        c.expect(
            422,
            Method::POST,
            &read_path,
            &room.viewer,
            Some(json!({"message_id": "x"})),
        )
        .await;
        c.stop().await;
    }
}

#[tokio::test]
async fn roles_decide_who_chats_and_bad_input_is_a_problem() {
    for backend in backends() {
        let c = Chat::start(backend).await;
        let room = c.room().await;

        // Channels: editors create them, viewers read them, names are unique per project.
        c.expect(
            403,
            Method::POST,
            &room.channels(),
            &room.viewer,
            Some(json!({"name": "mine"})),
        )
        .await;
        c.expect(
            409,
            Method::POST,
            &room.channels(),
            &room.owner,
            Some(json!({"name": " general "})),
        )
        .await;
        let list = c
            .expect(200, Method::GET, &room.channels(), &room.viewer, None)
            .await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{backend:?}");
        assert_eq!(list["items"][0]["name"], "general");
        assert_eq!(list["items"][0]["topic"], "Anything");
        assert_eq!(list["items"][0]["project_id"], room.project.as_str());
        let one = c
            .expect(
                200,
                Method::GET,
                &format!("{}/{}", room.channels(), room.channel),
                &room.viewer,
                None,
            )
            .await;
        assert_eq!(one, list["items"][0]);
        for i in 0..4 {
            c.expect(
                201,
                Method::POST,
                &room.channels(),
                &room.owner,
                Some(json!({"name": format!("c{i}")})),
            )
            .await;
        }
        let page = c
            .expect(
                200,
                Method::GET,
                &format!("{}?limit=3", room.channels()),
                &room.viewer,
                None,
            )
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
        let next = page["next"].as_str().unwrap();
        let rest = c
            .expect(
                200,
                Method::GET,
                &format!("{}?limit=3&after={next}", room.channels()),
                &room.viewer,
                None,
            )
            .await;
        assert_eq!(rest["items"].as_array().unwrap().len(), 2, "{backend:?}");
        assert!(rest.get("next").is_none());

        // A viewer chats; an outsider sees nothing, not even that the channel exists.
        let message = c.send(&room, &room.viewer, "v", "hi").await;
        let message_path = format!("{}/{}", room.messages(), id(&message));
        for (method, path, body) in [
            (Method::GET, room.channels(), None),
            (Method::GET, room.messages(), None),
            (
                Method::POST,
                room.messages(),
                Some(json!({"client_id": "x", "body": "hi"})),
            ),
            (
                Method::PATCH,
                message_path.clone(),
                Some(json!({"body": "x"})),
            ),
            (Method::DELETE, message_path.clone(), None),
            (Method::PUT, format!("{message_path}/reactions/ok"), None),
            (
                Method::GET,
                format!("/api/projects/{}/unread", room.project),
                None,
            ),
        ] {
            c.expect(404, method, &path, &room.outsider, body).await;
        }

        // A channel of another project, or a message under another channel, is not there.
        let org = c
            .expect(
                201,
                Method::POST,
                "/api/orgs",
                &room.owner,
                Some(json!({"name": "Other"})),
            )
            .await;
        let other_project = c
            .expect(
                201,
                Method::POST,
                &format!("/api/orgs/{}/projects", id(&org)),
                &room.owner,
                Some(json!({"name": "Other"})),
            )
            .await;
        let foreign = format!(
            "/api/projects/{}/channels/{}",
            id(&other_project),
            room.channel
        );
        c.expect(404, Method::GET, &foreign, &room.owner, None)
            .await;
        c.expect(
            404,
            Method::GET,
            &format!("{foreign}/messages"),
            &room.owner,
            None,
        )
        .await;
        let sibling = c
            .expect(
                201,
                Method::POST,
                &room.channels(),
                &room.owner,
                Some(json!({"name": "sibling"})),
            )
            .await;
        let crossed = format!(
            "{}/{}/messages/{}",
            room.channels(),
            id(&sibling),
            id(&message)
        );
        c.expect(
            404,
            Method::PATCH,
            &crossed,
            &room.viewer,
            Some(json!({"body": "x"})),
        )
        .await;
        c.expect(
            404,
            Method::PUT,
            &format!("{crossed}/reactions/ok"),
            &room.viewer,
            None,
        )
        .await;
        c.expect(
            404,
            Method::GET,
            &format!("{}/{}", room.channels(), Uuid::now_v7()),
            &room.viewer,
            None,
        )
        .await;
        c.expect(
            404,
            Method::DELETE,
            &format!("{}/{}", room.messages(), Uuid::now_v7()),
            &room.owner,
            None,
        )
        .await;

        // Validation: each a problem with its status.
        let long_body = "é".repeat(10_001);
        for (body, status) in [
            (json!({"client_id": "k", "body": ""}), 422),
            (json!({"client_id": "k", "body": long_body}), 422),
            (json!({"client_id": "k", "body": "nul \u{0} inside"}), 422),
            (json!({"client_id": "", "body": "x"}), 422),
            (json!({"client_id": "has space", "body": "x"}), 422),
            (json!({"client_id": "é", "body": "x"}), 422),
            (json!({"client_id": "k".repeat(65), "body": "x"}), 422),
            (json!({"body": "x"}), 422),
            (json!({"client_id": "k", "body": "x", "extra": 1}), 422),
        ] {
            c.expect(
                status,
                Method::POST,
                &room.messages(),
                &room.viewer,
                Some(body),
            )
            .await;
        }
        // The limits themselves are fine.
        c.send(&room, &room.viewer, &"~".repeat(64), &"é".repeat(10_000))
            .await;
        c.expect(
            422,
            Method::PATCH,
            &message_path,
            &room.viewer,
            Some(json!({"body": ""})),
        )
        .await;
        for body in [
            json!({"name": "   "}),
            json!({"name": "x".repeat(101)}),
            json!({"name": "ok", "topic": "t".repeat(1001)}),
            json!({}),
        ] {
            c.expect(422, Method::POST, &room.channels(), &room.owner, Some(body))
                .await;
        }
        let no_json = c
            .http
            .post(c.server.url(&room.messages()))
            .bearer_auth(&room.viewer.token)
            .body("client_id=k")
            .send()
            .await
            .unwrap();
        assert_eq!(no_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            no_json.headers()["content-type"],
            "application/problem+json"
        );
        let anonymous = c.call(Method::GET, &room.messages(), None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        c.stop().await;
    }
}

/// The next chat frame on the bus for `channel`, skipping nothing: anything else is a failure.
async fn next_frame(subscription: &mut Subscription, channel: &str) -> ServerFrame {
    let event = tokio::time::timeout(WAIT, subscription.recv())
        .await
        .expect("no chat event arrived")
        .expect("the subscription ended");
    let BusEvent::Message(bytes) = event else {
        panic!("unexpected bus event {event:?}");
    };
    let envelope = ChatEnvelope::decode(&bytes).unwrap();
    let ChatBusEvent::Channel { channel: on, frame } = envelope.event else {
        panic!("unexpected chat bus event {:?}", envelope.event);
    };
    assert_eq!(on, channel);
    frame
}

#[tokio::test]
async fn every_change_reaches_the_bus_once_and_retries_never() {
    for backend in backends() {
        let c = Chat::start_on_redis(backend).await;
        let room = c.room().await;
        let (_bus, mut subscription) = c.subscribe(&room.project).await;

        let sent = c.send(&room, &room.viewer, "k", "hello").await;
        let message_id = id(&sent);
        let frame = next_frame(&mut subscription, &room.channel).await;
        let ServerFrame::MessageCreated { message } = frame else {
            panic!("{backend:?}: expected message_created, got {frame:?}");
        };
        assert_eq!(message.id, message_id);
        assert_eq!(message.channel, room.channel);
        assert_eq!(message.author, room.viewer.id);
        assert_eq!(message.client_id, "k");
        assert_eq!(message.body, "hello");
        assert!(!message.deleted);

        // A retried send publishes nothing: the next frame is the edit's.
        let retry = c
            .call(
                Method::POST,
                &room.messages(),
                Some(&room.viewer.token),
                Some(json!({"client_id": "k", "body": "hello"})),
            )
            .await;
        assert_eq!(retry.status, StatusCode::OK);
        let path = format!("{}/{message_id}", room.messages());
        c.expect(
            200,
            Method::PATCH,
            &path,
            &room.viewer,
            Some(json!({"body": "edited"})),
        )
        .await;
        let frame = next_frame(&mut subscription, &room.channel).await;
        let ServerFrame::MessageEdited { message } = frame else {
            panic!("{backend:?}: expected message_edited, got {frame:?}");
        };
        assert_eq!(
            (message.id.as_str(), message.body.as_str()),
            (message_id.as_str(), "edited")
        );
        assert!(message.edited_at.is_some());

        // A reaction added twice and removed twice: one frame each way.
        let thumbs = format!("{path}/reactions/%F0%9F%91%8D");
        c.expect(200, Method::PUT, &thumbs, &room.owner, None).await;
        c.expect(200, Method::PUT, &thumbs, &room.owner, None).await;
        let reaction = |frame: ServerFrame| match frame {
            ServerFrame::ReactionAdded {
                channel,
                message,
                emoji,
                user,
            } => ("added", channel, message, emoji, user),
            ServerFrame::ReactionRemoved {
                channel,
                message,
                emoji,
                user,
            } => ("removed", channel, message, emoji, user),
            other => panic!("{backend:?}: expected a reaction, got {other:?}"),
        };
        let expected = |what| {
            (
                what,
                room.channel.clone(),
                message_id.clone(),
                "👍".to_owned(),
                room.owner.id.clone(),
            )
        };
        assert_eq!(
            reaction(next_frame(&mut subscription, &room.channel).await),
            expected("added")
        );
        c.expect(200, Method::DELETE, &thumbs, &room.owner, None)
            .await;
        c.expect(200, Method::DELETE, &thumbs, &room.owner, None)
            .await;
        assert_eq!(
            reaction(next_frame(&mut subscription, &room.channel).await),
            expected("removed")
        );

        // A delete, then a delete of the tombstone: one frame.
        c.expect(200, Method::DELETE, &path, &room.viewer, None)
            .await;
        c.expect(200, Method::DELETE, &path, &room.viewer, None)
            .await;
        let frame = next_frame(&mut subscription, &room.channel).await;
        assert_eq!(
            frame,
            ServerFrame::MessageDeleted {
                channel: room.channel.clone(),
                id: message_id.clone(),
            },
            "{backend:?}"
        );
        // Refused changes publish nothing either: the next frame is the next message.
        c.expect(
            409,
            Method::PATCH,
            &path,
            &room.viewer,
            Some(json!({"body": "x"})),
        )
        .await;
        let last = c.send(&room, &room.owner, "last", "bye").await;
        let frame = next_frame(&mut subscription, &room.channel).await;
        let ServerFrame::MessageCreated { message } = frame else {
            panic!("{backend:?}: expected message_created, got {frame:?}");
        };
        assert_eq!(message.id, id(&last));
        c.stop().await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_messaging_routes() {
    let c = Chat::start(Backend::Sqlite).await;
    let doc: Value = reqwest::get(c.server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel = "/api/projects/{project}/channels/{channel}";
    let reactions = format!("{channel}/messages/{{message}}/reactions/{{emoji}}");
    for (path, methods) in [
        (
            "/api/projects/{project}/channels".to_owned(),
            &["get", "post"][..],
        ),
        (channel.to_owned(), &["get"]),
        (format!("{channel}/messages"), &["get", "post"]),
        (
            format!("{channel}/messages/{{message}}"),
            &["patch", "delete"],
        ),
        (reactions.clone(), &["put", "delete"]),
        (format!("{channel}/read"), &["post"]),
        ("/api/projects/{project}/unread".to_owned(), &["get"]),
    ] {
        for method in methods {
            let operation = &doc["paths"][&path][method];
            assert!(operation.is_object(), "{method} {path} missing");
            assert_eq!(operation["tags"], json!(["messaging"]), "{method} {path}");
        }
    }
    // The emoji is text, not an id like the other path parameters.
    let params = doc["paths"][&reactions]["put"]["parameters"]
        .as_array()
        .unwrap();
    let emoji = params.iter().find(|p| p["name"] == "emoji").unwrap();
    assert_eq!(emoji["schema"]["type"], "string");
    assert!(emoji["schema"].get("format").is_none(), "{emoji}");
    assert_eq!(emoji["schema"]["maxLength"], 32);
    let send = &doc["components"]["schemas"]["SendBody"]["properties"];
    assert_eq!(send["client_id"]["maxLength"], 64);
    assert_eq!(send["body"]["maxLength"], 10_000);
    let replay = &doc["paths"][format!("{channel}/messages")]["post"]["responses"]["200"];
    assert!(
        replay["headers"]["Idempotent-Replayed"].is_object(),
        "{replay}"
    );
    c.stop().await;
}
