//! Per-project webhooks and their delivery outbox (migration `0007_webhooks`).
//!
//! Whatever changes a project (a REST write, a collab node's flush, a new message) enqueues a
//! row per subscribed hook here, in the database every process shares, so any process may
//! produce events, any may deliver them, and nothing is lost across restarts. Delivering is
//! claim, send, settle: [`Accounts::claim_due_deliveries`] leases due rows with one `UPDATE …
//! RETURNING` that also counts the attempt (the count is the fencing token every settle checks,
//! so an attempt whose lease ran out and was claimed again elsewhere cannot settle the row), and
//! [`Accounts::mark_delivered`], [`Accounts::mark_retry`] or [`Accounts::mark_failed`] record the
//! outcome. An event with a debounce key is merged into the pending, not yet attempted delivery
//! with that key (a partial unique index makes the merge one atomic upsert), so a document
//! changed many times within a window is announced once, when the window ends.

use super::{Accounts, AccountsError, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::time::Duration;

/// A document's content changed (debounced per document).
pub const DOCUMENT_CHANGED: &str = "document.changed";
/// A message was posted in the project.
pub const MESSAGE_CREATED: &str = "message.created";
/// A test delivery an admin asked for; sent to one hook whatever it subscribes to.
pub const PING: &str = "ping";

/// A webhook: where a project's events are POSTed, signed with `secret`.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    /// The HMAC-SHA256 key deliveries are signed with.
    pub secret: String,
    /// The event names it subscribes to.
    pub events: Vec<String>,
    /// Inactive hooks get no new deliveries; their pending ones fail when due.
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: i64,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("project_id", &self.project_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn subscribes(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet attempted, in flight, or waiting for a retry.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Given up after the last attempt (or the hook was deactivated).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(text: String) -> Result<DeliveryStatus, AccountsError> {
        match text.as_str() {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(AccountsError::Corrupt {
                what: "status",
                value: text,
            }),
        }
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    /// The event's data, as JSON text.
    pub payload: String,
    pub status: DeliveryStatus,
    /// Attempts started so far (a claimed delivery counts the attempt in flight).
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A delivery claimed for one attempt, with the hook it goes to.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub hook: Webhook,
}

/// Coalescing of an event: at most one undelivered event per `key` and hook, attempted
/// `window` after the first one.
#[derive(Debug, Clone, Copy)]
pub struct Debounce<'a> {
    pub key: &'a str,
    pub window: Duration,
}

const HOOK_COLUMNS: &str = "id, project_id, url, secret, events, active, created_by, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event, payload, status, attempts, next_attempt_at, \
     last_status_code, last_error, created_at, delivered_at";

fn hook_from(row: &AnyRow) -> Result<Webhook, AccountsError> {
    let events: String = row.try_get("events")?;
    let active: i64 = row.try_get("active")?;
    Ok(Webhook {
        id: decode::uuid(row, "id")?,
        project_id: decode::uuid(row, "project_id")?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        events: events.split_whitespace().map(str::to_owned).collect(),
        active: active != 0,
        created_by: decode::uuid(row, "created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery_from(row: &AnyRow) -> Result<Delivery, AccountsError> {
    let attempts: i64 = row.try_get("attempts")?;
    let code: Option<i64> = row.try_get("last_status_code")?;
    Ok(Delivery {
        id: decode::uuid(row, "id")?,
        webhook_id: decode::uuid(row, "webhook_id")?,
        event: row.try_get("event")?,
        payload: row.try_get("payload")?,
        status: DeliveryStatus::parse(row.try_get("status")?)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status_code: code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Accounts {
    /// Creates an active webhook of `project`; [`AccountsError::NotFound`] when the project
    /// or the user does not exist.
    pub async fn create_webhook(
        &self,
        project: Uuid,
        url: &str,
        secret: &str,
        events: &[&str],
        created_by: Uuid,
    ) -> Result<Webhook, AccountsError> {
        let hook = Webhook {
            id: Uuid::now_v7(),
            project_id: project,
            url: url.to_owned(),
            secret: secret.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            active: true,
            created_by,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO webhooks (id, project_id, url, secret, events, active, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
        )
        .bind(id_text(hook.id))
        .bind(id_text(project))
        .bind(&hook.url)
        .bind(&hook.secret)
        .bind(hook.events.join(" "))
        .bind(id_text(created_by))
        .bind(hook.created_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("webhook", "project or user"))?;
        Ok(hook)
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Option<Webhook>, AccountsError> {
        let row = sqlx::query(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1"
        ))
        .bind(id_text(id))
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(hook_from).transpose()
    }

    /// The webhooks of `project`: up to `limit` of them by id, after the webhook id `after`.
    pub async fn project_webhooks(
        &self,
        project: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Webhook>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks \
             WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(project))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(hook_from).collect()
    }

    /// Deletes the webhook and its deliveries; false when there is no such webhook.
    pub async fn delete_webhook(&self, id: Uuid) -> Result<bool, AccountsError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id_text(id))
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Enqueues `event` with `payload` (JSON text) for every active webhook of `project` that
    /// subscribes to it. Returns when the earliest of those deliveries will be attempted (unix
    /// ms), or None when no hook subscribes.
    pub async fn enqueue_webhook_event(
        &self,
        project: Uuid,
        event: &str,
        payload: &str,
        debounce: Option<Debounce<'_>>,
    ) -> Result<Option<i64>, AccountsError> {
        let rows =
            sqlx::query("SELECT id, events FROM webhooks WHERE project_id = $1 AND active = 1")
                .bind(id_text(project))
                .fetch_all(self.db.pool())
                .await?;
        let mut hooks = Vec::new();
        for row in &rows {
            let events: String = row.try_get("events")?;
            if events.split_whitespace().any(|e| e == event) {
                hooks.push(decode::uuid(row, "id")?);
            }
        }
        self.enqueue_for(&hooks, event, payload, debounce).await
    }

    /// Enqueues `document.changed` for `doc`, debounced per document over `window`: the
    /// payload names the document, its project and name, and when the change was seen. Returns
    /// as [`Accounts::enqueue_webhook_event`] does; None also when there is no such document.
    pub async fn enqueue_document_changed(
        &self,
        doc: Uuid,
        window: Duration,
    ) -> Result<Option<i64>, AccountsError> {
        // One statement answers both "is it a document" and "does anyone listen".
        let rows = sqlx::query(
            "SELECT d.project_id, d.name, w.id, w.events FROM documents d \
             JOIN webhooks w ON w.project_id = d.project_id \
             WHERE d.id = $1 AND w.active = 1",
        )
        .bind(id_text(doc))
        .fetch_all(self.db.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let project = decode::uuid(first, "project_id")?;
        let name: String = first.try_get("name")?;
        let mut hooks = Vec::new();
        for row in &rows {
            let events: String = row.try_get("events")?;
            if events.split_whitespace().any(|e| e == DOCUMENT_CHANGED) {
                hooks.push(decode::uuid(row, "id")?);
            }
        }
        let payload = serde_json::json!({
            "document_id": doc,
            "project_id": project,
            "name": name,
            "changed_at": now_ms(),
        })
        .to_string();
        let key = format!("document:{}", id_text(doc));
        let debounce = Debounce { key: &key, window };
        self.enqueue_for(&hooks, DOCUMENT_CHANGED, &payload, Some(debounce))
            .await
    }

    /// Enqueues `event` for the one webhook `hook` whether or not it subscribes (a ping);
    /// [`AccountsError::NotFound`] when there is no such webhook.
    pub async fn enqueue_webhook_delivery(
        &self,
        hook: Uuid,
        event: &str,
        payload: &str,
    ) -> Result<Delivery, AccountsError> {
        let now = now_ms();
        let delivery = Delivery {
            id: Uuid::now_v7(),
            webhook_id: hook,
            event: event.to_owned(),
            payload: payload.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: None,
            created_at: now,
            delivered_at: None,
        };
        sqlx::query(
            "INSERT INTO webhook_deliveries \
             (id, webhook_id, event, payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
        )
        .bind(id_text(delivery.id))
        .bind(id_text(hook))
        .bind(event)
        .bind(payload)
        .bind(now)
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(refused("delivery", "webhook"))?;
        Ok(delivery)
    }

    async fn enqueue_for(
        &self,
        hooks: &[Uuid],
        event: &str,
        payload: &str,
        debounce: Option<Debounce<'_>>,
    ) -> Result<Option<i64>, AccountsError> {
        let now = now_ms();
        let (key, due) = match debounce {
            Some(d) => (Some(d.key), now.saturating_add(millis(d.window))),
            None => (None, now),
        };
        let mut earliest: Option<i64> = None;
        for hook in hooks {
            // A debounced event meets the pending, unattempted row with its key (if any) in
            // the partial unique index and only refreshes its payload; the row keeps its time.
            let result = sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhook_deliveries \
                 (id, webhook_id, event, payload, status, attempts, next_attempt_at, debounce_key, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7) \
                 ON CONFLICT (webhook_id, debounce_key) \
                 WHERE status = 'pending' AND attempts = 0 AND debounce_key IS NOT NULL \
                 DO UPDATE SET payload = excluded.payload \
                 RETURNING next_attempt_at",
            )
            .bind(id_text(Uuid::now_v7()))
            .bind(id_text(*hook))
            .bind(event)
            .bind(payload)
            .bind(due)
            .bind(key)
            .bind(now)
            .fetch_one(self.db.pool())
            .await
            .map_err(refused("delivery", "webhook"));
            match result {
                Ok(at) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                // Deleted since it was read: nothing to deliver to.
                Err(AccountsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(earliest)
    }

    /// Claims up to `limit` deliveries due at `now` (unix ms) for one attempt each, leased for
    /// `lease`: their attempt count goes up by one, and no other caller claims them until the
    /// lease runs out. Safe to call from several processes at once: no delivery is claimed
    /// twice, though under contention on Postgres a call may return fewer than `max` while
    /// more are due (rows it picked were taken by another claim first).
    pub async fn claim_due_deliveries(
        &self,
        now: i64,
        max: u32,
        lease: Duration,
    ) -> Result<Vec<Claimed>, AccountsError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // The outer conditions repeat the inner ones: on Postgres a row another claim updated
        // meanwhile is re-checked against them (and skipped), not taken twice.
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_until = $1 \
             WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= $2 \
                   AND (claimed_until IS NULL OR claimed_until <= $3) \
                 ORDER BY next_attempt_at LIMIT $4) \
               AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $5) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(now.saturating_add(millis(lease)))
        .bind(now)
        .bind(now)
        .bind(limit(max))
        .bind(now)
        .fetch_all(self.db.pool())
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut hooks: Vec<Webhook> = Vec::new();
        for row in &rows {
            let delivery = delivery_from(row)?;
            let hook = match hooks.iter().find(|h| h.id == delivery.webhook_id) {
                Some(hook) => hook.clone(),
                None => match self.webhook(delivery.webhook_id).await? {
                    Some(hook) => {
                        hooks.push(hook.clone());
                        hook
                    }
                    // Deleted meanwhile; its deliveries went with it.
                    None => continue,
                },
            };
            claimed.push(Claimed { delivery, hook });
        }
        Ok(claimed)
    }

    /// Records that attempt `attempt` of `delivery` got the 2xx `code`; false when that
    /// attempt no longer holds the delivery (its lease ran out and it was claimed again).
    pub async fn mark_delivered(
        &self,
        delivery: Uuid,
        attempt: u32,
        code: u16,
    ) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $1, \
             last_status_code = $2, last_error = NULL, claimed_until = NULL \
             WHERE id = $3 AND attempts = $4 AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(i64::from(code))
        .bind(id_text(delivery))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that attempt `attempt` failed (with the answer's status `code`, if any, and
    /// `error`) and schedules the next one at `next_at` (unix ms); false as for
    /// [`Accounts::mark_delivered`].
    pub async fn mark_retry(
        &self,
        delivery: Uuid,
        attempt: u32,
        next_at: i64,
        code: Option<u16>,
        error: &str,
    ) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1, last_status_code = $2, \
             last_error = $3, claimed_until = NULL \
             WHERE id = $4 AND attempts = $5 AND status = 'pending'",
        )
        .bind(next_at)
        .bind(code.map(i64::from))
        .bind(error)
        .bind(id_text(delivery))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that attempt `attempt` failed and was the last; false as for
    /// [`Accounts::mark_delivered`].
    pub async fn mark_failed(
        &self,
        delivery: Uuid,
        attempt: u32,
        code: Option<u16>,
        error: &str,
    ) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', last_status_code = $1, \
             last_error = $2, claimed_until = NULL \
             WHERE id = $3 AND attempts = $4 AND status = 'pending'",
        )
        .bind(code.map(i64::from))
        .bind(error)
        .bind(id_text(delivery))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The delivery log of `hook`, oldest first: up to `limit` deliveries after the delivery id
    /// `after`.
    pub async fn webhook_deliveries(
        &self,
        hook: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Delivery>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE webhook_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(hook))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// Deletes delivered and failed deliveries created before `before` (unix ms); how many.
    pub async fn prune_webhook_deliveries(&self, before: i64) -> Result<u64, AccountsError> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1",
        )
        .bind(before)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
