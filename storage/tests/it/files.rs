//! The files repository on every backend: a pending upload becomes ready once, lists page by
//! id, expired pending uploads are swept (ready ones never), and every way a record goes —
//! deleted, swept, cascaded from its project or org — leaves its blob key in the trash.

use crate::backends::backends;
use weft_storage::accounts::{Accounts, FileStatus, NewFile, Uuid, file_blob_key};

fn new_file(project: Uuid, user: Uuid, name: &str, expires_at: i64) -> NewFile<'_> {
    NewFile {
        project,
        name,
        content_type: "text/plain; charset=utf-8",
        size: 42,
        created_by: user,
        expires_at,
    }
}

async fn trash(accounts: &Accounts) -> Vec<String> {
    let mut keys = accounts.file_trash(100).await.unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn uploads_complete_list_sweep_and_leave_their_keys_in_the_trash() {
    for db in backends().await {
        let name = db.name;
        let accounts = Accounts::new(db.database().await);
        let user = accounts
            .create_user("ada@example.com", "Ada", "$argon2id$stub")
            .await
            .unwrap();
        let org = accounts.create_org("Acme", user.id).await.unwrap();
        let project = accounts.create_project(org.id, "Site").await.unwrap();
        let other = accounts.create_project(org.id, "Other").await.unwrap();

        let file = accounts
            .create_file(new_file(project.id, user.id, "../../etc/passwd", 1_000))
            .await
            .unwrap();
        assert_eq!(file.status, FileStatus::Pending, "{name}");
        assert_eq!(file.blob_key, file_blob_key(project.id, file.id));
        assert!(!file.blob_key.contains("passwd"));
        assert_eq!(accounts.file(file.id).await.unwrap().as_ref(), Some(&file));
        let missing = accounts
            .create_file(new_file(Uuid::now_v7(), user.id, "x", 1_000))
            .await;
        assert!(missing.is_err(), "{name}: a file of no project");

        // Completing is one transition.
        let ready = accounts.complete_file(file.id).await.unwrap().unwrap();
        assert_eq!(ready.status, FileStatus::Ready);
        assert_eq!(ready.expires_at, None);
        assert!(ready.completed_at.is_some());
        assert_eq!(accounts.complete_file(file.id).await.unwrap(), None);

        // Expired pending uploads go; ready files and unexpired uploads stay.
        let stale = accounts
            .create_file(new_file(project.id, user.id, "stale", 500))
            .await
            .unwrap();
        let fresh = accounts
            .create_file(new_file(project.id, user.id, "fresh", 5_000))
            .await
            .unwrap();
        let elsewhere = accounts
            .create_file(new_file(other.id, user.id, "elsewhere", 5_000))
            .await
            .unwrap();
        assert_eq!(accounts.delete_expired_files(2_000, 100).await.unwrap(), 1);
        assert_eq!(accounts.file(stale.id).await.unwrap(), None, "{name}");
        assert!(accounts.file(file.id).await.unwrap().is_some());
        assert_eq!(accounts.complete_file(stale.id).await.unwrap(), None);
        assert_eq!(trash(&accounts).await, vec![stale.blob_key.clone()]);

        let listed: Vec<Uuid> = accounts
            .project_files(project.id, None, 1)
            .await
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(listed, vec![file.id]);
        let rest: Vec<Uuid> = accounts
            .project_files(project.id, Some(file.id), 10)
            .await
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(rest, vec![fresh.id]);

        // A deleted file and a deleted project's files land in the trash too.
        let deleted = accounts.delete_file(fresh.id).await.unwrap().unwrap();
        assert_eq!(deleted.id, fresh.id);
        assert_eq!(accounts.delete_file(fresh.id).await.unwrap(), None);
        accounts.delete_project(project.id).await.unwrap().unwrap();
        assert_eq!(accounts.file(file.id).await.unwrap(), None, "{name}");
        let mut expected = vec![
            stale.blob_key.clone(),
            fresh.blob_key.clone(),
            file.blob_key.clone(),
        ];
        expected.sort();
        assert_eq!(trash(&accounts).await, expected, "{name}");
        accounts.delete_org(org.id).await.unwrap().unwrap();
        expected.push(elsewhere.blob_key.clone());
        expected.sort();
        assert_eq!(trash(&accounts).await, expected, "{name}: org cascade");

        for key in &expected {
            accounts.forget_trash(key).await.unwrap();
        }
        assert!(trash(&accounts).await.is_empty());
        accounts.database().close().await;
        db.cleanup().await;
    }
}
