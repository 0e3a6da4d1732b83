//! The causal replay of the concurrent clownschool trace in process: three yrs documents, one
//! per agent, exchanging updates just in time for the transactions made on them.

use crate::load;
use weft_loadtest::causal::{Schedule, replay_in_process};

#[test]
fn clownschool_replayed_causally_ends_with_its_end_content_whatever_the_client_ids() {
    let trace = load("concurrent/clownschool.json.gz");
    let schedule = Schedule::new(&trace.txns).unwrap();
    assert_eq!(schedule.agents, 3);
    // Some transactions need others' work first (the trace has real concurrency).
    assert!(schedule.before.iter().filter(|b| !b.is_empty()).count() > 1000);
    // Yjs orders concurrent inserts at one place by client id: try both orders of every pair.
    for ids in [[1, 2, 3], [3, 2, 1], [3_000_000_001, 17, 900_000]] {
        let reference = replay_in_process(&trace.txns, &schedule, &ids).unwrap();
        assert_eq!(reference.texts.len(), 3);
        assert!(
            reference.agreed() == Some(trace.end_content.as_str()),
            "ids {ids:?}: the agents' texts differ from endContent"
        );
    }
}

#[test]
fn clownschool_typed_in_trace_order_does_not_fit() {
    // Each agent applying every earlier transaction before its next one (ignoring parents)
    // puts the text at the wrong version: the positions stop fitting or the text diverges.
    let trace = load("concurrent/clownschool.json.gz");
    let mut naive = Schedule::new(&trace.txns).unwrap();
    let mut has = vec![0usize; naive.agents];
    for i in 0..trace.txns.len() {
        let a = naive.agent[i];
        naive.before[i] = (has[a]..i).filter(|&j| naive.agent[j] != a).collect();
        has[a] = i + 1;
    }
    match replay_in_process(&trace.txns, &naive, &[1, 2, 3]) {
        Err(_) => {}
        Ok(r) => assert!(r.agreed() != Some(trace.end_content.as_str())),
    }
}
