//! `MetricWriterActor`: owns every write of calendar-derived data to sled.
//!
//! It runs on its own thread (a one-thread `SyncArbiter`), so big commits never block the
//! arbiter the sync actors and their network I/O live on, and commits of all tokens are applied
//! one at a time, which is what lets a commit read a token's index outside its transaction.
//!
//! Sync commits wait in a [`CommitQueue`] and the writer takes all that are waiting at once:
//! commits that came while it was busy go to the store as one group, one transaction
//! ([`Store::commit_syncs`]), since a sled transaction costs two synchronous log writes
//! whatever its size.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use actix::{Actor, Addr, Handler, Message, SyncContext};

use super::hooks::Hooks;
use crate::store::{Selection, Store, StoreError, SyncCommit, SyncCommitStats};
use crate::telemetry::Telemetry;
use crate::token::TokenId;

/// The writer of derived data.
pub struct MetricWriterActor {
    store: Store,
    hooks: Hooks,
    telemetry: Telemetry,
    queue: CommitQueue,
}

impl MetricWriterActor {
    /// A writer on `store` that takes its sync commits from `queue` and times them into
    /// `telemetry`; `hooks` inject failures in tests and are inert by default.
    pub fn new(store: Store, hooks: Hooks, telemetry: Telemetry, queue: CommitQueue) -> Self {
        Self {
            store,
            hooks,
            telemetry,
            queue,
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<SyncCommitStats, StoreError>>;

/// Sync commits waiting for the writer. Whenever one waits, a [`FlushCommits`] is on its way to
/// the writer, ahead of anything sent to the writer afterwards, so a commit is applied before any
/// message sent after it was queued (as when each commit was a message of its own).
#[derive(Clone, Default)]
pub struct CommitQueue(Arc<Mutex<Pending>>);

#[derive(Default)]
struct Pending {
    commits: Vec<(SyncCommit, Reply)>,
    /// A `FlushCommits` is in the writer's mailbox (or about to be).
    flush_sent: bool,
}

impl CommitQueue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Pushes and takes are single moves: a poisoned lock holds nothing half-done.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `commit` for `writer` and waits for its result; `None` when the writer stopped.
    pub async fn commit(
        &self,
        writer: &Addr<MetricWriterActor>,
        commit: SyncCommit,
    ) -> Option<Result<SyncCommitStats, StoreError>> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let wake = {
            let mut pending = self.lock();
            pending.commits.push((commit, reply));
            !std::mem::replace(&mut pending.flush_sent, true)
        };
        if wake {
            writer.do_send(FlushCommits);
        }
        result.await.ok()
    }

    /// Every waiting commit.
    fn take(&self) -> Vec<(SyncCommit, Reply)> {
        let mut pending = self.lock();
        pending.flush_sent = false;
        std::mem::take(&mut pending.commits)
    }
}

/// Applies every sync commit waiting in the writer's [`CommitQueue`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushCommits;

impl Handler<FlushCommits> for MetricWriterActor {
    type Result = ();

    fn handle(&mut self, _: FlushCommits, _: &mut Self::Context) {
        let mut commits = Vec::new();
        let mut replies = Vec::new();
        for (commit, reply) in self.queue.take() {
            if let Some(fail) = &self.hooks.before_commit {
                if let Err(e) = fail(commit.token_id()) {
                    let _ = reply.send(Err(StoreError::Corrupt(e)));
                    continue;
                }
            }
            commits.push(commit);
            replies.push(reply);
        }
        if commits.is_empty() {
            return;
        }
        let started = Instant::now();
        let results = self.store.commit_syncs(&commits);
        // A group's time is shared by its commits, so the histogram's sum stays the writer's.
        let share = started.elapsed() / commits.len() as u32;
        for ((commit, reply), result) in commits.iter().zip(replies).zip(results) {
            self.telemetry.commit_done(commit.full, share);
            let _ = reply.send(result);
        }
    }
}

impl Actor for MetricWriterActor {
    type Context = SyncContext<Self>;
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
