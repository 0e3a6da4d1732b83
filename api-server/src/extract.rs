//! Request extractors whose failures are problems too: a JSON body, and the signed-in user.
//!
//! axum's own rejections answer in plain text; these wrap them so a malformed body, a wrong
//! content type or a missing field gets the same `application/problem+json` as everything else.
//! A JSON body carrying the NUL character is refused (422) before any handler sees it.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// A JSON request body; every way it can be wrong is a problem response.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), state).await
        {
            Ok(bytes) => bytes,
            Err(rejection) => {
                let status = body_status(&rejection);
                let detail = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => too_large(state.config.max_json_bytes),
                    StatusCode::REQUEST_TIMEOUT => BODY_TIMED_OUT.to_owned(),
                    _ => rejection.body_text(),
                };
                return Err(ApiError::Client(
                    crate::Problem::new(status).with_detail(detail),
                ));
            }
        };
        // No text column takes U+0000 (Postgres refuses it, so a NUL in any field would fail
        // the request late and differently per database): refused here, for every body.
        if has_nul_escape(&bytes) {
            return Err(ApiError::unprocessable(
                "text must not contain the NUL character (\\u0000)",
            ));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_problem(rejection, state.config.max_json_bytes)),
        }
    }
}

/// What a client is told when its body stopped arriving (the front door's body timeout).
pub(crate) const BODY_TIMED_OUT: &str = "the request body stopped arriving before it was complete";

/// The status for a body that could not be read: 408 when it stopped arriving (the front
/// door's `WEFT_BODY_TIMEOUT`), else axum's (413 past the size limit, 400).
pub(crate) fn body_status(rejection: &BytesRejection) -> StatusCode {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return StatusCode::REQUEST_TIMEOUT;
        }
        cause = error.source();
    }
    rejection.status()
}

/// The problem for a raw body (`Bytes`) that could not be read: `what` (say "the update") is
/// larger than `max_bytes`, stopped arriving, or broke off.
pub(crate) fn body_problem(rejection: BytesRejection, what: &str, max_bytes: usize) -> ApiError {
    let status = body_status(&rejection);
    let detail = match status {
        StatusCode::REQUEST_TIMEOUT => BODY_TIMED_OUT.to_owned(),
        _ => format!(
            "{what} could not be read (at most {max_bytes} bytes): {}",
            rejection.body_text()
        ),
    };
    ApiError::Client(crate::Problem::new(status).with_detail(detail))
}

/// Whether JSON text holds a `\u0000` escape, the only way a JSON string can carry NUL (a raw
/// control character is invalid JSON, and a backslash only occurs in strings). An escaped
/// backslash followed by `u0000` is six ordinary characters.
fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

pub(crate) fn json_problem(rejection: JsonRejection, max_bytes: usize) -> ApiError {
    let status = rejection.status();
    let detail = rejection.body_text();
    let problem = crate::Problem::new(status).with_detail(match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "expected a JSON body with content-type application/json".to_owned()
        }
        StatusCode::PAYLOAD_TOO_LARGE => too_large(max_bytes),
        _ => detail,
    });
    ApiError::Client(problem)
}

fn too_large(max_bytes: usize) -> String {
    format!("the JSON body is larger than {max_bytes} bytes")
}

/// The user an access token names (`Authorization: Bearer <jwt>`).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: uuid::Uuid,
}

/// A 401 that tells the client how to authenticate, or the failure that kept the session from
/// being checked.
#[derive(Debug)]
pub enum Unauthenticated {
    Refused(String),
    Failed(ApiError),
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let detail = match self {
            Unauthenticated::Refused(detail) => detail,
            Unauthenticated::Failed(e) => return e.into_response(),
        };
        let mut response = crate::Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail(detail)
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Unauthenticated;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let refused = |detail: &str| Unauthenticated::Refused(detail.to_owned());
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| refused("an access token is required"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| refused("the Authorization header must be `Bearer <token>`"))?;
        let (id, session) = state
            .tokens
            .verify(token.trim())
            .map_err(|e| Unauthenticated::Refused(e.to_string()))?;
        // The session ends with sign-out, sign-out everywhere, a reused refresh token and the
        // deletion of the user; its access tokens end with it.
        let active = state
            .accounts
            .session_active(id, session)
            .await
            .map_err(|e| Unauthenticated::Failed(e.into()))?;
        if !active {
            return Err(refused(
                "the session of this access token has ended; sign in again",
            ));
        }
        Ok(AuthUser { id })
    }
}

/// Query parameters; a malformed one is a 400 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Path parameters; one that does not parse (an id that is not a UUID) is a 404 problem, since
/// no resource has that name.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::not_found(rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"a":"\u0000"}"#));
        assert!(has_nul_escape(br#"{"a":"x\u0000y"}"#));
        assert!(has_nul_escape(br#"{"a":"\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a":"\\u0000"}"#));
        assert!(has_nul_escape(br#"{"a":"\u00001"}"#));
        assert!(!has_nul_escape(br#"{"a":"\u0001 u0000"}"#));
        assert!(!has_nul_escape(br#"{"a":"\""}"#));
        assert!(!has_nul_escape(b"{}"));
    }
}
