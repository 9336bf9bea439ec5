//! What the routes share of the running sync system.

use actix::Addr;

use crate::actors::metric_writer::MetricWriterActor;
use crate::actors::push::ChannelRegistry;
use crate::actors::status::StatusBoard;
use crate::actors::supervisor::SyncSupervisor;
use crate::google::http::{GoogleHttp, InFlight};
use crate::settings::Settings;
use crate::telemetry::Telemetry;

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
}

impl SyncHandle {
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
