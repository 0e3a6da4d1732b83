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
        clients: 3,
        txns: 600,
        segment: 25,
        rate: 0.0,
        timeout: Duration::from_secs(60).into(),
        doc_prefix: None,
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
