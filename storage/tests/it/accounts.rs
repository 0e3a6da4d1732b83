//! The accounts repository on every backend: unique emails, refresh token rotation with reuse
//! detection, orgs and their members, invitations, effective project roles, pagination,
//! cascading deletes and versions.

use crate::backends::backends;
use std::future::Future;
use std::time::Duration;
use weft_storage::accounts::{Accounts, AccountsError, Role, Rotation, User, Uuid};

/// How long one test may take on one backend.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `test` against a fresh database of every backend, each run bounded by [`LIMIT`].
pub(crate) async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(Accounts, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let accounts = Accounts::new(db.database().await);
        tokio::time::timeout(LIMIT, test(accounts.clone(), name))
            .await
            .unwrap_or_else(|_| panic!("{name}: timed out after {LIMIT:?}"));
        accounts.database().close().await;
        db.cleanup().await;
    }
}

pub(crate) async fn user(accounts: &Accounts, email: &str) -> User {
    accounts
        .create_user(email, &format!("name of {email}"), "$argon2id$stub")
        .await
        .unwrap()
}

/// Every id `fetch` pages through, `page` at a time, checking each page is at most `page` long.
async fn all_pages<T, F, Fut>(page: u32, mut fetch: F, id: impl Fn(&T) -> Uuid) -> Vec<Uuid>
where
    F: FnMut(Option<Uuid>, u32) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let rows = fetch(after, page).await;
        assert!(rows.len() <= page as usize);
        let Some(last) = rows.last() else {
            return ids;
        };
        after = Some(id(last));
        ids.extend(rows.iter().map(&id));
        assert!(ids.len() < 1000, "pagination does not end");
    }
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

#[test]
fn roles_are_ordered_named_and_serialized_in_lowercase() {
    assert!(Role::Owner > Role::Admin);
    assert!(Role::Admin > Role::Editor);
    assert!(Role::Editor > Role::Viewer);
    for role in [Role::Owner, Role::Admin, Role::Editor, Role::Viewer] {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        let json = serde_json::to_string(&role).unwrap();
        assert_eq!(json, format!("\"{}\"", role.as_str()));
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
    }
    assert!("Owner".parse::<Role>().is_err());
    assert!(serde_json::from_str::<Role>("\"superuser\"").is_err());
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict_whatever_its_case() {
    on_every_backend(|accounts, name| async move {
        let ada = accounts
            .create_user("  Ada@Example.COM ", "Ada", "hash")
            .await
            .unwrap();
        assert_eq!(ada.email, "ada@example.com", "{name}");
        let again = accounts
            .create_user("ada@example.com", "Other", "hash")
            .await;
        assert!(
            matches!(again, Err(AccountsError::Conflict("email"))),
            "{name}: {again:?}"
        );
        let shouted = accounts
            .create_user("ADA@EXAMPLE.COM", "Other", "hash")
            .await;
        assert!(
            matches!(shouted, Err(AccountsError::Conflict("email"))),
            "{name}: {shouted:?}"
        );
        let found = accounts.user_by_email(" ada@EXAMPLE.com").await.unwrap();
        assert_eq!(found.as_ref(), Some(&ada), "{name}");
        assert_eq!(accounts.user(ada.id).await.unwrap(), Some(ada), "{name}");
        assert_eq!(accounts.user(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(
            accounts.user_by_email("bob@example.com").await.unwrap(),
            None
        );
    })
    .await;
}

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn rotating_a_refresh_token_issues_its_successor_in_the_same_family() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let family = Uuid::now_v7();
        let now = 1_000 * HOUR;
        accounts
            .insert_refresh("t0", ada.id, family, now + HOUR)
            .await
            .unwrap();
        let expected = Rotation::Rotated {
            user: ada.id,
            family,
        };
        let first = accounts.rotate_refresh("t0", "t1", now, now + HOUR).await;
        assert_eq!(first.unwrap(), expected, "{name}");
        let second = accounts
            .rotate_refresh("t1", "t2", now + 1, now + 2 * HOUR)
            .await;
        assert_eq!(second.unwrap(), expected, "{name}");
        // The successor keeps the expiry it was given.
        let late = now + HOUR + 1;
        let third = accounts.rotate_refresh("t2", "t3", late, late + HOUR).await;
        assert_eq!(third.unwrap(), expected, "{name}");
        // A hash already stored cannot be issued twice.
        let clash = accounts.insert_refresh("t3", ada.id, family, late).await;
        assert!(
            matches!(clash, Err(AccountsError::Conflict(_))),
            "{name}: {clash:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_its_whole_family() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let (family, other) = (Uuid::now_v7(), Uuid::now_v7());
        let now = 1_000 * HOUR;
        accounts
            .insert_refresh("t0", ada.id, family, now + HOUR)
            .await
            .unwrap();
        accounts
            .insert_refresh("s0", ada.id, other, now + HOUR)
            .await
            .unwrap();
        let rotated = accounts.rotate_refresh("t0", "t1", now, now + HOUR).await;
        assert!(
            matches!(rotated.unwrap(), Rotation::Rotated { .. }),
            "{name}"
        );

        let reused = accounts
            .rotate_refresh("t0", "x1", now + 5, now + HOUR)
            .await;
        assert_eq!(
            reused.unwrap(),
            Rotation::Reused {
                user: ada.id,
                family
            },
            "{name}"
        );
        // The sibling the first rotation issued is revoked with its family…
        let sibling = accounts
            .rotate_refresh("t1", "t2", now + 6, now + HOUR)
            .await;
        assert_eq!(sibling.unwrap(), Rotation::Invalid, "{name}");
        // …and nothing was issued for the reused token.
        let nothing = accounts
            .rotate_refresh("x1", "x2", now + 7, now + HOUR)
            .await;
        assert_eq!(nothing.unwrap(), Rotation::Invalid, "{name}");
        // Another family of the same user is untouched.
        let other_family = accounts
            .rotate_refresh("s0", "s1", now + 8, now + HOUR)
            .await;
        assert_eq!(
            other_family.unwrap(),
            Rotation::Rotated {
                user: ada.id,
                family: other
            },
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn expired_unknown_and_revoked_tokens_are_invalid() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let now = 1_000 * HOUR;
        accounts
            .insert_refresh("old", ada.id, Uuid::now_v7(), now + HOUR)
            .await
            .unwrap();
        let expired = accounts
            .rotate_refresh("old", "new", now + HOUR, now + 2 * HOUR)
            .await;
        assert_eq!(expired.unwrap(), Rotation::Invalid, "{name}: expired");
        let issued = accounts
            .rotate_refresh("new", "newer", now, now + HOUR)
            .await;
        assert_eq!(issued.unwrap(), Rotation::Invalid, "{name}: nothing issued");

        let unknown = accounts.rotate_refresh("nope", "x", now, now + HOUR).await;
        assert_eq!(unknown.unwrap(), Rotation::Invalid, "{name}: unknown");

        accounts
            .insert_refresh("live", ada.id, Uuid::now_v7(), now + HOUR)
            .await
            .unwrap();
        assert!(accounts.revoke_family_of("live").await.unwrap(), "{name}");
        assert!(!accounts.revoke_family_of("live").await.unwrap(), "{name}");
        assert!(!accounts.revoke_family_of("nope").await.unwrap(), "{name}");
        let revoked = accounts.rotate_refresh("live", "x", now, now + HOUR).await;
        assert_eq!(revoked.unwrap(), Rotation::Invalid, "{name}: revoked");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_rotations_of_one_token_rotate_it_exactly_once() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let now = 1_000 * HOUR;
        for round in 0..10 {
            let old = format!("old-{round}");
            let (a, b) = (format!("a-{round}"), format!("b-{round}"));
            let family = Uuid::now_v7();
            accounts
                .insert_refresh(&old, ada.id, family, now + HOUR)
                .await
                .unwrap();
            let (first, second) = tokio::join!(
                accounts.rotate_refresh(&old, &a, now, now + HOUR),
                accounts.rotate_refresh(&old, &b, now, now + HOUR),
            );
            let outcomes = [first.unwrap(), second.unwrap()];
            let rotated = Rotation::Rotated {
                user: ada.id,
                family,
            };
            let reused = Rotation::Reused {
                user: ada.id,
                family,
            };
            assert_eq!(
                outcomes.iter().filter(|o| **o == rotated).count(),
                1,
                "{name} round {round}: {outcomes:?}"
            );
            assert!(
                outcomes.contains(&reused),
                "{name} round {round}: {outcomes:?}"
            );
            // The reuse revoked the family, the winner's successor included.
            for new in [&a, &b] {
                let later = accounts.rotate_refresh(new, "z", now + 1, now + HOUR).await;
                assert_eq!(later.unwrap(), Rotation::Invalid, "{name} round {round}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn revoking_all_of_a_users_tokens_leaves_other_users_alone() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let bob = user(&accounts, "bob@example.com").await;
        let now = 1_000 * HOUR;
        for (hash, who) in [("a1", &ada), ("a2", &ada), ("b1", &bob)] {
            accounts
                .insert_refresh(hash, who.id, Uuid::now_v7(), now + HOUR)
                .await
                .unwrap();
        }
        assert_eq!(
            accounts.revoke_all_for_user(ada.id).await.unwrap(),
            2,
            "{name}"
        );
        assert_eq!(
            accounts.revoke_all_for_user(ada.id).await.unwrap(),
            0,
            "{name}"
        );
        for hash in ["a1", "a2"] {
            let outcome = accounts.rotate_refresh(hash, "x", now, now + HOUR).await;
            assert_eq!(outcome.unwrap(), Rotation::Invalid, "{name}: {hash}");
        }
        let bobs = accounts.rotate_refresh("b1", "b2", now, now + HOUR).await;
        assert!(matches!(bobs.unwrap(), Rotation::Rotated { .. }), "{name}");
    })
    .await;
}

#[tokio::test]
async fn creating_an_org_makes_its_creator_the_owner() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let bob = user(&accounts, "bob@example.com").await;
        let org = accounts.create_org("Acme", ada.id).await.unwrap();
        assert_eq!(accounts.org(org.id).await.unwrap().as_ref(), Some(&org));
        assert_eq!(
            accounts.org_role(org.id, ada.id).await.unwrap(),
            Some(Role::Owner),
            "{name}"
        );
        assert_eq!(accounts.org_role(org.id, bob.id).await.unwrap(), None);
        assert_eq!(accounts.count_owners(org.id).await.unwrap(), 1, "{name}");
        assert_eq!(
            accounts.orgs_of_user(ada.id, None, 10).await.unwrap(),
            vec![(org.clone(), Role::Owner)],
            "{name}"
        );
        assert!(
            accounts
                .orgs_of_user(bob.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let members = accounts.org_members(org.id, None, 10).await.unwrap();
        assert_eq!(members.len(), 1, "{name}");
        assert_eq!(
            (members[0].user_id, &*members[0].email, members[0].role),
            (ada.id, "ada@example.com", Role::Owner)
        );

        accounts
            .set_org_role(org.id, bob.id, Role::Admin)
            .await
            .unwrap();
        accounts
            .set_org_role(org.id, bob.id, Role::Owner)
            .await
            .unwrap();
        assert_eq!(accounts.count_owners(org.id).await.unwrap(), 2, "{name}");
        assert!(accounts.remove_org_member(org.id, bob.id).await.unwrap());
        assert!(!accounts.remove_org_member(org.id, bob.id).await.unwrap());
        assert_eq!(accounts.count_owners(org.id).await.unwrap(), 1, "{name}");
        let missing = accounts
            .set_org_role(org.id, Uuid::now_v7(), Role::Viewer)
            .await;
        assert!(
            matches!(missing, Err(AccountsError::NotFound(_))),
            "{name}: {missing:?}"
        );

        let renamed = accounts.rename_org(org.id, "Acme Inc").await.unwrap();
        assert_eq!(renamed.map(|o| o.name), Some("Acme Inc".to_owned()));
        assert_eq!(
            accounts.rename_org(Uuid::now_v7(), "x").await.unwrap(),
            None
        );

        // An unknown owner leaves no org behind.
        let orphan = accounts.create_org("Ghost", Uuid::now_v7()).await;
        assert!(
            matches!(orphan, Err(AccountsError::NotFound("user"))),
            "{name}: {orphan:?}"
        );
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(accounts.database().pool())
            .await
            .unwrap();
        assert_eq!(count, 1, "{name}");
    })
    .await;
}

#[tokio::test]
async fn pages_return_every_row_exactly_once_in_id_order() {
    on_every_backend(|accounts, name| async move {
        const N: usize = 7;
        let ada = user(&accounts, "ada@example.com").await;
        let mut orgs = Vec::new();
        for i in 0..N {
            orgs.push(
                accounts
                    .create_org(&format!("org {i}"), ada.id)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let org = orgs[0];
        let mut members = vec![ada.id];
        let mut projects = Vec::new();
        for i in 0..N {
            let u = user(&accounts, &format!("user{i}@example.com")).await;
            accounts
                .set_org_role(org, u.id, Role::Viewer)
                .await
                .unwrap();
            members.push(u.id);
            projects.push(
                accounts
                    .create_project(org, &format!("p{i}"))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let project = projects[0];
        let mut documents = Vec::new();
        for _ in 0..N {
            // Names may repeat.
            documents.push(accounts.create_document(project, "same").await.unwrap().id);
        }
        let document = documents[0];
        let mut versions = Vec::new();
        for i in 0..N {
            let v = accounts
                .create_version(document, &format!("v{i}"), ada.id, &[i as u8])
                .await
                .unwrap();
            versions.push(v.id);
        }

        for page in [1, 3, 7, 100] {
            let a = &accounts;
            let got = all_pages(
                page,
                |after, n| async move { a.orgs_of_user(ada.id, after, n).await.unwrap() },
                |(o, _)| o.id,
            )
            .await;
            assert_eq!(got, sorted(orgs.clone()), "{name}: orgs, page {page}");
            let got = all_pages(
                page,
                |after, n| async move { a.org_members(org, after, n).await.unwrap() },
                |m| m.user_id,
            )
            .await;
            assert_eq!(got, sorted(members.clone()), "{name}: members, page {page}");
            let got = all_pages(
                page,
                |after, n| async move { a.org_projects(org, after, n).await.unwrap() },
                |p| p.id,
            )
            .await;
            assert_eq!(
                got,
                sorted(projects.clone()),
                "{name}: projects, page {page}"
            );
            let got = all_pages(
                page,
                |after, n| async move { a.project_documents(project, after, n).await.unwrap() },
                |d| d.id,
            )
            .await;
            assert_eq!(
                got,
                sorted(documents.clone()),
                "{name}: documents, page {page}"
            );
            let got = all_pages(
                page,
                |after, n| async move { a.versions(document, after, n).await.unwrap() },
                |v| v.id,
            )
            .await;
            assert_eq!(
                got,
                sorted(versions.clone()),
                "{name}: versions, page {page}"
            );
        }
        // UUIDv7 ids made in one process sort in creation order.
        assert_eq!(sorted(projects.clone()), projects, "{name}");
        assert!(
            accounts
                .org_projects(org, None, 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            accounts
                .org_projects(orgs[1], None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn the_effective_project_role_is_the_override_else_the_org_role_else_none() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let bob = user(&accounts, "bob@example.com").await;
        let eve = user(&accounts, "eve@example.com").await;
        let org = accounts.create_org("Acme", ada.id).await.unwrap();
        accounts
            .set_org_role(org.id, bob.id, Role::Editor)
            .await
            .unwrap();
        let project = accounts.create_project(org.id, "Site").await.unwrap();
        let other = accounts.create_project(org.id, "Docs").await.unwrap();
        let role = |u: Uuid, p: Uuid| {
            let accounts = accounts.clone();
            async move { accounts.effective_project_role(p, u).await.unwrap() }
        };

        assert_eq!(role(ada.id, project.id).await, Some(Role::Owner), "{name}");
        assert_eq!(role(bob.id, project.id).await, Some(Role::Editor), "{name}");
        assert_eq!(role(eve.id, project.id).await, None, "{name}");

        accounts
            .set_project_role(project.id, bob.id, Role::Viewer)
            .await
            .unwrap();
        assert_eq!(role(bob.id, project.id).await, Some(Role::Viewer), "{name}");
        assert_eq!(role(bob.id, other.id).await, Some(Role::Editor), "{name}");
        accounts
            .set_project_role(project.id, bob.id, Role::Admin)
            .await
            .unwrap();
        assert_eq!(role(bob.id, project.id).await, Some(Role::Admin), "{name}");
        let overrides = accounts.project_members(project.id).await.unwrap();
        assert_eq!(overrides.len(), 1, "{name}");
        assert_eq!(
            (overrides[0].user_id, overrides[0].role),
            (bob.id, Role::Admin)
        );

        assert!(
            accounts
                .remove_project_role(project.id, bob.id)
                .await
                .unwrap()
        );
        assert!(
            !accounts
                .remove_project_role(project.id, bob.id)
                .await
                .unwrap()
        );
        assert_eq!(role(bob.id, project.id).await, Some(Role::Editor), "{name}");

        // An override alone grants the project, not the org's other projects.
        accounts
            .set_project_role(project.id, eve.id, Role::Viewer)
            .await
            .unwrap();
        assert_eq!(role(eve.id, project.id).await, Some(Role::Viewer), "{name}");
        assert_eq!(role(eve.id, other.id).await, None, "{name}");

        // Leaving the org drops the member's overrides in its projects.
        accounts
            .set_project_role(project.id, bob.id, Role::Admin)
            .await
            .unwrap();
        assert!(accounts.remove_org_member(org.id, bob.id).await.unwrap());
        assert_eq!(role(bob.id, project.id).await, None, "{name}");

        assert_eq!(role(ada.id, Uuid::now_v7()).await, None, "{name}");
        let missing = accounts
            .set_project_role(Uuid::now_v7(), bob.id, Role::Viewer)
            .await;
        assert!(
            matches!(missing, Err(AccountsError::NotFound(_))),
            "{name}: {missing:?}"
        );
        let orphan = accounts.create_project(Uuid::now_v7(), "x").await;
        assert!(
            matches!(orphan, Err(AccountsError::NotFound("org"))),
            "{name}: {orphan:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_invitation_is_listed_then_accepted_by_its_invitee_only() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let bob = user(&accounts, "bob@example.com").await;
        let eve = user(&accounts, "eve@example.com").await;
        let org = accounts.create_org("Acme", ada.id).await.unwrap();

        let invitation = accounts
            .invite(org.id, bob.id, Role::Editor, ada.id)
            .await
            .unwrap();
        assert_eq!(invitation.accepted_at, None);
        assert_eq!(
            accounts.invitations_for_user(bob.id).await.unwrap(),
            vec![invitation.clone()],
            "{name}"
        );
        assert_eq!(
            accounts.org_invitations(org.id).await.unwrap(),
            vec![invitation.clone()],
            "{name}"
        );
        assert_eq!(
            accounts.invitation(invitation.id).await.unwrap().as_ref(),
            Some(&invitation)
        );
        let twice = accounts.invite(org.id, bob.id, Role::Admin, ada.id).await;
        assert!(
            matches!(twice, Err(AccountsError::Conflict("invitation"))),
            "{name}: {twice:?}"
        );
        let member = accounts.invite(org.id, ada.id, Role::Viewer, ada.id).await;
        assert!(
            matches!(member, Err(AccountsError::Conflict("member"))),
            "{name}: {member:?}"
        );

        // Someone else cannot accept it.
        assert_eq!(
            accounts
                .accept_invitation(invitation.id, eve.id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            accounts.org_role(org.id, eve.id).await.unwrap(),
            None,
            "{name}"
        );

        let accepted = accounts
            .accept_invitation(invitation.id, bob.id)
            .await
            .unwrap()
            .expect("the invitee accepts");
        assert!(accepted.accepted_at.is_some(), "{name}");
        assert_eq!(accepted.role, Role::Editor);
        assert_eq!(
            accounts.org_role(org.id, bob.id).await.unwrap(),
            Some(Role::Editor),
            "{name}"
        );
        assert!(
            accounts
                .invitations_for_user(bob.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(accounts.org_invitations(org.id).await.unwrap().is_empty());
        assert_eq!(
            accounts
                .accept_invitation(invitation.id, bob.id)
                .await
                .unwrap(),
            None
        );
        assert!(
            !accounts.revoke_invitation(invitation.id).await.unwrap(),
            "{name}"
        );
        let again = accounts.invite(org.id, bob.id, Role::Admin, ada.id).await;
        assert!(
            matches!(again, Err(AccountsError::Conflict("member"))),
            "{name}: {again:?}"
        );

        // A revoked invitation cannot be accepted, and a new one can be sent.
        let to_eve = accounts
            .invite(org.id, eve.id, Role::Viewer, ada.id)
            .await
            .unwrap();
        assert!(
            accounts.revoke_invitation(to_eve.id).await.unwrap(),
            "{name}"
        );
        assert!(
            !accounts.revoke_invitation(to_eve.id).await.unwrap(),
            "{name}"
        );
        assert!(
            accounts
                .invitations_for_user(eve.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            accounts.accept_invitation(to_eve.id, eve.id).await.unwrap(),
            None
        );
        accounts
            .invite(org.id, eve.id, Role::Viewer, ada.id)
            .await
            .unwrap();

        let nobody = accounts
            .invite(org.id, Uuid::now_v7(), Role::Viewer, ada.id)
            .await;
        assert!(
            matches!(nobody, Err(AccountsError::NotFound(_))),
            "{name}: {nobody:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_an_org_deletes_its_projects_documents_and_versions() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let bob = user(&accounts, "bob@example.com").await;
        let eve = user(&accounts, "eve@example.com").await;
        let doomed = accounts.create_org("Doomed", ada.id).await.unwrap();
        let kept = accounts.create_org("Kept", ada.id).await.unwrap();
        accounts
            .set_org_role(doomed.id, bob.id, Role::Editor)
            .await
            .unwrap();
        accounts
            .invite(doomed.id, eve.id, Role::Viewer, ada.id)
            .await
            .unwrap();

        let mut doomed_docs = Vec::new();
        let mut doomed_versions = Vec::new();
        let mut projects = Vec::new();
        for p in 0..2 {
            let project = accounts
                .create_project(doomed.id, &format!("p{p}"))
                .await
                .unwrap();
            accounts
                .set_project_role(project.id, eve.id, Role::Editor)
                .await
                .unwrap();
            for d in 0..2 {
                let doc = accounts
                    .create_document(project.id, &format!("d{d}"))
                    .await
                    .unwrap();
                let v = accounts
                    .create_version(doc.id, "v", bob.id, b"state")
                    .await
                    .unwrap();
                doomed_docs.push(doc.id);
                doomed_versions.push((doc.id, v.id));
            }
            projects.push(project.id);
        }
        let kept_project = accounts.create_project(kept.id, "k").await.unwrap();
        let kept_doc = accounts
            .create_document(kept_project.id, "k")
            .await
            .unwrap();
        let kept_version = accounts
            .create_version(kept_doc.id, "v", ada.id, b"kept")
            .await
            .unwrap();

        let deleted = accounts.delete_org(doomed.id).await.unwrap();
        assert_eq!(
            deleted.map(sorted),
            Some(sorted(doomed_docs.clone())),
            "{name}"
        );
        assert_eq!(accounts.org(doomed.id).await.unwrap(), None, "{name}");
        for project in &projects {
            assert_eq!(accounts.project(*project).await.unwrap(), None, "{name}");
            assert!(accounts.project_members(*project).await.unwrap().is_empty());
        }
        for doc in &doomed_docs {
            assert_eq!(accounts.document(*doc).await.unwrap(), None, "{name}");
        }
        for (doc, version) in &doomed_versions {
            assert_eq!(accounts.version_state(*doc, *version).await.unwrap(), None);
        }
        assert!(
            accounts
                .invitations_for_user(eve.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            accounts
                .orgs_of_user(bob.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // No orphan rows are left in any child table.
        for table in [
            "org_members WHERE org_id",
            "invitations WHERE org_id",
            "projects WHERE org_id",
        ] {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} = $1"))
                .bind(doomed.id.to_string())
                .fetch_one(accounts.database().pool())
                .await
                .unwrap();
            assert_eq!(count, 0, "{name}: {table}");
        }
        for (table, expected) in [
            ("project_members", 0),
            ("documents", 1),
            ("doc_versions", 1),
        ] {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(accounts.database().pool())
                .await
                .unwrap();
            assert_eq!(count, expected, "{name}: {table}");
        }

        // The other org is untouched.
        assert_eq!(
            accounts
                .version_state(kept_doc.id, kept_version.id)
                .await
                .unwrap(),
            Some(b"kept".to_vec()),
            "{name}"
        );
        assert_eq!(
            accounts.orgs_of_user(ada.id, None, 10).await.unwrap(),
            vec![(kept.clone(), Role::Owner)]
        );
        assert_eq!(
            accounts.delete_org(doomed.id).await.unwrap(),
            None,
            "{name}"
        );

        // Deleting a project or a document takes what is under it too.
        assert_eq!(
            accounts.delete_project(kept_project.id).await.unwrap(),
            Some(vec![kept_doc.id]),
            "{name}"
        );
        assert_eq!(accounts.document(kept_doc.id).await.unwrap(), None);
        assert_eq!(
            accounts.delete_project(kept_project.id).await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn versions_round_trip_their_state_and_documents_their_metadata() {
    on_every_backend(|accounts, name| async move {
        let ada = user(&accounts, "ada@example.com").await;
        let org = accounts.create_org("Acme", ada.id).await.unwrap();
        let project = accounts.create_project(org.id, "Site").await.unwrap();
        let doc = accounts.create_document(project.id, "Home").await.unwrap();
        assert_eq!(doc.created_at, doc.updated_at);
        assert_eq!(
            accounts.document(doc.id).await.unwrap().as_ref(),
            Some(&doc)
        );

        let state: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let version = accounts
            .create_version(doc.id, "Launch", ada.id, &state)
            .await
            .unwrap();
        assert_eq!(version.size_bytes, state.len() as u64);
        assert_eq!((version.document_id, version.created_by), (doc.id, ada.id));
        let empty = accounts
            .create_version(doc.id, "Empty", ada.id, &[])
            .await
            .unwrap();
        assert_eq!(
            accounts.versions(doc.id, None, 10).await.unwrap(),
            vec![version.clone(), empty.clone()],
            "{name}"
        );
        assert_eq!(
            accounts.version_state(doc.id, version.id).await.unwrap(),
            Some(state),
            "{name}"
        );
        assert_eq!(
            accounts.version_state(doc.id, empty.id).await.unwrap(),
            Some(Vec::new()),
            "{name}"
        );
        let other = accounts.create_document(project.id, "Other").await.unwrap();
        assert_eq!(
            accounts.version_state(other.id, version.id).await.unwrap(),
            None
        );
        let orphan = accounts
            .create_version(Uuid::now_v7(), "x", ada.id, b"x")
            .await;
        assert!(
            matches!(orphan, Err(AccountsError::NotFound(_))),
            "{name}: {orphan:?}"
        );

        let renamed = accounts.rename_document(doc.id, "Start").await.unwrap();
        assert_eq!(renamed.as_ref().map(|d| d.name.as_str()), Some("Start"));
        assert_eq!(
            accounts.rename_document(Uuid::now_v7(), "x").await.unwrap(),
            None
        );
        let later = doc.updated_at + 60_000;
        assert!(
            accounts.touch_document(doc.id, later).await.unwrap(),
            "{name}"
        );
        assert!(accounts.touch_document(doc.id, later - 1).await.unwrap());
        let touched = accounts.document(doc.id).await.unwrap().unwrap();
        assert_eq!(touched.updated_at, later, "{name}: never moves back");
        assert!(
            !accounts
                .touch_document(Uuid::now_v7(), later)
                .await
                .unwrap()
        );

        assert!(accounts.delete_document(doc.id).await.unwrap(), "{name}");
        assert!(!accounts.delete_document(doc.id).await.unwrap(), "{name}");
        assert_eq!(
            accounts.version_state(doc.id, version.id).await.unwrap(),
            None
        );
        assert!(
            accounts
                .versions(doc.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
