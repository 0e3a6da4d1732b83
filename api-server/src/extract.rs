//! Request extractors whose failures are problems too: a JSON body, and the signed-in user.
//!
//! axum's own rejections answer in plain text; these wrap them so a malformed body, a wrong
//! content type or a missing field gets the same `application/problem+json` as everything else.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::JsonRejection;
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
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let detail = rejection.body_text();
    let problem = crate::Problem::new(status).with_detail(match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "expected a JSON body with content-type application/json".to_owned()
        }
        _ => detail,
    });
    ApiError::Client(problem)
}

/// The user an access token names (`Authorization: Bearer <jwt>`).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: uuid::Uuid,
}

/// A 401 that tells the client how to authenticate.
#[derive(Debug)]
pub struct Unauthenticated(String);

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let mut response = crate::Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail(self.0)
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
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Unauthenticated("an access token is required".into()))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Unauthenticated("the Authorization header must be `Bearer <token>`".into())
            })?;
        let id = state
            .tokens
            .verify(token.trim())
            .map_err(|e| Unauthenticated(e.to_string()))?;
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
