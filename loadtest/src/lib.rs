//! Weft's load tester: drives Yjs servers with real editing traces.
//!
//! Synthetic edits (random inserts at random places) miss what real typing does to a CRDT: long
//! runs at one cursor, pastes, bursts of deletes, several people in one paragraph. So load comes
//! from recorded sessions in `shared/traces` ([`trace`]), turned into Yjs text edits and v1
//! updates ([`replay`]) that later drivers send over the wire. The traces are CC BY 4.0 (see
//! `shared/traces/README.md`); updates built from them are derived from those traces.

pub mod causal;
pub mod chaos;
pub mod client;
pub mod compare;
pub mod latency;
pub mod locate;
pub mod measure;
mod offsets;
pub mod peers;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod trace;
pub mod wire;

pub use locate::{TRACES_DIR_ENV, locate_traces_dir, traces_dir};
pub use replay::{Collect, ReplayError, Replayed, apply_updates_v1, new_doc, replay_into_text};
pub use trace::{Patch, Trace, TraceError, Txn};
