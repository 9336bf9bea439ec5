//! One account's calendar: its events (deleted ones kept as tombstones) and the change log that
//! incremental sync reads.
//!
//! Every change gives the event a new, higher `seq` and moves it to that position of the log, so
//! "everything changed since token n" is a range of a `BTreeMap` and each event appears once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::{EventId, EventPatch, EventSpec, EventStatus, EventTime, StoredEvent};
use super::recurrence;
use super::SandboxError;

/// The events of one calendar.
#[derive(Debug, Default)]
pub(crate) struct Calendar {
    pub events: HashMap<EventId, Arc<StoredEvent>>,
    /// seq → event, one entry per event, at its latest change.
    pub log: BTreeMap<u64, EventId>,
    /// The last seq handed out; sync tokens remember it.
    pub seq: u64,
    /// master → its exceptions (modified or cancelled occurrences).
    pub exceptions: HashMap<EventId, Vec<EventId>>,
    /// When the calendar last changed (the envelope's `updated`).
    pub updated: Option<DateTime<Utc>>,
}

/// The occurrences of a series (none for other events).
fn occurrences(event: &StoredEvent, horizon: DateTime<Utc>) -> Vec<EventTime> {
    if !event.is_master() {
        return Vec::new();
    }
    recurrence::expand(&event.spec.start, &event.spec.recurrence, horizon).unwrap_or_default()
}

fn check_spec(spec: &EventSpec) -> Result<(), SandboxError> {
    match (&spec.start, &spec.end) {
        (EventTime::Timed(_), EventTime::Timed(_))
        | (EventTime::AllDay(_), EventTime::AllDay(_)) => {}
        _ => {
            return Err(SandboxError::Invalid(
                "start and end must both be timed or both all-day".into(),
            ))
        }
    }
    if spec.end < spec.start {
        return Err(SandboxError::Invalid("the end is before the start".into()));
    }
    if !spec.recurrence.is_empty() {
        // Parse now so a bad rule fails at insert, not in the middle of a listing.
        recurrence::expand(
            &spec.start,
            &spec.recurrence,
            spec.start.instant(chrono_tz::UTC),
        )?;
    }
    Ok(())
}

impl Calendar {
    /// Stores `event` as changed now: next seq, new log position.
    fn commit(&mut self, mut event: StoredEvent, now: DateTime<Utc>) {
        self.seq += 1;
        if let Some(old) = self.events.get(&event.id) {
            self.log.remove(&old.seq);
            event.sequence = old.sequence + 1;
        }
        event.seq = self.seq;
        event.updated = now;
        self.updated = Some(now);
        self.log.insert(self.seq, event.id.clone());
        self.events.insert(event.id.clone(), Arc::new(event));
    }

    fn live(&self, id: &EventId) -> Result<&Arc<StoredEvent>, SandboxError> {
        self.events
            .get(id)
            .filter(|event| !event.deleted)
            .ok_or_else(|| SandboxError::UnknownEvent(id.clone()))
    }

    /// Adds an event and returns its new id.
    pub fn insert(&mut self, spec: EventSpec, now: DateTime<Utc>) -> Result<EventId, SandboxError> {
        check_spec(&spec)?;
        let id = EventId::random();
        let event = StoredEvent {
            ical_uid: format!("{}@google.com", id.0),
            id: id.clone(),
            spec,
            created: now,
            updated: now,
            sequence: 0,
            seq: 0,
            deleted: false,
            recurring: None,
            dropped: Vec::new(),
            rendered: Default::default(),
        };
        self.commit(event, now);
        Ok(id)
    }

    /// Changes some fields of an event (a single event, a whole series, or an exception).
    /// A series remembers the occurrences (up to `horizon`) the change took away.
    pub fn patch(
        &mut self,
        id: &EventId,
        patch: &EventPatch,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Result<(), SandboxError> {
        let mut event = StoredEvent::clone(self.live(id)?);
        let before = occurrences(&event, horizon);
        event.apply(patch);
        if event.recurring.is_some() {
            event.spec.recurrence.clear();
        }
        check_spec(&event.spec)?;
        let after = occurrences(&event, horizon);
        let this_change = self.seq + 1;
        let known: Vec<EventTime> = event.dropped.iter().map(|(start, _)| *start).collect();
        let newly = before.into_iter().filter(|start| !known.contains(start));
        event
            .dropped
            .extend(newly.map(|start| (start, this_change)).collect::<Vec<_>>());
        event.dropped.retain(|(start, _)| !after.contains(start));
        self.commit(event, now);
        Ok(())
    }

    /// Deletes an event. A series takes its exceptions along; deleting an occurrence cancels it,
    /// as Google does.
    pub fn delete(&mut self, id: &EventId, now: DateTime<Utc>) -> Result<(), SandboxError> {
        let mut event = StoredEvent::clone(self.live(id)?);
        if event.recurring.is_some() {
            event.spec.status = EventStatus::Cancelled;
            self.commit(event, now);
            return Ok(());
        }
        event.deleted = true;
        self.commit(event, now);
        for exception in self.exceptions.get(id).cloned().unwrap_or_default() {
            if let Some(current) = self.events.get(&exception) {
                let mut gone = StoredEvent::clone(current);
                gone.deleted = true;
                self.commit(gone, now);
            }
        }
        Ok(())
    }

    /// Changes one occurrence of a series, creating its exception on first change.
    pub fn patch_occurrence(
        &mut self,
        master: &EventId,
        original: EventTime,
        patch: &EventPatch,
        now: DateTime<Utc>,
    ) -> Result<EventId, SandboxError> {
        let series = self.live(master)?;
        if !series.is_master() {
            return Err(SandboxError::Invalid(format!(
                "{master} is not a recurring series"
            )));
        }
        let id = master.instance(&original);
        let mut exception = match self.events.get(&id) {
            Some(existing) if !existing.deleted => StoredEvent::clone(existing),
            _ => {
                let horizon = original.instant(chrono_tz::UTC);
                let starts =
                    recurrence::expand(&series.spec.start, &series.spec.recurrence, horizon)?;
                if !starts.contains(&original) {
                    return Err(SandboxError::Invalid(format!(
                        "{master} has no occurrence at {original:?}"
                    )));
                }
                let length = series.spec.start.until(&series.spec.end);
                let mut spec = series.spec.clone();
                spec.recurrence.clear();
                spec.start = original;
                spec.end = original.shifted(length);
                StoredEvent {
                    id: id.clone(),
                    spec,
                    created: now,
                    updated: now,
                    sequence: series.sequence,
                    seq: 0,
                    deleted: false,
                    recurring: Some((master.clone(), original)),
                    ical_uid: series.ical_uid.clone(),
                    dropped: Vec::new(),
                    rendered: Default::default(),
                }
            }
        };
        exception.apply(patch);
        exception.spec.recurrence.clear();
        check_spec(&exception.spec)?;
        let list = self.exceptions.entry(master.clone()).or_default();
        if !list.contains(&id) {
            list.push(id.clone());
        }
        self.commit(exception, now);
        Ok(id)
    }

    /// A live event that is not an occurrence's exception, with its live exceptions: what
    /// [`Calendar::adopt`] puts into another calendar.
    pub fn copies_of(&self, id: &EventId) -> Result<Vec<StoredEvent>, SandboxError> {
        let event = self.live(id)?;
        if event.recurring.is_some() {
            return Err(SandboxError::Invalid(format!(
                "{id} is an occurrence; copy its series"
            )));
        }
        let exceptions = self.exceptions.get(id).into_iter().flatten();
        let live = exceptions.filter_map(|e| self.events.get(e).filter(|e| !e.deleted));
        Ok(std::iter::once(event)
            .chain(live)
            .map(|e| StoredEvent::clone(e))
            .collect())
    }

    /// Stores copies of another calendar's events under their ids (the first is the event, the
    /// rest its exceptions), as new changes of this calendar; refuses an id already live here.
    pub fn adopt(
        &mut self,
        copies: Vec<StoredEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), SandboxError> {
        if let Some(taken) = copies.iter().find(|e| self.live(&e.id).is_ok()) {
            return Err(SandboxError::Invalid(format!(
                "the calendar already has event {}",
                taken.id
            )));
        }
        for mut copy in copies {
            copy.dropped.clear();
            if let Some((master, _)) = &copy.recurring {
                let list = self.exceptions.entry(master.clone()).or_default();
                if !list.contains(&copy.id) {
                    list.push(copy.id.clone());
                }
            }
            self.commit(copy, now);
        }
        Ok(())
    }

    /// The current state of every event, in log order (oldest change first).
    pub fn snapshot(&self) -> Vec<Arc<StoredEvent>> {
        self.log
            .values()
            .filter_map(|id| self.events.get(id).cloned())
            .collect()
    }

    /// Events changed after `seq`, plus the exceptions of changed series (a series change
    /// re-lists all its instances).
    pub fn changed_since(
        &self,
        seq: u64,
    ) -> (Vec<Arc<StoredEvent>>, HashMap<EventId, Arc<StoredEvent>>) {
        let changed: Vec<Arc<StoredEvent>> = self
            .log
            .range(seq + 1..)
            .filter_map(|(_, id)| self.events.get(id).cloned())
            .collect();
        let mut exceptions = HashMap::new();
        for event in changed.iter().filter(|e| e.is_master()) {
            for id in self.exceptions.get(&event.id).into_iter().flatten() {
                if let Some(exception) = self.events.get(id) {
                    exceptions.insert(id.clone(), Arc::clone(exception));
                }
            }
        }
        (changed, exceptions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn spec(n: u32) -> EventSpec {
        let start = chrono_tz::UTC
            .with_ymd_and_hms(2026, 1, 1 + n % 28, 9, 0, 0)
            .unwrap();
        EventSpec::new(
            format!("e{n}"),
            EventTime::Timed(start),
            EventTime::Timed(start + chrono::Duration::hours(1)),
        )
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32),
        Patch(usize),
        Delete(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..100).prop_map(Op::Insert),
            (0usize..50).prop_map(Op::Patch),
            (0usize..50).prop_map(Op::Delete),
        ]
    }

    proptest! {
        /// The log holds each event exactly once, at its latest seq, so an incremental sync
        /// from any token lists every change once.
        #[test]
        fn the_change_log_lists_each_event_once_at_its_latest_change(ops in proptest::collection::vec(op(), 1..60), since in 0u64..80) {
            let mut calendar = Calendar::default();
            let mut ids = Vec::new();
            let now = Utc::now();
            for op in ops {
                match op {
                    Op::Insert(n) => ids.push(calendar.insert(spec(n), now).unwrap()),
                    Op::Patch(i) if !ids.is_empty() => {
                        let patch = EventPatch { summary: Some("p".into()), ..EventPatch::default() };
                        let _ = calendar.patch(&ids[i % ids.len()], &patch, now, now);
                    }
                    Op::Delete(i) if !ids.is_empty() => {
                        let _ = calendar.delete(&ids[i % ids.len()], now);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(calendar.log.len(), calendar.events.len());
            for (seq, id) in &calendar.log {
                prop_assert_eq!(calendar.events[id].seq, *seq);
            }
            let (changed, _) = calendar.changed_since(since);
            let mut seen = std::collections::HashSet::new();
            for event in &changed {
                prop_assert!(event.seq > since);
                prop_assert!(seen.insert(event.id.clone()));
            }
            let expected = calendar.events.values().filter(|e| e.seq > since).count();
            prop_assert_eq!(changed.len(), expected);
        }
    }

    #[test]
    fn deleting_a_series_deletes_its_exceptions_and_deleting_an_occurrence_cancels_it() {
        let mut calendar = Calendar::default();
        let now = Utc::now();
        let series = calendar
            .insert(spec(1).recurrence(["RRULE:FREQ=DAILY;COUNT=3"]), now)
            .unwrap();
        let second = spec(2).start;
        let exception = calendar
            .patch_occurrence(&series, second, &EventPatch::default(), now)
            .unwrap();
        calendar.delete(&exception, now).unwrap();
        assert_eq!(
            calendar.events[&exception].spec.status,
            EventStatus::Cancelled
        );
        assert!(!calendar.events[&exception].deleted);
        let not_an_occurrence = spec(9).start;
        assert!(calendar
            .patch_occurrence(&series, not_an_occurrence, &EventPatch::default(), now)
            .is_err());
        calendar.delete(&series, now).unwrap();
        assert!(calendar.events[&series].deleted && calendar.events[&exception].deleted);
    }
}
