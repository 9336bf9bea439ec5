//! Recurring series: `singleEvents=true` expansion, exceptions, and `singleEvents=false`.

use std::collections::HashSet;

use awc::http::StatusCode;
use chrono::{NaiveDate, TimeZone};
use impulses_gcal::sandbox::{EventId, EventPatch, EventSpec, EventTime};
use serde_json::Value;

use super::support::*;

fn warsaw(m: u32, d: u32, h: u32) -> EventTime {
    EventTime::Timed(
        chrono_tz::Europe::Warsaw
            .with_ymd_and_hms(2026, m, d, h, 0, 0)
            .unwrap(),
    )
}

/// A weekly 07:00–07:30 Warsaw series from Monday 2026-03-16, across the 2026-03-29 DST change.
fn weekly(count: u32) -> EventSpec {
    let start = warsaw(3, 16, 7);
    let EventTime::Timed(at) = start else {
        unreachable!()
    };
    EventSpec::new(
        "Standup",
        start,
        EventTime::Timed(at + chrono::Duration::minutes(30)),
    )
    .recurrence([format!("RRULE:FREQ=WEEKLY;COUNT={count}")])
}

/// Renames the 2026-03-23 occurrence of the series; returns its instance id.
fn make_special(w: &World, master: &EventId) -> EventId {
    let patch = EventPatch {
        summary: Some("Special".into()),
        ..Default::default()
    };
    w.sandbox
        .patch_occurrence(&w.ann, master, warsaw(3, 23, 7), patch)
        .unwrap()
}

async fn single(
    w: &World,
    access: &str,
    extra: &[(&str, &str)],
    sync: Option<&str>,
) -> (Vec<Value>, String) {
    let mut params = vec![("singleEvents", "true")];
    params.extend_from_slice(extra);
    items_and_token(&sync_pages(w, access, &params, sync).await)
}

#[actix_web::test]
async fn a_weekly_series_keeps_its_local_time_across_dst() {
    let w = world();
    let master = w.sandbox.insert_event(&w.ann, weekly(4)).unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = single(&w, &access, &[], None).await;
    let starts: Vec<&str> = items
        .iter()
        .map(|i| i["start"]["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        vec![
            "2026-03-16T07:00:00+01:00",
            "2026-03-23T07:00:00+01:00",
            "2026-03-30T07:00:00+02:00",
            "2026-04-06T07:00:00+02:00"
        ]
    );
    assert_eq!(
        ids(&items)[0],
        format!("{}_20260316T060000Z", master.as_str())
    );
    assert_eq!(
        ids(&items)[2],
        format!("{}_20260330T050000Z", master.as_str())
    );
    for item in &items {
        assert_eq!(item["recurringEventId"], master.as_str());
        assert_eq!(item["originalStartTime"]["timeZone"], "Europe/Warsaw");
        assert_eq!(
            item["originalStartTime"]["dateTime"],
            item["start"]["dateTime"]
        );
        assert!(item.get("recurrence").is_none());
        assert_eq!(item["end"]["dateTime"].as_str().unwrap()[11..16], *"07:30");
    }
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn exdate_removes_and_rdate_adds_occurrences() {
    let w = world();
    let spec = weekly(4).recurrence([
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Warsaw:20260323T070000",
        "RDATE;TZID=Europe/Warsaw:20260325T070000",
    ]);
    let master = w.sandbox.insert_event(&w.ann, spec).unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = single(&w, &access, &[], None).await;
    let suffixes: Vec<String> = ids(&items)
        .iter()
        .map(|id| id[master.as_str().len() + 1..].to_string())
        .collect();
    assert_eq!(
        suffixes,
        vec![
            "20260316T060000Z",
            "20260325T060000Z",
            "20260330T050000Z",
            "20260406T050000Z"
        ]
    );
}

#[actix_web::test]
async fn moved_and_cancelled_occurrences_keep_their_instance_ids() {
    let w = world();
    let master = w.sandbox.insert_event(&w.ann, weekly(3)).unwrap();
    let moved = w
        .sandbox
        .patch_occurrence(
            &w.ann,
            &master,
            warsaw(3, 23, 7),
            EventPatch {
                start: Some(warsaw(3, 24, 9)),
                end: Some(warsaw(3, 24, 10)),
                summary: Some("Moved".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let cancelled = w
        .sandbox
        .cancel_occurrence(&w.ann, &master, warsaw(3, 30, 7))
        .unwrap();
    assert_eq!(
        moved.as_str(),
        format!("{}_20260323T060000Z", master.as_str())
    );
    let (access, _) = connect(&w).await;

    // Full sync without showDeleted: the cancelled occurrence is left out.
    let (items, _) = single(&w, &access, &[], None).await;
    assert_eq!(
        ids(&items),
        vec![
            format!("{}_20260316T060000Z", master.as_str()),
            moved.as_str().to_string()
        ]
    );
    let moved_item = &items[1];
    assert_eq!(moved_item["summary"], "Moved");
    assert_eq!(moved_item["start"]["dateTime"], "2026-03-24T09:00:00+01:00");
    assert_eq!(
        moved_item["originalStartTime"]["dateTime"],
        "2026-03-23T07:00:00+01:00"
    );
    assert_eq!(moved_item["recurringEventId"], master.as_str());

    // With showDeleted it comes as a cancelled instance.
    let (items, token) = single(&w, &access, &[("showDeleted", "true")], None).await;
    let gone = items
        .iter()
        .find(|i| i["id"] == cancelled.as_str())
        .unwrap();
    assert_eq!(gone["status"], "cancelled");
    assert_eq!(gone["recurringEventId"], master.as_str());
    assert_eq!(
        gone["originalStartTime"]["dateTime"],
        "2026-03-30T07:00:00+02:00"
    );

    // Cancelling another occurrence later shows up incrementally as a cancelled instance.
    let again = w
        .sandbox
        .cancel_occurrence(&w.ann, &master, warsaw(3, 16, 7))
        .unwrap();
    let (items, _) = single(&w, &access, &[("showDeleted", "true")], Some(&token)).await;
    assert_eq!(ids(&items), vec![again.as_str().to_string()]);
    assert_eq!(items[0]["status"], "cancelled");
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn changing_a_series_relists_all_instances_and_deleting_it_tombstones_them() {
    let w = world();
    let master = w.sandbox.insert_event(&w.ann, weekly(3)).unwrap();
    let moved = make_special(&w, &master);
    let (access, _) = connect(&w).await;
    let (_, token) = single(&w, &access, &[], None).await;

    w.sandbox
        .patch_event(
            &w.ann,
            &master,
            EventPatch {
                summary: Some("Daily standup".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (items, token) = single(&w, &access, &[], Some(&token)).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>().len(),
        3,
        "each instance once"
    );
    let summaries: Vec<&str> = items
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, vec!["Daily standup", "Special", "Daily standup"]);

    w.sandbox.delete_event(&w.ann, &master).unwrap();
    let (items, _) = single(&w, &access, &[], Some(&token)).await;
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|i| i["status"] == "cancelled" && i.as_object().unwrap().len() == 4),
        "{items:?}"
    );
    assert!(ids(&items).contains(&moved.as_str().to_string()));
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn without_single_events_masters_carry_recurrence_and_exceptions_stand_alone() {
    let w = world();
    let master = w.sandbox.insert_event(&w.ann, weekly(3)).unwrap();
    let moved = make_special(&w, &master);
    let cancelled = w
        .sandbox
        .cancel_occurrence(&w.ann, &master, warsaw(3, 30, 7))
        .unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    assert_eq!(
        items.len(),
        3,
        "master, moved and cancelled exception: {items:?}"
    );
    let series = items.iter().find(|i| i["id"] == master.as_str()).unwrap();
    assert_eq!(
        series["recurrence"],
        serde_json::json!(["RRULE:FREQ=WEEKLY;COUNT=3"])
    );
    assert_eq!(series["start"]["timeZone"], "Europe/Warsaw");
    let exception = items.iter().find(|i| i["id"] == moved.as_str()).unwrap();
    assert_eq!(exception["recurringEventId"], master.as_str());
    assert!(exception.get("recurrence").is_none());
    let gone = items
        .iter()
        .find(|i| i["id"] == cancelled.as_str())
        .unwrap();
    assert_eq!(
        gone["status"], "cancelled",
        "listed even without showDeleted"
    );
    assert_eq!(
        gone["originalStartTime"]["dateTime"],
        "2026-03-30T07:00:00+02:00"
    );
}

#[actix_web::test]
async fn all_day_series_use_date_instance_ids() {
    let w = world();
    let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
    let spec = EventSpec::new(
        "Holiday",
        EventTime::AllDay(day),
        EventTime::AllDay(day.succ_opt().unwrap()),
    )
    .recurrence(["RRULE:FREQ=DAILY;COUNT=2"]);
    let master = w.sandbox.insert_event(&w.ann, spec).unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = single(&w, &access, &[], None).await;
    assert_eq!(
        ids(&items),
        vec![
            format!("{}_20260328", master.as_str()),
            format!("{}_20260329", master.as_str())
        ]
    );
    assert_eq!(items[1]["start"], serde_json::json!({"date": "2026-03-29"}));
    assert_eq!(items[1]["end"], serde_json::json!({"date": "2026-03-30"}));
    assert_eq!(
        items[1]["originalStartTime"],
        serde_json::json!({"date": "2026-03-29"})
    );
}

#[actix_web::test]
async fn open_ended_series_expand_to_the_horizon_and_order_by_start_time_sorts() {
    let w = world();
    let now = w.sandbox.now().with_timezone(&chrono_tz::Europe::Warsaw);
    // The series starts on the 1st of this month, a day every month has: a start on the 29th to
    // 31st would skip the months without it and make the count depend on today's date.
    let first = chrono::Datelike::with_day(&now, 1).unwrap();
    let spec = EventSpec::new(
        "Forever",
        EventTime::Timed(first),
        EventTime::Timed(first + chrono::Duration::hours(1)),
    )
    .recurrence(["RRULE:FREQ=MONTHLY"]);
    w.sandbox.insert_event(&w.ann, spec).unwrap();
    w.sandbox
        .insert_event(
            &w.ann,
            EventSpec::new(
                "Once",
                EventTime::Timed(now + chrono::Duration::days(45)),
                EventTime::Timed(now + chrono::Duration::days(46)),
            ),
        )
        .unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = single(&w, &access, &[("orderBy", "startTime")], None).await;
    // This month's occurrence and two years of monthly ones after it (24 or 25, as the horizon
    // falls), plus one event.
    assert!((25..=26).contains(&items.len()), "{}", items.len());
    // Before it: this month's, next month's, and the one after that when today is past the 16th.
    let once = items.iter().position(|i| i["summary"] == "Once").unwrap();
    assert!((2..=3).contains(&once), "sorted by start: Once at {once}");
    assert_eq!(items[0]["summary"], "Forever");
    let answer = list(&w, &access, &[("orderBy", "startTime")]).await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "startTime needs singleEvents"
    );
}

#[actix_web::test]
async fn occurrences_a_series_change_takes_away_come_back_cancelled() {
    let w = world();
    let master = w.sandbox.insert_event(&w.ann, weekly(3)).unwrap();
    let (access, _) = connect(&w).await;
    let (before, token) = single(&w, &access, &[], None).await;
    assert_eq!(before.len(), 3);

    let shorter = EventPatch {
        recurrence: Some(vec!["RRULE:FREQ=WEEKLY;COUNT=2".into()]),
        ..Default::default()
    };
    w.sandbox.patch_event(&w.ann, &master, shorter).unwrap();
    let (items, token) = single(&w, &access, &[], Some(&token)).await;
    let last = format!("{}_20260330T050000Z", master.as_str());
    let gone = items
        .iter()
        .find(|i| i["id"] == last.as_str())
        .expect("the dropped occurrence is listed");
    assert_eq!(gone["status"], "cancelled");
    assert_eq!(
        items.iter().filter(|i| i["status"] == "confirmed").count(),
        2
    );

    // Moving the whole series an hour later changes every instance id.
    let EventTime::Timed(at) = warsaw(3, 16, 8) else {
        unreachable!()
    };
    let later = EventPatch {
        start: Some(EventTime::Timed(at)),
        end: Some(EventTime::Timed(at + chrono::Duration::minutes(30))),
        ..Default::default()
    };
    w.sandbox.patch_event(&w.ann, &master, later).unwrap();
    let (items, _) = single(&w, &access, &[], Some(&token)).await;
    let cancelled: HashSet<String> = items
        .iter()
        .filter(|i| i["status"] == "cancelled")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = ["20260316T060000Z", "20260323T060000Z"]
        .iter()
        .map(|s| format!("{}_{s}", master.as_str()))
        .collect();
    assert_eq!(cancelled, expected);
    let confirmed: Vec<&str> = items
        .iter()
        .filter(|i| i["status"] == "confirmed")
        .map(|i| i["start"]["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        confirmed,
        vec!["2026-03-16T08:00:00+01:00", "2026-03-23T08:00:00+01:00"]
    );
    w.sandbox.assert_no_violations();
}
