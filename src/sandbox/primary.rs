//! The account-addressed event calls of the control API: each acts on the account's primary
//! calendar, as they did when an account had only that one (the `*_in` calls in
//! `calendar_control.rs` address any calendar by id).

use super::model::{AccountId, EventId, EventPatch, EventSpec, EventStatus, EventTime};
use super::{Sandbox, SandboxError};

impl Sandbox {
    /// Adds an event to the account's primary calendar.
    pub fn insert_event(
        &self,
        account: &AccountId,
        spec: EventSpec,
    ) -> Result<EventId, SandboxError> {
        self.with(|state| {
            let now = state.now();
            state.primary_mut(account)?.events.insert(spec, now)
        })
    }

    /// Changes fields of an event (a single event, a series, or an occurrence by its instance id).
    pub fn patch_event(
        &self,
        account: &AccountId,
        id: &EventId,
        patch: EventPatch,
    ) -> Result<(), SandboxError> {
        self.with(|state| {
            let now = state.now();
            let horizon = self.horizon(now);
            state
                .primary_mut(account)?
                .events
                .patch(id, &patch, now, horizon)
        })
    }

    /// Deletes an event; a series goes with all its exceptions.
    pub fn delete_event(&self, account: &AccountId, id: &EventId) -> Result<(), SandboxError> {
        self.with(|state| {
            let now = state.now();
            state.primary_mut(account)?.events.delete(id, now)
        })
    }

    /// Moves or edits one occurrence of a series (given by its original start); returns the
    /// instance id, which the occurrence keeps.
    pub fn patch_occurrence(
        &self,
        account: &AccountId,
        series: &EventId,
        original_start: EventTime,
        patch: EventPatch,
    ) -> Result<EventId, SandboxError> {
        self.with(|state| {
            let now = state.now();
            state
                .primary_mut(account)?
                .events
                .patch_occurrence(series, original_start, &patch, now)
        })
    }

    /// Cancels one occurrence of a series, as deleting it in the web UI does.
    pub fn cancel_occurrence(
        &self,
        account: &AccountId,
        series: &EventId,
        original_start: EventTime,
    ) -> Result<EventId, SandboxError> {
        let patch = EventPatch {
            status: Some(EventStatus::Cancelled),
            ..EventPatch::default()
        };
        self.patch_occurrence(account, series, original_start, patch)
    }

    /// Adds many events under one lock (the fast path for 50,000-event calendars).
    pub fn seed_events(
        &self,
        account: &AccountId,
        specs: Vec<EventSpec>,
    ) -> Result<Vec<EventId>, SandboxError> {
        self.with(|state| {
            let now = state.now();
            let calendar = &mut state.primary_mut(account)?.events;
            specs
                .into_iter()
                .map(|spec| calendar.insert(spec, now))
                .collect()
        })
    }
}
