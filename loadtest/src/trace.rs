//! Loading a recorded editing trace.
//!
//! The files come from Joseph Gentle's `editing-traces` collection, gzipped JSON of the form
//! `{"startContent", "endContent", "txns": [{"patches": [[pos, del, "text"], ...]}]}` where
//! positions and lengths count Unicode code points. Only what replaying needs is kept; the
//! concurrent variant's `agent` and `parents` are kept too, so drivers can give each agent its
//! own connection and type each transaction at the version it was made on (see `causal`).

use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A whole editing session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// Text before the first transaction (the concurrent file has none: empty).
    #[serde(default)]
    pub start_content: String,
    /// Text after the last transaction: what every correct replay must produce.
    pub end_content: String,
    /// The edits, in recorded order.
    pub txns: Vec<Txn>,
}

/// One user action: its patches apply in order, each to the text left by the one before.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Txn {
    pub patches: Vec<Patch>,
    /// Which author made it, in concurrent traces; `None` in flat ones.
    #[serde(default)]
    pub agent: Option<usize>,
    /// In concurrent traces, the indices of the (earlier) transactions this one was made on top
    /// of: its positions are relative to the text they and their ancestors define. `None` in
    /// flat ones, where each transaction follows the one before.
    #[serde(default)]
    pub parents: Option<Vec<usize>>,
}

/// Delete `del` code points at `pos`, then insert `insert` there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "(usize, usize, String)")]
pub struct Patch {
    pub pos: usize,
    pub del: usize,
    pub insert: String,
}

impl From<(usize, usize, String)> for Patch {
    fn from((pos, del, insert): (usize, usize, String)) -> Self {
        Patch { pos, del, insert }
    }
}

/// Why a trace could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read trace {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trace {path} is not valid trace JSON")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Trace {
    /// Loads a trace from a `.json.gz` file (or plain `.json`: gzip is detected by content).
    pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
        let path = path.as_ref();
        let read_err = |source| TraceError::Read {
            path: path.to_owned(),
            source,
        };
        let raw = std::fs::read(path).map_err(read_err)?;
        let json = if raw.starts_with(&GZIP_MAGIC) {
            let mut json = Vec::with_capacity(raw.len().saturating_mul(8));
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut json)
                .map_err(read_err)?;
            json
        } else {
            raw
        };
        serde_json::from_slice(&json).map_err(|source| TraceError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Number of agents of a concurrent trace (one more than the highest `agent`); `None` when
    /// no transaction names its agent and parents (a flat trace).
    pub fn agents(&self) -> Option<usize> {
        let concurrent = self
            .txns
            .iter()
            .any(|t| t.agent.is_some() && t.parents.is_some());
        concurrent.then(|| {
            self.txns
                .iter()
                .filter_map(|t| t.agent)
                .max()
                .map_or(0, |a| a + 1)
        })
    }

    /// Number of code points inserted and deleted over the whole session.
    pub fn inserted_deleted(&self) -> (usize, usize) {
        self.txns
            .iter()
            .flat_map(|txn| &txn.patches)
            .fold((0, 0), |(ins, del), patch| {
                (ins + patch.insert.chars().count(), del + patch.del)
            })
    }
}
