//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/api/openapi.json` with a reference UI at `/api/docs`.

use crate::auth::routes as auth;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Weft API", description = "Accounts, organizations, documents and messaging of a Weft deployment."),
    paths(auth::register, auth::login, auth::refresh, auth::logout, auth::logout_all, auth::me, crate::health::healthz),
    components(schemas(auth::Register, auth::Login, auth::RefreshRequest, auth::Session, auth::UserView, crate::Problem, crate::health::Health)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Accounts and sessions"))
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
