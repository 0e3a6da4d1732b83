//! The webhook outbox on every backend: debounced events merge into the pending, unattempted
//! delivery with their key and only into it, events reach only the hooks that subscribe,
//! concurrent claims never share a delivery, a lease keeps a claimed delivery from others until
//! it runs out, and a settle by an attempt that no longer holds the delivery changes nothing.

use crate::accounts::{on_every_backend, user};
use std::collections::HashSet;
use std::time::Duration;
use weft_storage::accounts::webhooks::{DOCUMENT_CHANGED, MESSAGE_CREATED, PING};
use weft_storage::accounts::{Accounts, DeliveryStatus, Uuid};

const LEASE: Duration = Duration::from_secs(60);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A project with a document; (project, document, user).
async fn project(accounts: &Accounts) -> (Uuid, Uuid, Uuid) {
    let owner = user(accounts, "owner@example.com").await;
    let org = accounts.create_org("Acme", owner.id).await.unwrap();
    let project = accounts.create_project(org.id, "Site").await.unwrap();
    let doc = accounts.create_document(project.id, "Notes").await.unwrap();
    (project.id, doc.id, owner.id)
}

#[tokio::test]
async fn debounced_events_merge_only_into_an_unattempted_delivery() {
    on_every_backend(|accounts, backend| async move {
        let (project, doc, owner) = project(&accounts).await;
        let window = Duration::from_secs(60);
        // No hook yet: nothing is enqueued, and a missing document is no error.
        assert_eq!(
            accounts
                .enqueue_document_changed(doc, window)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            accounts
                .enqueue_document_changed(Uuid::now_v7(), window)
                .await
                .unwrap(),
            None
        );
        let docs_hook = accounts
            .create_webhook(
                project,
                "http://127.0.0.1:9/a",
                "s1",
                &[DOCUMENT_CHANGED],
                owner,
            )
            .await
            .unwrap();
        let chat_hook = accounts
            .create_webhook(
                project,
                "http://127.0.0.1:9/b",
                "s2",
                &[MESSAGE_CREATED],
                owner,
            )
            .await
            .unwrap();

        let before = now_ms();
        let due = accounts
            .enqueue_document_changed(doc, window)
            .await
            .unwrap()
            .unwrap();
        assert!(due >= before + 60_000, "{backend}");
        let again = accounts
            .enqueue_document_changed(doc, window)
            .await
            .unwrap();
        assert_eq!(again, Some(due), "{backend}: merged into the same delivery");
        let log = accounts
            .webhook_deliveries(docs_hook.id, None, 10)
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{backend}");
        let payload: serde_json::Value = serde_json::from_str(&log[0].payload).unwrap();
        assert_eq!(payload["document_id"], doc.to_string());
        assert_eq!(payload["name"], "Notes");
        assert!(
            accounts
                .webhook_deliveries(chat_hook.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Not due yet; once due, claimed (one attempt), and a later change gets a new delivery.
        assert!(
            accounts
                .claim_due_deliveries(now_ms(), 10, LEASE)
                .await
                .unwrap()
                .is_empty()
        );
        let claimed = accounts.claim_due_deliveries(due, 10, LEASE).await.unwrap();
        assert_eq!(claimed.len(), 1, "{backend}");
        assert_eq!(claimed[0].delivery.attempts, 1);
        assert_eq!(claimed[0].hook.id, docs_hook.id);
        accounts
            .enqueue_document_changed(doc, window)
            .await
            .unwrap();
        assert_eq!(
            accounts
                .webhook_deliveries(docs_hook.id, None, 10)
                .await
                .unwrap()
                .len(),
            2
        );

        // Undebounced events go to the subscribers only, one delivery each.
        for _ in 0..2 {
            let at = accounts
                .enqueue_webhook_event(project, MESSAGE_CREATED, r#"{"text":"hi"}"#, None)
                .await
                .unwrap();
            assert!(at.is_some());
        }
        assert_eq!(
            accounts
                .webhook_deliveries(chat_hook.id, None, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            accounts
                .webhook_deliveries(docs_hook.id, None, 10)
                .await
                .unwrap()
                .len(),
            2
        );

        // Deleting a hook takes its deliveries along.
        assert!(accounts.delete_webhook(chat_hook.id).await.unwrap());
        assert!(
            accounts
                .webhook_deliveries(chat_hook.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!accounts.delete_webhook(chat_hook.id).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn claims_are_exclusive_leased_and_fenced_by_the_attempt() {
    on_every_backend(|accounts, backend| async move {
        let (project, _, owner) = project(&accounts).await;
        let hook = accounts
            .create_webhook(
                project,
                "http://127.0.0.1:9/a",
                "s",
                &[MESSAGE_CREATED],
                owner,
            )
            .await
            .unwrap();
        for _ in 0..40 {
            accounts
                .enqueue_webhook_delivery(hook.id, PING, "{}")
                .await
                .unwrap();
        }
        // Four claimers at once, round after round: none ever gets a delivery another has.
        // (On Postgres a claimer may come back short when others took rows it had picked.)
        let now = now_ms();
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let (a, b, c, d) = tokio::join!(
                accounts.claim_due_deliveries(now, 15, LEASE),
                accounts.claim_due_deliveries(now, 15, LEASE),
                accounts.claim_due_deliveries(now, 15, LEASE),
                accounts.claim_due_deliveries(now, 15, LEASE),
            );
            for claim in [a, b, c, d].into_iter().flat_map(Result::unwrap) {
                assert!(seen.insert(claim.delivery.id), "{backend}: claimed twice");
                assert_eq!(claim.delivery.attempts, 1);
            }
            if seen.len() == 40 {
                break;
            }
        }
        assert_eq!(seen.len(), 40, "{backend}");
        // Leased: nobody else gets them until the lease runs out.
        assert!(
            accounts
                .claim_due_deliveries(now, 100, LEASE)
                .await
                .unwrap()
                .is_empty()
        );
        let lease_over = now + 61_000;
        let reclaimed = accounts
            .claim_due_deliveries(lease_over, 100, LEASE)
            .await
            .unwrap();
        assert_eq!(reclaimed.len(), 40, "{backend}");
        let id = reclaimed[0].delivery.id;
        assert_eq!(reclaimed[0].delivery.attempts, 2);

        // The first attempt lost its claim: it settles nothing.
        assert!(!accounts.mark_delivered(id, 1, 200).await.unwrap());
        assert!(!accounts.mark_failed(id, 1, None, "late").await.unwrap());
        // The holder schedules a retry; it is not due before its time.
        let retry_at = lease_over + 10_000;
        assert!(
            accounts
                .mark_retry(id, 2, retry_at, Some(500), "HTTP 500")
                .await
                .unwrap()
        );
        let log = accounts
            .webhook_deliveries(hook.id, None, 100)
            .await
            .unwrap();
        let row = log.iter().find(|d| d.id == id).unwrap();
        assert_eq!(row.status, DeliveryStatus::Pending);
        assert_eq!(row.last_status_code, Some(500));
        assert_eq!(row.last_error.as_deref(), Some("HTTP 500"));
        assert!(
            accounts
                .claim_due_deliveries(retry_at - 1, 100, LEASE)
                .await
                .unwrap()
                .is_empty()
        );
        let third = accounts
            .claim_due_deliveries(retry_at, 100, LEASE)
            .await
            .unwrap();
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].delivery.attempts, 3);
        assert!(
            accounts
                .mark_failed(id, 3, Some(502), "HTTP 502")
                .await
                .unwrap()
        );
        let other = reclaimed[1].delivery.id;
        assert!(accounts.mark_delivered(other, 2, 204).await.unwrap());
        assert!(
            !accounts
                .mark_retry(other, 2, retry_at, None, "again")
                .await
                .unwrap()
        );

        let log = accounts
            .webhook_deliveries(hook.id, None, 100)
            .await
            .unwrap();
        let failed = log.iter().find(|d| d.id == id).unwrap();
        assert_eq!(
            (failed.status, failed.attempts),
            (DeliveryStatus::Failed, 3)
        );
        let delivered = log.iter().find(|d| d.id == other).unwrap();
        assert_eq!(delivered.status, DeliveryStatus::Delivered);
        assert_eq!(delivered.last_status_code, Some(204));
        assert!(delivered.delivered_at.is_some());

        // Pruning removes settled deliveries only.
        assert_eq!(
            accounts
                .prune_webhook_deliveries(now_ms() + 1)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            accounts
                .webhook_deliveries(hook.id, None, 100)
                .await
                .unwrap()
                .len(),
            38
        );
    })
    .await;
}
