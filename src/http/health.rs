//! Liveness probe.

use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::Routes;

/// Registers `GET /healthz`.
pub fn routes(r: &mut Routes) {
    r.add(healthz);
}

/// The answer of a live server.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `UP`.
    #[schema(example = "UP")]
    status: &'static str,
}

/// Liveness: answers 200 while the process serves requests.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The server is up.", body = Health))
)]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "UP" })
}
