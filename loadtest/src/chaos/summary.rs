//! A chaos run in words: what happened around the fault, and why a run failed.

use super::ChaosReport;
use std::fmt::Write as _;

/// The fault's numbers, one per line, after the replay's table.
pub fn summary(r: &ChaosReport) -> String {
    let mut out = String::new();
    let opt = |v: Option<f64>| v.map_or("never".to_owned(), |s| format!("{s:.2} s"));
    match &r.window {
        Some(w) => {
            let _ = writeln!(
                out,
                "fault               {} at {:.2} s, until {:.2} s ({:.2} s): {}",
                w.fault.name(),
                w.began_s,
                w.ended_s,
                w.ended_s - w.began_s,
                w.detail
            );
        }
        None => out.push_str("fault               none: the replay ended before it was due\n"),
    }
    let a = &r.aftermath;
    let m = &r.node_metrics;
    let lines = [
        (
            "replay",
            format!("{:.2} s on {} nodes", r.replay_s, r.nodes),
        ),
        (
            "inside the replay",
            if r.fault_inside_replay { "yes" } else { "NO" }.into(),
        ),
        (
            "updates delivered",
            format!(
                "{} of {} sent reached every receiver ({} incomplete)",
                r.run.latency.count, r.run.updates_sent, r.run.latency.incomplete
            ),
        ),
        (
            "delivered after",
            format!(
                "{} after the fault's end (everything sent before it)",
                opt(a.delivered_after_fault_s)
            ),
        ),
        (
            "backlog (updates)",
            format!(
                "{:.0} before the fault, up to {:.0} during it, back {} after its end",
                a.backlog_before_max,
                a.backlog_during_max,
                opt(a.backlog_drained_after_s)
            ),
        ),
        (
            "reconnects",
            format!(
                "{} (away p50 {:.0} ms, max {:.0} ms), {} updates typed offline",
                r.run.reconnects.count,
                r.run.reconnects.p50_ms,
                r.run.reconnects.max_ms,
                r.run.updates_sent_offline
            ),
        ),
        (
            "stored",
            if r.stored_matches {
                format!(
                    "every document equals its clients' text, {} after the replay",
                    opt(r.stored_after_s)
                )
            } else {
                format!("MISMATCH: {}", r.stored_mismatches.join("; "))
            },
        ),
        (
            "nodes (survivors)",
            format!(
                "{:.0} updates persisted, {:.0} write failures, {:.0} bus resyncs ({:.0} on \
                 reconnect), {:.0} state diffs written, {:.0} peers seen gone, {:.0} \
                 connections opened",
                m.updates_persisted,
                m.persist_failures,
                m.bus_resyncs,
                m.bus_resyncs_reconnected,
                m.state_diffs_written,
                m.peers_gone,
                m.connections_opened
            ),
        ),
        (
            "clean stops",
            if r.unclean_stops.is_empty() {
                "yes".into()
            } else {
                r.unclean_stops.join("; ")
            },
        ),
    ];
    for (name, value) in lines {
        let _ = writeln!(out, "{name:<19} {value}");
    }
    out
}

/// Why a run did not pass (empty when it did).
pub fn verdict(r: &ChaosReport) -> String {
    let mut why = Vec::new();
    if !r.run.converged {
        why.push(format!(
            "{} clients did not end with the expected text",
            r.run.mismatched_clients
        ));
    }
    if r.run.errors > 0 {
        why.push(format!(
            "{} client errors: {}",
            r.run.errors,
            r.run.error_samples.join(" | ")
        ));
    }
    if r.run.latency.incomplete > 0 {
        why.push(format!(
            "{} updates never reached every receiver",
            r.run.latency.incomplete
        ));
    }
    if !r.fault_inside_replay {
        why.push(
            "the fault did not lie inside the replay (lower --rate or --fault-at / --fault-for)"
                .into(),
        );
    }
    if !r.stored_matches {
        why.push(format!(
            "storage differs: {}",
            r.stored_mismatches.join("; ")
        ));
    }
    if !r.unclean_stops.is_empty() {
        why.push(format!("unclean stops: {}", r.unclean_stops.join("; ")));
    }
    why.join("; ")
}
