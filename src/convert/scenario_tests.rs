//! End-to-end rules of [`convert_event`], one table per rule, with exact expected values.

use chrono_tz::Tz;

use super::*;
use crate::google::model::{Event, EventTime};
use crate::metric::{DimensionKey, Dimensions};

const HOUR: f64 = 3_600_000.0;

fn at(date_time: &str) -> Option<EventTime> {
    Some(EventTime {
        date_time: Some(date_time.into()),
        ..EventTime::default()
    })
}

fn day(date: &str) -> Option<EventTime> {
    Some(EventTime {
        date: Some(date.into()),
        ..EventTime::default()
    })
}

fn event(summary: &str, start: &str, end: &str, description: Option<&str>) -> Event {
    Event {
        id: "ev1".into(),
        summary: Some(summary.into()),
        description: description.map(Into::into),
        start: at(start),
        end: at(end),
        ..Event::default()
    }
}

fn dims(pairs: &[(&str, &str)]) -> Dimensions {
    pairs
        .iter()
        .map(|(k, v)| (DimensionKey::new(*k).unwrap(), (*v).to_owned()))
        .collect()
}

fn point(metric: &str, timestamp: i64, value: f64, pairs: &[(&str, &str)]) -> MetricPoint {
    MetricPoint {
        metric: MetricName::new(metric).unwrap(),
        point: Datapoint {
            timestamp,
            dimensions: dims(pairs),
            value,
        },
    }
}

fn points(event: &Event, ctx: &ConvertContext) -> Vec<MetricPoint> {
    match convert_event(event, ctx) {
        Conversion::Points(points) => points,
        other => panic!("expected points for {event:?}, got {other:?}"),
    }
}

/// 2026-03-02T07:00:00Z in epoch ms.
const MAR_2_0700Z: i64 = 1_772_434_800_000;

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
fn all_day_events_last_local_days_across_dst() {
    // (zone, start date, end date, start ms, duration ms)
    let cases: &[(Tz, &str, &str, i64, f64)] = &[
        (
            Tz::Europe__Warsaw,
            "2026-03-28",
            "2026-03-29",
            1_774_652_400_000,
            24.0 * HOUR,
        ),
        (
            Tz::Europe__Warsaw,
            "2026-03-29",
            "2026-03-30",
            1_774_738_800_000,
            23.0 * HOUR,
        ),
        (
            Tz::Europe__Warsaw,
            "2026-10-25",
            "2026-10-26",
            1_792_879_200_000,
            25.0 * HOUR,
        ),
        (
            Tz::Europe__Warsaw,
            "2026-03-28",
            "2026-03-31",
            1_774_652_400_000,
            71.0 * HOUR,
        ),
        (
            Tz::America__New_York,
            "2026-03-08",
            "2026-03-09",
            1_772_946_000_000,
            23.0 * HOUR,
        ),
        (
            Tz::America__New_York,
            "2026-11-01",
            "2026-11-02",
            1_793_505_600_000,
            25.0 * HOUR,
        ),
        (
            Tz::America__New_York,
            "2026-07-04",
            "2026-07-05",
            1_783_137_600_000,
            24.0 * HOUR,
        ),
        // Santiago skips midnight on 2022-09-11: the day starts at 01:00 -03 and lasts 23 h.
        (
            Tz::America__Santiago,
            "2022-09-11",
            "2022-09-12",
            1_662_868_800_000,
            23.0 * HOUR,
        ),
        (
            Tz::UTC,
            "2026-03-29",
            "2026-03-30",
            1_774_742_400_000,
            24.0 * HOUR,
        ),
    ];
    for (zone, start, end, start_ms, duration) in cases {
        let ev = Event {
            start: day(start),
            end: day(end),
            ..event("#!Trip", "", "", None)
        };
        let ctx = ConvertContext {
            calendar_time_zone: Some(*zone),
            horizon_end_ms: None,
        };
        let got = points(&ev, &ctx);
        let d = [("activity", "Trip"), ("src", "ev1")];
        assert_eq!(
            got,
            vec![point("imp.events.duration", *start_ms, *duration, &d)],
            "{zone} {start}"
        );
    }
}

#[test]
fn all_day_zone_falls_back_to_the_event_zone_then_utc() {
    let own_zone = |name: &str| {
        Some(EventTime {
            time_zone: Some(name.into()),
            ..day("2026-03-29").unwrap_or_default()
        })
    };
    let base = Event {
        end: day("2026-03-30"),
        ..event("#!Trip", "", "", None)
    };
    let cases: &[(Option<Tz>, Option<EventTime>, i64, f64)] = &[
        (
            None,
            own_zone("Europe/Warsaw"),
            1_774_738_800_000,
            23.0 * HOUR,
        ),
        (
            Some(Tz::UTC),
            own_zone("Europe/Warsaw"),
            1_774_742_400_000,
            24.0 * HOUR,
        ),
        (None, own_zone("Not/AZone"), 1_774_742_400_000, 24.0 * HOUR),
        (None, day("2026-03-29"), 1_774_742_400_000, 24.0 * HOUR),
    ];
    for (calendar, start, start_ms, duration) in cases {
        let ev = Event {
            start: start.clone(),
            ..base.clone()
        };
        let ctx = ConvertContext {
            calendar_time_zone: *calendar,
            horizon_end_ms: None,
        };
        let got = points(&ev, &ctx);
        assert_eq!(
            (got[0].point.timestamp, got[0].point.value),
            (*start_ms, *duration),
            "{calendar:?} {start:?}"
        );
    }
}

#[test]
fn date_times_honour_their_offsets() {
    let cases: &[(&str, &str, i64, f64)] = &[
        (
            "2026-03-02T08:00:00+01:00",
            "2026-03-02T08:45:00+01:00",
            MAR_2_0700Z,
            2_700_000.0,
        ),
        (
            "2026-03-02T02:00:00-05:00",
            "2026-03-02T07:45:00Z",
            MAR_2_0700Z,
            2_700_000.0,
        ),
        (
            "2026-03-02T12:45:00+05:45",
            "2026-03-02T03:15:00-04:30",
            MAR_2_0700Z,
            2_700_000.0,
        ),
        (
            "2026-03-02T07:00:00.250Z",
            "2026-03-02T07:00:01Z",
            MAR_2_0700Z + 250,
            750.0,
        ),
        // Across the New York spring-forward: 01:30 EST to 03:30 EDT is one hour.
        (
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:30:00-04:00",
            1_772_951_400_000,
            HOUR,
        ),
        // Zero-length events are valid.
        (
            "2026-03-02T07:00:00Z",
            "2026-03-02T08:00:00+01:00",
            MAR_2_0700Z,
            0.0,
        ),
    ];
    for (start, end, start_ms, duration) in cases {
        let got = points(
            &event("#!Run", start, end, None),
            &ConvertContext::default(),
        );
        assert_eq!(
            (got[0].point.timestamp, got[0].point.value),
            (*start_ms, *duration),
            "{start} {end}"
        );
    }
}

/// A weekly `#!Gym` series as events.list returns it with `singleEvents=true`: instances with
/// `recurringEventId`, one cancelled occurrence and one moved (own time, title, description).
const GYM_PAGE: &str = r##"{
  "kind": "calendar#events", "timeZone": "Europe/Warsaw", "nextSyncToken": "tok+/=",
  "items": [
    {"id": "gym_20260302T170000Z", "status": "confirmed", "summary": "#!Gym",
     "description": "where:downtown", "recurringEventId": "gym",
     "originalStartTime": {"dateTime": "2026-03-02T18:00:00+01:00", "timeZone": "Europe/Warsaw"},
     "start": {"dateTime": "2026-03-02T18:00:00+01:00", "timeZone": "Europe/Warsaw"},
     "end": {"dateTime": "2026-03-02T19:00:00+01:00", "timeZone": "Europe/Warsaw"}},
    {"id": "gym_20260309T170000Z", "status": "cancelled", "summary": "#!Gym",
     "recurringEventId": "gym",
     "originalStartTime": {"dateTime": "2026-03-09T18:00:00+01:00", "timeZone": "Europe/Warsaw"},
     "start": {"dateTime": "2026-03-09T18:00:00+01:00", "timeZone": "Europe/Warsaw"},
     "end": {"dateTime": "2026-03-09T19:00:00+01:00", "timeZone": "Europe/Warsaw"}},
    {"id": "gym_20260316T170000Z", "status": "confirmed", "summary": "#!Gym legs",
     "description": "<p>where: uptown</p><p>weight=80.5</p>", "recurringEventId": "gym",
     "originalStartTime": {"dateTime": "2026-03-16T18:00:00+01:00", "timeZone": "Europe/Warsaw"},
     "start": {"dateTime": "2026-03-17T07:30:00+01:00", "timeZone": "Europe/Warsaw"},
     "end": {"dateTime": "2026-03-17T09:00:00+01:00", "timeZone": "Europe/Warsaw"}},
    {"id": "gym_20260330T160000Z", "status": "confirmed", "summary": "#!Gym",
     "description": "where:downtown", "recurringEventId": "gym",
     "originalStartTime": {"dateTime": "2026-03-30T18:00:00+02:00", "timeZone": "Europe/Warsaw"},
     "start": {"dateTime": "2026-03-30T18:00:00+02:00", "timeZone": "Europe/Warsaw"},
     "end": {"dateTime": "2026-03-30T19:00:00+02:00", "timeZone": "Europe/Warsaw"}},
    {"id": "gym_20260406T160000Z", "status": "confirmed", "summary": "#!Gym",
     "recurringEventId": "gym",
     "start": {"dateTime": "2026-04-06T18:00:00+02:00", "timeZone": "Europe/Warsaw"},
     "end": {"dateTime": "2026-04-06T19:00:00+02:00", "timeZone": "Europe/Warsaw"}}
  ]
}"##;

#[test]
fn a_weekly_series_converts_instance_by_instance() {
    let page: EventsPage = serde_json::from_str(GYM_PAGE).unwrap();
    // Horizon: 2026-04-06T16:00:00Z exactly, so the last instance is beyond it.
    let ctx = ConvertContext::for_page(&page, Some(1_775_491_200_000));
    assert_eq!(ctx.calendar_time_zone, Some(Tz::Europe__Warsaw));
    let results: Vec<Conversion> = page.items.iter().map(|e| convert_event(e, &ctx)).collect();
    let first = [
        ("activity", "Gym"),
        ("where", "downtown"),
        ("src", "gym_20260302T170000Z"),
    ];
    let fourth = [
        ("activity", "Gym"),
        ("where", "downtown"),
        ("src", "gym_20260330T160000Z"),
    ];
    let moved = [
        ("activity", "Gym legs"),
        ("where", "uptown"),
        ("src", "gym_20260316T170000Z"),
    ];
    let expected = vec![
        Conversion::Points(vec![point(
            "imp.events.duration",
            1_772_470_800_000,
            HOUR,
            &first,
        )]),
        Conversion::NotAMeasurement,
        Conversion::Points(vec![
            point("imp.events.duration", 1_773_729_000_000, 1.5 * HOUR, &moved),
            point("imp.events.custom.weight", 1_773_729_000_000, 80.5, &moved),
        ]),
        Conversion::Points(vec![point(
            "imp.events.duration",
            1_774_886_400_000,
            HOUR,
            &fourth,
        )]),
        Conversion::Skipped(SkipReason::BeyondHorizon),
    ];
    assert_eq!(results, expected);
}

#[test]
fn the_horizon_is_exclusive_of_its_own_instant() {
    let ev = event(
        "#!Run",
        "2026-03-02T07:00:00Z",
        "2026-03-02T08:00:00Z",
        None,
    );
    let cases: &[(Option<i64>, bool)] = &[
        (None, true),
        (Some(MAR_2_0700Z + 1), true),
        (Some(MAR_2_0700Z), false),
        (Some(MAR_2_0700Z - 1), false),
        (Some(i64::MIN), false),
    ];
    for (horizon, converts) in cases {
        let ctx = ConvertContext {
            calendar_time_zone: None,
            horizon_end_ms: *horizon,
        };
        let got = convert_event(&ev, &ctx);
        let expected_skip = Conversion::Skipped(SkipReason::BeyondHorizon);
        assert_eq!(
            matches!(got, Conversion::Points(_)),
            *converts,
            "{horizon:?}"
        );
        assert_eq!(got == expected_skip, !*converts, "{horizon:?}");
    }
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
