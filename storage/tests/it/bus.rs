//! The message bus: the same behaviour tests against the in-process bus and against Redis (two
//! buses standing for two nodes), then what only Redis has: its subscriptions as Redis sees them,
//! prefixes sharing one server, and a Redis killed and restarted under the buses.
//!
//! Redis tests use `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) with a random prefix, or
//! a `redis-server` of their own when that is unreachable; the tests that kill Redis always start
//! their own on a free loopback port. Without either they are skipped, unless `CI` is set.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::RngCore;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};
use weft_storage::bus::{
    Bus, BusError, BusEvent, BusOptions, MemoryBus, RedisBus, ResyncCause, Subscription, open_bus,
};

/// How long any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Redis servers

/// A `redis-server` of the test's own on a loopback port, killed when dropped.
struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port; None (after saying so) when there is no `redis-server`.
    async fn start() -> Option<RedisServer> {
        if !has_redis_server() {
            skip("redis-server not found");
            return None;
        }
        // The free port may be taken by someone else before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                port,
                child: None,
                dir: tempfile::tempdir().unwrap(),
            };
            if server.spawn().await {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any free port");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the process on `self.port`; whether it answers PING.
    async fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if ping(&self.url()).await {
                return true;
            }
            if let Some(child) = &mut self.child
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            sleep(Duration::from_millis(20)).await;
        }
        self.kill().await;
        false
    }

    /// SIGKILL: Redis gets no chance to say goodbye to its clients.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server process.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().and_then(Child::id).unwrap();
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Starts the server again on the same port, empty.
    async fn restart(&mut self) {
        self.kill().await;
        for _ in 0..50 {
            if self.spawn().await {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
    }
}

fn has_redis_server() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Says why a test does nothing; in CI a missing Redis is a failure instead.
fn skip(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why}: the bus tests need Redis in CI");
    }
    eprintln!("skipping Redis bus test: {why}");
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    matches!(timeout(Duration::from_secs(1), attempt).await, Ok(Some(_)))
}

/// A Redis to share: `TEST_REDIS_URL`'s, or else one of the test's own (kept alive by the
/// returned guard). None when the test is skipped.
async fn shared_redis() -> Option<(String, Option<RedisServer>)> {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    if ping(&url).await {
        return Some((url, None));
    }
    let server = RedisServer::start().await?;
    Some((server.url(), Some(server)))
}

/// A prefix no other test uses.
fn random_prefix() -> String {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("weft-test-{}", hex::encode(bytes))
}

fn options(prefix: &str, queue: usize) -> BusOptions {
    BusOptions {
        prefix: prefix.to_owned(),
        queue,
    }
}

/// Runs one command on `url`.
async fn redis_query<T: redis::FromRedisValue>(url: &str, command: &redis::Cmd) -> T {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    command.query_async(&mut connection).await.unwrap()
}

/// How many subscribers Redis counts on the broker channel `key`.
async fn numsub(url: &str, key: &str) -> i64 {
    let (_, count): (String, i64) =
        redis_query(url, redis::cmd("PUBSUB").arg("NUMSUB").arg(key)).await;
    count
}

// ---------------------------------------------------------------------------------------------
// Two nodes on one bus

/// Two nodes' buses: two clones of one `MemoryBus`, or two `RedisBus`es on one Redis.
struct Nodes {
    a: Arc<dyn Bus>,
    b: Arc<dyn Bus>,
    prefix: String,
    /// The Redis URL, for looking at Redis directly.
    redis: Option<String>,
    _server: Option<RedisServer>,
}

async fn memory_nodes(queue: usize) -> Option<Nodes> {
    let prefix = random_prefix();
    let bus = MemoryBus::new(options(&prefix, queue));
    Some(Nodes {
        a: Arc::new(bus.clone()),
        b: Arc::new(bus),
        prefix,
        redis: None,
        _server: None,
    })
}

async fn redis_nodes(queue: usize) -> Option<Nodes> {
    let (url, server) = shared_redis().await?;
    let prefix = random_prefix();
    let a = RedisBus::connect(&url, options(&prefix, queue))
        .await
        .unwrap();
    let b = RedisBus::connect(&url, options(&prefix, queue))
        .await
        .unwrap();
    Some(Nodes {
        a: Arc::new(a),
        b: Arc::new(b),
        prefix,
        redis: Some(url),
        _server: server,
    })
}

/// Declares `$name::memory` and `$name::redis`, running the test body `$name(nodes)` on each.
macro_rules! on_both_buses {
    ($($name:ident(queue = $queue:expr);)*) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                if let Some(nodes) = super::memory_nodes($queue).await {
                    super::$name(nodes).await;
                }
            }

            #[tokio::test]
            async fn redis() {
                if let Some(nodes) = super::redis_nodes($queue).await {
                    super::$name(nodes).await;
                }
            }
        }
    )*};
}

on_both_buses! {
    publish_reaches_every_subscriber_in_order(queue = 1024);
    publish_right_after_subscribe_is_received(queue = 1024);
    one_of_two_subscriptions_dropped(queue = 1024);
    subscribe_again_right_after_the_last_drop(queue = 1024);
    full_queue_lags(queue = 4);
    leases(queue = 1024);
    dropping_the_bus_ends_subscriptions(queue = 1024);
}

fn msg(payload: &str) -> (String, Bytes) {
    (
        "doc:1".to_owned(),
        Bytes::copy_from_slice(payload.as_bytes()),
    )
}

fn on(channel: &str, payload: &str) -> (String, Bytes) {
    (
        channel.to_owned(),
        Bytes::copy_from_slice(payload.as_bytes()),
    )
}

/// The next event, within [`WAIT`].
async fn next(sub: &mut Subscription) -> BusEvent {
    timeout(WAIT, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing received on {} in time", sub.channel()))
        .unwrap_or_else(|| panic!("subscription to {} ended", sub.channel()))
}

/// The next event, which must be a message; its payload as text.
async fn next_message(sub: &mut Subscription) -> String {
    match next(sub).await {
        BusEvent::Message(payload) => String::from_utf8(payload.to_vec()).unwrap(),
        other => panic!("expected a message on {}, got {other:?}", sub.channel()),
    }
}

async fn expect_messages(sub: &mut Subscription, expected: &[&str]) {
    for want in expected {
        assert_eq!(next_message(sub).await, *want, "on {}", sub.channel());
    }
}

async fn expect_resync(sub: &mut Subscription, cause: ResyncCause) {
    match next(sub).await {
        BusEvent::Resync(got) => assert_eq!(got, cause, "on {}", sub.channel()),
        other => panic!(
            "expected Resync({cause:?}) on {}, got {other:?}",
            sub.channel()
        ),
    }
}

/// Nothing arrives on `sub` for a little while.
async fn expect_quiet(sub: &mut Subscription) {
    if let Ok(event) = timeout(Duration::from_millis(200), sub.recv()).await {
        panic!("expected nothing on {}, got {event:?}", sub.channel());
    }
}

async fn publish_reaches_every_subscriber_in_order(nodes: Nodes) {
    let mut on_a = nodes.a.subscribe("doc:1").await;
    let mut on_b = nodes.b.subscribe("doc:1").await;
    let mut other_on_b = nodes.b.subscribe("doc:2").await;
    assert_eq!(on_a.channel(), "doc:1");

    nodes
        .a
        .publish(&[msg("1"), on("doc:2", "x"), msg("2"), msg("3")])
        .await
        .unwrap();
    nodes.b.publish(&[msg("4")]).await.unwrap();
    nodes.a.publish(&[]).await.unwrap();

    // Own messages included, in publishing order, and nothing from the other channel.
    expect_messages(&mut on_a, &["1", "2", "3", "4"]).await;
    expect_messages(&mut on_b, &["1", "2", "3", "4"]).await;
    expect_messages(&mut other_on_b, &["x"]).await;
    expect_quiet(&mut on_a).await;
    expect_quiet(&mut other_on_b).await;
    assert!(nodes.a.is_connected() && nodes.b.is_connected());
}

async fn publish_right_after_subscribe_is_received(nodes: Nodes) {
    for i in 0..20 {
        let channel = format!("fresh:{i}");
        let mut sub = nodes.b.subscribe(&channel).await;
        nodes.a.publish(&[on(&channel, "first")]).await.unwrap();
        expect_messages(&mut sub, &["first"]).await;
    }
}

async fn one_of_two_subscriptions_dropped(nodes: Nodes) {
    let first = nodes.a.subscribe("doc:1").await;
    let mut second = nodes.a.subscribe("doc:1").await;
    if let Some(url) = &nodes.redis {
        // Two subscriptions, one broker subscription.
        assert_eq!(numsub(url, &format!("{}:doc:1", nodes.prefix)).await, 1);
    }
    drop(first);
    nodes.b.publish(&[msg("after drop")]).await.unwrap();
    expect_messages(&mut second, &["after drop"]).await;
}

async fn subscribe_again_right_after_the_last_drop(nodes: Nodes) {
    let mut sub = nodes.a.subscribe("doc:1").await;
    for i in 0..20 {
        drop(sub);
        sub = nodes.a.subscribe("doc:1").await;
        nodes.b.publish(&[msg(&i.to_string())]).await.unwrap();
        expect_messages(&mut sub, &[&i.to_string()]).await;
    }
    if let Some(url) = &nodes.redis {
        // Still exactly one broker subscription.
        let key = format!("{}:doc:1", nodes.prefix);
        assert_eq!(numsub(url, &key).await, 1);
    }
}

async fn full_queue_lags(nodes: Nodes) {
    let mut slow = nodes.a.subscribe("doc:1").await;
    let mut marker = nodes.a.subscribe("marker").await;
    let messages: Vec<_> = (1..=10).map(|i| msg(&i.to_string())).collect();
    nodes.b.publish(&messages).await.unwrap();
    // One connection delivers in order: once the marker is here, all ten were dispatched.
    nodes.b.publish(&[on("marker", "m")]).await.unwrap();
    expect_messages(&mut marker, &["m"]).await;

    // The queue holds four; the other six were dropped, which is said first.
    expect_resync(&mut slow, ResyncCause::Lagged).await;
    expect_messages(&mut slow, &["1", "2", "3", "4"]).await;
    expect_quiet(&mut slow).await;

    // Caught up: later messages arrive normally, with no further resync.
    nodes.b.publish(&[msg("11")]).await.unwrap();
    expect_messages(&mut slow, &["11"]).await;
    expect_quiet(&mut slow).await;
}

async fn leases(nodes: Nodes) {
    let ttl = Duration::from_secs(30);
    assert!(nodes.a.try_lease("compact:1", "a", ttl).await.unwrap());
    assert!(!nodes.b.try_lease("compact:1", "b", ttl).await.unwrap());
    // Not even the holder takes it twice.
    assert!(!nodes.a.try_lease("compact:1", "a", ttl).await.unwrap());
    // Another lease name is independent.
    assert!(nodes.b.try_lease("compact:2", "b", ttl).await.unwrap());

    // Giving back a lease one does not hold changes nothing.
    nodes.b.release_lease("compact:1", "b").await.unwrap();
    assert!(!nodes.b.try_lease("compact:1", "b", ttl).await.unwrap());
    nodes.a.release_lease("compact:1", "a").await.unwrap();
    assert!(nodes.b.try_lease("compact:1", "b", ttl).await.unwrap());
    // Releasing what nobody holds is fine.
    nodes.a.release_lease("never-taken", "a").await.unwrap();

    // An expired lease is free again, and its old holder cannot release the new one.
    assert!(
        nodes
            .a
            .try_lease("short", "a", Duration::from_millis(100))
            .await
            .unwrap()
    );
    sleep(Duration::from_millis(250)).await;
    assert!(nodes.b.try_lease("short", "b", ttl).await.unwrap());
    nodes.a.release_lease("short", "a").await.unwrap();
    assert!(!nodes.a.try_lease("short", "a", ttl).await.unwrap());

    if let Some(url) = &nodes.redis {
        let holder: Option<String> = redis_query(
            url,
            redis::cmd("GET").arg(format!("{}:short", nodes.prefix)),
        )
        .await;
        assert_eq!(holder.as_deref(), Some("b"));
    }
}

async fn dropping_the_bus_ends_subscriptions(nodes: Nodes) {
    let mut sub = nodes.a.subscribe("doc:1").await;
    nodes.b.publish(&[msg("before")]).await.unwrap();
    expect_messages(&mut sub, &["before"]).await;
    let Nodes { a, b, _server, .. } = nodes;
    drop(a);
    drop(b);
    assert!(
        timeout(WAIT, sub.recv()).await.unwrap().is_none(),
        "the subscription outlived its bus"
    );
}

// ---------------------------------------------------------------------------------------------
// Redis only

#[tokio::test]
async fn redis_last_drop_unsubscribes() {
    let Some(nodes) = redis_nodes(1024).await else {
        return;
    };
    let url = nodes.redis.clone().unwrap();
    let key = format!("{}:doc:1", nodes.prefix);
    let first = nodes.a.subscribe("doc:1").await;
    let second = nodes.a.subscribe("doc:1").await;
    let on_b = nodes.b.subscribe("doc:1").await;
    assert_eq!(numsub(&url, &key).await, 2, "one per node");

    drop(first);
    drop(second);
    wait_for_numsub(&url, &key, 1).await;
    drop(on_b);
    wait_for_numsub(&url, &key, 0).await;
}

async fn wait_for_numsub(url: &str, key: &str, want: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = numsub(url, key).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "PUBSUB NUMSUB {key} stayed {got}, expected {want}"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn redis_prefixes_are_isolated() {
    let Some((url, _server)) = shared_redis().await else {
        return;
    };
    let (one, two) = (random_prefix(), random_prefix());
    let bus_one = RedisBus::connect(&url, options(&one, 16)).await.unwrap();
    let bus_two = RedisBus::connect(&url, options(&two, 16)).await.unwrap();
    let mut sub_one = bus_one.subscribe("doc:1").await;
    let mut sub_two = bus_two.subscribe("doc:1").await;
    assert_eq!(numsub(&url, &format!("{one}:doc:1")).await, 1);

    bus_one.publish(&[msg("for one")]).await.unwrap();
    bus_two.publish(&[msg("for two")]).await.unwrap();
    expect_messages(&mut sub_one, &["for one"]).await;
    expect_messages(&mut sub_two, &["for two"]).await;
    expect_quiet(&mut sub_one).await;
    expect_quiet(&mut sub_two).await;

    // Leases too.
    let ttl = Duration::from_secs(30);
    assert!(bus_one.try_lease("lease", "x", ttl).await.unwrap());
    assert!(bus_two.try_lease("lease", "y", ttl).await.unwrap());
}

#[tokio::test]
async fn redis_restart_resyncs_every_subscription() {
    let Some(mut server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let prefix = random_prefix();
    let a = RedisBus::connect(&url, options(&prefix, 64)).await.unwrap();
    let b = RedisBus::connect(&url, options(&prefix, 64)).await.unwrap();
    let mut subs = vec![
        a.subscribe("doc:1").await,
        a.subscribe("doc:1").await,
        a.subscribe("doc:2").await,
        b.subscribe("doc:1").await,
    ];
    a.publish(&[msg("before")]).await.unwrap();
    for sub in subs.iter_mut().filter(|sub| sub.channel() == "doc:1") {
        expect_messages(sub, &["before"]).await;
    }

    server.kill().await;
    wait_until("both buses see Redis gone", || {
        !a.is_connected() && !b.is_connected()
    })
    .await;

    // Publishing fails, and fast: nothing is queued for later.
    let started = Instant::now();
    let err = a.publish(&[msg("lost")]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    assert!(
        a.try_lease("lease", "a", Duration::from_secs(1))
            .await
            .is_err()
    );

    // Subscribing does not wait for Redis; the channel is subscribed when it is back.
    let started = Instant::now();
    subs.push(b.subscribe("doc:3").await);
    assert!(started.elapsed() < Duration::from_secs(1));

    server.restart().await;
    for sub in &mut subs {
        expect_resync(sub, ResyncCause::Reconnected).await;
    }
    assert!(a.is_connected() && b.is_connected());

    // Everyone hears new messages without subscribing again.
    publish_until_ok(
        &a,
        &[msg("after"), on("doc:2", "two"), on("doc:3", "three")],
    )
    .await;
    for sub in &mut subs {
        let want = match sub.channel() {
            "doc:1" => "after",
            "doc:2" => "two",
            _ => "three",
        };
        expect_messages(sub, &[want]).await;
        expect_quiet(sub).await;
    }
    let key = format!("{prefix}:doc:1");
    assert_eq!(numsub(&url, &key).await, 2);
}

#[tokio::test]
async fn redis_frozen_server_times_out_and_recovers() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let bus = RedisBus::connect(&url, options(&random_prefix(), 64))
        .await
        .unwrap();
    let mut sub = bus.subscribe("doc:1").await;

    // A stopped process keeps its connections open but never answers: only timeouts tell.
    server.signal("STOP");
    let started = Instant::now();
    let err = bus.publish(&[msg("unanswered")]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    // The driver's ping notices the silent connection.
    wait_until("the bus sees Redis frozen", || !bus.is_connected()).await;

    server.signal("CONT");
    expect_resync(&mut sub, ResyncCause::Reconnected).await;
    publish_until_ok(&bus, &[msg("thawed")]).await;
    // The PUBLISH sent while frozen may still be executed once Redis runs again.
    let mut got = next_message(&mut sub).await;
    if got == "unanswered" {
        got = next_message(&mut sub).await;
    }
    assert_eq!(got, "thawed");
}

#[tokio::test]
async fn redis_unreachable_at_connect_fails_and_hides_the_password() {
    let port = free_port();
    let started = Instant::now();
    let err = RedisBus::connect(
        &format!("redis://user:hunter2@127.0.0.1:{port}"),
        BusOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    let err = open_bus(
        Some(&format!("redis://127.0.0.1:{port}")),
        BusOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn open_bus_picks_the_implementation() {
    let memory = open_bus(None, BusOptions::default()).await.unwrap();
    assert!(format!("{memory:?}").starts_with("MemoryBus"));
    assert!(memory.is_connected());

    let Some((url, _server)) = shared_redis().await else {
        return;
    };
    let redis = open_bus(Some(&url), options(&random_prefix(), 16))
        .await
        .unwrap();
    assert!(format!("{redis:?}").starts_with("RedisBus"));
    assert!(redis.is_connected());
}

/// Waits (at most [`WAIT`]) until `condition` holds.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Publishes, retrying while the bus's command connection comes back.
async fn publish_until_ok(bus: &dyn Bus, messages: &[(String, Bytes)]) {
    let deadline = Instant::now() + WAIT;
    loop {
        match bus.publish(messages).await {
            Ok(()) => return,
            Err(err) => assert!(Instant::now() < deadline, "publish kept failing: {err}"),
        }
        sleep(Duration::from_millis(50)).await;
    }
}
