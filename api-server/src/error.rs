//! The one error type of the HTTP boundary, turned into RFC 9457 problems.
//!
//! Handlers return `Result<_, ApiError>`. Client errors carry a detail meant for the client;
//! server errors keep theirs out of the response (the body says only that something failed and
//! names a request id) and are logged once, here.

use crate::Problem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_storage::accounts::AccountsError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A problem to send as it is (4xx).
    #[error("{0:?}")]
    Client(Problem),
    /// Something on our side failed; the client learns nothing more.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::Client(Problem::new(StatusCode::BAD_REQUEST).with_detail(detail))
    }

    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::Client(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(detail))
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::Client(Problem::new(StatusCode::UNAUTHORIZED).with_detail(detail))
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::Client(Problem::new(StatusCode::CONFLICT).with_detail(detail))
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::Client(Problem::not_found(detail))
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError::Client(p)
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Conflict(what) => ApiError::conflict(format!("{what} already exists")),
            AccountsError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            other => ApiError::internal(error_chain(&other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client(problem) => problem.into_response(),
            ApiError::Internal(detail) => {
                let id = uuid::Uuid::now_v7();
                tracing::error!(error_id = %id, %detail, "request failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .with_detail(format!("the server failed; error id {id}"))
                    .into_response()
            }
        }
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
