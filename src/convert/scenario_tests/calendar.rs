//! Times in conversion: offsets, all-day events across DST, a recurring series as Google returns
//! it with `singleEvents=true`, and the horizon.

use chrono_tz::Tz;

use super::{day, event, point, points, HOUR, MAR_2_0700Z};
use crate::convert::*;
use crate::google::model::{Event, EventTime};

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
