//! Reading a bounded queue in batches: the shape of both bus outboxes (the rooms' and the chat
//! hub's), which wait for one message and then publish whatever queued up behind it in one bus
//! call, in order, and at shutdown publish what is left.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What waiting on the queue gave.
#[derive(Debug)]
pub enum Next<T> {
    /// One item and those already queued behind it, at most `max` in all, in queue order.
    Batch(Vec<T>),
    /// `stop` fired; what is still queued is for [`remaining`].
    Stopped,
    /// Every sender is gone and the queue is empty.
    Closed,
}

/// Waits for the next item (or `stop`), then takes what is already queued behind it.
pub async fn next<T>(rx: &mut mpsc::Receiver<T>, max: usize, stop: &CancellationToken) -> Next<T> {
    let first = tokio::select! {
        biased;
        next = rx.recv() => match next {
            Some(first) => first,
            None => return Next::Closed,
        },
        _ = stop.cancelled() => return Next::Stopped,
    };
    let mut batch = vec![first];
    while batch.len() < max.max(1) {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Next::Batch(batch)
}

/// Everything still queued, in batches of at most `max`, in queue order.
pub fn remaining<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Vec<Vec<T>> {
    let mut batches: Vec<Vec<T>> = Vec::new();
    while let Ok(next) = rx.try_recv() {
        match batches.last_mut() {
            Some(batch) if batch.len() < max.max(1) => batch.push(next),
            _ => batches.push(vec![next]),
        }
    }
    batches
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_take_what_is_queued_up_to_the_limit_and_the_rest_after_stop() {
        let (tx, mut rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        let Next::Batch(batch) = next(&mut rx, 3, &stop).await else {
            panic!("expected a batch");
        };
        assert_eq!(batch, vec![0, 1, 2]);
        stop.cancel();
        assert!(matches!(next(&mut rx, 3, &stop).await, Next::Batch(b) if b == vec![3, 4]));
        assert!(matches!(next(&mut rx, 3, &stop).await, Next::Stopped));
        for i in 5..12 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(
            remaining(&mut rx, 3),
            vec![vec![5, 6, 7], vec![8, 9, 10], vec![11]]
        );
        drop(tx);
        assert!(matches!(next(&mut rx, 3, &stop).await, Next::Closed));
    }
}
