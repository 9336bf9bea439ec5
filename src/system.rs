//! The running system: what a host process starts inside its actix runtime and shuts down again.
//! It only assembles: the actors' needs (their hooks) live in `actors/`, what the routes share
//! (`SyncHandle`, `AppState`) in `http/`, and both are re-exported here for hosts.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, SyncArbiter};

use crate::actors::lease::{FleetView, LeaseClock};
use crate::actors::metric_writer::{CommitQueue, Drain, MetricWriterActor};
use crate::actors::push::ChannelRegistry;
use crate::actors::status::StatusBoard;
use crate::actors::supervisor::{ShutdownSync, SyncSupervisor};
use crate::actors::{Deps, SyncDeps, SyncSlots};
use crate::google::http::{GoogleHttp, InFlight};
use crate::http::AppState;
use crate::settings::Settings;
use crate::store::{Store, StoreError};
use crate::telemetry::Telemetry;

pub use crate::actors::hooks::{CommitHook, Hooks, PanicHook};
pub use crate::http::SyncHandle;

/// A started impulses-gcal system: the sync actors (when Google is configured) and the state the
/// HTTP routes share.
pub struct SyncSystem {
    state: AppState,
}

impl SyncSystem {
    /// Starts the system on an open store. Must run inside an actix system: the supervisor and
    /// the sync actors live on the current arbiter, the writer on a thread of its own.
    pub fn start(settings: Settings, store: Store) -> Self {
        Self::start_with_hooks(settings, store, Hooks::default())
    }

    /// [`Self::start`] with failure injection, for tests.
    pub fn start_with_hooks(settings: Settings, store: Store, hooks: Hooks) -> Self {
        let settings = Arc::new(settings);
        let sync = settings.google.clone().map(|google| {
            // Registering fixed, distinct metric names in a fresh registry cannot fail.
            let telemetry =
                Telemetry::new().unwrap_or_else(|e| unreachable!("metrics registry: {e}"));
            if let Some(fleet) = store.fleet() {
                if let Err(e) = telemetry.register(Box::new(fleet.latency())) {
                    log::warn!("metrics: the database latency is not served: {e}");
                }
            }
            let in_flight = InFlight::new(settings.google_http.max_in_flight);
            let writer_store = store.clone();
            let writer_hooks = hooks.clone();
            let writer_telemetry = telemetry.clone();
            let commits = CommitQueue::default();
            let writer_commits = commits.clone();
            let writer = SyncArbiter::start(1, move || {
                MetricWriterActor::new(
                    writer_store.clone(),
                    writer_hooks.clone(),
                    writer_telemetry.clone(),
                    writer_commits.clone(),
                )
            });
            let board = StatusBoard::default();
            let channels = ChannelRegistry::default();
            let deps = SyncDeps::new(Deps {
                settings: settings.clone(),
                lease_clock: store.fleet().map(|_| LeaseClock::default()),
                google: Arc::new(google),
                store: store.clone(),
                writer: writer.clone(),
                http: GoogleHttp::new(&settings.google_http, in_flight.clone(), telemetry.clone()),
                telemetry: telemetry.clone(),
                board: board.clone(),
                hooks,
                channels: channels.clone(),
                slots: SyncSlots::new(settings.google_http.max_in_flight),
                commits,
            });
            let fleet = FleetView::default();
            let supervisor = SyncSupervisor::new(deps, fleet.clone()).start();
            SyncHandle {
                supervisor,
                writer,
                board,
                in_flight,
                started_at: chrono::Utc::now().timestamp_millis(),
                telemetry,
                channels,
                own_syncs: Default::default(),
                fleet,
            }
        });
        Self {
            state: AppState {
                settings,
                store,
                sync,
            },
        }
    }

    /// The state to hand to [`crate::http::configure`].
    pub fn app_state(&self) -> AppState {
        self.state.clone()
    }

    /// Stops the sync actors (no new sync starts; a commit already sent finishes), waits for
    /// them to let go of the store, then flushes it, so an orderly exit leaves nothing unwritten
    /// and the data directory can be opened again at once.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let AppState {
            store,
            sync,
            settings,
            ..
        } = self.state;
        if let Some(sync) = sync {
            let drain = async {
                let _ = sync.supervisor.send(ShutdownSync).await;
                let _ = sync.writer.send(Drain).await;
            };
            if actix_web::rt::time::timeout(Duration::from_secs(5), drain)
                .await
                .is_err()
            {
                log::warn!("shutdown: the sync actors did not stop within 5 s");
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while !store.is_sole_handle() && std::time::Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        // The actors are gone: hand the leases over (on a fleet).
        let (leaving, node) = (store.clone(), settings.node.id.clone());
        let _ = actix_web::web::block(move || crate::actors::lease::leave(&leaving, &node)).await;
        actix_web::web::block(move || store.flush())
            .await
            .map_err(|e| StoreError::Corrupt(format!("flush did not run: {e}")))?
    }
}
