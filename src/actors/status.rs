//! What each sync actor is doing, published where the admin routes and `/configs` can read it
//! without a round of messages to ten thousand actors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::sync_job::Failure;
use crate::store::SyncState;
use crate::token::TokenId;

/// The sync state machine of one token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ActorState {
    /// Waiting for the next poll.
    Idle,
    /// A sync is running.
    Syncing,
    /// A transient failure (rate limit, 5xx, network): retrying after a delay.
    Backoff {
        /// Unix ms of the next attempt.
        until_ms: i64,
        /// Consecutive failed syncs.
        attempt: u32,
    },
    /// Google refused the grant: no polling until the person reconnects.
    NeedsReauth,
    /// A permanent failure of the last sync (Google's message in `last_error`); polling goes on.
    Error,
    /// The data token expired: not polled.
    Expired,
    /// Stopped (disconnected, deleted, shutting down).
    Stopped,
}

impl ActorState {
    /// The short name shown as `state` in statuses.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Syncing => "syncing",
            Self::Backoff { .. } => "backoff",
            Self::NeedsReauth => "needs_reauth",
            Self::Error => "error",
            Self::Expired => "expired",
            Self::Stopped => "stopped",
        }
    }
}

/// One actor's status, as `/admin/actors` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActorStatus {
    /// The data token.
    pub token_id: TokenId,
    /// Its user.
    pub user: String,
    /// Its name.
    pub token_name: String,
    /// The connected Google account's e-mail.
    pub google_account: String,
    /// The state machine's state: `idle`, `syncing`, `backoff`, `needs_reauth`, `error`,
    /// `expired` or `stopped`.
    #[schema(example = "idle")]
    pub state: &'static str,
    /// Unix ms of the next attempt while backing off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_until: Option<i64>,
    /// Unix ms.
    pub last_sync_start: Option<i64>,
    /// Unix ms.
    pub last_sync_end: Option<i64>,
    /// Unix ms.
    pub last_success: Option<i64>,
    /// Unix ms of the next planned sync, if one is planned.
    pub next_sync: Option<i64>,
    /// The last failure, readable by a person.
    pub last_error: Option<String>,
    /// Failed syncs since the last success.
    pub consecutive_failures: u32,
    /// Successful syncs.
    pub syncs_ok: u64,
    /// Failed syncs.
    pub syncs_failed: u64,
    /// Full syncs (first sync, after 410, periodic).
    pub full_syncs: u64,
    /// Events holding datapoints.
    pub events: u64,
    /// Datapoints held.
    pub datapoints: u64,
    /// Duration of the last sync in ms.
    pub last_sync_ms: Option<u64>,
    /// Each selected calendar, in selection order. `events` and `datapoints` above are the
    /// primary calendar's (or, when it is not selected, the first selected calendar's).
    pub calendars: Vec<CalendarStatus>,
}

impl ActorStatus {
    /// The status of `token_id` with nothing known yet.
    pub fn empty(token_id: TokenId) -> Self {
        Self {
            token_id,
            user: String::new(),
            token_name: String::new(),
            google_account: String::new(),
            state: "",
            backoff_until: None,
            last_sync_start: None,
            last_sync_end: None,
            last_success: None,
            next_sync: None,
            last_error: None,
            consecutive_failures: 0,
            syncs_ok: 0,
            syncs_failed: 0,
            full_syncs: 0,
            events: 0,
            datapoints: 0,
            last_sync_ms: None,
            calendars: Vec::new(),
        }
    }
}

/// One selected calendar's sync, as the status pages show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarStatus {
    /// `primary` or the Google calendar id.
    pub calendar_id: String,
    /// `pending` (not synced yet), `ok`, `retrying`, `error`, or `gone` (Google no longer has
    /// it: deleted, or no longer shared).
    pub state: &'static str,
    /// Unix ms of its last successful sync.
    pub last_success: Option<i64>,
    /// Why its last sync failed, if it did.
    pub last_error: Option<String>,
    /// Whether Google answered 404 for it: its datapoints stay until it is deselected.
    pub gone: bool,
    /// Whether an incremental sync can follow.
    pub has_sync_token: bool,
    /// Its events that hold datapoints.
    pub events: u64,
    /// The datapoints those events hold.
    pub datapoints: u64,
    /// Its push channel.
    pub push: PushStatus,
}

/// A calendar's push channel, as the status pages show it.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PushStatus {
    /// `off` (push not configured), `healthy` (a live channel), `failing` (`events.watch` was
    /// refused: `error` says why; the calendar polls at the normal interval) or `pending` (no
    /// channel yet).
    pub state: &'static str,
    /// Why `events.watch` failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix ms when the live channel expires.
    pub channel_expiration: Option<i64>,
    /// Unix ms of the last trusted notification.
    pub last_notification: Option<i64>,
}

impl PushStatus {
    /// Push is not configured.
    pub fn off() -> Self {
        Self {
            state: "off",
            ..Self::default()
        }
    }

    /// The status from the live channel's expiration, the last watch failure and the last
    /// notification.
    pub fn new(expiration: Option<i64>, failure: Option<String>, last: Option<i64>) -> Self {
        let state = match (&expiration, &failure) {
            (Some(_), _) => "healthy",
            (None, Some(_)) => "failing",
            (None, None) => "pending",
        };
        Self {
            state,
            error: if expiration.is_some() { None } else { failure },
            channel_expiration: expiration,
            last_notification: last,
        }
    }
}

impl CalendarStatus {
    /// The status of a calendar with its stored state, the failure of its last sync and its
    /// push channel.
    pub fn new(state: &SyncState, failure: Option<&Failure>, push: PushStatus) -> Self {
        let mut status = Self {
            calendar_id: String::new(),
            state: "",
            last_success: None,
            last_error: None,
            gone: false,
            has_sync_token: false,
            events: 0,
            datapoints: 0,
            push: PushStatus::default(),
        };
        status.fill(state, failure, push);
        status
    }

    /// [`Self::new`] written over this status, reusing its strings' memory.
    pub fn fill(&mut self, state: &SyncState, failure: Option<&Failure>, push: PushStatus) {
        self.state = match failure {
            Some(f) if f.gone => "gone",
            Some(f) if f.transient => "retrying",
            Some(_) => "error",
            None if state.last_success_at.is_none() => "pending",
            None => "ok",
        };
        self.calendar_id.clone_from(&state.calendar_id);
        self.last_success = state.last_success_at.map(|s| s * 1000);
        match failure {
            Some(f) => self.last_error.get_or_insert_default().clone_from(&f.error),
            None => self.last_error = None,
        }
        self.gone = failure.is_some_and(|f| f.gone);
        self.has_sync_token = state.sync_token.is_some();
        self.events = state.events;
        self.datapoints = state.datapoints;
        self.push = push;
    }
}

/// The shared board of statuses, plus supervisor-wide counters.
#[derive(Clone, Default)]
pub struct StatusBoard {
    /// Boxed: the table keeps room for more entries than it holds (a power of two), and an
    /// empty slot of an unboxed status would be 300 bytes.
    actors: Arc<Mutex<HashMap<TokenId, Box<ActorStatus>>>>,
    restarts: Arc<AtomicU64>,
}

impl StatusBoard {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenId, Box<ActorStatus>>> {
        // A panic while holding this lock can at worst leave a status with some fields of the
        // next publish (each field stays a valid value, and that actor's next publish writes
        // them all), so a poisoned lock is still safe to use.
        self.actors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes an actor's status by writing over the one it published before (`fill` gets an
    /// empty status the first time): an actor publishes at the start and the end of every sync,
    /// and writing in place reuses the memory of its strings instead of allocating them anew.
    pub fn update(&self, token: &TokenId, fill: impl FnOnce(&mut ActorStatus)) {
        let mut actors = self.lock();
        if let Some(status) = actors.get_mut(token) {
            fill(status);
            return;
        }
        let mut status = Box::new(ActorStatus::empty(token.clone()));
        fill(&mut status);
        actors.insert(token.clone(), status);
    }

    /// Forgets an actor that was stopped for good.
    pub fn remove(&self, token: &TokenId) {
        self.lock().remove(token);
    }

    /// One actor's status.
    pub fn get(&self, token: &TokenId) -> Option<ActorStatus> {
        self.lock().get(token).map(|s| (**s).clone())
    }

    /// One actor's state name, without copying its status.
    pub fn state(&self, token: &TokenId) -> Option<&'static str> {
        self.lock().get(token).map(|s| s.state)
    }

    /// Every actor's status, ordered by user, then token name.
    pub fn all(&self) -> Vec<ActorStatus> {
        let mut v: Vec<ActorStatus> = self.lock().values().map(|s| (**s).clone()).collect();
        v.sort_by(|a, b| (&a.user, &a.token_name).cmp(&(&b.user, &b.token_name)));
        v
    }

    /// How many published statuses satisfy `pred`, read in place: a watcher that waits for a
    /// fleet of actors copies none of their statuses (copying 10,000 of them every few
    /// milliseconds would hold the lock every publish needs).
    pub fn count_where(&self, pred: impl Fn(&ActorStatus) -> bool) -> usize {
        self.lock().values().filter(|s| pred(s)).count()
    }

    /// Counts per state name.
    pub fn count_by_state(&self) -> HashMap<&'static str, u64> {
        let mut m = HashMap::new();
        for s in self.lock().values() {
            *m.entry(s.state).or_insert(0) += 1;
        }
        m
    }

    /// Counts one actor restart after a panic.
    pub fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// How many actors are published.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_where_counts_the_published_statuses_that_match_in_place() {
        let board = StatusBoard::default();
        assert_eq!(board.count_where(|_| true), 0);
        let tokens: Vec<TokenId> = (0..5).map(|_| TokenId::generate()).collect();
        for (i, token) in tokens.iter().enumerate() {
            board.update(token, |s| {
                s.state = if i % 2 == 0 { "idle" } else { "syncing" };
                s.syncs_ok = i as u64;
            });
        }
        assert_eq!(board.count_where(|s| s.state == "idle"), 3);
        assert_eq!(board.count_where(|s| s.syncs_ok >= 3), 2);
        // A publish writes over the earlier status; a removed actor is no longer counted.
        board.update(&tokens[1], |s| s.state = "idle");
        board.remove(&tokens[0]);
        assert_eq!(board.count_where(|s| s.state == "idle"), 3);
        assert_eq!(board.count_where(|_| true), 4);
    }
}
