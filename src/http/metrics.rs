//! `GET /metrics`: Prometheus text format. Open to loopback callers (a local scraper or sidecar),
//! admin bearer for everyone else, so a public port does not leak who syncs how often.

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::extract::Admin;
use super::openapi::{Detail, GoogleOff, Routes};
use super::{ApiError, AppState};

/// Registers `GET /metrics`.
pub fn routes(r: &mut Routes) {
    r.add(metrics);
}

/// Prometheus metrics of the sync actors, the store and Google's answers. Loopback callers need
/// no credential.
#[utoipa::path(
    tag = "operations",
    security((), ("admin" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.",
            content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "Not on loopback and no or a wrong admin token.", body = Detail),
        (status = 403, description = "Not on loopback and the admin API is disabled (no ADMIN_TOKEN).", body = Detail),
        GoogleOff,
    )
)]
#[get("/metrics")]
async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Result<Admin, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    if !loopback {
        admin?;
    }
    let sync = state.sync.as_ref().ok_or_else(|| {
        ApiError::Unavailable("the Google integration is not configured: no sync metrics".into())
    })?;
    let text = sync
        .telemetry
        .render(&sync.board)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}
