//! Properties of [`convert_event`] over generated inputs: it never panics, and HTML-wrapped
//! descriptions give exactly what their plain text gives.

use proptest::prelude::*;

use super::*;
use crate::google::model::{Event, EventStatus, EventTime};

/// Strings that look like what the converter reads, plus arbitrary noise.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]*#![ -~]{0,20}",
        "[a-z._]{1,8}[ ]*[:=][ ]*[ -~]{0,12}(\n[a-z]{1,4}[:=][-+.0-9eE]{0,6}){0,4}",
        "(<(/)?(p|br|div|b|a href=\"x\"|li|span)( /)?>|&(nbsp|amp|lt|#38|#x26);|[ -~]){0,40}",
    ]
}

fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    ]
}

fn zone_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just("Europe/Warsaw".to_owned()),
        Just("America/Santiago".to_owned()),
        Just("Pacific/Apia".to_owned()),
        Just("Asia/Beirut".to_owned()),
    ]
}

fn event_time() -> impl Strategy<Value = Option<EventTime>> {
    proptest::option::of(
        (
            proptest::option::of(time_text()),
            proptest::option::of(time_text()),
            proptest::option::of(zone_text()),
        )
            .prop_map(|(date_time, date, time_zone)| EventTime {
                date_time,
                date,
                time_zone,
            }),
    )
}

/// A description line without characters that mean something in HTML or end a line.
fn plain_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._]{1,6}[ ]{0,2}:[ ]{0,2}[a-zA-Z0-9 .:/_-]{0,12}",
        "[a-zA-Z0-9._]{1,6}[ ]{0,2}=[ ]{0,2}[-+]?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][-+]?[0-9]{1,2})?",
        "[ -%'-;=?-~]{0,16}",
    ]
}

fn measurement(description: String) -> Event {
    let at = |s: &str| {
        Some(EventTime {
            date_time: Some(s.into()),
            ..EventTime::default()
        })
    };
    Event {
        id: "ev1".into(),
        summary: Some("#!Run".into()),
        description: Some(description),
        start: at("2026-03-02T07:00:00Z"),
        end: at("2026-03-02T08:00:00+01:00"),
        ..Event::default()
    }
}

proptest! {
    #[test]
    fn no_input_makes_the_converter_panic(
        id in prop_oneof![any::<String>(), Just(String::new())],
        status in proptest::option::of(any::<String>()),
        summary in proptest::option::of(text()),
        description in proptest::option::of(text()),
        start in event_time(),
        end in event_time(),
        recurrence in proptest::collection::vec(any::<String>(), 0..2),
        zone in proptest::option::of(zone_text()),
        horizon in proptest::option::of(any::<i64>()),
    ) {
        let event = Event {
            id,
            status: status.as_deref().map(EventStatus::from_google),
            summary,
            description,
            start,
            end,
            recurrence,
            ..Event::default()
        };
        let ctx = ConvertContext {
            calendar_time_zone: zone.as_deref().and_then(parse_time_zone),
            horizon_end_ms: horizon,
        };
        let first = convert_event(&event, &ctx);
        if let Conversion::Points(points) = &first {
            prop_assert!(!points.is_empty());
            for p in points {
                prop_assert!(p.point.validate().is_ok());
            }
        }
        prop_assert_eq!(convert_event(&event, &ctx), first);
    }

    #[test]
    fn html_wrapped_lines_convert_like_plain_lines(
        lines in proptest::collection::vec(plain_line(), 0..8)
    ) {
        let ctx = ConvertContext::default();
        let plain = convert_event(&measurement(lines.join("\n")), &ctx);
        let paragraphs: String = lines.iter().map(|l| format!("<p>{l}</p>")).collect();
        let breaks = lines.join("<br>");
        let escaped_divs: String =
            lines.iter().map(|l| format!("<div>{}</div>", l.replace(' ', "&nbsp;"))).collect();
        prop_assert!(matches!(plain, Conversion::Points(_)));
        prop_assert_eq!(&convert_event(&measurement(paragraphs), &ctx), &plain);
        prop_assert_eq!(&convert_event(&measurement(escaped_divs), &ctx), &plain);
        prop_assert_eq!(&convert_event(&measurement(breaks), &ctx), &plain);
    }
}
