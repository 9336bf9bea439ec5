//! End-to-end rules of [`convert_event`], one table per rule, with exact expected values.
//!
//! This file holds the title and description rules; [`calendar`] holds times, all-day events,
//! recurring series and the horizon.

mod calendar;

use super::*;
use crate::google::model::{Event, EventTime};
use crate::metric::{DimensionKey, Dimensions};

pub(super) const HOUR: f64 = 3_600_000.0;

pub(super) fn at(date_time: &str) -> Option<EventTime> {
    Some(EventTime {
        date_time: Some(date_time.into()),
        ..EventTime::default()
    })
}

pub(super) fn day(date: &str) -> Option<EventTime> {
    Some(EventTime {
        date: Some(date.into()),
        ..EventTime::default()
    })
}

/// A timed event `ev1` (start and end RFC 3339), as a calendar lists it.
pub(crate) fn event(summary: &str, start: &str, end: &str, description: Option<&str>) -> Event {
    Event {
        id: "ev1".into(),
        summary: Some(summary.into()),
        description: description.map(Into::into),
        start: at(start),
        end: at(end),
        ..Event::default()
    }
}

pub(super) fn dims(pairs: &[(&str, &str)]) -> Dimensions {
    pairs
        .iter()
        .map(|(k, v)| (DimensionKey::new(*k).unwrap(), (*v).to_owned()))
        .collect()
}

pub(super) fn point(
    metric: &str,
    timestamp: i64,
    value: f64,
    pairs: &[(&str, &str)],
) -> MetricPoint {
    MetricPoint {
        metric: MetricName::new(metric).unwrap(),
        point: Datapoint {
            timestamp,
            dimensions: dims(pairs),
            value,
        },
    }
}

pub(super) fn points(event: &Event, ctx: &ConvertContext) -> Vec<MetricPoint> {
    match convert_event(event, ctx) {
        Conversion::Points(points) => points,
        other => panic!("expected points for {event:?}, got {other:?}"),
    }
}

/// 2026-03-02T07:00:00Z in epoch ms.
pub(super) const MAR_2_0700Z: i64 = 1_772_434_800_000;

#[test]
fn the_running_example_gives_duration_and_custom_distance() {
    let ev = event(
        "#!Running",
        "2026-03-02T07:00:00Z",
        "2026-03-02T07:45:00Z",
        Some("where:park\ndistance=10000"),
    );
    let d = [("activity", "Running"), ("where", "park"), ("src", "ev1")];
    let expected = vec![
        point("imp.events.duration", MAR_2_0700Z, 2_700_000.0, &d),
        point("imp.events.custom.distance", MAR_2_0700Z, 10000.0, &d),
    ];
    assert_eq!(points(&ev, &ConvertContext::default()), expected);
}

#[test]
fn html_descriptions_give_the_same_points_as_plain_text() {
    let cases: &[(&str, &str, (usize, usize))] = &[
        (
            "where:park\ndistance=10000",
            "where:park<br>distance=10000",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "where:park<br/>distance=10000",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "where:park<BR />distance=10000",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "<p>where:park</p><p>distance=10000</p>",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "<div>where:park</div><div>distance=10000</div>",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "<ul><li>where:park</li><li>distance=10000</li></ul>",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "<ol>\n<li>where:park</li>\n<li>distance=10000</li>\n</ol>",
            (2, 3),
        ),
        (
            "where:park\ndistance=10000",
            "<b>where</b>:<i>park</i><br><span>distance</span>=10000",
            (2, 3),
        ),
        (
            "where: Central Park",
            "where:&nbsp;Central&nbsp;Park",
            (1, 3),
        ),
        (
            "where: Central Park",
            "<p>where: <u>Central</u> Park&nbsp;</p>",
            (1, 3),
        ),
        ("who: Tom & Jerry", "who: Tom &amp; Jerry", (1, 3)),
        (
            "who: Tom & Jerry",
            "<div>who: Tom &#38; Jerry</div>",
            (1, 3),
        ),
        ("sym: <3 & >", "<p>sym: &lt;3 &amp; &gt;</p>", (1, 3)),
        ("café: x", "caf&eacute;: x<br>", (1, 2)),
        ("cafe: x\nn=1", "cafe: &#x78;<br>n=&#49;", (2, 3)),
        (
            "zoom: https://zoom.us/j/1",
            "zoom: <a href=\"https://zoom.us/j/1\">https://zoom.us/j/1</a>",
            (1, 3),
        ),
        (
            "",
            "<a href=\"https://meet.google.com/x\">https://meet.google.com/x</a>",
            (1, 2),
        ),
        (
            "where:park",
            "<html-blob>where:park</html-blob><br>",
            (1, 3),
        ),
        ("where:park", "<html-blob>where:park</html-blob>", (1, 3)),
        (
            "where:park\ndistance=1e3",
            "<h1>where:park</h1><blockquote>distance=1e3</blockquote>",
            (2, 3),
        ),
        (
            "where:park",
            "<p style=\"margin: 0\" class='x>y'>where:park</p><!-- a:b -->",
            (1, 3),
        ),
    ];
    let ctx = ConvertContext::default();
    for (plain, html, (n_points, n_dimensions)) in cases {
        let plain_ev = event(
            "#!Running",
            "2026-03-02T07:00:00Z",
            "2026-03-02T07:45:00Z",
            Some(plain),
        );
        let html_ev = Event {
            description: Some((*html).into()),
            ..plain_ev.clone()
        };
        let plain_points = points(&plain_ev, &ctx);
        assert_eq!(points(&html_ev, &ctx), plain_points, "{html:?}");
        let shape = (plain_points.len(), plain_points[0].point.dimensions.len());
        assert_eq!(shape, (*n_points, *n_dimensions), "{plain:?}");
    }
}

#[test]
fn plain_text_with_angle_brackets_is_kept_verbatim() {
    let ev = event(
        "#!Chess",
        "2026-03-02T07:00:00Z",
        "2026-03-02T07:00:00Z",
        Some("note: a<b\nx: 1 < 2 > 0"),
    );
    let d = [
        ("activity", "Chess"),
        ("note", "a<b"),
        ("x", "1 < 2 > 0"),
        ("src", "ev1"),
    ];
    assert_eq!(
        points(&ev, &ConvertContext::default()),
        vec![point("imp.events.duration", MAR_2_0700Z, 0.0, &d)]
    );
}

#[test]
fn non_measurements_give_nothing() {
    let base = event(
        "#!Run",
        "2026-03-02T07:00:00Z",
        "2026-03-02T08:00:00Z",
        None,
    );
    let cancelled: Event =
        serde_json::from_str(r##"{"id":"ev1","status":"cancelled","summary":"#!Run"}"##).unwrap();
    let tombstone: Event = serde_json::from_str(
        r##"{"kind":"calendar#event","etag":"\"1\"","id":"x","status":"cancelled"}"##,
    )
    .unwrap();
    let cases = [
        Event {
            summary: Some("Run".into()),
            ..base.clone()
        },
        Event {
            summary: None,
            ..base.clone()
        },
        Event {
            status: cancelled.status.clone(),
            ..base.clone()
        },
        cancelled,
        tombstone,
    ];
    for ev in &cases {
        assert_eq!(
            convert_event(ev, &ConvertContext::default()),
            Conversion::NotAMeasurement,
            "{ev:?}"
        );
    }
}

#[test]
fn any_status_but_cancelled_converts_and_unspecified_ends_count() {
    let json = |status: &str| {
        format!(
            r##"{{"id":"ev1","status":"{status}","summary":"#!Run","endTimeUnspecified":true,
               "start":{{"dateTime":"2026-03-02T07:00:00Z"}},"end":{{"dateTime":"2026-03-02T07:30:00Z"}}}}"##
        )
    };
    for status in ["confirmed", "tentative", "postponed"] {
        let ev: Event = serde_json::from_str(&json(status)).unwrap();
        let got = points(&ev, &ConvertContext::default());
        assert_eq!(
            got,
            vec![point(
                "imp.events.duration",
                MAR_2_0700Z,
                1_800_000.0,
                &[("activity", "Run"), ("src", "ev1")]
            )],
            "{status}"
        );
    }
}

#[test]
fn urls_reserved_keys_and_duplicates_follow_the_rules() {
    let description =
        "https://meet.google.com/abc-defg-hij\nhttp://example.com\nmailto:me@example.com\n\
        zoom: https://zoom.us/j/1\nactivity: Cycling\nsrc: forged\nwhere:park\nwhere: lake\n\
        Join with Google Meet: https://meet.google.com/x\nreps=10\nreps=12\nfree text line";
    let ev = event(
        "#!Swim",
        "2026-03-02T07:00:00Z",
        "2026-03-02T08:00:00Z",
        Some(description),
    );
    let d = [
        ("activity", "Swim"),
        ("src", "ev1"),
        ("where", "lake"),
        ("zoom", "https://zoom.us/j/1"),
    ];
    let expected = vec![
        point("imp.events.duration", MAR_2_0700Z, HOUR, &d),
        point("imp.events.custom.reps", MAR_2_0700Z, 12.0, &d),
    ];
    assert_eq!(points(&ev, &ConvertContext::default()), expected);
}

#[test]
fn numbers_are_accepted_in_every_form_and_refused_otherwise() {
    let cases: &[(&str, Option<f64>)] = &[
        ("10", Some(10.0)),
        ("-3", Some(-3.0)),
        ("+2.5", Some(2.5)),
        (".5", Some(0.5)),
        ("5.", Some(5.0)),
        ("1e3", Some(1000.0)),
        ("1.5E-2", Some(0.015)),
        ("  7  ", Some(7.0)),
        ("NaN", None),
        ("inf", None),
        ("-infinity", None),
        ("0x10", None),
        ("1,5", None),
        ("10 km", None),
    ];
    for (text, expected) in cases {
        let description = format!("x={text}");
        let ev = event(
            "#!Run",
            "2026-03-02T07:00:00Z",
            "2026-03-02T08:00:00Z",
            Some(&description),
        );
        let got = points(&ev, &ConvertContext::default());
        let custom = got.get(1).map(|p| (p.metric.as_str(), p.point.value));
        assert_eq!(
            custom,
            expected.map(|v| ("imp.events.custom.x", v)),
            "{text:?}"
        );
        assert_eq!(got.len(), 1 + usize::from(expected.is_some()));
    }
}

#[test]
fn conversion_is_deterministic() {
    let ev = event(
        "#!Run",
        "2026-03-02T07:00:00Z",
        "2026-03-02T08:00:00Z",
        Some("b=2\nz:1\na=1\nb=3\na:2"),
    );
    let first = points(&ev, &ConvertContext::default());
    let names: Vec<&str> = first.iter().map(|p| p.metric.as_str()).collect();
    assert_eq!(
        names,
        [
            "imp.events.duration",
            "imp.events.custom.b",
            "imp.events.custom.a"
        ]
    );
    assert_eq!(first[1].point.value, 3.0);
    for _ in 0..3 {
        assert_eq!(points(&ev, &ConvertContext::default()), first);
    }
}
