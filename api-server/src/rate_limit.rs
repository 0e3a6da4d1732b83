//! Per-client rate limits on the routes that guess passwords or create accounts.
//!
//! tower_governor keyed by the peer IP address: a burst, then one request per period. Every
//! answer carries `x-ratelimit-limit` and `x-ratelimit-remaining`; a refused one is a 429
//! problem with `retry-after` and `x-ratelimit-after`.

use crate::{Config, Problem};
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use governor::middleware::StateInformationMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;

/// The layer for login and register.
pub type AuthRateLimit = GovernorLayer<PeerIpKeyExtractor, StateInformationMiddleware, Body>;

/// The login/register limit from the config (at least a burst of 1 and a 1 ms period).
pub fn auth_limit(config: &Config) -> Option<AuthRateLimit> {
    let period_ms = u64::try_from(config.auth_rate_period.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let governor = GovernorConfigBuilder::default()
        .per_millisecond(period_ms)
        .burst_size(config.auth_rate_burst.max(1))
        .use_headers()
        .finish()?;
    Some(GovernorLayer::new(governor).error_handler(refused))
}

fn refused(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .with_detail(format!("too many attempts; retry in {wait_time} s"))
                .into_response();
            if let Some(headers) = headers {
                response.headers_mut().extend(headers);
            }
            response
        }
        GovernorError::UnableToExtractKey => {
            tracing::error!("rate limit: no peer address on the request");
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
