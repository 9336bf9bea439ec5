//! Google Calendar events to Impulses datapoints: a pure function, no I/O.
//!
//! An event becomes a measurement when its title starts with `#!` (see `title.rs`). It yields
//! `imp.events.duration` (timestamp = start, value = end − start, both in milliseconds) and one
//! `imp.events.custom.<name>` per `name=number` line of its description, all sharing the same
//! timestamp and dimensions: `activity` (the rest of the title), `src` (the event id), and one
//! per `key:value` description line (see `description.rs`; HTML descriptions count the same as
//! plain text, see `html.rs`). Times follow `time.rs`: offsets of `dateTime` exactly, all-day
//! events from local midnight in the calendar's zone.
//!
//! # Recurring events: Google expands them, we do not
//!
//! The sync asks events.list for `singleEvents=true`. Google then returns every occurrence of a
//! series as its own instance event (id `<masterId>_<originalStart>`, with `recurringEventId` and
//! `originalStartTime`), after applying `RRULE`, `EXDATE` and `RDATE`, moved occurrences (own
//! time, own title and description) and cancelled ones (a cancelled instance). What we convert is
//! therefore, by construction, exactly what the calendar shows, and an incremental sync returns
//! exactly the instances that changed, each with a stable id that keys its datapoints. The
//! converter treats an instance like any other event.
//!
//! The rejected alternative was to fetch masters (`singleEvents=false`) and expand them locally
//! with the `rrule` crate. It would duplicate Google's exception logic (time-zone rules of the
//! series, `EXDATE` matching, moved and cancelled exceptions that arrive as separate events), and
//! every incremental sync would have to reconcile a changed master with exceptions stored from
//! earlier syncs. Any mismatch would be a silent wrong metric. So a master that still carries
//! `recurrence` (it cannot appear with `singleEvents=true`) is skipped with
//! [`SkipReason::RecurringMaster`] rather than converted as a single occurrence.
//!
//! Open-ended series expand far into the future. [`ConvertContext::horizon_end_ms`] bounds them:
//! any event (instance or not) that starts at or after the horizon gives no datapoints and is
//! reported as [`SkipReason::BeyondHorizon`], which callers count apart from malformed events.
//! The converter only applies the horizon; its default value is chosen by the sync settings.
//!
//! # Guarantees
//!
//! - Never panics, whatever the strings in the event (property-tested).
//! - Deterministic: the same event and context give the same points in the same order: the
//!   duration first, then custom metrics in order of first appearance in the description.
//! - All or nothing per event: a malformed event (see [`SkipReason`]) gives no datapoints at all,
//!   so a half-converted event never reaches the store.
//! - Zero-length events (start = end) are valid and measure 0. An `endTimeUnspecified` event is
//!   measured with the end Google gives it, since that is the end the calendar shows.
//! - Cancelled events (tombstones included) and events without `#!` are
//!   [`Conversion::NotAMeasurement`]. Other statuses, known or not (`tentative`, a future value),
//!   convert normally.

mod description;
mod event;
mod html;
mod number;
mod skip;
mod time;
mod title;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
pub(crate) mod scenario_tests;

use chrono_tz::Tz;

use crate::google::model::{Event, EventsPage};
use crate::metric::{Datapoint, MetricName};

pub use description::CUSTOM_PREFIX;
pub use event::{convert_event, DURATION_METRIC, MAX_CUSTOM_METRICS, MAX_DESCRIPTION_BYTES};
pub use skip::SkipReason;
pub use time::parse_time_zone;
pub use title::MAX_TITLE_BYTES;

/// What the converter needs to know beyond the event itself; built once per events.list answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvertContext {
    /// The calendar's zone (the `timeZone` of the events.list answer), where all-day events
    /// start. When `None`, an all-day event uses its own `start.timeZone`, else UTC.
    pub calendar_time_zone: Option<Tz>,
    /// Events starting at or after this instant (epoch ms) are skipped as beyond the horizon,
    /// which bounds open-ended recurring series. `None` means no horizon.
    pub horizon_end_ms: Option<i64>,
}

impl ConvertContext {
    /// The context for the events of `page`: its `timeZone` (an unknown name counts as absent).
    pub fn for_page(page: &EventsPage, horizon_end_ms: Option<i64>) -> Self {
        Self {
            calendar_time_zone: page.time_zone.as_deref().and_then(parse_time_zone),
            horizon_end_ms,
        }
    }

    /// Unix ms of `event`'s start as the converter reads it (an all-day date at midnight in the
    /// calendar's zone), `None` when it has no readable start: to tell a person which event
    /// was skipped.
    pub fn start_ms(&self, event: &Event) -> Option<i64> {
        let start = event.start.as_ref();
        time::resolve(start, || time::all_day_zone(self.calendar_time_zone, start))
            .ok()
            .map(|i| i.ms)
    }
}

/// Why some `name=value` lines of a converted event gave no datapoint (`distance=10 km`: not a
/// number), in words, or `None`. `customs` is how many custom values the conversion produced:
/// unless the description holds more `=` signs than that, it costs one byte scan.
pub fn ignored_values(event: &Event, customs: usize) -> Option<String> {
    let raw = event.description.as_deref()?;
    if raw.bytes().filter(|&b| b == b'=').count() <= customs {
        return None;
    }
    let text = html::description_text(raw);
    let found = description::not_numbers(&text);
    let shown: Vec<String> = found
        .iter()
        .take(3)
        .map(|(line, value)| {
            format!(
                "{:?} ({:?} is not a number)",
                skip::shorten(line),
                skip::shorten(value)
            )
        })
        .collect();
    match found.len() {
        0 => None,
        1 => Some(format!("a line was ignored: {}", shown.join(", "))),
        n => Some(format!("{n} lines were ignored: {}", shown.join(", "))),
    }
}

/// An event's title cut to a readable length, for reports of skipped events.
pub fn short_title(event: &Event) -> String {
    skip::shorten(event.summary.as_deref().unwrap_or_default())
}

/// One datapoint together with the metric it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// `imp.events.duration` or `imp.events.custom.<name>`.
    pub metric: MetricName,
    /// Timestamp (event start), dimensions and value; always passes [`Datapoint::validate`].
    pub point: Datapoint,
}

/// The outcome for one event; callers store `Points`, count `Skipped`, and ignore the rest.
#[derive(Debug, Clone, PartialEq)]
pub enum Conversion {
    /// The event is a measurement; never empty (the duration is always there).
    Points(Vec<MetricPoint>),
    /// No `#!` marker, or the event is cancelled: nothing to store, nothing to report.
    NotAMeasurement,
    /// Marked `#!` but not convertible; no datapoints at all for this event.
    Skipped(SkipReason),
}
