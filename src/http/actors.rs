//! Admin status of the sync actors: `/admin/actors`.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Admin;
use super::openapi::{AdminRefused, Detail, GoogleOff, Routes};
use super::SyncHandle;
use super::{ApiError, AppState};
use crate::actors::lease::FleetState;
use crate::actors::status::ActorStatus;
use crate::store::fleet::NodeStatus;
use crate::token::TokenId;

/// Registers the actor routes.
pub fn routes(r: &mut Routes) {
    r.add(list_actors).add(get_actor).add(sync_actor);
}

fn sync(state: &AppState) -> Result<&SyncHandle, ApiError> {
    state.sync.as_ref().ok_or_else(|| {
        ApiError::Unavailable("the Google integration is not configured: no sync actors run".into())
    })
}

fn not_found() -> ApiError {
    ApiError::NotFound("no sync actor for this token".into())
}

/// The supervisor's summary.
#[derive(Serialize, ToSchema)]
struct SupervisorSummary {
    /// Unix ms when the sync system started.
    started_at: i64,
    /// `GCAL_POLL_INTERVAL_SECS`.
    poll_interval_secs: u64,
    /// Running sync actors (one per connected token).
    actor_count: usize,
    /// Actors restarted after a panic.
    restarts: u64,
    /// Actors per state.
    by_state: HashMap<&'static str, u64>,
}

/// The nodes sharing a PostgreSQL store.
#[derive(Serialize, ToSchema)]
struct FleetSummary {
    /// This node's leases and readiness.
    this_node: FleetState,
    /// Every node that announced itself, alive or not, with the leases it holds (empty while
    /// the database cannot be reached).
    nodes: Vec<NodeStatus>,
}

/// Every sync actor, with the supervisor's summary.
#[derive(Serialize, ToSchema)]
struct ActorList {
    /// The node answering (`NODE_ID`): every actor listed runs on it.
    node: String,
    supervisor: SupervisorSummary,
    /// On a PostgreSQL store: the fleet of nodes; absent on sled.
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: Option<FleetSummary>,
    actors: Vec<ActorStatus>,
}

/// The state of every sync actor (one per connected data token).
#[utoipa::path(
    tag = "admin",
    operation_id = "list_actors",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The supervisor and its actors.", body = ActorList),
        AdminRefused,
        GoogleOff,
    )
)]
#[get("/admin/actors")]
async fn list_actors(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let fleet = match state.store.fleet() {
        None => None,
        Some(_) => {
            let store = state.store.clone();
            let lease = state.settings.node.lease;
            // Best effort: with the database away the actors still answer, and `this_node`
            // says why the list of nodes is empty.
            let nodes = web::block(move || store.fleet().map(|f| f.nodes(lease)))
                .await?
                .and_then(Result::ok)
                .unwrap_or_default();
            Some(FleetSummary {
                this_node: sync.fleet.get(),
                nodes,
            })
        }
    };
    let actors = sync.board.all();
    Ok(HttpResponse::Ok().json(ActorList {
        node: state.settings.node.id.clone(),
        fleet,
        supervisor: SupervisorSummary {
            started_at: sync.started_at,
            poll_interval_secs: state.settings.poll_interval.as_secs(),
            actor_count: actors.len(),
            restarts: sync.board.restarts(),
            by_state: sync.board.count_by_state(),
        },
        actors,
    }))
}

/// One sync actor's state.
#[utoipa::path(
    tag = "admin",
    operation_id = "get_actor",
    security(("admin" = [])),
    params(("token_id" = String, Path, description = "The data token's id.")),
    responses(
        (status = 200, description = "The actor's state.", body = ActorStatus),
        AdminRefused,
        (status = 404, description = "No actor for this token: it has no Google connection.", body = Detail),
        GoogleOff,
    )
)]
#[get("/admin/actors/{token_id}")]
async fn get_actor(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    let status = sync.board.get(&id).ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(status))
}

/// Starts a sync of one actor's calendars now (or right after the one running).
#[utoipa::path(
    tag = "admin",
    operation_id = "sync_actor",
    security(("admin" = [])),
    params(("token_id" = String, Path, description = "The data token's id.")),
    responses(
        (status = 202, description = "The sync started.", body = Detail,
            example = json!({"detail": "sync started"})),
        AdminRefused,
        (status = 404, description = "No actor for this token: it has no Google connection.", body = Detail),
        (status = 409, description = "The connection needs the person to reconnect, or the token expired.", body = Detail),
        GoogleOff,
    )
)]
#[post("/admin/actors/{token_id}/sync")]
async fn sync_actor(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sync = sync(&state)?;
    let id = TokenId::parse(&path).ok_or_else(not_found)?;
    if !sync.sync_now(id).await? {
        return Err(not_found());
    }
    Ok(HttpResponse::Accepted().json(Detail {
        detail: "sync started".into(),
    }))
}
