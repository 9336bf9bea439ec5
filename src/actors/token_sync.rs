//! `TokenSyncActor`: owns one token's credentials and sync state, syncs once at start and then
//! every poll interval, never two syncs at once, backs off on failures, stops polling when the
//! grant is gone, and survives a panic in its sync (the supervisor restarts it).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::FutureExt;

use super::schedule::{after_failure, jitter_unit};
use super::status::{ActorState, ActorStatus, CalendarStatus};
use super::sync_job::{self, Failure, JobInput};
use super::SyncDeps;
use crate::store::{GoogleCredentials, PushChannel, Selection};
use crate::token::{now_secs, DataToken};

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The sync actor of one connected data token.
pub struct TokenSyncActor {
    pub(super) deps: SyncDeps,
    pub(super) token: DataToken,
    pub(super) creds: Arc<GoogleCredentials>,
    /// The selected calendars, as stored: replaced by a selection change, updated per calendar
    /// by each commit.
    pub(super) selection: Arc<Selection>,
    /// What the last sync of each selected calendar left to show, by slot.
    pub(super) runs: Vec<CalendarRun>,
    pub(super) phase: ActorState,
    pub(super) running: Option<SpawnHandle>,
    pub(super) tick: Option<SpawnHandle>,
    pub(super) sync_again: bool,
    pub(super) panics: u32,
    pub(super) stats: Stats,
    /// The token's open push channels (empty without push).
    pub(super) channels: Vec<PushChannel>,
    /// Calendars (slots) Google notified about since their last sync.
    pub(super) dirty: Vec<u32>,
    /// The short wait that gathers a burst of notifications into one sync.
    pub(super) push_timer: Option<SpawnHandle>,
    /// The epoch of this node's lease on the token, on a fleet: every commit carries it, so
    /// none lands once another node has taken the token over.
    pub(super) fence: Option<crate::store::fleet::Epoch>,
}

/// The last sync attempt of one calendar, beyond what the store keeps.
#[derive(Debug, Clone, Default)]
pub(super) struct CalendarRun {
    pub slot: u32,
    /// The failure of its last sync, if it failed.
    pub failure: Option<Failure>,
    /// When and why `events.watch` last failed for it, until a watch succeeds.
    pub watch_failure: Option<(i64, String)>,
    /// Unix ms of the last trusted notification about it.
    pub last_notification: Option<i64>,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) last_sync_start: Option<i64>,
    pub(super) last_sync_end: Option<i64>,
    pub(super) last_success: Option<i64>,
    pub(super) next_sync: Option<i64>,
    pub(super) last_error: Option<String>,
    pub(super) consecutive_failures: u32,
    pub(super) syncs_ok: u64,
    pub(super) syncs_failed: u64,
    pub(super) full_syncs: u64,
    pub(super) last_sync_ms: Option<u64>,
}

impl TokenSyncActor {
    /// An actor for `token` with its stored credentials and selected calendars.
    pub fn new(
        deps: SyncDeps,
        token: DataToken,
        creds: GoogleCredentials,
        selection: Selection,
        channels: Vec<PushChannel>,
        fence: Option<crate::store::fleet::Epoch>,
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
            creds: Arc::new(creds),
            selection: Arc::new(selection),
            channels,
            dirty: Vec::new(),
            push_timer: None,
            fence,
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

    /// The failure of the last sync of the calendar in `slot`, if it failed.
    fn calendar_failure(&self, slot: u32) -> Option<&Failure> {
        self.runs
            .iter()
            .find(|r| r.slot == slot)
            .and_then(|r| r.failure.as_ref())
    }

    /// Each selected calendar's status, in selection order.
    pub(super) fn calendar_statuses(&self) -> Vec<CalendarStatus> {
        let mut statuses = Vec::new();
        self.fill_calendar_statuses(&mut statuses);
        statuses
    }

    /// Writes each selected calendar's status over `out`, reusing the memory of its entries.
    fn fill_calendar_statuses(&self, out: &mut Vec<CalendarStatus>) {
        let calendars = &self.selection.calendars;
        out.truncate(calendars.len());
        // Exactly as many as selected: a first push would leave room for four (700 bytes where
        // most connections have one calendar, 5 MB of 10,000 idle connections).
        out.reserve_exact(calendars.len() - out.len());
        for (i, c) in calendars.iter().enumerate() {
            let failure = self.calendar_failure(c.slot);
            let push = self.push_status(c.slot);
            match out.get_mut(i) {
                Some(status) => status.fill(c, failure, push),
                None => out.push(CalendarStatus::new(c, failure, push)),
            }
        }
    }

    pub(super) fn publish(&self) {
        self.deps
            .board
            .update(&self.token.id, |status| self.fill_status(status));
    }

    /// Writes this actor's status over `s`, reusing the memory of its strings.
    fn fill_status(&self, s: &mut ActorStatus) {
        let st = &self.stats;
        let main = self.selection.main();
        s.user.clone_from(&self.token.user);
        s.token_name.clone_from(&self.token.name);
        s.google_account.clone_from(&self.creds.account_email);
        s.state = self.phase.name();
        s.backoff_until = match self.phase {
            ActorState::Backoff { until_ms, .. } => Some(until_ms),
            _ => None,
        };
        s.last_sync_start = st.last_sync_start;
        s.last_sync_end = st.last_sync_end;
        s.last_success = st.last_success;
        s.next_sync = st.next_sync;
        s.last_error.clone_from(&st.last_error);
        s.consecutive_failures = st.consecutive_failures;
        s.syncs_ok = st.syncs_ok;
        s.syncs_failed = st.syncs_failed;
        s.full_syncs = st.full_syncs;
        s.events = main.map_or(0, |c| c.events);
        s.datapoints = main.map_or(0, |c| c.datapoints);
        s.last_sync_ms = st.last_sync_ms;
        self.fill_calendar_statuses(&mut s.calendars);
    }

    pub(super) fn schedule(&mut self, delay: Duration, ctx: &mut Context<Self>) {
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

    /// Syncs every selected calendar now (or right after the running sync).
    pub(super) fn start_sync(&mut self, ctx: &mut Context<Self>) {
        self.start(None, ctx);
    }

    /// Syncs the calendars Google notified about (or all of them after the running sync, which
    /// then takes the notified ones along).
    pub(super) fn start_notified_sync(&mut self, ctx: &mut Context<Self>) {
        if self.running.is_some() || self.dirty.is_empty() {
            return;
        }
        let slots = std::mem::take(&mut self.dirty);
        self.start(Some(slots), ctx);
    }

    fn start(&mut self, scope: Option<Vec<u32>>, ctx: &mut Context<Self>) {
        if self.running.is_some() {
            self.sync_again |= scope.is_none();
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
        if scope.is_none() {
            self.dirty.clear();
        }
        // The sync's input is taken when its turn comes, so it is what the actor holds then.
        let turn = actix::fut::wrap_future::<_, Self>(self.deps.slots.clone().turn());
        let handle = ctx.spawn(
            turn.then(move |permit, act, _| {
                let input = JobInput {
                    token_id: act.token.id.clone(),
                    user: act.token.user.clone(),
                    creds: Arc::clone(&act.creds),
                    selection: Arc::clone(&act.selection),
                    scope,
                    channels: act.channel_plan(),
                    fence: act.fence,
                };
                let deps = act.deps.clone();
                let inject_panic = act
                    .deps
                    .hooks
                    .panic_in_sync
                    .as_ref()
                    .is_some_and(|f| f(&act.token.id));
                // Boxed here rather than inside the block below: the spawned future is as big
                // as its larger half, and with the job's input inline that was the half that
                // runs, so each of the ten thousand syncs waiting for a turn at start-up was
                // twice the size of its wait.
                let run = Box::pin(sync_job::run(deps, input));
                let job = async move {
                    let _permit = permit;
                    if inject_panic {
                        panic!("injected panic in sync");
                    }
                    run.await
                };
                AssertUnwindSafe(job).catch_unwind().into_actor(act)
            })
            .map(|result, act, ctx| match result {
                Ok(r) => act.finish(r, ctx),
                Err(_) => {
                    log::error!("token {}: sync panicked; the actor restarts", act.token.id);
                    act.running = None;
                    act.panics += 1;
                    ctx.stop();
                }
            }),
        );
        self.running = Some(handle);
    }

    pub(super) fn fail(&mut self, error: String) {
        self.stats.syncs_failed += 1;
        self.stats.consecutive_failures += 1;
        self.stats.last_error = Some(error);
    }
}

impl Actor for TokenSyncActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.register_channels();
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
