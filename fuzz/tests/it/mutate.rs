//! A bounded mutation fuzzer, one test per target, for CI (libFuzzer needs its own build; see
//! `fuzz/run.sh`).
//!
//! Each test mutates the target's corpus (bit flips, random and "interesting" bytes such as
//! varint edges, inserts, deletes, duplicated ranges, splices with another input, truncation)
//! and runs the target on every mutant until its time budget is spent:
//! `WEFT_FUZZ_SECONDS` per target (default 3). The RNG seed is printed; `WEFT_FUZZ_SEED`
//! replays a run. A panic fails the test and prints the input in hex, ready to be added to
//! `fuzz/corpus/<target>/` as a regression test.

use crate::corpus::load;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Largest mutant tried: larger inputs mostly cost time without reaching new code.
const MAX_LEN: usize = 64 * 1024;

/// Bytes that sit on lib0 varint, MessagePack and UTF-8 boundaries.
const INTERESTING: &[u8] = &[
    0, 1, 2, 0x7f, 0x80, 0xff, 0xfe, 0xc0, 0xc1, 0xcc, 0xdc, 0xdf, 117, 118, 119, 125,
];

fn budget() -> Duration {
    let secs = std::env::var("WEFT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.0))
}

fn seed() -> u64 {
    std::env::var("WEFT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

pub(crate) fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, other: &[u8]) {
    let rounds = rng.gen_range(1..=4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.gen_range(0..9) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] = rng.r#gen();
            }
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] = INTERESTING[rng.gen_range(0..INTERESTING.len())];
            }
            3 => {
                let i = rng.gen_range(0..=len);
                let n = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.r#gen()).collect();
                input.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len.min(start + 16));
                input.drain(start..end);
            }
            5 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len.min(start + 64));
                let copy = input[start..end].to_vec();
                let at = rng.gen_range(0..=len);
                input.splice(at..at, copy);
            }
            6 if !other.is_empty() => {
                let start = rng.gen_range(0..other.len());
                let end = rng.gen_range(start..=other.len());
                let at = rng.gen_range(0..=len);
                let cut = rng.gen_range(at..=len);
                input.splice(at..cut, other[start..end].iter().copied());
            }
            7 if len > 0 => {
                input.truncate(rng.gen_range(0..len));
            }
            _ => {
                // A varint written at a random place: lengths and counts are where decoders
                // trust their input most.
                let i = rng.gen_range(0..=len);
                let value: u64 = match rng.gen_range(0..4) {
                    0 => u64::from(u32::MAX),
                    1 => (1 << 53) - 1 + rng.gen_range(0..3),
                    2 => u64::MAX,
                    _ => rng.gen_range(0..1 << 20),
                };
                let mut var = Vec::new();
                let mut v = value;
                while v >= 0x80 {
                    var.push((v as u8) | 0x80);
                    v >>= 7;
                }
                var.push(v as u8);
                input.splice(i..i, var);
            }
        }
    }
    input.truncate(MAX_LEN);
}

/// Runs `target` on mutants of its corpus for the time budget; returns the executions.
fn fuzz(name: &str) -> u64 {
    let target = weft_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap();
    let corpus: Vec<Vec<u8>> = load(name).into_iter().map(|(_, b)| b).collect();
    let seed = seed();
    println!("{name}: seed {seed} (WEFT_FUZZ_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let deadline = Instant::now() + budget();
    let mut executions = 0u64;
    while Instant::now() < deadline || executions == 0 {
        let mut input = corpus[rng.gen_range(0..corpus.len())].clone();
        let other = &corpus[rng.gen_range(0..corpus.len())];
        mutate(&mut rng, &mut input, other);
        let outcome = std::panic::catch_unwind(|| target(&input));
        executions += 1;
        if outcome.is_err() {
            panic!(
                "{name} failed after {executions} executions (seed {seed}); input (hex): {}",
                hex::encode(&input)
            );
        }
    }
    println!("{name}: {executions} executions in {:?}", budget());
    executions
}

macro_rules! fuzz_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                assert!(crate::mutate::fuzz_target(stringify!($name)) > 0);
            }
        )*
    };
}

pub(crate) fn fuzz_target(name: &str) -> u64 {
    fuzz(name)
}

mod fuzz_each {
    fuzz_tests!(
        ywebsocket_frame,
        awareness,
        yrs_update,
        hocuspocus_frame,
        chat_frame,
        bus_envelope,
        rest_json,
        design_import,
        tokens,
    );
}

#[test]
fn every_target_is_fuzzed() {
    let names: Vec<&str> = weft_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    let source = include_str!("mutate.rs");
    for name in names {
        assert!(
            source.contains(&format!("        {name},\n")),
            "{name} has no fuzz test"
        );
    }
}
