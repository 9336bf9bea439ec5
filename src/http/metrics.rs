//! `GET /metrics`: Prometheus text format. Open to loopback callers (a local scraper or sidecar),
//! admin bearer for everyone else, so a public port does not leak who syncs how often.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::Admin;
use super::{ApiError, AppState};

/// Registers `GET /metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

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
