//! The sandbox's whole mutable state behind one mutex, and the small helpers every endpoint
//! shares. Handlers lock briefly to read or change it and never hold the lock across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::bounded::{Bounded, TOKEN_CAP};
use super::calendar_list::ListCursor;
use super::channel::{Channels, Notice};
use super::config::{span, SandboxConfig};
use super::counters::Counters;
use super::directory::{CalendarRecord, ListEntry};
use super::fault::{self, Endpoint, FaultQueue};
use super::grant::Grants;
use super::listing::SyncParams;
use super::model::{AccountId, CalendarId};
use super::render::Item;
use super::SandboxError;

/// How the consent screen answers for the signed-in account.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Every requested scope is granted.
    #[default]
    GrantAll,
    /// The person refuses: `error=access_denied`.
    Deny,
    /// Granular consent: only these of the requested scopes are granted.
    GrantOnly(Vec<String>),
}

/// One Google account: its primary calendar and its calendar list.
#[derive(Debug)]
pub(crate) struct Account {
    pub id: AccountId,
    pub email: String,
    pub zone: Tz,
    /// Its primary calendar's id (the e-mail), kept in [`State::calendars`].
    pub primary: CalendarId,
    /// Its calendar list: the primary first, then entries in the order they were added.
    pub list: Vec<ListEntry>,
    /// Bumped to invalidate every sync token issued to this account, whatever the calendar.
    pub sync_epoch: u64,
}

/// The state behind a page token: the flow's items, decided when the flow started.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub account: AccountId,
    pub calendar: CalendarId,
    pub items: Arc<Vec<Item>>,
    pub offset: usize,
    /// The calendar seq the snapshot was taken at: the seq of the sync token of the last page.
    pub sync_seq: u64,
    pub epoch: u64,
    pub calendar_epoch: u64,
    pub params: SyncParams,
    pub incremental: bool,
    /// For an incremental flow that found nothing new: the token to hand back unchanged.
    pub same_token: Option<String>,
}

/// What a sync token stands for.
#[derive(Debug)]
pub(crate) struct SyncRecord {
    pub account: AccountId,
    pub calendar: CalendarId,
    pub seq: u64,
    /// The account's and the calendar's epochs when issued: bumping either makes it answer 410.
    pub epoch: u64,
    pub calendar_epoch: u64,
    pub params: SyncParams,
}

/// Everything that changes while the sandbox runs.
#[derive(Debug)]
pub(crate) struct State {
    pub clock_offset: chrono::Duration,
    pub accounts: HashMap<AccountId, Account>,
    /// Every calendar ever created, deleted ones included.
    pub calendars: HashMap<CalendarId, CalendarRecord>,
    pub signed_in: Option<AccountId>,
    pub consent: Consent,
    pub grants: Grants,
    pub page_tokens: Bounded<Cursor>,
    pub sync_tokens: Bounded<SyncRecord>,
    /// `calendarList.list` page tokens.
    pub list_pages: Bounded<ListCursor>,
    /// `calendarList.list` sync tokens and the account each was issued to.
    pub list_syncs: Bounded<AccountId>,
    pub faults: FaultQueue,
    pub counters: Counters,
    pub violations: Vec<String>,
    /// Decides page lengths in short-pages mode.
    pub page_rng: Option<StdRng>,
    /// Push channels opened by `events.watch`.
    pub channels: Channels,
    /// `events.list` calls being answered now, per account `sub` (fault latency included).
    pub lists_in_flight: HashMap<String, u64>,
}

impl State {
    /// The sandbox's clock: real time plus whatever the test advanced it by.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn account(&self, id: &AccountId) -> Result<&Account, SandboxError> {
        self.accounts
            .get(id)
            .ok_or_else(|| SandboxError::UnknownAccount(id.clone()))
    }

    pub fn account_mut(&mut self, id: &AccountId) -> Result<&mut Account, SandboxError> {
        self.accounts
            .get_mut(id)
            .ok_or_else(|| SandboxError::UnknownAccount(id.clone()))
    }

    /// Records a protocol violation, logged once here.
    pub fn violation(&mut self, text: String) {
        log::warn!("sandbox: protocol violation: {text}");
        self.violations.push(text);
    }
}

/// What the HTTP workers and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub base_url: String,
    state: Mutex<State>,
    /// The delivery task's queue (`delivery.rs`); fed under the lock so order is kept.
    notices: tokio::sync::mpsc::UnboundedSender<Notice>,
}

impl Shared {
    pub fn new(
        config: SandboxConfig,
        base_url: String,
        notices: tokio::sync::mpsc::UnboundedSender<Notice>,
    ) -> Self {
        let state = State {
            clock_offset: config.clock_offset,
            accounts: HashMap::new(),
            calendars: HashMap::new(),
            signed_in: None,
            consent: Consent::GrantAll,
            grants: Grants::default(),
            page_tokens: Bounded::new(TOKEN_CAP),
            sync_tokens: Bounded::new(TOKEN_CAP),
            list_pages: Bounded::new(TOKEN_CAP),
            list_syncs: Bounded::new(TOKEN_CAP),
            faults: FaultQueue::default(),
            counters: Counters::default(),
            violations: Vec::new(),
            page_rng: config.short_pages.map(StdRng::seed_from_u64),
            channels: Channels::default(),
            lists_in_flight: HashMap::new(),
        };
        Self {
            config,
            base_url,
            state: Mutex::new(state),
            notices,
        }
    }

    /// How far open-ended series are expanded at `now`: the configured horizon past it.
    pub fn horizon(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + span(self.config.recurrence_horizon)
    }

    /// Locks the state; a panic elsewhere never makes the sandbox unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues notifications for delivery. Call it with the state still locked, so two changes'
    /// notifications cannot overtake each other on the way to the queue.
    pub fn notify(&self, notices: Vec<Notice>) {
        for notice in notices {
            if self.notices.send(notice).is_err() {
                log::warn!("sandbox: notification not queued: the delivery task has ended");
                return;
            }
        }
    }

    /// Applies the first matching fault: waits out its latency, then answers with its error or a
    /// dropped connection; `None` lets the request proceed.
    pub async fn fault_gate(
        &self,
        endpoint: Endpoint,
        account: Option<&AccountId>,
    ) -> Option<actix_web::HttpResponse> {
        let fault = self.lock().faults.take(endpoint, account)?;
        if let Some(delay) = fault.latency {
            actix_web::rt::time::sleep(delay).await;
        }
        if fault.drop_connection {
            self.lock().counters.dropped_connections += 1;
            return Some(fault::dropped());
        }
        fault.status.map(|status| fault::answer(&fault, status))
    }
}
