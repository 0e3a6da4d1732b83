//! Presenting runs: a progress bar while running, a summary table, JSON, and an HTML page with
//! a latency-over-time chart and a latency histogram (inline SVG, no scripts, no network).

use crate::scenario::RunReport;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Updates `bar` from `count` ten times a second until aborted.
pub fn tick(bar: ProgressBar, count: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            bar.set_position(count.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1_048_576.0))
}

/// Rows of `(metric, value per report)`.
fn rows(reports: &[&RunReport]) -> Vec<(&'static str, Vec<String>)> {
    let col = |f: &dyn Fn(&RunReport) -> String| reports.iter().map(|r| f(r)).collect::<Vec<_>>();
    vec![
        ("clients", col(&|r| r.clients.to_string())),
        ("docs", col(&|r| r.docs.to_string())),
        ("seconds", col(&|r| format!("{:.2}", r.secs))),
        ("updates sent", col(&|r| r.updates_sent.to_string())),
        (
            "delivered updates/s",
            col(&|r| format!("{:.0}", r.delivered_per_sec)),
        ),
        (
            "latency p50 ms",
            col(&|r| format!("{:.2}", r.latency.p50_ms)),
        ),
        (
            "latency p90 ms",
            col(&|r| format!("{:.2}", r.latency.p90_ms)),
        ),
        (
            "latency p99 ms",
            col(&|r| format!("{:.2}", r.latency.p99_ms)),
        ),
        (
            "latency p99.9 ms",
            col(&|r| format!("{:.2}", r.latency.p999_ms)),
        ),
        (
            "latency max ms",
            col(&|r| format!("{:.2}", r.latency.max_ms)),
        ),
        (
            "connect p50/p99 ms",
            col(&|r| format!("{:.1} / {:.1}", r.connect.p50_ms, r.connect.p99_ms)),
        ),
        (
            "sync p50/p99 ms",
            col(&|r| format!("{:.1} / {:.1}", r.sync.p50_ms, r.sync.p99_ms)),
        ),
        (
            "reconnects (away p50/max ms)",
            col(&|r| {
                let n = r.reconnects.count;
                if n == 0 {
                    "0".into()
                } else {
                    let (p50, max) = (r.reconnects.p50_ms, r.reconnects.max_ms);
                    format!("{n} ({p50:.0} / {max:.0})")
                }
            }),
        ),
        ("errors", col(&|r| r.errors.to_string())),
        (
            "converged",
            col(&|r| {
                if r.converged {
                    "yes".into()
                } else {
                    format!("NO ({} clients)", r.mismatched_clients)
                }
            }),
        ),
        ("server RSS max MB", col(&|r| mb(r.server_rss_max_bytes))),
        (
            "server CPU s",
            col(&|r| r.server_cpu_secs.map_or("-".into(), |c| format!("{c:.2}"))),
        ),
    ]
}

/// A Markdown table of one or more runs side by side.
pub fn table(reports: &[&RunReport]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "| {} |",
        reports.first().map_or("", |r| r.scenario.as_str())
    );
    for r in reports {
        let _ = write!(out, " {} |", r.server);
    }
    let _ = write!(out, "\n|---|");
    for _ in reports {
        out.push_str("---:|");
    }
    out.push('\n');
    for (name, values) in rows(reports) {
        let _ = write!(out, "| {name} |");
        for v in values {
            let _ = write!(out, " {v} |");
        }
        out.push('\n');
    }
    let errors = r_errors(reports);
    if !errors.is_empty() {
        out.push_str("\nfirst errors:\n");
        for e in errors {
            let _ = writeln!(out, "- {e}");
        }
    }
    out
}

fn r_errors(reports: &[&RunReport]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| {
            r.error_samples
                .iter()
                .take(3)
                .map(move |e| format!("{}: {e}", r.server))
        })
        .collect()
}

pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    Ok(())
}

const COLORS: [&str; 4] = ["#2f6fdb", "#e0663b", "#3aa564", "#9b59b6"];

/// An HTML page with the summary table and two charts per report set.
pub fn html(title: &str, reports: &[&RunReport]) -> String {
    let mut page = format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title>\
         <style>body{{font:14px system-ui;margin:2em;max-width:1000px}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}\
         svg{{background:#fafafa;border:1px solid #ddd;margin:8px 0}}</style><h1>{t}</h1>",
        t = escape(title)
    );
    page.push_str("<table><tr><th></th>");
    for r in reports {
        let _ = write!(page, "<th>{}</th>", escape(&r.server));
    }
    page.push_str("</tr>");
    for (name, values) in rows(reports) {
        let _ = write!(page, "<tr><td>{name}</td>");
        for v in values {
            let _ = write!(page, "<td>{}</td>", escape(&v));
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
    legend(&mut page, reports);
    page.push_str("<h2>Latency over time (mean per second, ms)</h2>");
    page.push_str(&line_chart(reports));
    page.push_str("<h2>Latency histogram (share of updates per bucket, log-scale ms)</h2>");
    page.push_str(&histogram_chart(reports));
    page
}

fn legend(page: &mut String, reports: &[&RunReport]) {
    page.push_str("<p>");
    for (i, r) in reports.iter().enumerate() {
        let _ = write!(
            page,
            "<span style='color:{}'>&#9632;</span> {} &nbsp; ",
            COLORS[i % COLORS.len()],
            escape(&r.server)
        );
    }
    page.push_str("</p>");
}

const W: f64 = 900.0;
const H: f64 = 260.0;
const PAD: f64 = 40.0;

fn axes(svg: &mut String, x_label: &str, y_max: f64) {
    let _ = write!(
        svg,
        "<line x1='{PAD}' y1='{b}' x2='{r}' y2='{b}' stroke='#888'/><line x1='{PAD}' y1='10' x2='{PAD}' y2='{b}' stroke='#888'/>\
         <text x='{r}' y='{t}' text-anchor='end' font-size='11'>{x_label}</text>\
         <text x='4' y='16' font-size='11'>{y_max:.1}</text><text x='4' y='{b}' font-size='11'>0</text>",
        b = H - PAD,
        r = W - 10.0,
        t = H - 8.0,
    );
}

fn line_chart(reports: &[&RunReport]) -> String {
    let secs = reports
        .iter()
        .map(|r| r.timeline.len())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y_max = reports
        .iter()
        .flat_map(|r| r.timeline.iter().map(|s| s.mean_ms))
        .fold(0.0f64, f64::max)
        .max(0.001);
    let mut svg = format!("<svg width='{W}' height='{H}' xmlns='http://www.w3.org/2000/svg'>");
    axes(&mut svg, "seconds", y_max);
    for (i, r) in reports.iter().enumerate() {
        let points: Vec<String> = r
            .timeline
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| {
                let x = PAD + (s.second as f64 / secs) * (W - PAD - 10.0);
                let y = (H - PAD) - (s.mean_ms / y_max) * (H - PAD - 10.0);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill='none' stroke='{}' stroke-width='2' points='{}'/>",
            COLORS[i % COLORS.len()],
            points.join(" ")
        );
    }
    svg.push_str("</svg>");
    svg
}

fn histogram_chart(reports: &[&RunReport]) -> String {
    let max_ms = reports
        .iter()
        .flat_map(|r| r.histogram.iter().map(|(ms, _)| *ms))
        .fold(0.001f64, f64::max);
    let log_max = (max_ms * 1000.0).log10().max(1.0);
    let mut svg = format!("<svg width='{W}' height='{H}' xmlns='http://www.w3.org/2000/svg'>");
    axes(
        &mut svg,
        &format!("latency (log scale, up to {max_ms:.1} ms)"),
        1.0,
    );
    let n = reports.len().max(1) as f64;
    for (i, r) in reports.iter().enumerate() {
        let total: u64 = r.histogram.iter().map(|(_, c)| c).sum();
        if total == 0 {
            continue;
        }
        for (ms, count) in &r.histogram {
            let x = PAD + ((ms * 1000.0).max(1.0).log10() / log_max) * (W - PAD - 20.0);
            let share = *count as f64 / total as f64;
            let h = share * (H - PAD - 10.0);
            let _ = write!(
                svg,
                "<rect x='{:.1}' y='{:.1}' width='{:.1}' height='{h:.1}' fill='{}' opacity='0.8'><title>≤{ms:.2} ms: {count}</title></rect>",
                x + i as f64 * 6.0 / n,
                (H - PAD) - h,
                6.0 / n,
                COLORS[i % COLORS.len()]
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
