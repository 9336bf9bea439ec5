//! `MetricWriterActor`: owns every write of calendar-derived data to sled.
//!
//! It runs on its own thread (a one-thread `SyncArbiter`), so big commits never block the
//! arbiter the sync actors and their network I/O live on, and commits of all tokens are applied
//! one at a time, which is what lets a commit read a token's index outside its transaction.

use actix::{Actor, Handler, Message, SyncContext};

use super::hooks::Hooks;
use crate::store::{Selection, Store, StoreError, SyncCommit, SyncCommitStats};
use crate::telemetry::Telemetry;
use crate::token::TokenId;

/// The writer of derived data.
pub struct MetricWriterActor {
    store: Store,
    hooks: Hooks,
    telemetry: Telemetry,
}

impl MetricWriterActor {
    /// A writer on `store` that times its commits into `telemetry`; `hooks` inject failures in
    /// tests and are inert by default.
    pub fn new(store: Store, hooks: Hooks, telemetry: Telemetry) -> Self {
        Self {
            store,
            hooks,
            telemetry,
        }
    }
}

impl Actor for MetricWriterActor {
    type Context = SyncContext<Self>;
}

/// Commits one sync: the token's event index, datapoints and sync token, atomically.
#[derive(Message)]
#[rtype(result = "Result<SyncCommitStats, StoreError>")]
pub struct CommitSync(pub SyncCommit);

impl Handler<CommitSync> for MetricWriterActor {
    type Result = Result<SyncCommitStats, StoreError>;

    fn handle(&mut self, msg: CommitSync, _: &mut Self::Context) -> Self::Result {
        if let Some(fail) = &self.hooks.before_commit {
            fail(&msg.0.token_id).map_err(StoreError::Corrupt)?;
        }
        let started = std::time::Instant::now();
        let result = self.store.commit_sync(&msg.0);
        self.telemetry.commit_done(msg.0.full, started.elapsed());
        result
    }
}

/// Forgets a token's calendar (sync state and event index; its datapoints with `purge`; its
/// credentials with `credentials`). Serialized with commits, so no commit can slip in between.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct ForgetCalendar {
    /// The data token.
    pub token_id: TokenId,
    /// Also remove the datapoints the calendar produced.
    pub purge: bool,
    /// Also remove the Google credentials.
    pub credentials: bool,
}

impl Handler<ForgetCalendar> for MetricWriterActor {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: ForgetCalendar, _: &mut Self::Context) -> Self::Result {
        self.store
            .forget_calendar(&msg.token_id, msg.purge, msg.credentials)
    }
}

/// Selects exactly these calendars for a token's connection; the events only deselected
/// calendars held lose their datapoints in the same transaction. Serialized with commits, so a
/// commit of a deselected calendar that arrives later is refused.
#[derive(Message)]
#[rtype(result = "Result<Selection, StoreError>")]
pub struct ChangeSelection {
    /// The data token.
    pub token_id: TokenId,
    /// The connection the change is for; refused as stale if it was replaced.
    pub connection_id: String,
    /// The calendars to sync, `primary` for the primary.
    pub ids: Vec<String>,
}

impl Handler<ChangeSelection> for MetricWriterActor {
    type Result = Result<Selection, StoreError>;

    fn handle(&mut self, msg: ChangeSelection, _: &mut Self::Context) -> Self::Result {
        self.store
            .select_calendars(&msg.token_id, &msg.connection_id, &msg.ids)
    }
}

/// Answers once every message sent before it has been handled; used at shutdown to let a commit
/// in flight finish.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for MetricWriterActor {
    type Result = ();

    fn handle(&mut self, _: Drain, _: &mut Self::Context) {}
}
