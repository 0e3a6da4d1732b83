//! `/api/orgs…` and `/api/invitations…`: organizations, their members and invitations.

use crate::authz::org_role;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{Invitation, Member, Org, Role};

/// Body of `POST /api/orgs` and `PATCH /api/orgs/{org}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// 1 to 100 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
}

/// An organization, with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
}

/// A member of an organization or project.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role,
        }
    }
}

/// Body of `PUT …/members/{user}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
}

/// Body of `POST /api/orgs/{org}/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// The email of an existing account.
    #[schema(max_length = 254, pattern = r"^[^\x00]*$")]
    pub email: String,
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
}

/// A pending (or accepted) invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
    pub invited_by: Uuid,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        InvitationView {
            id: i.id,
            org_id: i.org_id,
            user_id: i.user_id,
            role: i.role,
            invited_by: i.invited_by,
            created_at: i.created_at,
            accepted_at: i.accepted_at,
        }
    }
}

/// A trimmed name of 1 to 100 characters, without NUL.
pub fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "name must be 1 to 100 characters long",
        ));
    }
    // Also checked for every JSON body (`ApiJson`); names also arrive through bodies parsed
    // elsewhere (design imports), and no text column takes NUL.
    if name.contains('\0') {
        return Err(ApiError::unprocessable("name must not contain NUL"));
    }
    Ok(name.to_owned())
}

fn view(org: Org, role: Role) -> OrgView {
    OrgView {
        id: org.id,
        name: org.name,
        created_at: org.created_at,
        role,
    }
}

/// Only an owner may make or unmake owners.
fn check_grant(
    caller: Role,
    target_before: Option<Role>,
    target_after: Option<Role>,
) -> Result<(), ApiError> {
    let touches_owner = target_before == Some(Role::Owner) || target_after == Some(Role::Owner);
    if touches_owner && caller != Role::Owner {
        return Err(ApiError::Client(
            crate::Problem::new(StatusCode::FORBIDDEN)
                .with_detail("only an owner may grant or take the owner role"),
        ));
    }
    Ok(())
}

/// Refuses to leave an organization without an owner.
async fn keep_an_owner(
    state: &AppState,
    org: Uuid,
    before: Option<Role>,
    after: Option<Role>,
) -> Result<(), ApiError> {
    if before == Some(Role::Owner)
        && after != Some(Role::Owner)
        && state.accounts.count_owners(org).await? <= 1
    {
        return Err(ApiError::conflict(
            "an organization needs at least one owner",
        ));
    }
    Ok(())
}

/// Creates an organization; the caller becomes its owner.
#[utoipa::path(post, path = "/api/orgs", tag = "orgs", request_body = NameBody, security(("bearer" = [])),
    responses((status = 201, body = OrgView)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let org = state
        .accounts
        .create_org(&valid_name(&body.name)?, user.id)
        .await?;
    Ok((StatusCode::CREATED, Json(view(org, Role::Owner))))
}

/// The caller's organizations.
#[utoipa::path(get, path = "/api/orgs", tag = "orgs", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<OrgView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<OrgView>>, ApiError> {
    let rows = state
        .accounts
        .orgs_of_user(user.id, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(|(o, r)| view(o, r)).collect();
    Ok(Json(Page::from_rows(views, &page, |o: &OrgView| o.id)))
}

/// One organization (members only).
#[utoipa::path(get, path = "/api/orgs/{org}", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<OrgView>, ApiError> {
    let (org, role) = org_role(&state, org, user.id, Role::Viewer).await?;
    Ok(Json(view(org, role)))
}

/// Renames an organization (admins).
#[utoipa::path(patch, path = "/api/orgs/{org}", tag = "orgs", request_body = NameBody, security(("bearer" = [])),
    responses((status = 200, body = OrgView), (status = 403, body = crate::Problem)))]
pub async fn rename(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Json<OrgView>, ApiError> {
    let (_, role) = org_role(&state, org, user.id, Role::Admin).await?;
    let renamed = state
        .accounts
        .rename_org(org, &valid_name(&body.name)?)
        .await?
        .ok_or_else(|| ApiError::not_found("no such organization"))?;
    Ok(Json(view(renamed, role)))
}

/// Deletes an organization with its projects and documents (owners).
#[utoipa::path(delete, path = "/api/orgs/{org}", tag = "orgs", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    org_role(&state, org, user.id, Role::Owner).await?;
    let docs = state
        .accounts
        .delete_org(org)
        .await?
        .ok_or_else(|| ApiError::not_found("no such organization"))?;
    crate::live::forget_documents(&state, &docs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members of an organization.
#[utoipa::path(get, path = "/api/orgs/{org}/members", tag = "orgs", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<MemberView>)))]
pub async fn members(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    org_role(&state, org, user.id, Role::Viewer).await?;
    let rows = state
        .accounts
        .org_members(org, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(MemberView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |m: &MemberView| {
        m.user_id
    })))
}

/// Sets a member's role (admins; owners for the owner role).
#[utoipa::path(put, path = "/api/orgs/{org}/members/{user}", tag = "orgs", request_body = RoleBody, security(("bearer" = [])),
    responses((status = 204, description = "role set"), (status = 403, body = crate::Problem), (status = 409, body = crate::Problem)))]
pub async fn set_member(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((org, member)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    let (_, role) = org_role(&state, org, caller.id, Role::Admin).await?;
    let before = state.accounts.org_role(org, member).await?;
    if before.is_none() {
        return Err(ApiError::not_found("not a member; invite the user first"));
    }
    check_grant(role, before, Some(body.role))?;
    keep_an_owner(&state, org, before, Some(body.role)).await?;
    state.accounts.set_org_role(org, member, body.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (admins; owners for owners; anyone may leave).
#[utoipa::path(delete, path = "/api/orgs/{org}/members/{user}", tag = "orgs", security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 403, body = crate::Problem), (status = 409, body = crate::Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((org, member)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let need = if member == caller.id {
        Role::Viewer
    } else {
        Role::Admin
    };
    let (_, role) = org_role(&state, org, caller.id, need).await?;
    let before = state.accounts.org_role(org, member).await?;
    if before.is_none() {
        return Err(ApiError::not_found("not a member"));
    }
    if member != caller.id {
        check_grant(role, before, None)?;
    }
    keep_an_owner(&state, org, before, None).await?;
    state.accounts.remove_org_member(org, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites an existing user (admins; owners for the owner role).
#[utoipa::path(post, path = "/api/orgs/{org}/invitations", tag = "orgs", request_body = InviteBody, security(("bearer" = [])),
    responses((status = 201, body = InvitationView), (status = 404, body = crate::Problem), (status = 409, body = crate::Problem)))]
pub async fn invite(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    let (_, role) = org_role(&state, org, caller.id, Role::Admin).await?;
    check_grant(role, None, Some(body.role))?;
    let invitee = state
        .accounts
        .user_by_email(&weft_storage::accounts::normalize_email(&body.email))
        .await?
        .ok_or_else(|| ApiError::not_found("no account has this email"))?;
    let invitation = state
        .accounts
        .invite(org, invitee.id, body.role, caller.id)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// Pending invitations of an organization (admins).
#[utoipa::path(get, path = "/api/orgs/{org}/invitations", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvitationView>)))]
pub async fn org_invitations(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    org_role(&state, org, caller.id, Role::Admin).await?;
    let rows = state.accounts.org_invitations(org).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Withdraws an invitation (admins).
#[utoipa::path(delete, path = "/api/orgs/{org}/invitations/{invitation}", tag = "orgs", security(("bearer" = [])),
    responses((status = 204, description = "withdrawn")))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((org, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    org_role(&state, org, caller.id, Role::Admin).await?;
    match state.accounts.invitation(id).await? {
        Some(i) if i.org_id == org && state.accounts.revoke_invitation(id).await? => {
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::not_found("no such pending invitation")),
    }
}

/// The caller's pending invitations.
#[utoipa::path(get, path = "/api/invitations", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvitationView>)))]
pub async fn my_invitations(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    let rows = state.accounts.invitations_for_user(caller.id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Accepts an invitation addressed to the caller.
#[utoipa::path(post, path = "/api/invitations/{invitation}/accept", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = InvitationView), (status = 404, body = crate::Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<InvitationView>, ApiError> {
    let accepted = state
        .accounts
        .accept_invitation(id, caller.id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such pending invitation for you"))?;
    Ok(Json(accepted.into()))
}
