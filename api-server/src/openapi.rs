//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/api/openapi.json` with a reference UI at `/api/docs`.

use crate::auth::routes as auth;
use crate::{documents, orgs, projects};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Weft API", description = "Accounts, organizations, documents and messaging of a Weft deployment."),
    paths(auth::register, auth::login, auth::refresh, auth::logout, auth::logout_all, auth::me, crate::health::healthz,
        orgs::create, orgs::list, orgs::get, orgs::rename, orgs::delete, orgs::members, orgs::set_member,
        orgs::remove_member, orgs::invite, orgs::org_invitations, orgs::revoke_invitation, orgs::my_invitations,
        orgs::accept, projects::create, projects::list, projects::get, projects::rename, projects::delete,
        projects::members, projects::set_member, projects::remove_member, documents::create, documents::list,
        documents::get, documents::rename, documents::delete, documents::token),
    components(schemas(auth::Register, auth::Login, auth::RefreshRequest, auth::Session, auth::UserView, crate::Problem, crate::health::Health,
        orgs::NameBody, orgs::OrgView, orgs::MemberView, orgs::RoleBody, orgs::InviteBody, orgs::InvitationView, projects::ProjectView, documents::DocumentView, documents::CollabToken)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Accounts and sessions"),
         (name = "orgs", description = "Organizations, members and invitations"),
         (name = "projects", description = "Projects and per-project roles"),
         (name = "documents", description = "Documents and collab tokens"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as JSON.
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// A page rendering the document with Scalar (loaded from its CDN by the browser).
pub async fn docs() -> axum::response::Html<&'static str> {
    axum::response::Html(
        r#"<!doctype html>
<html><head><title>Weft API</title><meta charset="utf-8"></head>
<body><script id="api-reference" data-url="/api/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script></body></html>"#,
    )
}
