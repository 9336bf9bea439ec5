//! What an `events.list` flow returns, decided once when it starts: the items of a full or
//! incremental sync, built from a snapshot of the calendar outside the lock, then served page by
//! page from the page-token state without re-expanding or re-sorting anything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::{EventId, EventStatus, StoredEvent};
use super::recurrence;
use super::render::Item;

/// The parameters GOOGLE_APIS.md says must be the same on a full sync and on every incremental
/// sync that uses its token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SyncParams {
    pub single_events: bool,
    pub show_deleted: bool,
    pub max_results: Option<u32>,
    pub time_zone: Option<String>,
    pub event_types: Option<String>,
}

impl SyncParams {
    /// Names of the parameters that differ, for the violation log.
    pub fn differences(&self, other: &SyncParams) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.single_events != other.single_events {
            names.push("singleEvents");
        }
        if self.show_deleted != other.show_deleted {
            names.push("showDeleted");
        }
        if self.max_results != other.max_results {
            names.push("maxResults");
        }
        if self.time_zone != other.time_zone {
            names.push("timeZone");
        }
        if self.event_types != other.event_types {
            names.push("eventTypes");
        }
        names
    }
}

/// The restrictions a full sync may carry (and an incremental one may not).
#[derive(Clone, Debug, Default)]
pub(crate) struct Restrictions {
    pub time_min: Option<DateTime<Utc>>,
    pub time_max: Option<DateTime<Utc>>,
    pub updated_min: Option<DateTime<Utc>>,
    pub order_by: Option<String>,
    /// `q`: every word must occur in the summary or description (case-insensitive).
    pub text: Vec<String>,
    /// `iCalUID`: only the event (and instances) with this UID.
    pub ical_uid: Option<String>,
}

/// Whether `q` and `iCalUID` let the event through.
fn selected(event: &StoredEvent, r: &Restrictions) -> bool {
    if r.ical_uid
        .as_ref()
        .is_some_and(|uid| &event.ical_uid != uid)
    {
        return false;
    }
    if r.text.is_empty() {
        return true;
    }
    let description = event.spec.description.as_deref().unwrap_or_default();
    let haystack = format!("{} {description}", event.spec.summary).to_lowercase();
    r.text.iter().all(|word| haystack.contains(word.as_str()))
}

fn overlaps(
    event: &StoredEvent,
    start: &super::model::EventTime,
    zone: Tz,
    r: &Restrictions,
) -> bool {
    let length = event.spec.start.until(&event.spec.end);
    let begin = start.instant(zone);
    let end = start.shifted(length).instant(zone);
    // Google keeps events whose end is after timeMin; a zero-length one at timeMin stays too.
    let after_min = r
        .time_min
        .is_none_or(|min| end > min || (begin == end && begin >= min));
    let before_max = r.time_max.is_none_or(|max| begin < max);
    let updated = r.updated_min.is_none_or(|min| event.updated >= min);
    after_min && before_max && updated && selected(event, r)
}

/// Everything a listing needs besides the events.
pub(crate) struct Scope<'a> {
    pub params: &'a SyncParams,
    pub zone: Tz,
    pub horizon: DateTime<Utc>,
}

fn exception_index(events: &[Arc<StoredEvent>]) -> HashMap<EventId, Arc<StoredEvent>> {
    events
        .iter()
        .filter(|event| event.recurring.is_some())
        .map(|event| (event.id.clone(), Arc::clone(event)))
        .collect()
}

/// Occurrences of a series as items: exceptions stand in for the occurrences they replace.
/// `keep` decides, per item, whether it belongs to the listing.
fn instances(
    master: &Arc<StoredEvent>,
    exceptions: &HashMap<EventId, Arc<StoredEvent>>,
    horizon: DateTime<Utc>,
    mut keep: impl FnMut(&Item) -> bool,
) -> Vec<Item> {
    let starts = match recurrence::expand(&master.spec.start, &master.spec.recurrence, horizon) {
        Ok(starts) => starts,
        Err(err) => {
            log::warn!("sandbox: event {}: cannot expand: {err}", master.id);
            return Vec::new();
        }
    };
    starts
        .into_iter()
        .map(|original| {
            let id = master.id.instance(&original);
            match exceptions.get(&id) {
                Some(exception) => Item::Event(Arc::clone(exception)),
                None if master.deleted => Item::InstanceTombstone {
                    id,
                    etag: master.etag(),
                },
                None => Item::Instance {
                    master: Arc::clone(master),
                    original,
                },
            }
        })
        .filter(|item| keep(item))
        .collect()
}

fn is_cancelled(event: &StoredEvent) -> bool {
    event.deleted || event.spec.status == EventStatus::Cancelled
}

/// The items of a full sync, in log order (series expanded in place when `singleEvents`).
///
/// Faithful to Google's `showDeleted` rules: deleted events and cancelled instances only with
/// `showDeleted=true`, except that with `singleEvents=false` cancelled exceptions are listed
/// anyway; a deleted series never lists its instances.
pub(crate) fn full(events: &[Arc<StoredEvent>], scope: &Scope<'_>, r: &Restrictions) -> Vec<Item> {
    let show = scope.params.show_deleted;
    let in_range =
        |event: &StoredEvent| event.deleted || overlaps(event, &event.spec.start, scope.zone, r);
    let mut items = Vec::with_capacity(events.len());
    if !scope.params.single_events {
        for event in events {
            let listed = if event.deleted {
                show
            } else {
                event.recurring.is_some() || event.spec.status != EventStatus::Cancelled || show
            };
            let master_selected = event.is_master() && selected(event, r);
            if listed && (master_selected || in_range(event)) {
                items.push(Item::Event(Arc::clone(event)));
            }
        }
        return items;
    }
    let exceptions = exception_index(events);
    for event in events {
        if event.recurring.is_some() {
            continue; // listed through its series
        }
        if event.is_master() {
            if event.deleted {
                continue;
            }
            items.extend(instances(
                event,
                &exceptions,
                scope.horizon,
                |item| match item {
                    Item::Event(exception) => {
                        (show || !is_cancelled(exception))
                            && overlaps(exception, &exception.spec.start, scope.zone, r)
                    }
                    Item::Instance { master, original } => {
                        overlaps(master, original, scope.zone, r)
                    }
                    Item::InstanceTombstone { .. } => false,
                },
            ));
        } else if (show || !is_cancelled(event)) && in_range(event) {
            items.push(Item::Event(Arc::clone(event)));
        }
    }
    if r.order_by.as_deref() == Some("startTime") {
        items.sort_by_cached_key(|item| start_of(item, scope.zone));
    } else if r.order_by.as_deref() == Some("updated") {
        items.sort_by_cached_key(updated_of);
    }
    items
}

fn start_of(item: &Item, zone: Tz) -> DateTime<Utc> {
    match item {
        Item::Event(event) => event.spec.start.instant(zone),
        Item::Instance { original, .. } => original.instant(zone),
        Item::InstanceTombstone { .. } => DateTime::<Utc>::MIN_UTC,
    }
}

fn updated_of(item: &Item) -> DateTime<Utc> {
    match item {
        Item::Event(event) | Item::Instance { master: event, .. } => event.updated,
        Item::InstanceTombstone { .. } => DateTime::<Utc>::MIN_UTC,
    }
}

/// The items of an incremental sync: every change once, in its current state, whatever
/// `showDeleted` says. With `singleEvents`, a changed series re-lists all its instances and a
/// deleted one lists a tombstone for each.
pub(crate) fn incremental(
    changed: &[Arc<StoredEvent>],
    series_exceptions: &HashMap<EventId, Arc<StoredEvent>>,
    since: u64,
    scope: &Scope<'_>,
) -> Vec<Item> {
    if !scope.params.single_events {
        return changed
            .iter()
            .map(|event| Item::Event(Arc::clone(event)))
            .collect();
    }
    let mut exceptions = exception_index(changed);
    exceptions.extend(
        series_exceptions
            .iter()
            .map(|(id, e)| (id.clone(), Arc::clone(e))),
    );
    let mut seen: HashSet<String> = HashSet::new();
    let mut items = Vec::new();
    for event in changed {
        if event.is_master() {
            let more = instances(event, &exceptions, scope.horizon, |item| {
                seen.insert(item.id())
            });
            items.extend(more);
        } else if seen.insert(event.id.0.clone()) {
            items.push(Item::Event(Arc::clone(event)));
        }
    }
    // Occurrences a series change took away since the token come back cancelled.
    for event in changed.iter().filter(|e| !e.dropped.is_empty()) {
        for (start, _) in event.dropped.iter().filter(|(_, seq)| *seq > since) {
            let id = event.id.instance(start);
            if seen.insert(id.0.clone()) {
                items.push(Item::InstanceTombstone {
                    id,
                    etag: event.etag(),
                });
            }
        }
    }
    items
}
