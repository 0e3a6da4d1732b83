//! Faults as tests: the whole concurrent clownschool trace (three real authors, one client each,
//! each on its own `collab-server` process) typed while PostgreSQL is stopped for 30 s, Redis is
//! restarted, or a node is killed with SIGKILL, through the `chaos` scenario. Each time every
//! client must end with the trace's `endContent`, storage must hold it too, and every update
//! must have reached both other clients. Each run is bounded by its pace (the trace takes
//! 46–58 s) and the scenario's timeouts.

use crate::weft_bin::weft_bin;
use std::time::Duration;
use weft_loadtest::Trace;
use weft_loadtest::chaos::{self, ChaosArgs, ChaosReport, Fault};

const TRACE: &str = "concurrent/clownschool.json.gz";

async fn chaos(fault: Fault, rate: f64, after_updates: Option<u64>) -> ChaosReport {
    let args = ChaosArgs {
        fault,
        fault_at: Duration::from_secs(8).into(),
        fault_after_updates: after_updates,
        fault_for: None,
        nodes: 3,
        trace: TRACE.into(),
        docs: 1,
        clients: None,
        txns: 0,
        segment: 20,
        rate,
        timeout: Duration::from_secs(90).into(),
        settle_timeout: Duration::from_secs(60).into(),
        database_url: None,
        redis_url: None,
        weft_bin: Some(weft_bin().await),
        pg_bin_dir: None,
        node_heartbeat: Duration::from_millis(500).into(),
        node_timeout: Duration::from_secs(3).into(),
        unload_grace: Duration::from_secs(600).into(),
    };
    let trace = trace();
    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(300), chaos::run(args, &trace))
        .await
        .expect("the chaos run did not end")
        .unwrap();
    let summary = chaos::summary(&report);
    eprintln!(
        "chaos {} took {:.1} s in all\n{summary}",
        fault.name(),
        started.elapsed().as_secs_f64()
    );
    assert!(report.passed(), "{}\n{summary}", chaos::verdict(&report));
    // Every client and storage at the trace's endContent (not a prefix's reference replay).
    assert_eq!(
        report.run.params["check"],
        "every client equals the trace's endContent"
    );
    assert!(report.stored_matches && report.stored_after_s.is_some());
    // No edit lost on the way: every update reached both other clients.
    assert_eq!(report.run.clients, 3);
    assert_eq!(report.run.updates_sent, trace_updates(&trace));
    assert_eq!(report.run.latency.count, report.run.updates_sent);
    assert_eq!(report.run.latency.incomplete, 0);
    let window = report.window.as_ref().expect("the fault happened");
    assert_eq!(window.fault, fault);
    assert!(report.fault_inside_replay, "{summary}");
    report
}

fn trace() -> Trace {
    Trace::load(weft_loadtest::traces_dir().join(TRACE)).unwrap()
}

/// Updates the whole trace makes: one per transaction that changes the text.
fn trace_updates(trace: &Trace) -> u64 {
    let schedule = weft_loadtest::causal::Schedule::new(&trace.txns).unwrap();
    let reference =
        weft_loadtest::causal::replay_in_process(&trace.txns, &schedule, &[1, 2, 3]).unwrap();
    reference.silent.iter().filter(|s| !**s).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_30_s_mid_replay_loses_no_edit() {
    let report = chaos(Fault::PostgresStop, 400.0, None).await;
    let window = report.window.as_ref().unwrap();
    assert!(window.ended_s - window.began_s >= 30.0);
    let m = &report.node_metrics;
    // The outage was real: writes failed, and the nodes held the updates meanwhile.
    assert!(m.persist_failures > 0.0, "no write failed");
    assert!(
        report.aftermath.backlog_during_max > report.aftermath.backlog_before_max,
        "no backlog built up"
    );
    assert!(report.aftermath.backlog_drained_after_s.is_some());
    // Clients never noticed, and no node thought another gone.
    assert_eq!(report.run.reconnects.count, 0);
    assert_eq!(m.peers_gone, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_replay_loses_no_edit() {
    let report = chaos(Fault::RedisRestart, 500.0, None).await;
    let m = &report.node_metrics;
    // Every node resynced after its bus reconnected; no client had to reconnect, and no node
    // declared another gone while the bus was down.
    assert!(m.bus_resyncs_reconnected >= 3.0, "{m:?}");
    assert_eq!(report.run.reconnects.count, 0);
    assert_eq!(m.peers_gone, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_replay_loses_no_edit() {
    // The last node serves the last agent's client. Kill it a little into that agent's longest
    // burst of typing (past the first 2,000 transactions), so the client goes on typing while
    // it reconnects.
    let trace = trace();
    let last = trace.agents().unwrap() - 1;
    let mut bursts = Vec::new();
    let mut start = 0;
    for i in 1..=trace.txns.len() {
        if i == trace.txns.len() || trace.txns[i].agent != trace.txns[start].agent {
            if trace.txns[start].agent == Some(last) && start >= 2000 {
                bursts.push((i - start, start));
            }
            start = i;
        }
    }
    let (length, start) = bursts.into_iter().max().unwrap();
    assert!(length >= 100, "the trace has no long burst");
    let report = chaos(Fault::NodeKill, 500.0, Some(start as u64 + 20)).await;
    // The killed node's client (and only it) reconnected to a survivor and synced both ways,
    // bringing what it typed meanwhile.
    assert_eq!(report.run.reconnects.count, 1);
    assert!(report.run.updates_sent_offline > 0, "nothing typed offline");
    let m = &report.node_metrics;
    // Both survivors saw it go; they had one client each, then one of them got the third.
    assert_eq!(m.peers_gone, 2.0);
    assert_eq!(m.connections_opened, 3.0);
}
