//! RFC 9457 problem details for the few plain HTTP errors collab-server returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An `application/problem+json` response.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: "Bad Request",
            status: 400,
            detail: detail.into(),
        }
    }
}

impl Problem {
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: "Unauthorized",
            status: 401,
            detail: detail.into(),
        }
    }
}

impl Problem {
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: "Not Found",
            status: 404,
            detail: detail.into(),
        }
    }
}

impl Problem {
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: "Service Unavailable",
            status: 503,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}
