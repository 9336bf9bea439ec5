//! Google's JSON for events and for the `events.list` envelope, written through borrowed
//! `Serialize` structs so a 2,500-item page serializes without building a `Value` tree.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::model::{EventId, EventStatus, EventTime, RenderKey, StoredEvent};

/// One entry of a listing, captured when the listing's snapshot was taken.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    /// A stored event (single, master or exception) in its state at snapshot time; a deleted one
    /// renders as a tombstone.
    Event(Arc<StoredEvent>),
    /// An unmodified occurrence of a series, synthesized from its master.
    Instance {
        master: Arc<StoredEvent>,
        original: EventTime,
    },
    /// An occurrence of a deleted series.
    InstanceTombstone { id: EventId, etag: String },
}

/// What every item on one page shares.
pub(crate) struct RenderContext<'a> {
    /// The listed calendar's id: the organizer of its events, and part of their `htmlLink`.
    pub calendar: &'a str,
    /// The e-mail of the calendar's owner, who created its events.
    pub creator: &'a str,
    /// Whether the caller owns the calendar (`self` on creator and organizer).
    pub is_owner: bool,
    /// A `freeBusyReader` gets no `summary` and no `description` (GOOGLE_APIS.md).
    pub hide_details: bool,
    pub base_url: &'a str,
    /// The request's `timeZone` parameter.
    pub display: Option<Tz>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TimeJson {
    Timed {
        #[serde(rename = "dateTime")]
        date_time: String,
        #[serde(rename = "timeZone")]
        time_zone: &'static str,
    },
    AllDay {
        date: String,
    },
}

fn time_json(time: &EventTime, display: Option<Tz>) -> TimeJson {
    match time {
        EventTime::Timed(at) => TimeJson::Timed {
            date_time: at
                .with_timezone(&display.unwrap_or(at.timezone()))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            time_zone: at.timezone().name(),
        },
        EventTime::AllDay(date) => TimeJson::AllDay {
            date: date.format("%Y-%m-%d").to_string(),
        },
    }
}

/// `<base>/calendar/event?eid=<base64url of "<id> <calendar>">`, built in one buffer (no `format!`
/// machinery: a 2,500-item page builds 2,500 of them).
fn html_link(base_url: &str, id: &str, calendar: &str) -> String {
    let raw = [id.as_bytes(), b" ", calendar.as_bytes()].concat();
    let mut link = String::with_capacity(base_url.len() + 20 + raw.len() * 4 / 3 + 4);
    link.push_str(base_url);
    link.push_str("/calendar/event?eid=");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&raw, &mut link);
    link
}

/// Google's timestamp format for `created`/`updated`: UTC with milliseconds
/// (`2026-03-01T09:30:00.000Z`). chrono's RFC 3339 writer, not a `format` string, which would be
/// parsed again for every stamp (a fifth of a page's rendering).
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Serialize)]
struct Person<'a> {
    email: &'a str,
    #[serde(rename = "self")]
    is_self: bool,
}

#[derive(Serialize)]
struct Reminders {
    #[serde(rename = "useDefault")]
    use_default: bool,
}

/// One item of `items[]`. Optional fields vanish, which gives tombstones their minimal shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventJson<'a> {
    kind: &'static str,
    etag: String,
    id: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    html_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creator: Option<Person<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizer: Option<Person<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<TimeJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<TimeJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recurrence: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recurring_event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_start_time: Option<TimeJson>,
    #[serde(rename = "iCalUID", skip_serializing_if = "Option::is_none")]
    ical_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reminders: Option<Reminders>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<&'static str>,
}

impl<'a> EventJson<'a> {
    /// `{"kind","etag","id","status":"cancelled"}`: all Google promises about a deleted event.
    fn tombstone(id: &'a str, etag: String) -> Self {
        Self {
            kind: "calendar#event",
            etag,
            id,
            status: EventStatus::Cancelled.as_str(),
            html_link: None,
            created: None,
            updated: None,
            summary: None,
            description: None,
            creator: None,
            organizer: None,
            start: None,
            end: None,
            recurrence: None,
            recurring_event_id: None,
            original_start_time: None,
            ical_uid: None,
            sequence: None,
            reminders: None,
            event_type: None,
        }
    }

    /// A whole event. `instance` names the series and occurrence when `event` is the master and
    /// the item is one of its unmodified occurrences.
    fn full(
        event: &'a StoredEvent,
        id: &'a str,
        instance: Option<(&'a EventId, EventTime)>,
        ctx: &RenderContext<'a>,
    ) -> Self {
        let display = ctx.display;
        let recurring = instance.or(event.recurring.as_ref().map(|(m, t)| (m, *t)));
        let (start, end) = match instance {
            Some((_, original)) => (
                original,
                original.shifted(event.spec.start.until(&event.spec.end)),
            ),
            None => (event.spec.start, event.spec.end),
        };
        let mut json = Self::tombstone(id, event.etag());
        if event.spec.status == EventStatus::Cancelled && event.recurring.is_some() {
            // A cancelled occurrence: tombstone plus which occurrence it cancels.
            json.recurring_event_id = recurring.map(|(m, _)| m.as_str());
            json.original_start_time = recurring.map(|(_, t)| time_json(&t, display));
            return json;
        }
        json.status = event.spec.status.as_str();
        json.html_link = Some(html_link(ctx.base_url, id, ctx.calendar));
        json.created = Some(stamp(event.created));
        json.updated = Some(stamp(event.updated));
        if !ctx.hide_details {
            json.summary = Some(&event.spec.summary);
            json.description = event.spec.description.as_deref();
        }
        json.creator = Some(Person {
            email: ctx.creator,
            is_self: ctx.is_owner,
        });
        json.organizer = Some(Person {
            email: ctx.calendar,
            is_self: ctx.is_owner,
        });
        json.start = Some(time_json(&start, display));
        json.end = Some(time_json(&end, display));
        json.recurrence =
            (instance.is_none() && event.is_master()).then_some(&event.spec.recurrence[..]);
        json.recurring_event_id = recurring.map(|(m, _)| m.as_str());
        json.original_start_time = recurring.map(|(_, t)| time_json(&t, display));
        json.ical_uid = Some(&event.ical_uid);
        json.sequence = Some(event.sequence);
        json.reminders = Some(Reminders { use_default: true });
        json.event_type = Some("default");
        json
    }
}

/// Renders one item; `instance_id` is the id of an occurrence ([`Item::id`], computed by the
/// caller so the borrowed id outlives the call), unread for other items.
pub(crate) fn item_json<'a>(
    item: &'a Item,
    instance_id: &'a str,
    ctx: &RenderContext<'a>,
) -> EventJson<'a> {
    match item {
        Item::Event(event) if event.deleted => {
            EventJson::tombstone(event.id.as_str(), event.etag())
        }
        Item::Event(event) => EventJson::full(event, event.id.as_str(), None, ctx),
        Item::Instance { master, original } => {
            EventJson::full(master, instance_id, Some((&master.id, *original)), ctx)
        }
        Item::InstanceTombstone { id, etag } => EventJson::tombstone(id.as_str(), etag.clone()),
    }
}

impl Item {
    /// The id the item is listed under.
    pub(crate) fn id(&self) -> String {
        match self {
            Item::Event(event) => event.id.0.clone(),
            Item::Instance { master, original } => master.id.instance(original).0,
            Item::InstanceTombstone { id, .. } => id.0.clone(),
        }
    }
}

/// A page's items, rendered one by one as they are written: a 2,500-item page never holds its
/// items' owned strings all at once.
pub(crate) struct Items<'a> {
    pub items: &'a [Item],
    pub ctx: &'a RenderContext<'a>,
}

impl Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let key = RenderKey {
            is_owner: self.ctx.is_owner,
            hide_details: self.ctx.hide_details,
            display: self.ctx.display,
        };
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            // Only an occurrence's id is made up; every other item renders its own.
            let id = match item {
                Item::Instance { .. } => item.id(),
                _ => String::new(),
            };
            let id = id.as_str();
            let cached = match item {
                // A stored event's rendering depends only on it and `key`: kept with it.
                Item::Event(event) => event.rendered.get_or_render(key, || {
                    serde_json::value::to_raw_value(&item_json(item, id, self.ctx)).ok()
                }),
                // Occurrences are made up per listing; tombstones are short.
                _ => None,
            };
            match cached {
                Some(json) => seq.serialize_element(&*json)?,
                None => seq.serialize_element(&item_json(item, id, self.ctx))?,
            }
        }
        seq.end()
    }
}

/// The `events.list` envelope around a page of items.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListJson<'a> {
    pub kind: &'static str,
    pub etag: String,
    pub summary: &'a str,
    pub updated: String,
    pub time_zone: &'a str,
    pub access_role: &'static str,
    pub default_reminders: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<&'a str>,
    pub items: Items<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_token: Option<&'a str>,
}
