//! Every JSON request body the REST routes take, read from raw bytes and checked the way its
//! route checks it before anything touches storage.
//!
//! Public so the fuzz crate (`fuzz/`, target `rest_json`) can feed any bytes to exactly the
//! parsers and validators the handlers run: the body types are the handlers' own (read through
//! `axum::Json::from_bytes`, as the `ApiJson` extractor does), and the checks call the same
//! functions. Checks that need the database (roles, existence, uniqueness) are not here.

use crate::auth::routes::{Login, RefreshRequest, Register, check_registration};
use crate::config::Config;
use crate::error::ApiError;
use crate::files::CreateFile;
use crate::messaging::validate;
use crate::messaging::views::{ChannelBody, EditBody, ReadBody, SendBody};
use crate::orgs::{InviteBody, NameBody, RoleBody, valid_name};
use crate::webhooks::routes::{CreateWebhook, event_names, valid_url};
use serde::de::DeserializeOwned;
use weft_storage::accounts::normalize_email;

/// A route's request body, by the operation that takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRoute {
    /// `POST /api/auth/register`
    Register,
    /// `POST /api/auth/login`
    Login,
    /// `POST /api/auth/refresh`, `POST /api/auth/logout`
    Refresh,
    /// Creating or renaming an organization, project or document; saving a version.
    Name,
    /// `PUT …/members/{user}` of organizations and projects.
    Role,
    /// `POST /api/orgs/{org}/invitations`
    Invite,
    /// `POST /api/projects/{project}/channels`
    Channel,
    /// `POST …/channels/{channel}/messages`
    Send,
    /// `PATCH …/messages/{message}`
    Edit,
    /// `POST …/channels/{channel}/read`
    Read,
    /// `POST /api/projects/{project}/files`
    CreateFile,
    /// `POST /api/projects/{project}/webhooks`
    CreateWebhook,
    /// `POST /api/projects/{project}/imports`
    Import,
}

impl BodyRoute {
    /// Every route with a JSON body.
    pub const ALL: [BodyRoute; 13] = [
        BodyRoute::Register,
        BodyRoute::Login,
        BodyRoute::Refresh,
        BodyRoute::Name,
        BodyRoute::Role,
        BodyRoute::Invite,
        BodyRoute::Channel,
        BodyRoute::Send,
        BodyRoute::Edit,
        BodyRoute::Read,
        BodyRoute::CreateFile,
        BodyRoute::CreateWebhook,
        BodyRoute::Import,
    ];
}

/// The body as the `ApiJson` extractor reads it.
fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    axum::Json::<T>::from_bytes(body)
        .map(|axum::Json(value)| value)
        .map_err(|e| crate::extract::json_problem(e, body.len()))
}

/// Reads `body` as `route`'s request and runs the route's checks that need no database.
pub fn check(route: BodyRoute, body: &[u8], config: &Config) -> Result<(), ApiError> {
    match route {
        BodyRoute::Register => check_registration(&json::<Register>(body)?)?,
        BodyRoute::Login => {
            normalize_email(&json::<Login>(body)?.email);
        }
        BodyRoute::Refresh => {
            json::<RefreshRequest>(body)?;
        }
        BodyRoute::Name => {
            valid_name(&json::<NameBody>(body)?.name)?;
        }
        BodyRoute::Role => {
            json::<RoleBody>(body)?;
        }
        BodyRoute::Invite => {
            normalize_email(&json::<InviteBody>(body)?.email);
        }
        BodyRoute::Channel => {
            let b = json::<ChannelBody>(body)?;
            validate::channel_name(&b.name)?;
            validate::topic(b.topic.as_deref())?;
        }
        BodyRoute::Send => {
            let b = json::<SendBody>(body)?;
            validate::client_id(&b.client_id)?;
            validate::body(&b.body)?;
        }
        BodyRoute::Edit => {
            validate::body(&json::<EditBody>(body)?.body)?;
        }
        BodyRoute::Read => {
            json::<ReadBody>(body)?;
        }
        BodyRoute::CreateFile => {
            let b = json::<CreateFile>(body)?;
            crate::files::rules::check(config, &b.name, &b.content_type, b.size)?;
        }
        BodyRoute::CreateWebhook => {
            let b = json::<CreateWebhook>(body)?;
            valid_url(&b.url)?;
            event_names(&b.events)?;
        }
        BodyRoute::Import => {
            crate::imports::routes::read_request(body)?;
        }
    }
    Ok(())
}
