//! The `#!` events that gave no datapoint, kept with each calendar's sync state so a person can
//! see why a run is missing and fix the event in Google Calendar.
//!
//! They are written in the same transaction as the sync they came from: a full sync replaces a
//! calendar's notices, an incremental one replaces those of the events it saw (a fixed event's
//! notice goes, a newly broken one's comes) and keeps the rest.

use serde::{Deserialize, Serialize};

/// How many notices one calendar keeps; the oldest go first.
pub const MAX_SKIP_NOTICES: usize = 200;

/// One event that gave no datapoint, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkipNotice {
    /// Google's event id.
    pub event_id: String,
    /// The event's title as the calendar has it (cut to a readable length).
    pub title: String,
    /// Unix ms of the event's start, when it has a readable one.
    pub start: Option<i64>,
    /// Why it gave no datapoint, in words.
    pub reason: String,
    /// Unix ms of the sync that found it.
    pub seen_at: i64,
}

/// A calendar's notices after a sync: `fresh` (the sync's own, in the order seen) replace all of
/// `previous` after a full sync, and only those of events the sync saw (`seen`) otherwise.
pub fn merge(
    previous: &[SkipNotice],
    fresh: &[SkipNotice],
    full: bool,
    seen: impl Fn(&str) -> bool,
) -> Vec<SkipNotice> {
    let kept = previous
        .iter()
        .filter(|n| !full && !seen(&n.event_id) && !fresh.iter().any(|f| f.event_id == n.event_id));
    let mut out: Vec<SkipNotice> = kept.chain(fresh).cloned().collect();
    if out.len() > MAX_SKIP_NOTICES {
        out.drain(..out.len() - MAX_SKIP_NOTICES);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: &str, seen_at: i64) -> SkipNotice {
        SkipNotice {
            event_id: id.into(),
            title: format!("#!{id}"),
            start: None,
            reason: "event ends before it starts".into(),
            seen_at,
        }
    }

    fn ids(notices: &[SkipNotice]) -> Vec<&str> {
        notices.iter().map(|n| n.event_id.as_str()).collect()
    }

    #[test]
    fn a_full_sync_replaces_every_notice() {
        let previous = [notice("a", 1), notice("b", 1)];
        let out = merge(&previous, &[notice("c", 2)], true, |_| false);
        assert_eq!(ids(&out), ["c"]);
        assert!(merge(&previous, &[], true, |_| false).is_empty());
    }

    #[test]
    fn an_incremental_sync_replaces_only_the_events_it_saw() {
        let previous = [notice("a", 1), notice("b", 1), notice("c", 1)];
        // `a` was fixed (seen, no fresh notice), `b` is still broken (fresh), `d` is new.
        let fresh = [notice("b", 2), notice("d", 2)];
        let out = merge(&previous, &fresh, false, |id| ["a", "b", "d"].contains(&id));
        assert_eq!(ids(&out), ["c", "b", "d"]);
        assert_eq!(out[1].seen_at, 2);
    }

    #[test]
    fn the_oldest_notices_go_beyond_the_limit() {
        let previous: Vec<SkipNotice> = (0..MAX_SKIP_NOTICES)
            .map(|i| notice(&format!("p{i}"), 1))
            .collect();
        let fresh: Vec<SkipNotice> = (0..10).map(|i| notice(&format!("f{i}"), 2)).collect();
        let out = merge(&previous, &fresh, false, |_| false);
        assert_eq!(out.len(), MAX_SKIP_NOTICES);
        assert_eq!(out[0].event_id, "p10");
        assert_eq!(out.last().map(|n| n.event_id.as_str()), Some("f9"));
    }
}
