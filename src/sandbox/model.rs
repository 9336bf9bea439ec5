//! The sandbox's own event representation, independent of the conversion code's, so that a bug in
//! one cannot hide the same bug in the other.
//!
//! Stored events are immutable values behind `Arc`: a change replaces the value, which lets a
//! listing snapshot the calendar cheaply and render pages outside the lock.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::SandboxError;

/// An account's Google subject id (`sub`): the stable key of a person across e-mail changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub(crate) String);

impl AccountId {
    /// Wraps a `sub` received over HTTP (the admin API, a test).
    pub fn from_sub(sub: impl Into<String>) -> Self {
        Self(sub.into())
    }

    /// The id as Google prints it (a long decimal number).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar's id as it appears in the API's paths and in `calendarList` items: the owner's
/// e-mail for a primary calendar, `c_<hex>@group.calendar.google.com` for the others
/// (GOOGLE_APIS.md, "calendarList.list"). `primary` is an alias the API accepts, never an id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CalendarId(pub(crate) String);

impl CalendarId {
    /// Wraps an id received over HTTP (the admin API, a listing); ids are opaque to the sandbox.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as Google prints it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh id for a secondary calendar, shaped like Google's.
    pub(crate) fn secondary() -> Self {
        let mut rng = rand::thread_rng();
        let hex: String = (0..64)
            .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
            .collect();
        Self(format!("c_{hex}@group.calendar.google.com"))
    }
}

impl fmt::Display for CalendarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event id as Google prints it: base32hex characters, or `<masterId>_<stamp>` for an instance
/// of a recurring series.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub(crate) String);

impl EventId {
    /// Wraps an id received over the admin API; ids are opaque to the sandbox, so any string works.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as it appears in `items[].id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh id in Google's alphabet (`[a-v0-9]`, 26 characters).
    pub(crate) fn random() -> Self {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
        let mut rng = rand::thread_rng();
        let id = (0..26)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        Self(id)
    }

    /// The id of the instance of this series that originally started at `original`
    /// (`<masterId>_<YYYYMMDDTHHMMSSZ>` or `<masterId>_<YYYYMMDD>`, GOOGLE_APIS.md).
    pub fn instance(&self, original: &EventTime) -> EventId {
        EventId(format!("{}_{}", self.0, original.instance_suffix()))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When an event starts or ends: an instant in a named zone, or a whole local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventTime {
    /// `{"dateTime": …, "timeZone": …}`; the zone drives recurrence expansion.
    Timed(DateTime<Tz>),
    /// `{"date": "yyyy-mm-dd"}`, an all-day event; the end date is exclusive.
    AllDay(NaiveDate),
}

impl EventTime {
    /// A local wall-clock time in `zone`; the earlier instant wins in a DST fold, a gap is an error.
    pub fn local(zone: Tz, local: NaiveDateTime) -> Result<Self, SandboxError> {
        zone.from_local_datetime(&local)
            .earliest()
            .map(Self::Timed)
            .ok_or_else(|| SandboxError::Invalid(format!("{local} does not exist in {zone}")))
    }

    /// The suffix of an instance id: the UTC start for timed series, the date for all-day ones.
    pub fn instance_suffix(&self) -> String {
        match self {
            Self::Timed(at) => at.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string(),
            Self::AllDay(date) => date.format("%Y%m%d").to_string(),
        }
    }

    /// The instant the time stands for; an all-day date counts from midnight in `zone`.
    pub fn instant(&self, zone: Tz) -> DateTime<Utc> {
        match self {
            Self::Timed(at) => at.with_timezone(&Utc),
            Self::AllDay(date) => zone
                .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map_or_else(
                    || date.and_time(chrono::NaiveTime::MIN).and_utc(),
                    |d| d.with_timezone(&Utc),
                ),
        }
    }

    /// Shifts by `delta`, whole days for all-day times.
    pub(crate) fn shifted(&self, delta: Duration) -> Self {
        match self {
            Self::Timed(at) => Self::Timed(*at + delta),
            Self::AllDay(date) => Self::AllDay(*date + Duration::days(delta.num_days())),
        }
    }

    /// The distance from `self` to `later` (days for all-day times).
    pub(crate) fn until(&self, later: &EventTime) -> Duration {
        match (self, later) {
            (Self::Timed(a), Self::Timed(b)) => *b - *a,
            (Self::AllDay(a), Self::AllDay(b)) => *b - *a,
            (a, b) => b.instant(Tz::UTC) - a.instant(Tz::UTC),
        }
    }

    /// Reads Google's JSON shape: `dateTime` with an offset or local plus `timeZone`, or `date`.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, SandboxError> {
        let bad = |what: &str| SandboxError::Invalid(format!("bad event time {value}: {what}"));
        if let Some(date) = value.get("date").and_then(|d| d.as_str()) {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad("date"))?;
            return Ok(Self::AllDay(date));
        }
        let text = value
            .get("dateTime")
            .and_then(|d| d.as_str())
            .ok_or_else(|| bad("no dateTime"))?;
        let zone = match value.get("timeZone").and_then(|z| z.as_str()) {
            Some(name) => Some(name.parse::<Tz>().map_err(|_| bad("unknown timeZone"))?),
            None => None,
        };
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Timed(at.with_timezone(&zone.unwrap_or(Tz::UTC))));
        }
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| bad("dateTime"))?;
        Self::local(
            zone.ok_or_else(|| bad("local dateTime without timeZone"))?,
            local,
        )
    }
}

/// `status` of an event, as Google spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// The default.
    #[default]
    Confirmed,
    /// Shown hatched in the UI; still an event.
    Tentative,
    /// Deleted, or a cancelled occurrence of a series.
    Cancelled,
}

impl EventStatus {
    /// The JSON string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Tentative => "tentative",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What a test says an event is; the sandbox adds ids, stamps and etags.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSpec {
    /// Plain-text title.
    pub summary: String,
    /// Description, possibly HTML like the web UI stores it.
    pub description: Option<String>,
    /// Start; recurring events need a timed start in a zone or an all-day date.
    pub start: EventTime,
    /// Exclusive end.
    pub end: EventTime,
    /// `RRULE:`/`EXDATE:`/`RDATE:` lines, empty for a single event.
    pub recurrence: Vec<String>,
    /// Usually confirmed.
    pub status: EventStatus,
}

impl EventSpec {
    /// A confirmed single event.
    pub fn new(summary: impl Into<String>, start: EventTime, end: EventTime) -> Self {
        Self {
            summary: summary.into(),
            description: None,
            start,
            end,
            recurrence: Vec::new(),
            status: EventStatus::Confirmed,
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Makes it a series with these `RRULE`/`EXDATE`/`RDATE` lines.
    pub fn recurrence<S: Into<String>>(mut self, lines: impl IntoIterator<Item = S>) -> Self {
        self.recurrence = lines.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: EventStatus) -> Self {
        self.status = status;
        self
    }
}

/// A partial update: `None` leaves a field alone, like Google's `events.patch`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventPatch {
    /// New title.
    pub summary: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New start.
    pub start: Option<EventTime>,
    /// New end.
    pub end: Option<EventTime>,
    /// New recurrence lines.
    pub recurrence: Option<Vec<String>>,
    /// New status.
    pub status: Option<EventStatus>,
}

/// An etag in Google's style (a quoted number) for something changed at `updated` with `seq`.
pub(crate) fn etag(updated: DateTime<Utc>, seq: u64) -> String {
    format!(
        "\"{}\"",
        updated.timestamp_millis() as u64 * 1000 + seq % 1000
    )
}

/// An event as the sandbox keeps it, including deleted ones (tombstones for incremental sync).
#[derive(Clone, Debug)]
pub(crate) struct StoredEvent {
    pub id: EventId,
    pub spec: EventSpec,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// iCalendar SEQUENCE: bumps on every change, like Google's `sequence`.
    pub sequence: u32,
    /// Position in the calendar's change log; every change moves the event to a new position.
    pub seq: u64,
    /// Deleted (not merely cancelled): listed only as a tombstone.
    pub deleted: bool,
    /// For an exception of a series: the series and the occurrence it replaces.
    pub recurring: Option<(EventId, EventTime)>,
    pub ical_uid: String,
    /// Occurrences this series had and no longer has (a changed rule, start or EXDATE), with the
    /// seq of the change that took each away: incremental `singleEvents` syncs from before that
    /// change list them as cancelled instances.
    pub dropped: Vec<(EventTime, u64)>,
    /// Its last rendering as a listed item ([`super::render`]); a change makes a new version of
    /// the event, whose cache starts empty.
    pub rendered: Rendered,
}

/// How a listing asked to see an event: everything its rendering depends on besides the event
/// itself (its calendar, that calendar's owner and the sandbox's base URL are fixed for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RenderKey {
    pub is_owner: bool,
    pub hide_details: bool,
    pub display: Option<Tz>,
}

/// An event's JSON as last listed, so a calendar listed again is copied, not rendered again: a
/// 50,000-event listing spent about half its time in the sandbox's rendering, and issue #18's
/// reference emulator was measured warm. A clone starts empty: events are cloned only to be
/// changed.
#[derive(Default)]
pub(crate) struct Rendered(
    std::sync::Mutex<Option<(RenderKey, std::sync::Arc<serde_json::value::RawValue>)>>,
);

impl Rendered {
    /// The rendering for `key`: the cached one, or `render`'s, kept for the next listing.
    pub fn get_or_render(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Option<Box<serde_json::value::RawValue>>,
    ) -> Option<std::sync::Arc<serde_json::value::RawValue>> {
        // A poisoned lock only means a rendering panicked; the cache holds whole values.
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, json)) = cached.as_ref() {
            if *k == key {
                return Some(json.clone());
            }
        }
        let json: std::sync::Arc<serde_json::value::RawValue> = render()?.into();
        *cached = Some((key, json.clone()));
        Some(json)
    }
}

impl Clone for Rendered {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rendered")
    }
}

impl StoredEvent {
    /// Google's `etag`: a quoted number that changes with every change of the event.
    pub fn etag(&self) -> String {
        etag(self.updated, self.seq)
    }

    /// Whether this is the master of a series.
    pub fn is_master(&self) -> bool {
        !self.spec.recurrence.is_empty() && self.recurring.is_none()
    }

    /// Applies a patch in place, leaving bookkeeping to the caller.
    pub fn apply(&mut self, patch: &EventPatch) {
        if let Some(summary) = &patch.summary {
            self.spec.summary.clone_from(summary);
        }
        if let Some(description) = &patch.description {
            self.spec.description.clone_from(description);
        }
        if let Some(start) = patch.start {
            self.spec.start = start;
        }
        if let Some(end) = patch.end {
            self.spec.end = end;
        }
        if let Some(recurrence) = &patch.recurrence {
            self.spec.recurrence.clone_from(recurrence);
        }
        if let Some(status) = patch.status {
            self.spec.status = status;
        }
    }
}
