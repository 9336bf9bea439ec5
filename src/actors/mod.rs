//! The actor system: a supervisor, one sync actor per connected token, and the metric writer.
//!
//! ```text
//!  HTTP front door ──Connected/Disconnected/SyncTokenNow/Notified──▶ SyncSupervisor
//!        │ List/SelectCalendars, StopChannels (to the actor of ActorOf)  │ starts, replaces, stops
//!        └──────────────────────────────────────────────▶ TokenSyncActor (one per token)
//!                        ──CommitQueue + FlushCommits/ChangeSelection──▶ MetricWriterActor ──▶ sled
//!                       events.list, calendarList.list, events.watch, channels.stop, refresh
//!                                                  ▼
//!                                     GoogleHttp (shared pool, in-flight cap)
//! ```
//!
//! The supervisor and the sync actors share one arbiter (the one [`crate::system::SyncSystem`]
//! starts on): their work is waiting on the network, and one shared awc client gives them one
//! connection pool. The writer has a thread of its own.

pub mod calendar_selection;
pub mod calendar_sync;
pub mod channel_job;
pub mod hooks;
pub mod lease;
pub mod metric_writer;
pub mod push;
pub mod schedule;
pub mod status;
pub mod supervisor;
pub mod sync_job;
mod sync_outcome;
pub mod token_push;
pub mod token_sync;

use std::sync::Arc;

use actix::Addr;

use crate::google::http::GoogleHttp;
use crate::settings::{GoogleClientConfig, Settings};
use crate::store::Store;
use hooks::Hooks;

/// What every sync actor needs, shared by all of them (one pointer per actor instead of a
/// copy of [`Deps`]: 340 bytes of ten thousand actors). Holds the arbiter's awc client, so it
/// stays on the arbiter that built it.
#[derive(Clone)]
pub struct SyncDeps(std::rc::Rc<Deps>);

impl SyncDeps {
    /// Shares `deps`.
    pub fn new(deps: Deps) -> Self {
        Self(std::rc::Rc::new(deps))
    }
}

impl std::ops::Deref for SyncDeps {
    type Target = Deps;

    fn deref(&self) -> &Deps {
        &self.0
    }
}

/// What [`SyncDeps`] holds.
pub struct Deps {
    /// Settings.
    pub settings: Arc<Settings>,
    /// On a shared store, until when this node's leases are valid; `None` on sled, where the
    /// one process syncs every token.
    pub lease_clock: Option<lease::LeaseClock>,
    /// The OAuth client.
    pub google: Arc<GoogleClientConfig>,
    /// The store (reads, credential updates).
    pub store: Store,
    /// The writer of derived data.
    pub writer: Addr<metric_writer::MetricWriterActor>,
    /// The outbound client of this arbiter.
    pub http: GoogleHttp,
    /// Where statuses are published.
    pub board: status::StatusBoard,
    /// Failure injection for tests.
    pub hooks: Hooks,
    /// Metrics.
    pub telemetry: crate::telemetry::Telemetry,
    /// The live push channels, checked by the notification route.
    pub channels: push::ChannelRegistry,
    /// Turns to run a sync, shared by every token ([`SyncSlots`]).
    pub slots: SyncSlots,
    /// Where sync commits wait for the writer.
    pub commits: metric_writer::CommitQueue,
}

/// The turns to run a sync: a sync takes one before its state (credentials, selection, paging,
/// conversion: about 4 KiB) exists. Ten thousand tokens asked to sync at once (start-up, a
/// restart) then wait as a queue of small futures instead of ten thousand syncs each waiting for
/// a Google request slot, which was most of the start-up memory peak. Twice the Google request
/// cap, so conversions and commits overlap the requests.
#[derive(Clone)]
pub struct SyncSlots(Arc<tokio::sync::Semaphore>);

impl SyncSlots {
    /// Turns for `max_in_flight` Google requests.
    pub fn new(max_in_flight: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(
            max_in_flight.max(1).saturating_mul(2),
        )))
    }

    /// Waits for a turn (in order of asking); the turn ends when the permit drops.
    pub async fn turn(self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.acquire_owned().await.ok()
    }
}
