//! The events.list answer of the Calendar API, deserialized leniently.
//!
//! Google adds fields and enum values over time, and incremental answers carry tombstones that
//! hold little more than an id (see `GOOGLE_APIS.md`, "events.list" and "The Event resource").
//! So every field is optional or defaulted, unknown fields are ignored, an explicit `null` reads
//! as the default, and enum-like fields (`status`, `eventType`) accept any string: one odd event
//! must never make a whole page unreadable.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default, so `"items": null` or `"recurrence": null` is accepted.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One page of an events.list answer.
///
/// `next_page_token` alone means "more pages follow"; `next_sync_token` appears only on the last
/// page. The caller, not this model, enforces that protocol.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventsPage {
    /// The events of this page; may be empty even when more pages follow.
    #[serde(deserialize_with = "null_as_default")]
    pub items: Vec<Event>,
    /// Opaque token for the next page; never parse it.
    pub next_page_token: Option<String>,
    /// Opaque token for the next incremental sync; only on the last page.
    pub next_sync_token: Option<String>,
    /// The calendar's IANA time zone, which decides where all-day events start.
    pub time_zone: Option<String>,
}

/// The `status` of an event, with a catch-all so a value Google adds later still deserializes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EventStatus {
    /// The normal state of an event.
    #[default]
    Confirmed,
    /// The event is tentatively confirmed; it still happens as far as we are concerned.
    Tentative,
    /// Deleted event or occurrence (a tombstone in incremental sync).
    Cancelled,
    /// A value this code does not know yet, kept as Google sent it.
    Other(String),
}

impl EventStatus {
    /// Maps Google's string onto the enum; never fails.
    pub fn from_google(value: &str) -> Self {
        match value {
            "confirmed" => Self::Confirmed,
            "tentative" => Self::Tentative,
            "cancelled" => Self::Cancelled,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for EventStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(Self::from_google(&value))
    }
}

/// The start or end of an event: `dateTime` for timed events, `date` for all-day ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventTime {
    /// RFC 3339 timestamp with an offset, e.g. `2026-03-08T07:00:00-05:00`.
    pub date_time: Option<String>,
    /// `yyyy-mm-dd` of an all-day event; the end date is exclusive.
    pub date: Option<String>,
    /// IANA zone the event was created in; informative for timed events.
    pub time_zone: Option<String>,
}

/// One event (or, with `singleEvents=true`, one occurrence of a series) as events.list returns it.
///
/// Only the fields the sync and the conversion read are modelled; the rest (`kind`, `etag`,
/// `updated`, `eventType`, …) is skipped unread: every string kept is an allocation per event,
/// and a full sync parses tens of thousands of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    /// Stable id; instances of a series are `<masterId>_<originalStart>`.
    pub id: String,
    /// `confirmed`, `tentative`, `cancelled` or a later addition; absent on some old events.
    pub status: Option<EventStatus>,
    /// The title, plain text.
    pub summary: Option<String>,
    /// The description, plain text or HTML written by Google's web UI.
    pub description: Option<String>,
    /// When the event starts; absent on tombstones.
    pub start: Option<EventTime>,
    /// When the event ends (exclusive); absent on tombstones.
    pub end: Option<EventTime>,
    /// Whether Google invented the end because the organiser gave none.
    #[serde(deserialize_with = "null_as_default")]
    pub end_time_unspecified: bool,
    /// The series this occurrence belongs to, on instances and exceptions.
    pub recurring_event_id: Option<String>,
    /// Where the occurrence was before it was moved; identifies it within the series.
    pub original_start_time: Option<EventTime>,
    /// `RRULE`/`EXDATE`/`RDATE` lines; only series masters carry them.
    #[serde(deserialize_with = "null_as_default")]
    pub recurrence: Vec<String>,
}

impl Event {
    /// Whether the event (or occurrence) is deleted, which includes every tombstone.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.status, Some(EventStatus::Cancelled))
    }

    /// Whether this is the master of a recurring series rather than a concrete occurrence.
    pub fn is_recurring_master(&self) -> bool {
        !self.recurrence.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> EventsPage {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    #[test]
    fn a_real_looking_page_deserializes() {
        let json = r##"{
          "kind": "calendar#events", "etag": "\"p33c9\"", "summary": "me@example.com",
          "updated": "2026-03-01T10:00:00.123Z", "timeZone": "Europe/Warsaw",
          "accessRole": "owner", "defaultReminders": [{"method": "popup", "minutes": 10}],
          "nextSyncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU=",
          "items": [{
            "kind": "calendar#event", "etag": "\"3181161784712000\"", "id": "abc123",
            "status": "confirmed", "htmlLink": "https://www.google.com/calendar/event?eid=x",
            "created": "2026-03-01T09:00:00.000Z", "updated": "2026-03-01T09:30:00.000Z",
            "summary": "#!Running", "description": "where:park<br>distance=10000",
            "creator": {"email": "me@example.com", "self": true},
            "start": {"dateTime": "2026-03-02T07:00:00+01:00", "timeZone": "Europe/Warsaw"},
            "end": {"dateTime": "2026-03-02T07:45:00+01:00", "timeZone": "Europe/Warsaw"},
            "iCalUID": "abc123@google.com", "sequence": 0, "eventType": "default",
            "reminders": {"useDefault": true}
          }, {
            "kind": "calendar#event", "id": "gym_20260303T170000Z", "status": "tentative",
            "summary": "#!Gym", "start": {"date": "2026-03-03"}, "end": {"date": "2026-03-04"},
            "recurringEventId": "gym", "originalStartTime": {"date": "2026-03-03"},
            "endTimeUnspecified": true
          }]
        }"##;
        let p = page(json);
        assert_eq!(p.time_zone.as_deref(), Some("Europe/Warsaw"));
        assert_eq!(
            p.next_sync_token.as_deref(),
            Some("CPDAlvWDx70CEPDAlvWDx70CGAU=")
        );
        assert_eq!(p.next_page_token, None);
        assert_eq!(p.items.len(), 2);
        let first = &p.items[0];
        assert_eq!(first.id, "abc123");
        assert_eq!(first.status, Some(EventStatus::Confirmed));
        assert_eq!(first.summary.as_deref(), Some("#!Running"));
        let start = first.start.clone().unwrap_or_default();
        assert_eq!(
            start.date_time.as_deref(),
            Some("2026-03-02T07:00:00+01:00")
        );
        assert_eq!(start.time_zone.as_deref(), Some("Europe/Warsaw"));
        assert!(!first.is_cancelled() && !first.is_recurring_master());
        let second = &p.items[1];
        assert_eq!(second.status, Some(EventStatus::Tentative));
        assert_eq!(second.recurring_event_id.as_deref(), Some("gym"));
        assert_eq!(
            second.start.clone().unwrap_or_default().date.as_deref(),
            Some("2026-03-03")
        );
        assert!(second.end_time_unspecified);
    }

    #[test]
    fn a_tombstone_deserializes_and_is_cancelled() {
        let p = page(
            r#"{"items":[{"kind":"calendar#event","etag":"\"1\"","id":"gone","status":"cancelled"}],
                "nextPageToken":"a+b/c="}"#,
        );
        assert_eq!(p.next_page_token.as_deref(), Some("a+b/c="));
        let e = &p.items[0];
        assert_eq!(e.id, "gone");
        assert!(e.is_cancelled());
        assert_eq!(
            (e.summary.as_ref(), e.start.as_ref(), e.end.as_ref()),
            (None, None, None)
        );
    }

    #[test]
    fn unknown_fields_values_and_nulls_are_tolerated() {
        let p = page(
            r#"{"items":[
                {"id":"a","status":"postponed","eventType":"somethingNew","brandNew":{"x":[1,2]},
                 "recurrence":null,"endTimeUnspecified":null,"summary":null},
                {"id":"b","recurrence":["RRULE:FREQ=WEEKLY;BYDAY=MO"]},
                {}
             ], "unknownTop": 5}"#,
        );
        assert_eq!(
            p.items[0].status,
            Some(EventStatus::Other("postponed".into()))
        );
        assert!(!p.items[0].is_cancelled());
        assert!(p.items[1].is_recurring_master());
        assert_eq!(p.items[2], Event::default());
        assert_eq!(page(r#"{"items":null}"#), EventsPage::default());
        assert_eq!(page("{}"), EventsPage::default());
    }

    #[test]
    fn status_strings_map_onto_the_enum() {
        let cases = [
            ("confirmed", EventStatus::Confirmed),
            ("tentative", EventStatus::Tentative),
            ("cancelled", EventStatus::Cancelled),
            ("Cancelled", EventStatus::Other("Cancelled".into())),
            ("", EventStatus::Other(String::new())),
        ];
        for (text, expected) in cases {
            assert_eq!(EventStatus::from_google(text), expected, "{text:?}");
        }
    }
}
