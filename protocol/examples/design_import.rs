//! Times the sans-IO half of a design import (parse + validate, then build the Yjs update) on a
//! generated design, or writes that design out for `loadtest/scripts/import-bench.sh`.
//!
//! ```text
//! cargo run --release -p weft-protocol --example design_import -- [NODES] [--runs N] [--emit FILE]
//! ```
//!
//! The design is realistic in shape: pages of frames holding groups of rectangles, ellipses and
//! styled text, exactly NODES nodes (default 5000) counting the document.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_protocol::design::{Limits, build_update, parse};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut nodes = 5_000usize;
    let mut runs = 5usize;
    let mut emit: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--emit" => emit = Some(args.next().ok_or("--emit needs a file")?),
            n => nodes = n.parse()?,
        }
    }
    let design = generate(nodes);
    let bytes = serde_json::to_vec(&design)?;
    if let Some(path) = emit {
        std::fs::write(&path, &bytes)?;
        println!("wrote {path}: {nodes} nodes, {} bytes", bytes.len());
        return Ok(());
    }
    let mut parse_times = Vec::new();
    let mut build_times = Vec::new();
    let mut update_len = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let parsed = parse(&bytes, &Limits::DEFAULT).map_err(|e| format!("{e:?}"))?;
        let parsed_at = Instant::now();
        assert_eq!(parsed.node_count, nodes);
        update_len = build_update(parsed, 1).len();
        parse_times.push(parsed_at - started);
        build_times.push(parsed_at.elapsed());
    }
    println!(
        "design: {nodes} nodes, {} bytes of JSON -> {update_len} bytes of Yjs update",
        bytes.len()
    );
    println!(
        "parse+validate: median {:?} (min {:?}); build: median {:?} (min {:?}); {} runs",
        median(&mut parse_times),
        parse_times[0],
        median(&mut build_times),
        build_times[0],
        parse_times.len()
    );
    Ok(())
}

/// Sorts `times` and returns the middle one.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A design of exactly `nodes` nodes (at least 2: a document and a page).
fn generate(nodes: usize) -> Value {
    let nodes = nodes.max(2);
    let mut count = 1;
    let mut pages = Vec::new();
    while count < nodes {
        count += 1;
        let page_no = pages.len();
        let mut frames = Vec::new();
        while count < nodes && frames.len() < 25 {
            count += 1;
            let frame_no = frames.len();
            let mut groups = Vec::new();
            while count < nodes && groups.len() < 6 {
                count += 1;
                let group_no = groups.len();
                let mut leaves = Vec::new();
                while count < nodes && leaves.len() < 8 {
                    count += 1;
                    let id = format!("{page_no}:{frame_no}:{group_no}:{}", leaves.len());
                    leaves.push(leaf(&id, leaves.len()));
                }
                groups.push(
                    json!({"id": format!("{page_no}:{frame_no}:{group_no}"), "type": "group",
                    "name": format!("Group {group_no}"),
                    "geometry": {"x": 40, "y": 40 + 120 * group_no, "width": 1200, "height": 100},
                    "children": leaves}),
                );
            }
            frames.push(
                json!({"id": format!("{page_no}:{frame_no}"), "type": "frame",
                "name": format!("Screen {frame_no}"),
                "geometry": {"x": 1500 * frame_no, "y": 0, "width": 1440, "height": 900},
                "style": {"fills": [{"type": "solid", "color": "#FFFFFF"}], "cornerRadius": 8},
                "children": groups}),
            );
        }
        pages.push(json!({"id": format!("{page_no}"), "type": "page",
            "name": format!("Page {page_no}"), "children": frames}));
    }
    json!({"id": "doc", "type": "document", "name": "Generated design", "children": pages})
}

fn leaf(id: &str, n: usize) -> Value {
    let geometry = json!({"x": 150 * n, "y": 10, "width": 140, "height": 80, "rotation": 0});
    match n % 3 {
        0 => {
            json!({"id": id, "type": "rectangle", "name": format!("Card {id}"), "geometry": geometry,
            "style": {"fills": [{"type": "solid", "color": "#3355FF"}], "cornerRadius": 6,
                      "strokes": [{"type": "solid", "color": "#00000022"}], "strokeWeight": 1}})
        }
        1 => json!({"id": id, "type": "ellipse", "name": format!("Dot {id}"), "geometry": geometry,
            "style": {"fills": [{"type": "radial-gradient", "stops": [
                {"position": 0, "color": "#FF8800"}, {"position": 1, "color": "#FF880000"}]}],
                "opacity": 0.8}}),
        _ => json!({"id": id, "type": "text", "name": format!("Label {id}"), "geometry": geometry,
            "characters": format!("Label {id}: the quick brown fox jumps over the lazy dog"),
            "style": {"font": {"family": "Inter", "size": 14, "weight": 500, "lineHeight": 20},
                      "fills": [{"type": "solid", "color": "#111111"}]}}),
    }
}
