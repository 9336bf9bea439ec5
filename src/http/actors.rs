//! Admin status of the sync actors: `/admin/actors`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::extract::Admin;
use super::SyncHandle;
use super::{ApiError, AppState};
use crate::actors::supervisor::{SyncNowError, SyncTokenNow};
use crate::actors::token_sync::SyncRefused;
use crate::token::TokenId;

/// Registers the actor routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/actors", web::get().to(list))
        .route("/admin/actors/{token_id}", web::get().to(one))
        .route("/admin/actors/{token_id}/sync", web::post().to(sync_now));
}

fn sync(state: &AppState) -> Result<&SyncHandle, ApiError> {
    state.sync.as_ref().ok_or_else(|| {
        ApiError::Unavailable("the Google integration is not configured: no sync actors run".into())
    })
}

fn not_found() -> ApiError {
    ApiError::NotFound("no sync actor for this token".into())
}

async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let actors = sync.board.all();
    Ok(HttpResponse::Ok().json(json!({
        "supervisor": {
            "started_at": sync.started_at,
            "poll_interval_secs": state.settings.poll_interval.as_secs(),
            "actor_count": actors.len(),
            "restarts": sync.board.restarts(),
            "by_state": sync.board.count_by_state(),
        },
        "actors": actors,
    })))
}

async fn one(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    let status = sync.board.get(&id).ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(status))
}

async fn sync_now(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    match sync
        .supervisor
        .send(SyncTokenNow(id))
        .await
        .map_err(ApiError::internal)?
    {
        Ok(()) => Ok(HttpResponse::Accepted().json(json!({ "detail": "sync started" }))),
        Err(SyncNowError::NotFound) => Err(not_found()),
        Err(SyncNowError::Refused(r @ SyncRefused::NeedsReauth))
        | Err(SyncNowError::Refused(r @ SyncRefused::Expired)) => {
            Err(ApiError::Conflict(r.to_string()))
        }
    }
}
