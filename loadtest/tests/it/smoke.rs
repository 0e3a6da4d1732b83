//! The CI smoke run: each scenario for a few seconds against a real Weft server started
//! in-process on port 0. It asserts convergence and zero errors, never timings.

use std::time::Duration;
use weft_loadtest::Trace;
use weft_loadtest::scenario::fanout::{self, FanoutArgs};
use weft_loadtest::scenario::join_storm::{self, JoinStormArgs};
use weft_loadtest::scenario::replay::{self, ReplayArgs};
use weft_loadtest::scenario::{RunReport, Target};
use weft_loadtest::wire::Protocol;

/// A Weft server on a fresh port and data folder; returns its URL template.
async fn weft() -> (String, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = weft_collab_server::Config::with_data_dir(dir.path().join("data"));
    config.allow_anonymous = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        weft_collab_server::run(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (format!("ws://{addr}/ws/{{doc}}"), dir, stop)
}

/// The one-process default (collab tier, chat socket and REST at `/api` on one port, as
/// `cargo run --release` serves them) on a fresh port and data folder; returns its address.
async fn weft_with_rest() -> (
    std::net::SocketAddr,
    tempfile::TempDir,
    tokio::sync::oneshot::Sender<()>,
) {
    use weft_collab_server::server::{open_backends, run_with};
    let dir = tempfile::tempdir().unwrap();
    let config = weft_collab_server::Config::with_data_dir(dir.path().join("data"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let backends = open_backends(&config, addr).await.unwrap();
    let mut rest = <weft_api_server::Config as clap::Parser>::parse_from(["api-server"]);
    rest.listen = addr;
    rest.data_dir = dir.path().join("data");
    let api = weft_api_server::state_with(
        rest,
        backends.storage.db.clone(),
        backends.storage.docs.clone(),
        backends.bus.clone(),
        backends.storage.blobs.store(),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        run_with(
            listener,
            config,
            backends,
            weft_api_server::router(api),
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
    });
    (addr, dir, stop)
}

fn target(url: &str) -> Target {
    Target {
        url: url.to_owned(),
        protocol: Protocol::YWebsocket,
        token: None,
        token_command: None,
        server_pid: Some(std::process::id()),
        label: "weft".into(),
    }
}

fn trace() -> Trace {
    Trace::load(weft_loadtest::traces_dir().join("sveltecomponent.json.gz")).unwrap()
}

fn check(report: &RunReport) {
    assert!(
        report.passed(),
        "{} did not pass: converged {}, errors {:?}",
        report.scenario,
        report.converged,
        report.error_samples
    );
    assert!(report.clients > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_smoke_converges_without_errors() {
    let (url, _dir, _stop) = weft().await;
    let args = ReplayArgs {
        target: target(&url),
        trace: "sveltecomponent.json.gz".into(),
        docs: 3,
        clients: Some(3),
        txns: 600,
        segment: 25,
        rate: 0.0,
        timeout: Duration::from_secs(60).into(),
        doc_prefix: None,
        reconnect: false,
    };
    let report = replay::run(args, &trace()).await.unwrap();
    check(&report);
    assert_eq!(report.updates_sent, 3 * 600);
    // Every update reached both other editors of its document.
    assert_eq!(report.latency.count, 3 * 600);
    assert_eq!(report.latency.incomplete, 0);
    assert_eq!(report.latency.unmatched, 0);
    assert!(report.server_rss_max_bytes.is_some());
}

fn concurrent_args(url: &str, docs: usize, txns: usize) -> ReplayArgs {
    ReplayArgs {
        target: target(url),
        trace: "concurrent/clownschool.json.gz".into(),
        docs,
        clients: None,
        txns,
        segment: 25,
        rate: 0.0,
        timeout: Duration::from_secs(60).into(),
        doc_prefix: None,
        reconnect: false,
    }
}

/// Updates a prefix of the concurrent trace sends per document (transactions that change
/// something), and the trace.
fn concurrent(txns: usize) -> (Trace, u64) {
    let trace =
        Trace::load(weft_loadtest::traces_dir().join("concurrent/clownschool.json.gz")).unwrap();
    let prefix = &trace.txns[..txns];
    let schedule = weft_loadtest::causal::Schedule::new(prefix).unwrap();
    let reference =
        weft_loadtest::causal::replay_in_process(prefix, &schedule, &[1, 2, 3]).unwrap();
    let updates = reference.silent.iter().filter(|s| !**s).count() as u64;
    (trace, updates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_a_concurrent_prefix_types_each_agent_at_its_versions() {
    let (url, _dir, _stop) = weft().await;
    let (trace, updates) = concurrent(2000);
    // At a rate the other agents' concurrent transactions arrive before an agent's next one:
    // only holding them back keeps its text at the version the trace names. (As fast as
    // possible, each agent mostly types its branch before the others' arrive anyway.)
    let mut args = concurrent_args(&url, 3, 2000);
    args.rate = 500.0;
    let report = replay::run(args, &trace).await.unwrap();
    check(&report);
    assert_eq!(report.clients, 3 * 3, "one client per agent and document");
    assert_eq!(report.params["clients_per_doc"], 3);
    assert_eq!(report.updates_sent, 3 * updates);
    // Every update reached both other agents' clients of its document.
    assert_eq!(report.latency.count, 3 * updates);
    assert_eq!(report.latency.incomplete, 0);
    assert_eq!(report.latency.unmatched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_the_whole_concurrent_trace_ends_with_its_end_content() {
    let (url, _dir, _stop) = weft().await;
    let trace =
        Trace::load(weft_loadtest::traces_dir().join("concurrent/clownschool.json.gz")).unwrap();
    let report = replay::run(concurrent_args(&url, 1, 0), &trace)
        .await
        .unwrap();
    check(&report);
    assert_eq!(report.clients, 3);
    assert_eq!(
        report.params["check"],
        "every client equals the trace's endContent"
    );
    assert_eq!(report.latency.incomplete, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_a_concurrent_trace_refuses_another_number_of_clients() {
    let (url, _dir, _stop) = weft().await;
    let (trace, _) = concurrent(10);
    let mut args = concurrent_args(&url, 1, 10);
    args.clients = Some(5);
    let err = replay::run(args, &trace).await.unwrap_err().to_string();
    assert!(err.contains("3 agents"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_smoke_reaches_every_reader() {
    let (url, _dir, _stop) = weft().await;
    let args = FanoutArgs {
        target: target(&url),
        trace: "sveltecomponent.json.gz".into(),
        docs: 2,
        readers: 10,
        txns: 200,
        rate: 0.0,
        timeout: Duration::from_secs(60).into(),
    };
    let report = fanout::run(args, &trace()).await.unwrap();
    check(&report);
    assert_eq!(report.latency.count, 2 * 200);
    assert_eq!(report.latency.incomplete, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_storm_smoke_syncs_every_joiner_to_the_whole_document() {
    let (url, _dir, _stop) = weft().await;
    let args = JoinStormArgs {
        target: target(&url),
        trace: "sveltecomponent.json.gz".into(),
        clients: 20,
        timeout: Duration::from_secs(60).into(),
    };
    let report = join_storm::run(args, &trace()).await.unwrap();
    check(&report);
    assert_eq!(report.sync.count, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_smoke_delivers_every_message_to_every_subscriber_once() {
    use weft_loadtest::scenario::chat::{self, ChatArgs, Encoding};
    let (addr, _dir, _stop) = weft_with_rest().await;
    for encoding in [Encoding::Msgpack, Encoding::Json] {
        let args = ChatArgs {
            url: format!("ws://{addr}/chat"),
            api: format!("http://{addr}/api"),
            channels: 2,
            subscribers: 10,
            senders: 2,
            messages: 25,
            rate: 0.0,
            encoding,
            server_pid: Some(std::process::id()),
            label: "weft".into(),
            timeout: Duration::from_secs(60).into(),
        };
        let report = chat::run(args).await.unwrap();
        check(&report.run);
        assert_eq!((report.duplicates, report.missing), (0, 0));
        assert_eq!(report.run.updates_sent, 2 * 2 * 25);
        // Every message reached all 10 subscribers of its channel.
        assert_eq!(report.run.latency.count, 2 * 2 * 25);
        assert_eq!(report.per_delivery.count, 2 * 2 * 25 * 10);
        assert_eq!(report.run.latency.incomplete, 0);
        assert_eq!(report.run.latency.unmatched, 0);
    }
}
