//! `/api/auth/*` and `/api/me`.

use super::password;
use super::tokens::{new_refresh_token, refresh_hash};
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{Rotation, User, normalize_email};

/// Body of `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Login name; compared case-insensitively.
    #[schema(max_length = 254, pattern = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")]
    pub email: String,
    /// 8 to 1024 characters, no NUL.
    #[schema(min_length = 8, max_length = 1024, pattern = r"^[^\x00]*$")]
    pub password: String,
    /// Shown to collaborators: 1 to 100 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
}

/// Body of `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(pattern = r"^[^\x00]*$")]
    pub email: String,
    #[schema(pattern = r"^[^\x00]*$")]
    pub password: String,
}

/// Body of `POST /api/auth/refresh` and `POST /api/auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(pattern = r"^[^\x00]*$")]
    pub refresh_token: String,
}

/// A user as others may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

/// A new session's tokens (and the refreshed ones).
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub user: UserView,
    /// A JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `/api/auth/refresh` for new tokens. Single use.
    pub refresh_token: String,
}

fn now_ms() -> i64 {
    i64::try_from(weft_protocol::token::unix_now_ms()).unwrap_or(i64::MAX)
}

pub(crate) fn check_registration(r: &Register) -> Result<(), ApiError> {
    let email = normalize_email(&r.email);
    let valid_email = r.email.trim().chars().count() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        return Err(ApiError::unprocessable("email is not a valid address"));
    }
    let chars = r.password.chars().count();
    if !(8..=1024).contains(&chars) {
        return Err(ApiError::unprocessable(
            "password must be 8 to 1024 characters long",
        ));
    }
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "name must be 1 to 100 characters long",
        ));
    }
    Ok(())
}

/// Starts a session (a new refresh-token family) for `user`.
async fn start_session(state: &AppState, user: User) -> Result<Session, ApiError> {
    issue(state, user, Uuid::now_v7(), None).await
}

/// Issues an access token and stores a new refresh token of `family` (unless `rotated` already
/// stored it).
async fn issue(
    state: &AppState,
    user: User,
    family: Uuid,
    rotated: Option<String>,
) -> Result<Session, ApiError> {
    let now = now_ms();
    let refresh_token = match rotated {
        Some(token) => token,
        None => {
            let (token, hash) = new_refresh_token();
            state
                .accounts
                .insert_refresh(&hash, user.id, family, now + refresh_ttl_ms(state))
                .await?;
            token
        }
    };
    let access_token = state
        .tokens
        .issue(user.id, family, u64::try_from(now / 1000).unwrap_or(0))
        .map_err(ApiError::internal)?;
    Ok(Session {
        user: user.into(),
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl.as_secs(),
        refresh_token,
    })
}

fn refresh_ttl_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.refresh_ttl.as_millis()).unwrap_or(i64::MAX)
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = Register,
    responses((status = 201, body = Session), (status = 409, description = "email taken"),
              (status = 422, description = "invalid field"), (status = 429, description = "rate limited")))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Register>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    check_registration(&body)?;
    let hash = password::hash(body.password)
        .await
        .map_err(ApiError::internal)?;
    let user = state
        .accounts
        .create_user(&normalize_email(&body.email), body.name.trim(), &hash)
        .await
        .map_err(|e| match e {
            weft_storage::accounts::AccountsError::Conflict(_) => {
                ApiError::conflict("an account with this email already exists")
            }
            other => other.into(),
        })?;
    let session = start_session(&state, user).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Session), (status = 401, description = "wrong email or password"),
              (status = 429, description = "rate limited")))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<Session>, ApiError> {
    let user = state
        .accounts
        .user_by_email(&normalize_email(&body.email))
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(body.password, hash).await {
        return Err(ApiError::unauthorized("wrong email or password"));
    }
    let Some(user) = user else {
        return Err(ApiError::unauthorized("wrong email or password"));
    };
    Ok(Json(start_session(&state, user).await?))
}

/// Exchanges a refresh token for new tokens. A token already exchanged revokes its session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Session), (status = 401, description = "invalid, expired or reused token")))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<Session>, ApiError> {
    let (token, hash) = new_refresh_token();
    let now = now_ms();
    let rotation = state
        .accounts
        .rotate_refresh(
            &refresh_hash(&body.refresh_token),
            &hash,
            now,
            now + refresh_ttl_ms(&state),
        )
        .await?;
    match rotation {
        Rotation::Rotated { user, family } => {
            let Some(user) = state.accounts.user(user).await? else {
                return Err(ApiError::unauthorized("the account no longer exists"));
            };
            Ok(Json(issue(&state, user, family, Some(token)).await?))
        }
        Rotation::Reused { user, .. } => {
            tracing::warn!(%user, "a used refresh token was presented again; session revoked");
            Err(ApiError::unauthorized(
                "this refresh token was already used; the session has been revoked, sign in again",
            ))
        }
        Rotation::Invalid => Err(ApiError::unauthorized(
            "the refresh token is unknown, expired or revoked",
        )),
    }
}

/// Ends the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .revoke_family_of(&refresh_hash(&body.refresh_token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the signed-in user: their refresh tokens and, since access tokens name
/// their session, every access token too (this one included).
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "every session revoked"), (status = 401, description = "not signed in")))]
pub async fn logout_all(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_all_for_user(user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, description = "not signed in")))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserView>, ApiError> {
    match state.accounts.user(user.id).await? {
        Some(u) => Ok(Json(u.into())),
        None => Err(ApiError::unauthorized("the account no longer exists")),
    }
}
