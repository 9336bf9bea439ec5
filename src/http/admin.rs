//! Admin routes: data token management. Guarded by the admin bearer token.

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Admin;
use super::openapi::{AdminRefused, BodyRefused, Detail, Routes};
use super::{ApiError, AppState};
use crate::store::NewToken;
use crate::token::{now_secs, Capability, DataToken, TokenId};

/// The longest a data token lives, and its default lifetime: one year.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 3600;
const MAX_LABEL_LEN: usize = 128;

/// Registers the admin routes.
pub fn routes(r: &mut Routes) {
    r.add(create_token).add(list_tokens).add(delete_token);
}

/// A new data token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user": "ann", "name": "phone", "capability": "SUPER"}))]
struct CreateToken {
    /// The user whose metrics the token reads and writes: 1-128 characters (surrounding spaces
    /// are trimmed), no control characters.
    #[schema(min_length = 1, max_length = 128)]
    user: String,
    /// A name unique per user: 1-128 characters (surrounding spaces are trimmed), no control
    /// characters.
    #[schema(min_length = 1, max_length = 128)]
    name: String,
    /// What the token may do: API reads, INGEST writes, SUPER both.
    capability: Capability,
    /// Unix seconds after which the token stops working: in the future, at most a year ahead
    /// (later is cut to a year). A year when absent.
    expires_at: Option<i64>,
}

/// A created data token, with its plaintext: shown this once and never again.
#[derive(Serialize, ToSchema)]
struct CreatedToken<'a> {
    #[serde(flatten)]
    token: &'a DataToken,
    /// The secret to send as `X-Data-Token`.
    token_plaintext: &'a str,
}

/// A user or token name: the limits hold for the value as sent (so a control character that
/// trimming would drop, such as U+0085, is still refused), then surrounding spaces go.
fn label(what: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || value.chars().count() > MAX_LABEL_LEN || value.chars().any(char::is_control)
    {
        return Err(ApiError::Unprocessable(format!(
            "{what} must be 1-{MAX_LABEL_LEN} characters without control characters"
        )));
    }
    Ok(v.to_string())
}

/// The expiry to store: one year by default, never later than one year from now, never past.
fn expiry(requested: Option<i64>, now: i64) -> Result<i64, ApiError> {
    let cap = now + MAX_TOKEN_LIFETIME_SECS;
    match requested {
        None => Ok(cap),
        Some(t) if t <= now => Err(ApiError::Unprocessable(
            "expires_at must be in the future".into(),
        )),
        Some(t) => Ok(t.min(cap)),
    }
}

/// Creates a data token. The answer is the only place its plaintext ever appears; it is on disk
/// before the answer.
#[utoipa::path(
    tag = "admin",
    operation_id = "create_token",
    security(("admin" = [])),
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created.", body = CreatedToken, links(
            ("DeleteToken" = (operation_id = "delete_token", parameters(("id" = "$response.body#/id")))),
            ("ActorOfToken" = (operation_id = "get_actor", parameters(("token_id" = "$response.body#/id")))),
            ("SyncActorOfToken" = (operation_id = "sync_actor", parameters(("token_id" = "$response.body#/id")))),
            ("ListMetrics" = (operation_id = "list_metrics", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("ReadMetric" = (operation_id = "read_metric", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("WriteMetric" = (operation_id = "write_metric", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("DeleteMetric" = (operation_id = "delete_metric", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("StartConnection" = (operation_id = "start_authorization", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("Connections" = (operation_id = "list_connections", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("Disconnect" = (operation_id = "disconnect", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext"), ("token_id" = "$response.body#/id")))),
            ("Calendars" = (operation_id = "list_calendars", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
            ("SelectCalendars" = (operation_id = "select_calendars", parameters(("header.X-Data-Token" = "$response.body#/token_plaintext")))),
        )),
        BodyRefused,
        AdminRefused,
        (status = 409, description = "The user already has a token of this name.", body = Detail),
        (status = 415, description = "The body is not `application/json`.", body = Detail),
        (status = 422, description = "A field is missing or invalid: the message names it.", body = Detail),
    )
)]
#[post("/admin/tokens")]
async fn create_token(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let now = now_secs();
    let new = NewToken {
        user: label("user", &body.user)?,
        name: label("name", &body.name)?,
        capability: body.capability,
        expires_at: expiry(body.expires_at, now)?,
    };
    let (token, plaintext) = state.store.create_token(new, now)?;
    // On disk before the plaintext is handed out: it exists nowhere else.
    super::persist(&state.store).await?;
    log::info!(
        "token {}: created for user {:?} as {:?} ({:?})",
        token.id,
        token.user,
        token.name,
        token.capability
    );
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedToken {
            token: &token,
            token_plaintext: plaintext.expose(),
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this user's tokens.
    user: Option<String>,
}

/// The data tokens (never their plaintexts), of one user or of all.
#[utoipa::path(
    tag = "admin",
    operation_id = "list_tokens",
    security(("admin" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The tokens.", body = Vec<DataToken>),
        AdminRefused,
    )
)]
#[get("/admin/tokens")]
async fn list_tokens(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.store.list_tokens(query.user.as_deref())?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Deletes a data token: it stops working at once, its Google connection (if any) is
/// disconnected and the grant revoked at Google; the user's datapoints stay.
#[utoipa::path(
    tag = "admin",
    operation_id = "delete_token",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The token's id (32 hex digits).")),
    responses(
        (status = 204, description = "Deleted, on disk."),
        AdminRefused,
        (status = 404, description = "No token with this id.", body = Detail),
    )
)]
#[delete("/admin/tokens/{id}")]
async fn delete_token(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no data token with id {:?}", path.as_str()));
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    let token = state.store.delete_token(&id)?.ok_or_else(not_found)?;
    if let (Some(cfg), Some(sync)) = (&state.settings.google, &state.sync) {
        let creds = state.store.credentials(&token.id)?;
        super::google::disconnect_token(&state, cfg, sync, &token.id, creds, false).await?;
    } else {
        state.store.forget_calendar(&token.id, false, true)?;
    }
    super::persist(&state.store).await?;
    log::info!(
        "token {}: deleted (user {:?}, name {:?})",
        token.id,
        token.user,
        token.name
    );
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_defaults_and_caps_at_one_year() {
        let now = 1_000_000;
        assert_eq!(expiry(None, now).ok(), Some(now + MAX_TOKEN_LIFETIME_SECS));
        assert_eq!(expiry(Some(now + 10), now).ok(), Some(now + 10));
        assert_eq!(
            expiry(Some(now + 10 * MAX_TOKEN_LIFETIME_SECS), now).ok(),
            Some(now + MAX_TOKEN_LIFETIME_SECS)
        );
        assert!(expiry(Some(now), now).is_err());
        assert!(expiry(Some(-5), now).is_err());
    }

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(label("user", "  ann ").ok().as_deref(), Some("ann"));
        assert!(label("user", "").is_err());
        assert!(label("user", "a\nb").is_err());
        assert!(label("user", &"x".repeat(129)).is_err());
        assert!(label("user", &"é".repeat(128)).is_ok());
        // Found by Schemathesis: U+0085 is both a control character and white space.
        assert!(label("name", &format!("\u{85}{}", "x".repeat(127))).is_err());
        assert!(label("name", "\u{85}ann").is_err());
        assert!(label("name", &format!(" {}", "x".repeat(128))).is_err());
    }
}
