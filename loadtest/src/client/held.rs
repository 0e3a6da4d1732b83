//! Holding others' updates for a driver that decides when its document may move on (the
//! concurrent replay), beside a document that applies everything as it arrives.

use super::{Client, ClientError, TEXT};
use crate::latency::{LatencyTracker, delete_key, insert_bounds};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Transact, Update};

impl Client {
    /// From now on, others' updates are kept for [`Client::take_held`] instead of applied as
    /// they arrive (still reported to the tracker on arrival; echoes of ours are dropped): for
    /// a driver that decides when the document may move to a newer version.
    pub fn hold_remote_updates(&mut self) {
        self.held.get_or_insert_with(Vec::new);
        if self.received.is_none() {
            let copy = crate::replay::new_doc();
            let state = self
                .doc
                .transact()
                .encode_state_as_update_v1(&yrs::StateVector::default());
            if let Ok(update) = Update::decode_v1(&state) {
                let _ = copy.transact_mut().apply_update(update);
            }
            self.received = Some(copy);
        }
    }

    /// The text as a y-websocket provider would show it: with held updates, everything
    /// received applied as it arrived; otherwise the document's text.
    pub fn received_text(&self) -> String {
        match &self.received {
            Some(doc) => doc.get_or_insert_text(TEXT).get_string(&doc.transact()),
            None => self.text_string(),
        }
    }

    /// Applies `bytes` to the received-as-it-arrives document, if there is one.
    pub(super) fn receive(&self, bytes: &[u8]) -> Result<(), ClientError> {
        let Some(doc) = &self.received else {
            return Ok(());
        };
        let update = Update::decode_v1(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        doc.transact_mut()
            .apply_update(update)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// The updates held since the last call, in arrival order.
    pub fn take_held(&mut self) -> Vec<Vec<u8>> {
        self.held.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Applies a held update to the document.
    pub fn apply_held(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let update = Update::decode_v1(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.drain_local();
        Ok(())
    }

    /// Whether `update` is the echo of one of ours (forgetting a delete-only one once seen).
    /// Our inserts with deletes of others' content (a resync's diff may bring others' deletes
    /// with our inserts) are not an echo.
    pub(super) fn is_echo(&mut self, update: &Update) -> bool {
        let bounds = insert_bounds(update);
        if bounds.is_empty() {
            self.own_deletes.remove(&delete_key(update))
        } else {
            bounds.iter().all(|(c, _, _)| *c == self.me)
                && update.delete_set().client_ids().all(|c| c.get() == self.me)
        }
    }

    /// Keeps a remote update for [`Client::take_held`], reporting its arrival to `tracker`.
    pub(super) fn hold(
        &mut self,
        bytes: Vec<u8>,
        tracker: &LatencyTracker,
    ) -> Result<(), ClientError> {
        let update = Update::decode_v1(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if self.is_echo(&update) {
            return Ok(());
        }
        tracker.received(self.spec.doc_index, self.me, &update);
        self.receive(&bytes)?;
        if let Some(held) = &mut self.held {
            held.push(bytes);
        }
        Ok(())
    }
}
