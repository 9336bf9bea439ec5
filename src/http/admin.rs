//! Admin routes: data token management. Guarded by the admin bearer token.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::Admin;
use super::{ApiError, AppState};
use crate::store::NewToken;
use crate::token::{now_secs, Capability, DataToken, TokenId};

/// The longest a data token lives, and its default lifetime: one year.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 3600;
const MAX_LABEL_LEN: usize = 128;

/// Registers the admin routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/tokens")
            .route(web::post().to(create_token))
            .route(web::get().to(list_tokens))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/admin/tokens/{id}")
            .route(web::delete().to(delete_token))
            .default_service(web::to(super::method_not_allowed)),
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    user: String,
    name: String,
    capability: Capability,
    expires_at: Option<i64>,
}

#[derive(Serialize)]
struct CreatedToken<'a> {
    #[serde(flatten)]
    token: &'a DataToken,
    token_plaintext: &'a str,
}

fn label(what: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_LABEL_LEN || v.chars().any(char::is_control) {
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

#[derive(Debug, Deserialize)]
struct ListQuery {
    user: Option<String>,
}

async fn list_tokens(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.store.list_tokens(query.user.as_deref())?;
    Ok(HttpResponse::Ok().json(tokens))
}

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
    }
}
