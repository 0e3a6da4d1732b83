//! The delivery worker: claims due deliveries from the shared outbox, POSTs each to its hook
//! and records the outcome.
//!
//! Every api-server process runs one (several may share a database: claims are leased, see
//! `weft_storage::accounts::webhooks`). A delivery is a JSON POST with the headers `Weft-Event`,
//! `Weft-Delivery` (its id, the same on every attempt, for receivers to drop duplicates),
//! `Weft-Attempt` and `Weft-Signature` (see [`super::signature`]). A 2xx answer delivers it;
//! anything else (another status, a redirect, a timeout, a refused connection) is retried
//! after `API_WEBHOOK_RETRY_BASE`·2^(attempt−1) (at most an hour) with random jitter, until
//! `API_WEBHOOK_MAX_ATTEMPTS` attempts have failed. At most `API_WEBHOOK_CONCURRENCY`
//! deliveries are in flight at once. Settled deliveries older than `API_WEBHOOK_LOG_RETENTION`
//! are pruned.

use super::signature::sign;
use crate::error::error_chain;
use crate::state::AppState;
use rand::Rng;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use weft_storage::accounts::{Accounts, Claimed, Delivery, Webhook};

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often settled deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest a stored error message gets.
const MAX_ERROR_CHARS: usize = 500;

/// What every delivery task needs.
#[derive(Clone)]
struct Sender {
    accounts: Accounts,
    http: reqwest::Client,
    retry_base: Duration,
    max_attempts: u32,
}

/// Starts the delivery worker of this process; it stops (letting deliveries in flight finish
/// within the request timeout) once `shutdown` is cancelled. Does nothing when
/// `API_NO_WEBHOOK_DELIVERY` is set.
pub fn spawn_delivery_worker(state: &AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    let config = state.config.clone();
    let accounts = state.accounts.clone();
    tokio::spawn(async move {
        if config.no_webhook_delivery {
            tracing::info!("webhook delivery is off in this process");
            return;
        }
        let http = match reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Weft-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot start webhook delivery");
                return;
            }
        };
        let sender = Sender {
            accounts,
            http,
            retry_base: config.webhook_retry_base,
            max_attempts: config.webhook_max_attempts,
        };
        run(
            sender,
            Limits {
                poll: config.webhook_poll_interval,
                concurrency: config.webhook_concurrency.max(1),
                // A claim outlives the request it covers, so it is not taken twice.
                lease: config.webhook_timeout + Duration::from_secs(30),
                retention: config.webhook_log_retention,
                drain: config.webhook_timeout + Duration::from_secs(1),
            },
            shutdown,
        )
        .await;
    })
}

struct Limits {
    poll: Duration,
    concurrency: u32,
    lease: Duration,
    retention: Duration,
    drain: Duration,
}

async fn run(sender: Sender, limits: Limits, shutdown: CancellationToken) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut next_prune = tokio::time::Instant::now();
    loop {
        while let Some(done) = in_flight.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "webhook delivery task failed");
            }
        }
        let free = limits
            .concurrency
            .saturating_sub(u32::try_from(in_flight.len()).unwrap_or(u32::MAX));
        let mut backlog = false;
        if free > 0 {
            match sender
                .accounts
                .claim_due_deliveries(now_ms(), free, limits.lease)
                .await
            {
                Ok(claimed) => {
                    backlog = claimed.len() == free as usize;
                    for claim in claimed {
                        in_flight.spawn(sender.clone().deliver(claim));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "cannot claim webhook deliveries")
                }
            }
        }
        if tokio::time::Instant::now() >= next_prune {
            next_prune += PRUNE_EVERY;
            let before = now_ms().saturating_sub(millis(limits.retention));
            match sender.accounts.prune_webhook_deliveries(before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "pruned the webhook delivery log"),
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "cannot prune webhook deliveries")
                }
            }
        }
        // With a backlog, claim again as soon as a slot frees up; otherwise poll.
        let wait = if backlog && free > 0 {
            Duration::ZERO
        } else {
            limits.poll
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() && free == 0 => {}
        }
    }
    // Deliveries still in flight after the drain are abandoned; their leases run out and
    // another process (or the next start) sends them again.
    let drain = async { while in_flight.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain, drain).await.is_err() {
        in_flight.abort_all();
    }
}

impl Sender {
    /// One attempt of one claimed delivery, settled in the database.
    async fn deliver(self, claim: Claimed) {
        let Claimed { delivery, hook } = claim;
        let attempt = delivery.attempts;
        let outcome = if !hook.active {
            Err((None, "the webhook is inactive".to_owned()))
        } else {
            self.send(&delivery, &hook).await
        };
        let settled = match outcome {
            Ok(code) => {
                self.accounts
                    .mark_delivered(delivery.id, attempt, code)
                    .await
            }
            Err((code, error)) if attempt >= self.max_attempts || !hook.active => {
                tracing::info!(delivery = %delivery.id, hook = %hook.id, attempt, %error, "webhook delivery failed");
                self.accounts
                    .mark_failed(delivery.id, attempt, code, &error)
                    .await
            }
            Err((code, error)) => {
                let next = now_ms().saturating_add(millis(self.backoff(attempt)));
                tracing::debug!(delivery = %delivery.id, attempt, %error, "webhook delivery will be retried");
                self.accounts
                    .mark_retry(delivery.id, attempt, next, code, &error)
                    .await
            }
        };
        match settled {
            Ok(true) => {}
            Ok(false) => tracing::debug!(
                delivery = %delivery.id,
                attempt,
                "webhook delivery was claimed again before it settled"
            ),
            Err(e) => tracing::warn!(
                delivery = %delivery.id,
                error = %error_chain(&e),
                "cannot record a webhook delivery's outcome; it is retried when its lease ends"
            ),
        }
    }

    /// POSTs the delivery to the hook; the 2xx status, or the status (if any answer came) and
    /// why it failed.
    async fn send(
        &self,
        delivery: &Delivery,
        hook: &Webhook,
    ) -> Result<u16, (Option<u16>, String)> {
        let body = body(delivery, hook).map_err(|e| (None, e))?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signature = sign(&hook.secret, timestamp, &body)
            .ok_or_else(|| (None, "the webhook secret cannot key an HMAC".to_owned()))?;
        let response = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Weft-Event", &delivery.event)
            .header("Weft-Delivery", delivery.id.to_string())
            .header("Weft-Attempt", delivery.attempts.to_string())
            .header("Weft-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| (None, truncate(error_chain(&e))))?;
        let status = response.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err((
                Some(status.as_u16()),
                format!("the receiver answered {status}"),
            ))
        }
    }

    /// The wait after failed attempt `attempt` (1-based): the base doubled per earlier
    /// attempt, capped, then a random point in its upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        let full = self
            .retry_base
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF);
        let half = full / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }
}

/// The JSON body of a delivery: its id, event, hook, project, creation time and the event's
/// data. An error when the stored payload is not JSON (which this code never stores).
fn body(delivery: &Delivery, hook: &Webhook) -> Result<Vec<u8>, String> {
    let data: serde_json::Value = serde_json::from_str(&delivery.payload)
        .map_err(|e| format!("the stored payload is not JSON: {e}"))?;
    let body = serde_json::json!({
        "id": delivery.id,
        "event": delivery.event,
        "webhook_id": hook.id,
        "project_id": hook.project_id,
        "created_at": delivery.created_at,
        "data": data,
    });
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

fn truncate(mut s: String) -> String {
    if let Some((at, _)) = s.char_indices().nth(MAX_ERROR_CHARS) {
        s.truncate(at);
    }
    s
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    i64::try_from(weft_protocol::token::unix_now_ms()).unwrap_or(i64::MAX)
}
