//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/api/openapi.json` with a reference UI at `/api/docs`.

use crate::auth::routes as auth;
use crate::messaging::{channels, history, messages, reactions, reads, views as chat};
use crate::webhooks::routes as webhooks;
use crate::{doc_content, documents, files, imports, orgs, projects, versions};
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
        documents::get, documents::rename, documents::delete, documents::token, doc_content::content, doc_content::state,
        doc_content::post_update, versions::create, versions::list, versions::restore, files::create, files::list,
        files::get, files::complete, files::download, files::delete,
        channels::create, channels::list, channels::get, messages::send, history::list, messages::edit, messages::delete,
        reactions::add, reactions::remove, reads::mark_read, reads::unread, webhooks::create, webhooks::list,
        webhooks::get, webhooks::delete, webhooks::deliveries, webhooks::test, imports::routes::create,
        imports::routes::get),
    components(schemas(auth::Register, auth::Login, auth::RefreshRequest, auth::Session, auth::UserView, crate::Problem, crate::health::Health,
        orgs::NameBody, orgs::OrgView, orgs::MemberView, orgs::RoleBody, orgs::InviteBody, orgs::InvitationView, projects::ProjectView, documents::DocumentView, documents::CollabToken,
        RoleName, doc_content::DocumentContent, doc_content::YjsUpdate, versions::VersionView, versions::Restored,
        files::CreateFile, files::FileView, files::UploadStatus, files::CreatedFile, files::PresignedUpload, files::FileDownload,
        chat::ChannelBody, chat::SendBody, chat::EditBody, chat::ReadBody, chat::ChannelView, chat::MessageView, chat::ReactionView,
        chat::MessagePage, chat::UnreadView,
        webhooks::EventName, webhooks::CreateWebhook, webhooks::WebhookView, webhooks::CreatedWebhook, webhooks::DeliveryState,
        webhooks::DeliveryView,
        imports::view::ImportRequest, imports::view::InlineImport, imports::view::FileImport, imports::view::ImportView,
        imports::view::ImportState, imports::view::ImportProblem, imports::view::DesignError)),
    modifiers(&BearerAuth, &Limits, &Problems),
    tags((name = "auth", description = "Accounts and sessions"),
         (name = "orgs", description = "Organizations, members and invitations"),
         (name = "projects", description = "Projects and per-project roles"),
         (name = "documents", description = "Documents, their content and versions, and collab tokens"),
         (name = "files", description = "Files uploaded to a project through presigned URLs"),
         (name = "messaging", description = "Chat channels of a project, their messages, reactions and read positions"),
         (name = "webhooks", description = "Signed event deliveries of a project, with their log"),
         (name = "imports", description = "Design imports: a Figma-like design turned into a new document in the background (format: api-server/docs/design-import.md)"))
)]
pub struct ApiDoc;

/// A role, from least to most privileged: viewer, editor, admin, owner.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleName {
    Viewer,
    Editor,
    Admin,
    Owner,
}

struct BearerAuth;

/// What every operation shares and the annotations leave implicit: its path parameters (all
/// ids, so UUIDs), and its errors, which are RFC 9457 problems (`application/problem+json`),
/// listed where a handler names them and covered by a `default` response everywhere else.
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
        const PROBLEM: &str = "application/problem+json";
        let problem = || Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem"))));
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names: Vec<String> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let params = operation.parameters.get_or_insert_with(Vec::new);
                for name in &names {
                    let declared = params.iter().any(|p: &Parameter| {
                        p.name == *name && p.parameter_in == ParameterIn::Path
                    });
                    if !declared {
                        params.push(
                            ParameterBuilder::new()
                                .name(name)
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .schema(Some(
                                    ObjectBuilder::new()
                                        .schema_type(Type::String)
                                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                                ))
                                .build(),
                        );
                    }
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(response)) = (is_error, response)
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM.to_owned(), content);
                    }
                }
                operation
                    .responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("An error, as an RFC 9457 problem")
                                .content(PROBLEM, problem())
                                .build(),
                        )
                    });
            }
        }
    }
}

/// The limits every operation is under: a 429 where the rate limit applies (every operation but
/// the health check), with its headers, and a 413 wherever a request body is read.
struct Limits;

impl Modify for Limits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        const PROBLEM: &str = "application/problem+json";
        let problem = || Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem"))));
        let seconds = |what: &str| {
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some(what))
                .build()
        };
        let too_many = || {
            ResponseBuilder::new()
                .description(
                    "Rate limited (API_RATE_BURST / API_RATE_PERIOD per user or client; login \
                     and register: API_AUTH_RATE_*)",
                )
                .header(
                    "retry-after",
                    seconds("seconds until a request is allowed again"),
                )
                .header("x-ratelimit-after", seconds("the same as retry-after"))
                .content(PROBLEM, problem())
                .build()
        };
        let too_large = || {
            ResponseBuilder::new()
                .description("The request body is larger than the route accepts")
                .content(PROBLEM, problem())
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if path != "/api/healthz" {
                    responses
                        .entry("429".to_owned())
                        .or_insert_with(|| RefOr::T(too_many()));
                }
                if operation.request_body.is_some() {
                    responses
                        .entry("413".to_owned())
                        .or_insert_with(|| RefOr::T(too_large()));
                }
            }
        }
    }
}

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
