//! What the routes share of the running sync system.

use actix::Addr;

use crate::actors::metric_writer::MetricWriterActor;
use crate::actors::push::ChannelRegistry;
use crate::actors::status::StatusBoard;
use crate::actors::supervisor::{SyncNowError, SyncSupervisor, SyncTokenNow};
use crate::google::http::{GoogleHttp, InFlight};
use crate::settings::Settings;
use crate::telemetry::Telemetry;
use crate::token::TokenId;

use super::ApiError;

/// The handles of the running sync actors, shared with the HTTP front door.
#[derive(Clone)]
pub struct SyncHandle {
    /// The supervisor, for connect/disconnect/sync-now messages.
    pub supervisor: Addr<SyncSupervisor>,
    /// The writer of derived data.
    pub writer: Addr<MetricWriterActor>,
    /// Statuses of all actors.
    pub board: StatusBoard,
    /// The cap on Google requests in flight, shared by every client.
    pub in_flight: InFlight,
    /// Unix ms of the supervisor's start.
    pub started_at: i64,
    /// The metrics served at `/metrics`.
    pub telemetry: Telemetry,
    /// The live push channels, which notifications are checked against.
    pub channels: ChannelRegistry,
    /// When each data token last asked for a sync of its own connection.
    pub own_syncs: super::connection::SyncLimiter,
    /// This node's leases on a shared store (readiness, admin status).
    pub fleet: crate::actors::lease::FleetView,
}

impl SyncHandle {
    /// Asks the token's actor to sync now; `Ok(false)` when the token has no actor, 409 when its
    /// connection needs a reconnect or the token expired.
    pub async fn sync_now(&self, id: TokenId) -> Result<bool, ApiError> {
        match self
            .supervisor
            .send(SyncTokenNow(id))
            .await
            .map_err(ApiError::internal)?
        {
            Ok(()) => Ok(true),
            Err(SyncNowError::NotFound) => Ok(false),
            Err(SyncNowError::Refused(r)) => Err(ApiError::Conflict(r.to_string())),
        }
    }

    /// An outbound Google client for the calling thread (awc clients are per thread), sharing
    /// the system's in-flight cap and metrics: what an HTTP handler uses for the code exchange and
    /// revocation.
    pub fn google_http(&self, settings: &Settings) -> GoogleHttp {
        GoogleHttp::new(
            &settings.google_http,
            self.in_flight.clone(),
            self.telemetry.clone(),
        )
    }
}
