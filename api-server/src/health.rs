//! The health check that load balancers, the compose file and CI poll.
//!
//! It answers without touching storage, so it says "the process serves HTTP" and nothing more;
//! it also reports the version so a rollout can be checked from outside.

use axum::Json;
use serde::Serialize;

/// Body of `GET /api/healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
}

/// `GET /api/healthz`.
#[utoipa::path(get, path = "/api/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        service: "api-server",
        version: crate::VERSION,
    })
}
