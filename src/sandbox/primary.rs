//! The account-addressed event calls of the control API: each acts on the account's primary
//! calendar, as they did when an account had only that one, through the `*_in` calls of
//! `calendar_control.rs`, which address any calendar by id.

use super::model::{AccountId, EventId, EventPatch, EventSpec, EventTime};
use super::{Sandbox, SandboxError};

impl Sandbox {
    /// Adds an event to the account's primary calendar.
    pub fn insert_event(
        &self,
        account: &AccountId,
        spec: EventSpec,
    ) -> Result<EventId, SandboxError> {
        self.insert_event_in(&self.primary_calendar(account)?, spec)
    }

    /// Changes fields of an event (a single event, a series, or an occurrence by its instance id).
    pub fn patch_event(
        &self,
        account: &AccountId,
        id: &EventId,
        patch: EventPatch,
    ) -> Result<(), SandboxError> {
        self.patch_event_in(&self.primary_calendar(account)?, id, patch)
    }

    /// Deletes an event; a series goes with all its exceptions.
    pub fn delete_event(&self, account: &AccountId, id: &EventId) -> Result<(), SandboxError> {
        self.delete_event_in(&self.primary_calendar(account)?, id)
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
        let calendar = self.primary_calendar(account)?;
        self.patch_occurrence_in(&calendar, series, original_start, patch)
    }

    /// Cancels one occurrence of a series, as deleting it in the web UI does.
    pub fn cancel_occurrence(
        &self,
        account: &AccountId,
        series: &EventId,
        original_start: EventTime,
    ) -> Result<EventId, SandboxError> {
        self.cancel_occurrence_in(&self.primary_calendar(account)?, series, original_start)
    }

    /// Adds many events under one lock (the fast path for 50,000-event calendars).
    pub fn seed_events(
        &self,
        account: &AccountId,
        specs: Vec<EventSpec>,
    ) -> Result<Vec<EventId>, SandboxError> {
        self.seed_events_in(&self.primary_calendar(account)?, specs)
    }
}
