//! `TokenSyncActor`: owns one token's credentials and sync state, syncs once at start and then
//! every poll interval, never two syncs at once, backs off on failures, stops polling when the
//! grant is gone, and survives a panic in its sync (the supervisor restarts it).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use actix::prelude::*;
use futures_util::FutureExt;

use super::schedule::{after_failure, jitter_unit, next_poll};
use super::status::{ActorState, ActorStatus, CalendarStatus};
use super::sync_job::{
    self, CalendarOutcome, CalendarResult, Failure, JobInput, JobResult, Outcome,
};
use super::SyncDeps;
use crate::store::{GoogleCredentials, Selection};
use crate::token::{now_secs, DataToken};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The sync actor of one connected data token.
pub struct TokenSyncActor {
    pub(super) deps: SyncDeps,
    pub(super) token: DataToken,
    pub(super) creds: GoogleCredentials,
    /// The selected calendars, as stored: replaced by a selection change, updated per calendar
    /// by each commit.
    pub(super) selection: Selection,
    /// What the last sync of each selected calendar left to show, by slot.
    pub(super) runs: Vec<CalendarRun>,
    pub(super) phase: ActorState,
    running: Option<SpawnHandle>,
    tick: Option<SpawnHandle>,
    sync_again: bool,
    panics: u32,
    stats: Stats,
}

/// The last sync attempt of one calendar, beyond what the store keeps.
#[derive(Debug, Clone, Default)]
pub(super) struct CalendarRun {
    pub slot: u32,
    /// The failure of its last sync, if it failed.
    pub failure: Option<Failure>,
}

#[derive(Default)]
struct Stats {
    last_sync_start: Option<i64>,
    last_sync_end: Option<i64>,
    last_success: Option<i64>,
    next_sync: Option<i64>,
    last_error: Option<String>,
    consecutive_failures: u32,
    syncs_ok: u64,
    syncs_failed: u64,
    full_syncs: u64,
    last_sync_ms: Option<u64>,
}

impl TokenSyncActor {
    /// An actor for `token` with its stored credentials and selected calendars.
    pub fn new(
        deps: SyncDeps,
        token: DataToken,
        creds: GoogleCredentials,
        selection: Selection,
    ) -> Self {
        let last_error = creds.needs_reauth.clone();
        let last_success = selection
            .calendars
            .iter()
            .filter_map(|c| c.last_success_at)
            .max()
            .map(|s| s * 1000);
        Self {
            deps,
            token,
            creds,
            selection,
            runs: Vec::new(),
            phase: ActorState::Idle,
            running: None,
            tick: None,
            sync_again: false,
            panics: 0,
            stats: Stats {
                last_error,
                last_success,
                ..Stats::default()
            },
        }
    }

    /// Each selected calendar's status, in selection order.
    fn calendar_statuses(&self) -> Vec<CalendarStatus> {
        self.selection
            .calendars
            .iter()
            .map(|c| {
                let failure = self
                    .runs
                    .iter()
                    .find(|r| r.slot == c.slot)
                    .and_then(|r| r.failure.as_ref());
                CalendarStatus::new(c, failure)
            })
            .collect()
    }

    pub(super) fn publish(&self) {
        let s = &self.stats;
        let main = self.selection.main();
        self.deps.board.publish(ActorStatus {
            token_id: self.token.id.clone(),
            user: self.token.user.clone(),
            token_name: self.token.name.clone(),
            google_account: self.creds.account_email.clone(),
            state: self.phase.name(),
            backoff_until: match self.phase {
                ActorState::Backoff { until_ms, .. } => Some(until_ms),
                _ => None,
            },
            last_sync_start: s.last_sync_start,
            last_sync_end: s.last_sync_end,
            last_success: s.last_success,
            next_sync: s.next_sync,
            last_error: s.last_error.clone(),
            consecutive_failures: s.consecutive_failures,
            syncs_ok: s.syncs_ok,
            syncs_failed: s.syncs_failed,
            full_syncs: s.full_syncs,
            events: main.map_or(0, |c| c.events),
            datapoints: main.map_or(0, |c| c.datapoints),
            last_sync_ms: s.last_sync_ms,
            calendars: self.calendar_statuses(),
        });
    }

    fn schedule(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        if let Some(h) = self.tick.take() {
            ctx.cancel_future(h);
        }
        self.stats.next_sync = Some(now_ms() + delay.as_millis() as i64);
        self.tick = Some(ctx.run_later(delay, |act, ctx| {
            act.tick = None;
            act.start_sync(ctx);
        }));
    }

    fn can_poll(&mut self) -> bool {
        if matches!(self.phase, ActorState::NeedsReauth | ActorState::Stopped) {
            return false;
        }
        if self.token.is_expired(now_secs()) {
            self.phase = ActorState::Expired;
            self.stats.next_sync = None;
            self.stats.last_error = Some("the data token has expired: not polled".into());
            self.publish();
            return false;
        }
        true
    }

    pub(super) fn start_sync(&mut self, ctx: &mut Context<Self>) {
        if self.running.is_some() {
            self.sync_again = true;
            return;
        }
        if !self.can_poll() {
            return;
        }
        if let Some(h) = self.tick.take() {
            ctx.cancel_future(h);
        }
        self.phase = ActorState::Syncing;
        self.stats.last_sync_start = Some(now_ms());
        self.stats.next_sync = None;
        self.publish();
        let input = JobInput {
            token_id: self.token.id.clone(),
            user: self.token.user.clone(),
            creds: self.creds.clone(),
            selection: self.selection.clone(),
        };
        let deps = self.deps.clone();
        let inject_panic = self
            .deps
            .hooks
            .panic_in_sync
            .as_ref()
            .is_some_and(|f| f(&self.token.id));
        let job = async move {
            if inject_panic {
                panic!("injected panic in sync");
            }
            sync_job::run(deps, input).await
        };
        let handle = ctx.spawn(AssertUnwindSafe(job).catch_unwind().into_actor(self).map(
            |result, act, ctx| match result {
                Ok(r) => act.finish(r, ctx),
                Err(_) => {
                    log::error!("token {}: sync panicked; the actor restarts", act.token.id);
                    act.running = None;
                    act.panics += 1;
                    ctx.stop();
                }
            },
        ));
        self.running = Some(handle);
    }

    fn finish(&mut self, result: JobResult, ctx: &mut Context<Self>) {
        self.running = None;
        self.creds = result.creds;
        let end = now_ms();
        self.stats.last_sync_end = Some(end);
        self.stats.last_sync_ms = self.stats.last_sync_start.map(|s| (end - s).max(0) as u64);
        let id = &self.token.id;
        let took = Duration::from_millis(self.stats.last_sync_ms.unwrap_or(0));
        let telemetry = &self.deps.telemetry;
        let never_synced = self
            .selection
            .calendars
            .iter()
            .any(|c| c.sync_token.is_none());
        match result.outcome {
            Outcome::Calendars(results) => self.finish_calendars(results, end, took, ctx),
            Outcome::NeedsReauth(reason) => {
                telemetry.sync_done("needs_reauth", never_synced, took, 0);
                log::warn!("token {id}: Google refused access ({reason}); polling stops until it is reconnected");
                let r = reason.clone();
                let marked =
                    self.deps
                        .store
                        .update_credentials(id, &self.creds.connection_id, move |c| {
                            c.needs_reauth = Some(r.clone())
                        });
                if let Err(e) = marked {
                    log::error!("token {id}: could not record needs-reauth: {e}");
                }
                self.creds.needs_reauth = Some(reason.clone());
                self.fail(reason);
                self.phase = ActorState::NeedsReauth;
                self.stats.next_sync = None;
            }
            Outcome::Failed(failure) => {
                telemetry.sync_done("failed", never_synced, took, 0);
                self.after_failure(failure, end, ctx);
            }
            Outcome::Stale => {
                telemetry.sync_done("stale", never_synced, took, 0);
                log::info!("token {id}: connection replaced during the sync; results dropped");
                self.phase = ActorState::Stopped;
                self.stats.next_sync = None;
            }
        }
        self.publish();
        if std::mem::take(&mut self.sync_again) {
            self.start_sync(ctx);
        }
    }

    /// Folds each calendar's result into the selection and the statuses; the token's state is
    /// the worst of them.
    fn finish_calendars(
        &mut self,
        results: Vec<CalendarResult>,
        end: i64,
        took: Duration,
        ctx: &mut Context<Self>,
    ) {
        let id = self.token.id.clone();
        let (mut written, mut full, mut synced) = (0, false, false);
        let mut worst: Option<Failure> = None;
        for r in results {
            let label = calendar_label(&r.calendar_id);
            let failure = match r.outcome {
                CalendarOutcome::Synced(s) => {
                    log::info!(
                        "token {id}{label}: {} sync done in {} ms: {} items in {} pages, {} written, {} removed, {} events hold {} datapoints",
                        if s.full { "full" } else { "incremental" },
                        self.stats.last_sync_ms.unwrap_or(0),
                        s.items,
                        s.pages,
                        s.stats.written,
                        s.stats.removed,
                        s.stats.events,
                        s.stats.datapoints
                    );
                    written += s.stats.written;
                    full |= s.full;
                    synced = true;
                    self.stats.full_syncs += u64::from(s.full);
                    self.selection.update(s.state);
                    None
                }
                CalendarOutcome::Failed(f) => {
                    log::warn!("token {id}{label}: sync failed: {}", f.error);
                    let labelled = Failure {
                        error: if label.is_empty() {
                            f.error.clone()
                        } else {
                            format!("calendar {}: {}", r.calendar_id, f.error)
                        },
                        ..f.clone()
                    };
                    worst = Some(match worst {
                        Some(w) if w.transient || !labelled.transient => w,
                        _ => labelled,
                    });
                    Some(f)
                }
                CalendarOutcome::Deselected => continue,
            };
            self.runs.retain(|run| run.slot != r.slot);
            self.runs.push(CalendarRun {
                slot: r.slot,
                failure,
            });
        }
        let outcome = if worst.is_none() { "ok" } else { "failed" };
        self.deps.telemetry.sync_done(outcome, full, took, written);
        if synced {
            self.stats.last_success = Some(end);
        }
        match worst {
            None => {
                self.stats.syncs_ok += 1;
                self.stats.consecutive_failures = 0;
                self.stats.last_error = None;
                self.phase = ActorState::Idle;
                self.schedule(
                    next_poll(self.deps.settings.poll_interval, jitter_unit()),
                    ctx,
                );
            }
            Some(failure) => self.after_failure(failure, end, ctx),
        }
    }

    /// Backs off after a transient failure, or waits for the next poll in the error state.
    fn after_failure(&mut self, failure: Failure, end: i64, ctx: &mut Context<Self>) {
        let interval = self.deps.settings.poll_interval;
        self.fail(failure.error);
        if failure.transient {
            let delay = after_failure(
                self.stats.consecutive_failures,
                failure.retry_after,
                interval,
                jitter_unit(),
            );
            let attempt = self.stats.consecutive_failures;
            self.phase = ActorState::Backoff {
                until_ms: end + delay.as_millis() as i64,
                attempt,
            };
            self.schedule(delay, ctx);
        } else {
            self.phase = ActorState::Error;
            self.schedule(next_poll(interval, jitter_unit()), ctx);
        }
    }

    fn fail(&mut self, error: String) {
        self.stats.syncs_failed += 1;
        self.stats.consecutive_failures += 1;
        self.stats.last_error = Some(error);
    }
}

/// How log lines name a calendar: nothing for the primary (as before several calendars),
/// ` (calendar <id>)` for the others.
fn calendar_label(calendar_id: &str) -> String {
    if calendar_id == crate::google::calendar::PRIMARY {
        String::new()
    } else {
        format!(" (calendar {calendar_id})")
    }
}

impl Actor for TokenSyncActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.creds.needs_reauth.is_some() {
            self.phase = ActorState::NeedsReauth;
            self.publish();
            return;
        }
        if self.panics == 0 {
            self.start_sync(ctx);
        } else {
            // After a panic, wait a little (growing with repeated panics) instead of spinning.
            self.phase = ActorState::Idle;
            self.schedule(
                after_failure(
                    self.panics,
                    None,
                    self.deps.settings.poll_interval,
                    jitter_unit(),
                ),
                ctx,
            );
            self.publish();
        }
    }
}

impl actix::Supervised for TokenSyncActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.deps.board.count_restart();
        self.running = None;
        self.tick = None;
        self.sync_again = false;
        self.fail("the sync panicked; the actor was restarted".into());
    }
}

/// Why a requested sync cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyncRefused {
    /// The grant is gone: the person must reconnect first.
    #[error("the Google connection needs to be reconnected")]
    NeedsReauth,
    /// The data token expired.
    #[error("the data token has expired")]
    Expired,
}

/// Starts a sync now (or right after the running one).
#[derive(Message)]
#[rtype(result = "Result<(), SyncRefused>")]
pub struct SyncNow;

impl Handler<SyncNow> for TokenSyncActor {
    type Result = Result<(), SyncRefused>;

    fn handle(&mut self, _: SyncNow, ctx: &mut Context<Self>) -> Self::Result {
        match self.phase {
            ActorState::NeedsReauth => return Err(SyncRefused::NeedsReauth),
            ActorState::Expired => return Err(SyncRefused::Expired),
            _ => {}
        }
        if self.token.is_expired(now_secs()) {
            return Err(SyncRefused::Expired);
        }
        if matches!(self.phase, ActorState::Stopped) {
            self.phase = ActorState::Idle;
        }
        self.start_sync(ctx);
        Ok(())
    }
}

/// Stops the actor for good: cancels a running sync (a commit already sent still lands whole)
/// and the next tick, so no further Google request is made for this token.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopSync;

impl Handler<StopSync> for TokenSyncActor {
    type Result = ();

    fn handle(&mut self, _: StopSync, ctx: &mut Context<Self>) {
        if let Some(h) = self.running.take() {
            ctx.cancel_future(h);
        }
        if let Some(h) = self.tick.take() {
            ctx.cancel_future(h);
        }
        self.phase = ActorState::Stopped;
        ctx.stop();
    }
}
