//! Per-address and per-user caps on open WebSockets (`COLLAB_MAX_CONNECTIONS_PER_IP`,
//! `COLLAB_MAX_CONNECTIONS_PER_USER`), and the client address behind trusted and untrusted
//! proxies (`WEFT_TRUSTED_PROXIES`).

use super::loopback;
use crate::support::client::{WAIT, ws_from};
use crate::support::{Client, TestServer};
use std::net::IpAddr;
use std::time::Duration;
use weft_protocol::access_token::AccessTokenKeys;
use weft_protocol::{CollabClaims, Permission};
use weft_storage::accounts::Accounts;
use weft_storage::sql::Database;

const TOO_MANY: u16 = 4429;

/// Connects from `source` with `headers` and expects the cap's refusal: the y-websocket
/// permission-denied message naming it, then 4429, and no document data.
async fn refused(url: &str, source: IpAddr, headers: &[(&str, &str)], reason: &str) {
    let mut c = Client::connect_from(url, source, headers).await;
    assert_eq!(c.close_code().await, Some(TOO_MANY));
    let denied = c.denied.clone().unwrap_or_default();
    assert!(denied.contains(reason), "{denied:?} should say {reason:?}");
    assert_eq!(c.seen, vec!["denied"]);
}

/// Joins from `source`, retrying while a slot just given back is still held (the server
/// releases it when the closed connection's task ends).
async fn join_eventually(url: &str, source: IpAddr) -> Client {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut c = Client::connect_from(url, source, &[]).await;
        c.pump_for(Duration::from_millis(200)).await;
        if c.synced {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never admitted again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An access token for a new user, in a session of theirs stored in the server's database
/// (the chat socket checks the session is active), signed with the server's generated secret;
/// returns the user id and the token.
async fn access_token(server: &TestServer) -> (String, String) {
    let url = format!(
        "sqlite://{}",
        server.config.keys.data_dir.join("weft.db").display()
    );
    let accounts = Accounts::new(Database::connect(&url).await.unwrap());
    let email = format!("{:08x}@caps.test", rand::random::<u32>());
    let user = accounts
        .create_user(&email, "caps", "not-a-hash")
        .await
        .unwrap()
        .id;
    let hash = format!("{:064x}", rand::random::<u128>());
    accounts
        .insert_refresh(&hash, user, user, i64::MAX)
        .await
        .unwrap();
    let secret = std::fs::read(server.config.keys.data_dir.join("api-jwt-secret")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let user = user.to_string();
    let token = AccessTokenKeys::new(&secret, 5)
        .unwrap()
        .sign(&user, &user, now, 600)
        .unwrap();
    (user, token)
}

#[tokio::test]
async fn one_address_is_capped_while_another_is_not() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let url = server.writer_url("capped");
    let (two, three) = (loopback(2), loopback(3));
    let mut a1 = Client::connect_from(&url, two, &[]).await;
    let mut a2 = Client::connect_from(&url, two, &[]).await;
    a1.until(|c| c.synced).await;
    a2.until(|c| c.synced).await;
    refused(&url, two, &[], "too many connections from this address").await;
    // The chat socket counts against the same cap, and is refused before any upgrade.
    let (_, token) = access_token(&server).await;
    let chat = format!("ws://{}/chat?token={token}", server.addr);
    match ws_from(&chat, two, &[]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        other => panic!("chat over the address cap: {:?}", other.map(|_| "upgraded")),
    }
    // Another address is not affected, and everyone keeps editing.
    let mut b = Client::connect_from(&url, three, &[]).await;
    b.until(|c| c.synced).await;
    a1.insert(0, "still editing").await;
    b.until(|c| c.text() == "still editing").await;
    assert!(ws_from(&chat, three, &[]).await.is_ok());
    assert_eq!(
        server
            .metric("weft_collab_ws_caps_refused_total{scope=\"ip\"}")
            .await,
        2.0
    );
    // A closed connection gives its place back.
    a1.close().await;
    let again = join_eventually(&url, two).await;
    assert_eq!(again.text(), "still editing");
}

#[tokio::test]
async fn one_user_is_capped_across_documents_and_the_chat_socket() {
    let server = TestServer::start_with(|c| c.max_connections_per_user = 2).await;
    // A first editor joins before the accounts are written: the server is up and migrated.
    let mut bystander = Client::join(&server.writer_url("warm-up")).await;
    bystander.insert(0, "up").await;
    let (ada, ada_token) = access_token(&server).await;
    let (bob, bob_token) = access_token(&server).await;
    let url = |sub: &str, doc: &str| {
        let token = server
            .issuer
            .sign(&CollabClaims::new(sub, doc, Permission::Write, 600))
            .unwrap();
        server.url(doc, Some(&token))
    };
    let mut first = Client::join(&url(&ada, "doc-a")).await;
    let _second = Client::join(&url(&ada, "doc-b")).await;
    refused(
        &url(&ada, "doc-c"),
        loopback(1),
        &[],
        "too many connections for this user",
    )
    .await;
    // Their chat socket too (the access token names the same user id).
    let chat = |token: &str| format!("ws://{}/chat?token={token}", server.addr);
    match tokio_tungstenite::connect_async(chat(&ada_token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("chat over the user cap: {:?}", other.map(|_| "upgraded")),
    }
    // Another user, from the same address, is not affected.
    let mut b = Client::join(&url(&bob, "doc-a")).await;
    assert!(
        tokio_tungstenite::connect_async(chat(&bob_token))
            .await
            .is_ok()
    );
    first.insert(0, "ada types").await;
    b.until(|c| c.text() == "ada types").await;
    assert_eq!(
        server
            .metric("weft_collab_ws_caps_refused_total{scope=\"user\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_an_untrusted_peer_cannot() {
    let proxy = loopback(2);
    let server = TestServer::start_with(|c| {
        c.max_connections_per_ip = 1;
        c.front.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    })
    .await;
    let url = server.writer_url("proxied");
    let xff = |v: &'static str| [("x-forwarded-for", v)];
    // Through the proxy, each forwarded client has its own cap…
    let mut one = Client::connect_from(&url, proxy, &xff("198.51.100.1")).await;
    let mut two = Client::connect_from(&url, proxy, &xff("198.51.100.2")).await;
    one.until(|c| c.synced).await;
    two.until(|c| c.synced).await;
    refused(
        &url,
        proxy,
        &xff("198.51.100.1"),
        "too many connections from this address",
    )
    .await;
    // …and what a client put left of the proxy's own entry is ignored.
    refused(
        &url,
        proxy,
        &xff("203.0.113.9, 198.51.100.2"),
        "too many connections from this address",
    )
    .await;
    // An untrusted peer is counted as itself, whatever it claims to forward for.
    let rogue = loopback(3);
    let mut spoofer = Client::connect_from(&url, rogue, &xff("198.51.100.7")).await;
    spoofer.until(|c| c.synced).await;
    refused(
        &url,
        rogue,
        &xff("198.51.100.8"),
        "too many connections from this address",
    )
    .await;
}
