//! Chat test support: collab nodes sharing one database (a SQLite file or a fresh Postgres
//! database), a Redis prefix of their own and the access-token secret file; users, projects and
//! channels made through storage's `Accounts`; a chat client speaking MessagePack or JSON.

use crate::support::TestServer;
use crate::support::process::ServerProcess;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_collab_server::Config;
use weft_protocol::access_token::AccessTokenKeys;
use weft_protocol::chat::{ChatMessage, ClientFrame, ServerFrame};
use weft_storage::accounts::{Accounts, Channel, Role, Uuid};
use weft_storage::sql::{Database, scratch};

/// Generous: waits end as soon as what they wait for arrives.
pub const WAIT: Duration = Duration::from_secs(20);

pub const HEARTBEAT: Duration = Duration::from_millis(200);
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1500);
pub const TYPING_TTL: Duration = Duration::from_secs(1);

/// The databases a test runs on: SQLite always, Postgres when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<&'static str> {
    let mut out = vec!["sqlite"];
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        out.push("postgres");
    }
    out
}

/// What the nodes of one test share, and the accounts repository on the same database.
pub struct Deployment {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    pub secret_file: std::path::PathBuf,
    pub accounts: Accounts,
    keys: AccessTokenKeys,
    admin_url: Option<String>,
    dir: TempDir,
}

impl Deployment {
    pub async fn start(backend: &'static str) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, admin_url) = match backend {
            "sqlite" => (
                format!("sqlite://{}", dir.path().join("chat.db").display()),
                None,
            ),
            _ => {
                let admin = std::env::var("TEST_DATABASE_URL").unwrap();
                let url = scratch::create_database(&admin, "chat").await.unwrap();
                (url, Some(admin))
            }
        };
        let secret: [u8; 32] = rand::random();
        let secret_file = dir.path().join("api-jwt-secret");
        std::fs::write(&secret_file, secret).unwrap();
        let db = Database::connect(&database_url).await.unwrap();
        Deployment {
            database_url,
            redis_url: std::env::var("TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
            prefix: format!("weft-chat-test-{:016x}", rand::random::<u64>()),
            secret_file,
            accounts: Accounts::new(db),
            keys: AccessTokenKeys::new(&secret, 5).unwrap(),
            admin_url,
            dir,
        }
    }

    /// Points the nodes started from now on at another Redis.
    pub fn use_redis(&mut self, url: String) {
        self.redis_url = url;
    }

    /// A node in this process.
    pub async fn node(&self, tune: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_with(|c| {
            c.database_url = Some(self.database_url.clone());
            c.redis_url = Some(self.redis_url.clone());
            c.bus_prefix = self.prefix.clone();
            c.jwt_secret_file = Some(self.secret_file.clone());
            c.node_heartbeat = HEARTBEAT;
            c.node_timeout = NODE_TIMEOUT;
            c.chat_typing_ttl = TYPING_TTL;
            tune(c);
        })
        .await
    }

    /// A node as a child process (for `kill -9`).
    pub async fn process(&self) -> ServerProcess {
        let data = self
            .dir
            .path()
            .join(format!("proc-{:08x}", rand::random::<u32>()));
        let heartbeat = format!("{}ms", HEARTBEAT.as_millis());
        let timeout = format!("{}ms", NODE_TIMEOUT.as_millis());
        let secret = self.secret_file.to_str().unwrap().to_owned();
        ServerProcess::start(
            &["--data-dir", data.to_str().unwrap(), "--no-rest"],
            &[
                ("REDIS_URL", self.redis_url.as_str()),
                ("WEFT_BUS_PREFIX", self.prefix.as_str()),
                ("DATABASE_URL", self.database_url.as_str()),
                ("API_JWT_SECRET_FILE", secret.as_str()),
                ("COLLAB_NODE_HEARTBEAT", heartbeat.as_str()),
                ("COLLAB_NODE_TIMEOUT", timeout.as_str()),
            ],
        )
        .await
    }

    /// A user with a fresh email, signed in: one session (refresh-token family) whose id is
    /// the user's own, which [`Deployment::token`] names.
    pub async fn user(&self, name: &str) -> Uuid {
        let email = format!("{name}-{:08x}@chat.test", rand::random::<u32>());
        let user = self
            .accounts
            .create_user(&email, name, "not-a-hash")
            .await
            .unwrap()
            .id;
        let hash = format!("{:064x}", rand::random::<u128>());
        self.accounts
            .insert_refresh(&hash, user, user, i64::MAX)
            .await
            .unwrap();
        user
    }

    /// An access token for `user` in the session [`Deployment::user`] started, signed with the
    /// nodes' secret.
    pub fn token(&self, user: Uuid) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.keys
            .sign(&user.to_string(), &user.to_string(), now, 600)
            .unwrap()
    }

    pub async fn cleanup(self) {
        if let Some(admin) = &self.admin_url {
            scratch::drop_database(admin, &self.database_url)
                .await
                .unwrap();
        }
    }
}

/// An organization whose owner made one project with one channel.
pub struct Team {
    pub owner: Uuid,
    pub org: Uuid,
    pub project: Uuid,
    pub channel: Channel,
}

impl Team {
    pub async fn create(d: &Deployment, owner_name: &str) -> Team {
        let owner = d.user(owner_name).await;
        let org = d
            .accounts
            .create_org(&format!("org of {owner_name}"), owner)
            .await
            .unwrap();
        let project = d.accounts.create_project(org.id, "chat").await.unwrap();
        let channel = d
            .accounts
            .create_channel(project.id, "general", "", owner)
            .await
            .unwrap();
        Team {
            owner,
            org: org.id,
            project: project.id,
            channel,
        }
    }

    /// A new user with `role` in the organization.
    pub async fn member(&self, d: &Deployment, name: &str, role: Role) -> Uuid {
        let user = d.user(name).await;
        d.accounts.set_org_role(self.org, user, role).await.unwrap();
        user
    }

    /// Another channel in the project.
    pub async fn channel(&self, d: &Deployment, name: &str) -> Channel {
        d.accounts
            .create_channel(self.project, name, "", self.owner)
            .await
            .unwrap()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    MsgPack,
    Json,
}

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A chat socket.
pub struct ChatClient {
    pub ws: WsStream,
    pub enc: Enc,
    /// Every frame received, in order.
    pub log: Vec<ServerFrame>,
    /// Set once the server closed the socket.
    pub closed: Option<Option<CloseFrame>>,
    pub user: String,
}

pub fn chat_url(node: &TestServer, token: &str) -> String {
    format!("ws://{}/chat?token={token}", node.addr)
}

impl ChatClient {
    /// Connects to `node` as `user` and waits for `ready`.
    pub async fn connect(d: &Deployment, node: &TestServer, user: Uuid, enc: Enc) -> ChatClient {
        Self::connect_url(&chat_url(node, &d.token(user)), enc).await
    }

    pub async fn connect_url(url: &str, enc: Enc) -> ChatClient {
        let url = match enc {
            Enc::MsgPack => url.to_owned(),
            Enc::Json => format!("{url}&encoding=json"),
        };
        let (ws, _) = connect_async(url).await.unwrap();
        Self::from_stream(ws, enc).await
    }

    /// A client on an open chat socket; waits for `ready`.
    pub async fn from_stream(ws: WsStream, enc: Enc) -> ChatClient {
        let mut client = ChatClient {
            ws,
            enc,
            log: Vec::new(),
            closed: None,
            user: String::new(),
        };
        match client.next().await {
            Some(ServerFrame::Ready { user }) => client.user = user,
            other => panic!("expected ready, got {other:?}"),
        }
        client
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        let message = match self.enc {
            Enc::MsgPack => Ws::Binary(frame.encode_binary().into()),
            Enc::Json => Ws::Text(frame.encode_text().into()),
        };
        self.ws.send(message).await.unwrap();
    }

    /// The next frame (checked to be in the client's encoding), None once closed or after
    /// [`WAIT`].
    pub async fn next(&mut self) -> Option<ServerFrame> {
        if self.closed.is_some() {
            return None;
        }
        loop {
            let read = tokio::time::timeout(WAIT, self.ws.next()).await.ok()?;
            let frame = match read {
                Some(Ok(Ws::Binary(bytes))) => {
                    assert_eq!(self.enc, Enc::MsgPack, "a binary frame to a JSON client");
                    ServerFrame::decode_binary(&bytes).unwrap()
                }
                Some(Ok(Ws::Text(text))) => {
                    assert_eq!(self.enc, Enc::Json, "a text frame to a MessagePack client");
                    ServerFrame::decode_text(&text).unwrap()
                }
                Some(Ok(Ws::Close(frame))) => {
                    self.closed = Some(frame);
                    return None;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    self.closed = Some(None);
                    return None;
                }
            };
            self.log.push(frame.clone());
            return Some(frame);
        }
    }

    /// Reads until a frame matches; panics when the socket closes or [`WAIT`] passes first.
    pub async fn until(&mut self, mut want: impl FnMut(&ServerFrame) -> bool) -> ServerFrame {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited too long; got {:?}",
                self.log
            );
            match self.next().await {
                Some(frame) if want(&frame) => return frame,
                Some(_) => {}
                None => panic!(
                    "socket closed ({:?}) while waiting; got {:?}",
                    self.closed, self.log
                ),
            }
        }
    }

    /// Subscribes and waits for `subscribed`; returns it and the messages replayed before it.
    pub async fn subscribe(
        &mut self,
        channel: Uuid,
        since: Option<&str>,
    ) -> (ServerFrame, Vec<ChatMessage>) {
        let start = self.log.len();
        self.send(&ClientFrame::Subscribe {
            channel: channel.to_string(),
            since: since.map(str::to_owned),
        })
        .await;
        let channel_text = channel.to_string();
        let subscribed = self
            .until(|f| {
                matches!(f, ServerFrame::Subscribed { channel, .. } if *channel == channel_text)
                    || matches!(f, ServerFrame::Error { .. })
            })
            .await;
        let replayed = self.log[start..]
            .iter()
            .filter_map(|f| match f {
                ServerFrame::MessageCreated { message } if message.channel == channel_text => {
                    Some(message.clone())
                }
                _ => None,
            })
            .collect();
        (subscribed, replayed)
    }

    /// Sends a message and waits for its `sent`.
    pub async fn say(&mut self, channel: Uuid, client_id: &str, body: &str) -> (ChatMessage, bool) {
        self.send(&ClientFrame::Send {
            channel: channel.to_string(),
            client_id: client_id.to_owned(),
            body: body.to_owned(),
        })
        .await;
        match self
            .until(|f| {
                matches!(f, ServerFrame::Sent { client_id: c, .. } if c == client_id)
                    || matches!(f, ServerFrame::Error { .. })
            })
            .await
        {
            ServerFrame::Sent {
                message, duplicate, ..
            } => (message, duplicate),
            other => panic!("send failed: {other:?}"),
        }
    }

    /// Waits for the `message_created` of the message with `body`.
    pub async fn receive(&mut self, body: &str) -> ChatMessage {
        match self
            .until(|f| matches!(f, ServerFrame::MessageCreated { message } if message.body == body))
            .await
        {
            ServerFrame::MessageCreated { message } => message,
            _ => unreachable!(),
        }
    }

    /// A round trip: every event queued for this socket before it is read first (the server
    /// drains a socket's queue before reading its next frame).
    pub async fn barrier(&mut self) {
        self.send(&ClientFrame::Ping {}).await;
        self.until(|f| matches!(f, ServerFrame::Pong {})).await;
    }

    /// The `message_created` frames received so far, as (id, body).
    pub fn created(&self) -> Vec<(String, String)> {
        self.log
            .iter()
            .filter_map(|f| match f {
                ServerFrame::MessageCreated { message } => {
                    Some((message.id.clone(), message.body.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Waits for the server to close the socket; returns the close code and reason.
    pub async fn closed_with(&mut self) -> (u16, String) {
        while self.next().await.is_some() {}
        match self.closed.clone() {
            Some(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
            other => panic!("closed without a close frame: {other:?}"),
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
