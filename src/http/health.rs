//! Liveness probe.

use actix_web::{web, HttpResponse};

/// Registers `GET /healthz`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/healthz",
        web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({ "status": "UP" })) }),
    );
}
