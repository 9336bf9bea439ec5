//! Which calendars a connection syncs, and which of them hold each event.
//!
//! A token's record in `sync_state` is its [`Selection`]: the selected calendars, each with its
//! own sync token, time zone and counts ([`SyncState`]). Each selected calendar has a *slot*, a
//! number that is never reused within the token, so an index entry can name the calendars it came
//! from in a few bytes and a calendar selected again later never inherits a stale claim.
//!
//! The event index of a token is shared by its calendars: event ids are the datapoints' `src`,
//! and one event can sit in several calendars with the same id (an invitation, a calendar
//! subscribed twice; `GOOGLE_APIS.md`, "calendarList.list"). Its entry lists the *holders*, the
//! slots of the calendars that currently give it datapoints, so its points are stored once and
//! stay while any holder still has the event.

use serde::{Deserialize, Serialize};

use super::google::SyncState;
use super::StoreError;
use crate::google::calendar::PRIMARY;

/// The slot of the calendar a store of schema 3 synced (its `primary`); index entries written
/// before schema 4 carry no holders and belong to it.
pub const LEGACY_SLOT: u32 = 0;

/// The selected calendars of one connection, in the order the person chose them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Each selected calendar's sync state.
    pub calendars: Vec<SyncState>,
    /// The slot the next newly selected calendar gets.
    pub next_slot: u32,
}

impl Default for Selection {
    /// What a new connection syncs: the primary calendar, never synced yet.
    fn default() -> Self {
        Self::from_legacy(SyncState::default())
    }
}

impl Selection {
    /// The selection of a schema-3 token: its one calendar, `primary`, in the legacy slot.
    pub fn from_legacy(state: SyncState) -> Self {
        let calendar_id = if state.calendar_id.is_empty() {
            PRIMARY.to_string()
        } else {
            state.calendar_id
        };
        Self {
            calendars: vec![SyncState {
                slot: LEGACY_SLOT,
                calendar_id,
                ..state
            }],
            next_slot: LEGACY_SLOT + 1,
        }
    }

    /// The state of the calendar in `slot`, if it is selected.
    pub fn get(&self, slot: u32) -> Option<&SyncState> {
        self.calendars.iter().find(|c| c.slot == slot)
    }

    /// The state of the calendar `calendar_id` (`primary` for the primary), if it is selected.
    pub fn find(&self, calendar_id: &str) -> Option<&SyncState> {
        self.calendars.iter().find(|c| c.calendar_id == calendar_id)
    }

    /// The calendar the single-calendar fields of the status pages describe: the primary when
    /// it is selected, else the first selected one.
    pub fn main(&self) -> Option<&SyncState> {
        self.find(PRIMARY).or(self.calendars.first())
    }

    /// This selection with exactly `ids` selected, in that order: calendars already selected keep
    /// their state and slot, new ones get fresh slots and no sync token (a full sync next).
    /// Returns it with the slots that were dropped.
    pub fn reselect(&self, ids: &[String]) -> (Selection, Vec<u32>) {
        let mut next_slot = self.next_slot;
        let calendars = ids
            .iter()
            .map(|id| match self.find(id) {
                Some(kept) => kept.clone(),
                None => {
                    next_slot += 1;
                    SyncState {
                        slot: next_slot - 1,
                        calendar_id: id.clone(),
                        ..SyncState::default()
                    }
                }
            })
            .collect::<Vec<_>>();
        let dropped = self
            .calendars
            .iter()
            .filter(|c| !ids.contains(&c.calendar_id))
            .map(|c| c.slot)
            .collect();
        (
            Selection {
                calendars,
                next_slot,
            },
            dropped,
        )
    }

    /// Replaces the state of the calendar in `state.slot`; false when it is no longer selected.
    pub fn update(&mut self, state: SyncState) -> bool {
        match self
            .calendars
            .iter_mut()
            .find(|c| c.slot == state.slot && c.calendar_id == state.calendar_id)
        {
            Some(c) => {
                *c = state;
                true
            }
            None => false,
        }
    }
}

pub(super) fn decode_selection(bytes: &[u8]) -> Result<Selection, StoreError> {
    let mut selection: Selection = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::corrupt(format!("selection record: {e}")))?;
    // A sync actor keeps its selection for good, and serde leaves room for four calendars
    // (640 bytes) where most connections have one: 4.8 MB of 10,000 idle connections.
    selection.calendars.shrink_to_fit();
    Ok(selection)
}

pub(super) fn encode_selection(selection: &Selection) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(selection).map_err(|e| StoreError::corrupt(e.to_string()))
}

/// Marks an index entry that lists its holders. A schema-3 entry starts with its big-endian
/// `u32` count of datapoint keys, whose first byte is 0 for any count below 2^24.
const HOLDERS_TAG: u8 = 0xFF;

/// One event index entry: the calendars holding the event, and the datapoint keys it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Slots of the calendars that hold the event, sorted, never empty in a stored entry.
    pub holders: Vec<u32>,
    /// The datapoint keys the event's points are stored under, as schema 3 encoded them:
    /// `count: u32 | (len: u16, key)*` ([`decode_refs`]).
    pub refs: Vec<u8>,
}

impl IndexEntry {
    /// Adds `slot` to the holders.
    pub fn hold(&mut self, slot: u32) {
        if let Err(at) = self.holders.binary_search(&slot) {
            self.holders.insert(at, slot);
        }
    }

    /// Whether the calendar in `slot` holds the event.
    pub fn is_held_by(&self, slot: u32) -> bool {
        self.holders.binary_search(&slot).is_ok()
    }

    /// Drops every slot of `slots` from the holders.
    pub fn release(&mut self, slots: &[u32]) {
        self.holders.retain(|h| !slots.contains(h));
    }

    /// How many datapoint keys the entry holds.
    pub fn ref_count(&self) -> u64 {
        self.refs
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u64::from(u32::from_be_bytes(b)))
    }

    /// `tag | holders: u8 | slot: u32 BE * holders | refs`.
    pub fn encode(&self) -> Vec<u8> {
        Self::encode_parts(&self.holders, &self.refs)
    }

    /// What [`Self::encode`] writes for an entry of `holders` and `refs`, without an entry to
    /// copy the refs into first (a full sync writes one per event).
    pub fn encode_parts(holders: &[u32], refs: &[u8]) -> Vec<u8> {
        let n = holders.len().min(u8::MAX as usize);
        let mut out = Vec::with_capacity(2 + 4 * n + refs.len());
        out.push(HOLDERS_TAG);
        out.push(n as u8);
        for h in &holders[..n] {
            out.extend_from_slice(&h.to_be_bytes());
        }
        out.extend_from_slice(refs);
        out
    }

    /// Reads an entry of either layout; a schema-3 entry is held by [`LEGACY_SLOT`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = || StoreError::corrupt("event index entry");
        let (holders, refs) = if bytes.first() == Some(&HOLDERS_TAG) {
            let n = *bytes.get(1).ok_or_else(bad)? as usize;
            let slots = bytes.get(2..2 + 4 * n).ok_or_else(bad)?;
            let holders = slots
                .chunks_exact(4)
                .map(|c| c.try_into().map(u32::from_be_bytes).map_err(|_| bad()))
                .collect::<Result<Vec<_>, _>>()?;
            (holders, &bytes[2 + 4 * n..])
        } else {
            (vec![LEGACY_SLOT], bytes)
        };
        // The refs are checked where they are used ([`Self::keys`]): a full sync reads every
        // entry of a token, and most are only rewritten, never split into keys.
        if refs.len() < 4 {
            return Err(bad());
        }
        Ok(Self {
            holders,
            refs: refs.to_vec(),
        })
    }

    /// The datapoint keys.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        decode_refs(&self.refs)
    }
}

/// Decodes `count: u32 | (len: u16, key)*`; anything missing or left over is corrupt.
pub(crate) fn decode_refs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let bad = || StoreError::corrupt("event index entry");
    let count = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(bad)? as usize;
    let mut out = Vec::with_capacity(count.min(1024));
    let mut rest = &bytes[4..];
    for _ in 0..count {
        let len = rest
            .get(..2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes)
            .ok_or_else(bad)? as usize;
        out.push(rest.get(2..2 + len).ok_or_else(bad)?.to_vec());
        rest = &rest[2 + len..];
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(refs: &[&[u8]]) -> Vec<u8> {
        let mut out = (refs.len() as u32).to_be_bytes().to_vec();
        for r in refs {
            out.extend_from_slice(&(r.len() as u16).to_be_bytes());
            out.extend_from_slice(r);
        }
        out
    }

    #[test]
    fn a_schema_3_entry_reads_as_held_by_the_legacy_slot() {
        let e = IndexEntry::decode(&legacy(&[b"abc", b"de"])).unwrap();
        assert_eq!(e.holders, vec![LEGACY_SLOT]);
        assert_eq!(e.keys().unwrap(), vec![b"abc".to_vec(), b"de".to_vec()]);
        assert_eq!(e.ref_count(), 2);
        let empty = IndexEntry::decode(&legacy(&[])).unwrap();
        assert!(empty.keys().unwrap().is_empty());
    }

    #[test]
    fn entries_round_trip_with_their_holders() {
        let mut e = IndexEntry {
            holders: vec![],
            refs: legacy(&[b"k1", &[0xFF; 40]]),
        };
        for slot in [7, 2, 7, 300_000] {
            e.hold(slot);
        }
        assert_eq!(e.holders, vec![2, 7, 300_000]);
        assert_eq!(IndexEntry::decode(&e.encode()).unwrap(), e);
        e.release(&[7, 9]);
        assert_eq!(e.holders, vec![2, 300_000]);
        assert!(e.is_held_by(2) && !e.is_held_by(7));
    }

    #[test]
    fn truncated_or_padded_entries_are_corrupt() {
        let e = IndexEntry {
            holders: vec![1, 2],
            refs: legacy(&[b"key"]),
        };
        let bytes = e.encode();
        for cut in 0..bytes.len() {
            let read = IndexEntry::decode(&bytes[..cut]).and_then(|e| e.keys());
            assert!(read.is_err(), "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(IndexEntry::decode(&padded).and_then(|e| e.keys()).is_err());
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reselecting_keeps_states_gives_new_slots_and_names_the_dropped() {
        let mut s = Selection::default();
        s.calendars[0].sync_token = Some("t".into());
        let (s2, dropped) = s.reselect(&ids(&["primary", "work", "gym"]));
        assert!(dropped.is_empty());
        assert_eq!(
            s2.calendars.iter().map(|c| c.slot).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(s2.calendars[0].sync_token.as_deref(), Some("t"));
        assert!(s2.calendars[1].sync_token.is_none());
        let (s3, dropped) = s2.reselect(&ids(&["gym"]));
        assert_eq!(dropped, vec![0, 1]);
        assert_eq!(s3.calendars.len(), 1);
        // A calendar selected again later gets a slot it never had.
        let (s4, _) = s3.reselect(&ids(&["gym", "primary"]));
        assert_eq!(s4.calendars[1].slot, 3);
        assert_eq!(s4.next_slot, 4);
        assert_eq!(s4.main().map(|c| c.slot), Some(3));
        assert_eq!(s3.main().map(|c| c.calendar_id.as_str()), Some("gym"));
    }

    #[test]
    fn an_update_of_a_deselected_calendar_is_refused() {
        let (mut s, _) = Selection::default().reselect(&ids(&["primary", "work"]));
        let mut work = s.calendars[1].clone();
        work.events = 5;
        assert!(s.update(work.clone()));
        assert_eq!(s.get(1).map(|c| c.events), Some(5));
        let (mut s2, _) = s.reselect(&ids(&["primary"]));
        assert!(!s2.update(work));
    }

    #[test]
    fn a_legacy_state_becomes_the_primary_in_slot_0() {
        let old = SyncState {
            sync_token: Some("tok".into()),
            events: 3,
            ..SyncState::default()
        };
        let s = Selection::from_legacy(old);
        assert_eq!(s.calendars[0].calendar_id, "primary");
        assert_eq!(s.calendars[0].slot, 0);
        assert_eq!(s.calendars[0].events, 3);
        assert_eq!(s.next_slot, 1);
    }
}

#[cfg(test)]
#[path = "calendars_tests.rs"]
mod store_tests;
