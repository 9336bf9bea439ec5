//! Hostile answers from "Google": random bytes, truncated pages, wrong types, huge fields and
//! unknown fields. Parsing and classifying them must never panic, and whatever parses must
//! convert without panicking either (a proxy, a captive portal or a Google bug can send anything).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::error::{api_error, parse_retry_after};
use super::model::EventsPage;
use super::oauth::identity_from_id_token;
use crate::convert::{convert_event, ConvertContext};

/// Field names the model reads, so mutations hit them rather than only unknown keys.
const FIELDS: &[&str] = &[
    "items",
    "nextPageToken",
    "nextSyncToken",
    "timeZone",
    "id",
    "status",
    "summary",
    "description",
    "start",
    "end",
    "dateTime",
    "date",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
    "eventType",
    "endTimeUnspecified",
    "updated",
    "unknownField",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        // Huge strings: a field of 100 KB to 1 MB.
        (100_000usize..1_000_000).prop_map(|n| Value::from("#!x=1\n".repeat(n / 6))),
        Just(Value::from("2026-03-02T07:00:00+01:00")),
        Just(Value::from("2026-03-02")),
        Just(Value::from("#!Running")),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(FIELDS), inner, 0..5).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn good_page() -> Value {
    json!({
        "kind": "calendar#events",
        "timeZone": "Europe/Warsaw",
        "nextSyncToken": "+/abc==",
        "items": [
            {"id": "a", "status": "confirmed", "summary": "#!Running", "description": "km=5",
             "start": {"dateTime": "2026-03-02T07:00:00+01:00"},
             "end": {"dateTime": "2026-03-02T07:30:00+01:00"}},
            {"id": "b", "summary": "#!Day off",
             "start": {"date": "2026-03-03"}, "end": {"date": "2026-03-04"}},
            {"id": "c", "status": "cancelled"}
        ]
    })
}

/// One mutation: where (the page, an event, or an event's start/end) and what to put there.
#[derive(Debug, Clone)]
struct Mutation {
    target: usize,
    nested: Option<&'static str>,
    field: &'static str,
    value: Value,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        0usize..4,
        prop::option::of(prop::sample::select(
            &["start", "end", "originalStartTime"][..],
        )),
        prop::sample::select(FIELDS),
        json_value(),
    )
        .prop_map(|(target, nested, field, value)| Mutation {
            target,
            nested,
            field,
            value,
        })
}

fn apply(page: &mut Value, m: &Mutation) {
    let slot = if m.target == 3 {
        Some(&mut *page)
    } else {
        page["items"].get_mut(m.target)
    };
    // Earlier mutations may have made the target a non-object: then this one does nothing.
    let Some(mut obj) = slot.and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(n) = m.nested {
        let inner = obj.entry(n).or_insert_with(|| json!({}));
        if !inner.is_object() {
            *inner = json!({});
        }
        let Some(inner) = inner.as_object_mut() else {
            return;
        };
        obj = inner;
    }
    obj.insert(m.field.to_string(), m.value.clone());
}

fn parse_and_convert(bytes: &[u8]) {
    if let Ok(page) = serde_json::from_slice::<EventsPage>(bytes) {
        let ctx = ConvertContext::for_page(&page, Some(i64::MAX / 2));
        for event in &page.items {
            let _ = convert_event(event, &ctx);
            let _ = (event.is_cancelled(), event.is_recurring_master());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_pages_never_panic(
        mutations in prop::collection::vec(mutation(), 1..5),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut page = good_page();
        for m in &mutations {
            apply(&mut page, m);
        }
        let mut bytes = serde_json::to_vec(&page).unwrap();
        if let Some(cut) = cut {
            // A truncated answer (a dropped connection mid-body, a size cap).
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        parse_and_convert(&bytes);
    }

    #[test]
    fn random_bytes_never_panic_any_parser(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        status in 100u16..600,
        retry_after in prop::option::of(".{0,40}"),
        text in ".{0,200}",
    ) {
        parse_and_convert(&bytes);
        let e = api_error(status, retry_after.as_deref(), &bytes);
        let _ = (e.disposition(), e.summary(), e.to_string());
        let _ = parse_retry_after(&text);
        let _ = identity_from_id_token(&text, "client");
        let _ = identity_from_id_token(&String::from_utf8_lossy(&bytes), "client");
    }

    #[test]
    fn error_bodies_of_any_shape_classify_without_panic(
        body in json_value(),
        status in prop::sample::select(&[400u16, 401, 403, 404, 410, 429, 500, 503][..]),
    ) {
        let wrapped = json!({"error": body.clone()});
        for b in [&body, &wrapped] {
            let e = api_error(status, None, &serde_json::to_vec(b).unwrap());
            let _ = (e.disposition(), e.summary());
        }
    }
}

#[test]
fn a_good_page_still_converts() {
    let page: EventsPage = serde_json::from_value(good_page()).unwrap();
    assert_eq!(page.items.len(), 3);
}
