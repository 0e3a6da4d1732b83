//! Per-caller rate limits: one on every REST route, a stricter one on the routes that guess
//! passwords or create accounts.
//!
//! tower_governor (GCRA): a burst, then one request per period. The general limit counts a
//! request under its user when it carries a valid access token, else under its client address
//! (`front::ClientIp`: the TCP peer, or the address a trusted proxy forwarded; IPv6 by /64);
//! login and register count under the client address only. Every answer carries
//! `x-ratelimit-limit` and `x-ratelimit-remaining`; a refused one is a 429 problem with
//! `retry-after` and `x-ratelimit-after`. Keys not seen for a while are forgotten by a sweeper
//! task, so the limiters' memory follows the active callers.

use crate::auth::tokens::AccessTokens;
use crate::front::ClientIp;
use crate::{Config, Problem};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use governor::middleware::StateInformationMiddleware;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use uuid::Uuid;

/// The layer for login and register.
pub type AuthRateLimit = GovernorLayer<ClientKey, StateInformationMiddleware, Body>;

/// The layer for every other route.
pub type ApiRateLimit = GovernorLayer<CallerKey, StateInformationMiddleware, Body>;

/// How often limiter state of callers that have been quiet is dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The login/register limit from the config (at least a burst of 1 and a 1 ms period).
pub fn auth_limit(config: &Config) -> Option<AuthRateLimit> {
    limit(
        ClientKey,
        config.auth_rate_burst,
        config.auth_rate_period,
        "too many attempts",
    )
}

/// The limit on every other route, keyed by the caller the access token names.
pub fn api_limit(config: &Config, tokens: Arc<AccessTokens>) -> Option<ApiRateLimit> {
    limit(
        CallerKey { tokens },
        config.rate_burst,
        config.rate_period,
        "too many requests",
    )
}

fn limit<K>(
    key: K,
    burst: u32,
    period: Duration,
    what: &'static str,
) -> Option<GovernorLayer<K, StateInformationMiddleware, Body>>
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    let governor = GovernorConfigBuilder::default()
        .key_extractor(key)
        .per_millisecond(period_ms)
        .burst_size(burst.max(1))
        .use_headers()
        .finish()?;
    sweep(&governor);
    Some(GovernorLayer::new(governor).error_handler(move |e| refused(e, what)))
}

/// Forgets callers whose bucket is full again, every minute, until the limiter is dropped
/// (only when built inside a runtime, as every server is).
fn sweep<K>(governor: &GovernorConfig<K, StateInformationMiddleware>)
where
    K: KeyExtractor,
    K::Key: Send + Sync + 'static,
{
    let limiter = Arc::downgrade(governor.limiter());
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            let Some(limiter) = Weak::upgrade(&limiter) else {
                return;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// The client address (login and register).
#[derive(Debug, Clone, Copy)]
pub struct ClientKey;

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        client_key(req).ok_or(GovernorError::UnableToExtractKey)
    }
}

fn client_key<T>(req: &Request<T>) -> Option<IpAddr> {
    ClientIp::of(req.extensions()).map(ClientIp::limit_key)
}

/// Who a request is counted as: its user, or its client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    User(Uuid),
    Client(IpAddr),
}

/// The user a valid access token names, else the client address. A token that does not verify
/// counts as no token, so forged `sub`s cannot spread one client over many buckets.
#[derive(Clone)]
pub struct CallerKey {
    tokens: Arc<AccessTokens>,
}

impl std::fmt::Debug for CallerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerKey").finish_non_exhaustive()
    }
}

impl KeyExtractor for CallerKey {
    type Key = Caller;

    fn extract<T>(&self, req: &Request<T>) -> Result<Caller, GovernorError> {
        let user = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| self.tokens.verify(token.trim()).ok());
        match user {
            Some((user, _session)) => Ok(Caller::User(user)),
            None => client_key(req)
                .map(Caller::Client)
                .ok_or(GovernorError::UnableToExtractKey),
        }
    }
}

fn refused(error: GovernorError, what: &str) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .with_detail(format!("{what}; retry in {wait_time} s"))
                .into_response();
            if let Some(headers) = headers {
                response.headers_mut().extend(headers);
            }
            response
        }
        GovernorError::UnableToExtractKey => {
            tracing::error!("rate limit: no client address on the request");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
        GovernorError::Other { code, msg, headers } => {
            let mut response = Problem::new(code)
                .with_detail(msg.unwrap_or_default())
                .into_response();
            if let Some(headers) = headers {
                response.headers_mut().extend(headers);
            }
            response
        }
    }
}
