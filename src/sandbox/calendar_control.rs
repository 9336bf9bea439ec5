//! The control API for several calendars per account: creating, sharing and deleting calendars,
//! changing the events of any calendar by its id, and copying an event between calendars the way
//! an invitation lands in each attendee's calendar (GOOGLE_APIS.md, "calendarList.list").
//!
//! The account-addressed methods in `handle.rs` keep acting on the account's primary calendar.

use chrono_tz::Tz;
use serde::Serialize;

use super::directory::{CalendarRecord, ListEntry, Role};
use super::model::{AccountId, CalendarId, EventId, EventPatch, EventSpec, EventStatus, EventTime};
use super::{Sandbox, SandboxError};

/// One entry of an account's calendar list, as the admin API and tests see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CalendarEntry {
    /// The calendar's id (the e-mail for a primary calendar).
    pub id: CalendarId,
    /// The calendar's own name.
    pub summary: String,
    /// The account's own name for it, when it gave one.
    pub summary_override: Option<String>,
    /// IANA zone of the calendar.
    pub time_zone: String,
    /// `owner`, `writer`, `reader` or `freeBusyReader`.
    pub access_role: String,
    /// Whether it is the account's primary calendar.
    pub primary: bool,
}

impl Sandbox {
    /// The id of the account's primary calendar (its e-mail, as Google).
    pub fn primary_calendar(&self, account: &AccountId) -> Result<CalendarId, SandboxError> {
        self.with(|state| Ok(state.account(account)?.primary.clone()))
    }

    /// Creates a secondary calendar owned by `owner`; it joins the owner's list as `owner`.
    pub fn create_calendar(
        &self,
        owner: &AccountId,
        summary: &str,
        time_zone: &str,
    ) -> Result<CalendarId, SandboxError> {
        let zone: Tz = time_zone
            .parse()
            .map_err(|_| SandboxError::Invalid(format!("unknown time zone {time_zone:?}")))?;
        self.with(|state| {
            state.account(owner)?;
            let now = state.now();
            let id = CalendarId::secondary();
            let record = CalendarRecord::new(id.clone(), owner.clone(), summary.into(), zone, now);
            state.calendars.insert(id.clone(), record);
            state.account_mut(owner)?.list.push(ListEntry {
                calendar: id.clone(),
                role: Role::Owner,
                summary_override: None,
                since: now,
            });
            Ok(id)
        })
    }

    /// Deletes a secondary calendar: it leaves every calendar list (its owner's still shows it
    /// with `showDeleted`) and `events.list` on it answers 404 `notFound`. A primary calendar
    /// cannot be deleted, as on Google.
    pub fn delete_calendar(&self, calendar: &CalendarId) -> Result<(), SandboxError> {
        self.with(|state| {
            let record = state.calendar(calendar)?;
            if state.account(&record.owner)?.primary == *calendar {
                return Err(SandboxError::Invalid(format!(
                    "{calendar} is a primary calendar and cannot be deleted"
                )));
            }
            state.calendar_mut(calendar)?.deleted = true;
            Ok(())
        })
    }

    /// Shares the calendar with `with` as `role` (`owner`, `writer`, `reader`,
    /// `freeBusyReader`); it then sits in `with`'s list, under `summary_override` when given.
    /// Sharing again changes the role and the override.
    pub fn share_calendar(
        &self,
        calendar: &CalendarId,
        with: &AccountId,
        role: &str,
        summary_override: Option<&str>,
    ) -> Result<(), SandboxError> {
        let role = Role::parse(role)?;
        self.with(|state| {
            if &state.calendar(calendar)?.owner == with {
                return Err(SandboxError::Invalid(format!("{with} owns {calendar}")));
            }
            let now = state.now();
            let entry = ListEntry {
                calendar: calendar.clone(),
                role,
                summary_override: summary_override.map(str::to_string),
                since: now,
            };
            let list = &mut state.account_mut(with)?.list;
            match list.iter_mut().find(|e| &e.calendar == calendar) {
                Some(existing) => *existing = entry,
                None => list.push(entry),
            }
            Ok(())
        })
    }

    /// Takes the calendar out of `from`'s list; its `events.list` then answers 404 `notFound`.
    pub fn unshare_calendar(
        &self,
        calendar: &CalendarId,
        from: &AccountId,
    ) -> Result<(), SandboxError> {
        self.with(|state| {
            if &state.calendar(calendar)?.owner == from {
                return Err(SandboxError::Invalid(format!("{from} owns {calendar}")));
            }
            let list = &mut state.account_mut(from)?.list;
            let before = list.len();
            list.retain(|e| &e.calendar != calendar);
            if list.len() == before {
                return Err(SandboxError::Invalid(format!(
                    "{calendar} is not shared with {from}"
                )));
            }
            Ok(())
        })
    }

    /// What the account's calendar list holds (live calendars only), primary first.
    pub fn calendar_list(&self, account: &AccountId) -> Result<Vec<CalendarEntry>, SandboxError> {
        self.with(|state| {
            let primary = state.account(account)?.primary.clone();
            let entries = state.visible_entries(account, false);
            Ok(entries
                .into_iter()
                .map(|(entry, calendar)| CalendarEntry {
                    id: calendar.id.clone(),
                    summary: calendar.summary.clone(),
                    summary_override: entry.summary_override,
                    time_zone: calendar.zone.name().to_string(),
                    access_role: entry.role.as_str().to_string(),
                    primary: calendar.id == primary,
                })
                .collect())
        })
    }

    /// The ids in the account's calendar list, primary first.
    pub fn calendar_ids(&self, account: &AccountId) -> Result<Vec<CalendarId>, SandboxError> {
        Ok(self
            .calendar_list(account)?
            .into_iter()
            .map(|entry| entry.id)
            .collect())
    }

    /// Adds an event to a calendar.
    pub fn insert_event_in(
        &self,
        calendar: &CalendarId,
        spec: EventSpec,
    ) -> Result<EventId, SandboxError> {
        self.with(|state| {
            let now = state.now();
            state.calendar_mut(calendar)?.events.insert(spec, now)
        })
    }

    /// Changes fields of an event of a calendar (single, series, or occurrence by instance id).
    pub fn patch_event_in(
        &self,
        calendar: &CalendarId,
        id: &EventId,
        patch: EventPatch,
    ) -> Result<(), SandboxError> {
        self.with(|state| {
            let now = state.now();
            let horizon = self.horizon(now);
            let events = &mut state.calendar_mut(calendar)?.events;
            events.patch(id, &patch, now, horizon)
        })
    }

    /// Deletes an event of a calendar; a series goes with all its exceptions.
    pub fn delete_event_in(&self, calendar: &CalendarId, id: &EventId) -> Result<(), SandboxError> {
        self.with(|state| {
            let now = state.now();
            state.calendar_mut(calendar)?.events.delete(id, now)
        })
    }

    /// Adds many events to a calendar under one lock.
    pub fn seed_events_in(
        &self,
        calendar: &CalendarId,
        specs: Vec<EventSpec>,
    ) -> Result<Vec<EventId>, SandboxError> {
        self.with(|state| {
            let now = state.now();
            let events = &mut state.calendar_mut(calendar)?.events;
            specs
                .into_iter()
                .map(|spec| events.insert(spec, now))
                .collect()
        })
    }

    /// Moves or edits one occurrence of a series of a calendar; returns the instance id.
    pub fn patch_occurrence_in(
        &self,
        calendar: &CalendarId,
        series: &EventId,
        original_start: EventTime,
        patch: EventPatch,
    ) -> Result<EventId, SandboxError> {
        self.with(|state| {
            let now = state.now();
            let events = &mut state.calendar_mut(calendar)?.events;
            events.patch_occurrence(series, original_start, &patch, now)
        })
    }

    /// Cancels one occurrence of a series of a calendar.
    pub fn cancel_occurrence_in(
        &self,
        calendar: &CalendarId,
        series: &EventId,
        original_start: EventTime,
    ) -> Result<EventId, SandboxError> {
        let patch = EventPatch {
            status: Some(EventStatus::Cancelled),
            ..EventPatch::default()
        };
        self.patch_occurrence_in(calendar, series, original_start, patch)
    }

    /// Puts the event (a series with its exceptions) into another calendar under the same id
    /// and iCalUID, as an invitation appears in each attendee's calendar. The copy is
    /// independent afterwards (**Ours**); a calendar that already holds the id refuses it.
    pub fn copy_event(
        &self,
        from: &CalendarId,
        id: &EventId,
        to: &CalendarId,
    ) -> Result<(), SandboxError> {
        self.with(|state| {
            if from == to {
                return Err(SandboxError::Invalid(format!("{id} is already in {to}")));
            }
            let now = state.now();
            let copies = state.calendar(from)?.events.copies_of(id)?;
            state.calendar_mut(to)?.events.adopt(copies, now)
        })
    }

    /// Makes every sync token of this calendar answer 410 `fullSyncRequired`, whoever holds it;
    /// the other calendars' tokens stay valid.
    pub fn invalidate_calendar_sync_tokens(
        &self,
        calendar: &CalendarId,
    ) -> Result<(), SandboxError> {
        self.with(|state| {
            state.calendar_mut(calendar)?.sync_epoch += 1;
            Ok(())
        })
    }
}
