//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::{NotReady, Routes};
use super::{ApiError, AppState};

/// Registers `GET /healthz` and `GET /readyz`.
pub fn routes(r: &mut Routes) {
    r.add(healthz);
    r.add(readyz);
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

/// The answer of a ready node.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// Always `READY`.
    #[schema(example = "READY")]
    status: &'static str,
    /// This node's `NODE_ID`.
    node: String,
    /// On PostgreSQL: the live nodes sharing the store, this one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    live_nodes: Option<u64>,
    /// On PostgreSQL: the tokens whose sync this node holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    held: Option<u64>,
}

/// Readiness: 200 when this node can do its work; on a PostgreSQL store, 503 until it holds
/// valid leases and while the database cannot be reached (the node then syncs nothing, and
/// resumes by itself). On sled, ready whenever live.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The node is ready.", body = Ready),
        NotReady,
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let node = state.settings.node.id.clone();
    if state.store.fleet().is_none() {
        return Ok(HttpResponse::Ok().json(Ready {
            status: "READY",
            node,
            live_nodes: None,
            held: None,
        }));
    }
    let (live_nodes, held) = match &state.sync {
        Some(sync) => {
            let fleet = sync.fleet.get();
            if !fleet.ready {
                let why = fleet
                    .last_error
                    .unwrap_or_else(|| "no lease renewed yet".into());
                return Err(ApiError::Unavailable(format!("not ready: {why}")));
            }
            (fleet.live_nodes, fleet.held)
        }
        None => {
            // No sync without Google: ready while the database answers.
            let store = state.store.clone();
            let lease = state.settings.node.lease;
            let nodes = web::block(move || store.fleet().map(|f| f.nodes(lease)))
                .await?
                .transpose()?
                .unwrap_or_default();
            (nodes.iter().filter(|n| n.live).count() as u64, 0)
        }
    };
    Ok(HttpResponse::Ok().json(Ready {
        status: "READY",
        node,
        live_nodes: Some(live_nodes),
        held: Some(held),
    }))
}
