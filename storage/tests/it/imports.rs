//! The imports table as a job queue, on every backend: claims take the oldest queued import
//! once, every worker write is fenced by its attempt, the document is created and recorded
//! together, stale running imports are queued again or failed, and sources are dropped when a
//! job ends.

use crate::backends::backends;
use weft_storage::accounts::{Accounts, ImportOutcome, ImportStatus, NewImport, Uuid};

async fn project(accounts: &Accounts) -> (Uuid, Uuid) {
    let user = accounts
        .create_user("owner@example.com", "Owner", "$argon2id$stub")
        .await
        .unwrap();
    let org = accounts.create_org("Acme", user.id).await.unwrap();
    let project = accounts.create_project(org.id, "Site").await.unwrap();
    (project.id, user.id)
}

fn new<'a>(project: Uuid, user: Uuid, name: &'a str, source: &'a [u8]) -> NewImport<'a> {
    NewImport {
        project,
        created_by: user,
        name,
        file_id: None,
        source,
    }
}

#[tokio::test]
async fn imports_are_claimed_in_order_once_and_fenced_by_attempt() {
    for db in backends().await {
        let name = db.name;
        let accounts = Accounts::new(db.database().await);
        let (project, user) = project(&accounts).await;
        let first = accounts
            .create_import(new(project, user, "First", b"{\"a\":1}"))
            .await
            .unwrap();
        let second = accounts
            .create_import(new(project, user, "Second", b"{}"))
            .await
            .unwrap();
        assert_eq!(accounts.unfinished_imports().await.unwrap(), 2, "{name}");

        let claimed = accounts.claim_import().await.unwrap().unwrap();
        assert_eq!(claimed.import.id, first.id, "{name}");
        assert_eq!(claimed.import.status, ImportStatus::Running);
        assert_eq!(claimed.import.attempts, 1);
        assert_eq!(claimed.source, b"{\"a\":1}");
        assert_eq!(claimed.import.source_bytes, 7);
        let other = accounts.claim_import().await.unwrap().unwrap();
        assert_eq!(other.import.id, second.id);
        assert!(accounts.claim_import().await.unwrap().is_none());

        // The document is created once and recorded on the import.
        let doc = accounts
            .create_import_document(first.id, 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((doc.project_id, doc.name.as_str()), (project, "First"));
        assert!(accounts.document(doc.id).await.unwrap().is_some());
        assert!(
            accounts
                .create_import_document(first.id, 1)
                .await
                .unwrap()
                .is_none()
        );
        // A stale attempt number writes nothing.
        assert!(!accounts.heartbeat_import(first.id, 2).await.unwrap());
        assert!(
            !accounts
                .finish_import(first.id, 2, &ImportOutcome::Succeeded { node_count: 1 })
                .await
                .unwrap()
        );
        assert!(accounts.heartbeat_import(first.id, 1).await.unwrap());
        assert!(
            accounts
                .finish_import(first.id, 1, &ImportOutcome::Succeeded { node_count: 9 })
                .await
                .unwrap()
        );
        let done = accounts.import(first.id).await.unwrap().unwrap();
        assert_eq!(done.status, ImportStatus::Succeeded, "{name}");
        assert_eq!(done.document_id, Some(doc.id));
        assert_eq!(done.node_count, Some(9));
        assert!(done.finished_at.is_some());
        let source: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT source FROM imports WHERE id = $1")
                .bind(first.id.to_string())
                .fetch_one(accounts.database().pool())
                .await
                .unwrap();
        assert_eq!(source, None, "{name}: the source outlived its job");

        // Failing records the problem; deleting the document keeps the import.
        accounts
            .finish_import(
                second.id,
                1,
                &ImportOutcome::Failed {
                    problem: "{\"status\":422}".into(),
                },
            )
            .await
            .unwrap();
        let failed = accounts.import(second.id).await.unwrap().unwrap();
        assert_eq!(failed.status, ImportStatus::Failed);
        assert_eq!(failed.problem.as_deref(), Some("{\"status\":422}"));
        accounts.delete_document(doc.id).await.unwrap();
        assert_eq!(
            accounts
                .import(first.id)
                .await
                .unwrap()
                .unwrap()
                .document_id,
            None
        );
        assert_eq!(accounts.unfinished_imports().await.unwrap(), 0);
        accounts.database().close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn stale_running_imports_are_queued_again_then_failed_and_go_with_their_project() {
    for db in backends().await {
        let name = db.name;
        let accounts = Accounts::new(db.database().await);
        let (project, user) = project(&accounts).await;
        let import = accounts
            .create_import(new(project, user, "Design", b"{}"))
            .await
            .unwrap();
        accounts.claim_import().await.unwrap().unwrap();
        // A fresh heartbeat is not stale.
        let long_ago = 0;
        assert_eq!(
            accounts
                .release_stale_imports(long_ago, 2, "gave up")
                .await
                .unwrap(),
            (0, 0)
        );
        let future = i64::MAX;
        assert_eq!(
            accounts
                .release_stale_imports(future, 2, "gave up")
                .await
                .unwrap(),
            (1, 0),
            "{name}"
        );
        let again = accounts.import(import.id).await.unwrap().unwrap();
        assert_eq!(again.status, ImportStatus::Queued);
        // The abandoned attempt can no longer write; the second claim can.
        assert!(!accounts.heartbeat_import(import.id, 1).await.unwrap());
        let claim = accounts.claim_import().await.unwrap().unwrap();
        assert_eq!(claim.import.attempts, 2);
        assert_eq!(
            claim.source, b"{}",
            "{name}: the source must survive a requeue"
        );
        assert_eq!(
            accounts
                .release_stale_imports(future, 2, "gave up")
                .await
                .unwrap(),
            (0, 1)
        );
        let failed = accounts.import(import.id).await.unwrap().unwrap();
        assert_eq!(failed.status, ImportStatus::Failed);
        assert_eq!(failed.problem.as_deref(), Some("gave up"));

        // A stopping worker puts its job back.
        let next = accounts
            .create_import(new(project, user, "Next", b"[]"))
            .await
            .unwrap();
        let claim = accounts.claim_import().await.unwrap().unwrap();
        assert!(
            accounts
                .requeue_import(next.id, claim.import.attempts)
                .await
                .unwrap()
        );
        assert_eq!(
            accounts.import(next.id).await.unwrap().unwrap().status,
            ImportStatus::Queued
        );

        // Deleting the project deletes its imports.
        accounts.delete_project(project).await.unwrap();
        assert!(accounts.import(next.id).await.unwrap().is_none(), "{name}");
        assert!(accounts.claim_import().await.unwrap().is_none());
        accounts.database().close().await;
        db.cleanup().await;
    }
}
