//! Push notifications: `events.watch` answers, the `sync` / `exists` / `not_exists` messages a
//! real webhook receiver gets, their headers and numbering, refusals, TTL capping, expiry and
//! `channels.stop`. Retries and notification faults are in `push_delivery.rs`.

use std::time::Duration;

use awc::http::StatusCode;
use chrono::{DateTime, Utc};
use impulses_gcal::sandbox::{ChannelState, Endpoint, EventPatch, Fault};

use super::calendars::{bob, timed};
use super::push_support::*;
use super::support::*;

fn expiration(answer: &serde_json::Value) -> DateTime<Utc> {
    let millis: i64 = answer["expiration"].as_str().unwrap().parse().unwrap();
    DateTime::from_timestamp_millis(millis).unwrap()
}

#[actix_web::test]
async fn a_watch_gets_sync_then_exists_for_each_change_of_its_calendar_only() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    let mut body = channel("chan-1", &hook.url);
    body["token"] = "target=ann&v=1".into();
    let answer = watch(&w, &access, "primary", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    let json = answer.json();
    assert_eq!(json["kind"], "api#channel");
    assert_eq!(json["id"], "chan-1");
    assert_eq!(json["token"], "target=ann&v=1");
    let resource_id = json["resourceId"].as_str().unwrap().to_string();
    let uri = format!(
        "{}/calendars/primary/events?alt=json",
        w.sandbox.calendar_api_base()
    );
    assert_eq!(json["resourceUri"], uri.as_str());
    let granted = expiration(&json);
    let week = w.sandbox.now() + chrono::Duration::days(7) - granted;
    assert!(week.num_seconds().abs() < 5, "7 days granted: {granted}");

    let sync = &hook.wait_for(1).await[0];
    assert_eq!(
        (sync.state(), sync.number(), sync.channel()),
        ("sync", 1, "chan-1")
    );
    assert_eq!(sync.get("X-Goog-Channel-Token"), Some("target=ann&v=1"));
    assert_eq!(sync.get("X-Goog-Resource-ID"), Some(resource_id.as_str()));
    assert_eq!(sync.get("X-Goog-Resource-URI"), Some(uri.as_str()));
    let http_date = granted.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    assert_eq!(
        sync.get("X-Goog-Channel-Expiration"),
        Some(http_date.as_str())
    );
    assert!(sync.body.is_empty());

    let id = w.sandbox.insert_event(&w.ann, timed("Standup", 2)).unwrap();
    let notes = hook.wait_for(2).await;
    assert_eq!((notes[1].state(), notes[1].number()), ("exists", 2));
    let patch = EventPatch {
        summary: Some("Standup!".into()),
        ..EventPatch::default()
    };
    w.sandbox.patch_event(&w.ann, &id, patch).unwrap();
    w.sandbox.delete_event(&w.ann, &id).unwrap();
    // A change elsewhere says nothing to this channel: the next message is the next change here.
    let other = w
        .sandbox
        .create_calendar(&w.ann, "Training", "Europe/Warsaw")
        .unwrap();
    w.sandbox.insert_event_in(&other, timed("Run", 3)).unwrap();
    w.sandbox.insert_event(&w.ann, timed("Lunch", 4)).unwrap();
    let notes = hook.wait_for(5).await;
    let seen: Vec<_> = notes.iter().map(|n| (n.state(), n.number())).collect();
    assert_eq!(
        seen,
        [
            ("sync", 1),
            ("exists", 2),
            ("exists", 3),
            ("exists", 4),
            ("exists", 5)
        ]
    );
    sent(&w, 5).await;
    let counters = w.sandbox.counters();
    assert_eq!((counters.watch_calls, counters.notifications_sent), (1, 5));
    assert_eq!(counters.notifications_by_state["exists"], 4);
    assert_eq!(counters.notifications_by_state["sync"], 1);
    let channels = w.sandbox.channels();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].calendar.as_str(), "ann@example.com");
    assert_eq!(channels[0].expiration, granted);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn occurrences_seeds_copies_and_the_calendars_deletion_notify_its_channel() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    let calendar = w
        .sandbox
        .create_calendar(&w.ann, "Training", "Europe/Warsaw")
        .unwrap();
    let answer = watch(&w, &access, calendar.as_str(), &channel("c", &hook.url)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.json().get("token").is_none());
    let spec = timed("Swim", 2).recurrence(vec!["RRULE:FREQ=WEEKLY;COUNT=4".to_string()]);
    let start = spec.start;
    let series = w.sandbox.insert_event_in(&calendar, spec).unwrap();
    w.sandbox
        .cancel_occurrence_in(&calendar, &series, start)
        .unwrap();
    let primary = w.sandbox.primary_calendar(&w.ann).unwrap();
    let dinner = w.sandbox.insert_event(&w.ann, timed("Dinner", 5)).unwrap();
    w.sandbox.copy_event(&primary, &dinner, &calendar).unwrap();
    let specs = (10..13).map(|d| timed("Seeded", d)).collect();
    w.sandbox.seed_events_in(&calendar, specs).unwrap();
    w.sandbox.delete_calendar(&calendar).unwrap();
    let notes = hook.wait_for(6).await;
    let seen: Vec<_> = notes.iter().map(|n| (n.state(), n.number())).collect();
    assert_eq!(
        seen,
        [
            ("sync", 1),
            ("exists", 2),
            ("exists", 3),
            ("exists", 4),
            ("exists", 5),
            ("not_exists", 6)
        ]
    );
    assert!(notes
        .iter()
        .all(|n| n.get("X-Goog-Channel-Token").is_none()));
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn watches_are_refused_like_google_refuses_them() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    let insecure = watch(
        &w,
        &access,
        "primary",
        &channel("a", "http://example.com/h"),
    )
    .await;
    assert_eq!(google_error(&insecure).1, "push.webhookUrlNotHttps");
    assert_eq!(insecure.status, StatusCode::BAD_REQUEST);
    w.sandbox.inject_fault(Fault::error(
        Endpoint::Watch,
        401,
        "push.webhookUrlUnauthorized",
    ));
    let unauthorized = watch(&w, &access, "primary", &channel("a", &hook.url)).await;
    assert_eq!(
        google_error(&unauthorized),
        (
            401,
            "push.webhookUrlUnauthorized".into(),
            "Unauthorized WebHook callback channel".into()
        )
    );
    let mut email = channel("a", &hook.url);
    email["type"] = "email".into();
    assert_eq!(
        google_error(&watch(&w, &access, "primary", &email).await).1,
        "invalid"
    );
    let nowhere = "c_nope@group.calendar.google.com";
    let unknown = watch(&w, &access, nowhere, &channel("a", &hook.url)).await;
    assert_eq!(
        google_error(&unknown),
        (404, "notFound".into(), "Not Found".into())
    );
    assert_eq!(
        watch(&w, &access, "primary", &channel("a", &hook.url))
            .await
            .status,
        StatusCode::OK
    );
    let again = watch(&w, &access, "primary", &channel("a", &hook.url)).await;
    assert_eq!(google_error(&again).1, "channelIdNotUnique");
    let anonymous = watch(&w, "nonsense", "primary", &channel("b", &hook.url)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    w.sandbox.take_violations();
    assert_eq!(w.sandbox.counters().watch_calls, 7);
    assert_eq!(w.sandbox.channels().len(), 1);
}

#[actix_web::test]
async fn the_granted_lifetime_is_capped_at_a_week_and_honours_a_shorter_ttl() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    let mut month = channel("month", &hook.url);
    month["params"] = serde_json::json!({"ttl": (30 * 24 * 3600).to_string()});
    let mut minute = channel("minute", &hook.url);
    minute["params"] = serde_json::json!({"ttl": "60"});
    let now = w.sandbox.now();
    let month = expiration(&watch(&w, &access, "primary", &month).await.json());
    let minute = expiration(&watch(&w, &access, "primary", &minute).await.json());
    let off = |at: DateTime<Utc>, span: chrono::Duration| (at - now - span).num_seconds().abs();
    assert!(off(month, chrono::Duration::days(7)) < 5, "{month}");
    assert!(off(minute, chrono::Duration::seconds(60)) < 5, "{minute}");
}

#[actix_web::test]
async fn an_expired_channel_delivers_nothing_and_its_id_can_be_used_again() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (old, new) = (Receiver::start(), Receiver::start());
    let mut short = channel("renewed", &old.url);
    short["params"] = serde_json::json!({"ttl": "60"});
    assert_eq!(
        watch(&w, &access, "primary", &short).await.status,
        StatusCode::OK
    );
    old.wait_for(1).await;
    w.sandbox.advance_clock(Duration::from_secs(61));
    assert_eq!(w.sandbox.channels()[0].state, ChannelState::Expired);
    let calendar = w.sandbox.primary_calendar(&w.ann).unwrap();
    assert!(w.sandbox.live_channels(&calendar).is_empty());
    let answer = watch(&w, &access, "primary", &channel("renewed", &new.url)).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "an expired channel's id is free"
    );
    w.sandbox.insert_event(&w.ann, timed("Late", 6)).unwrap();
    let notes = new.wait_for(2).await;
    assert_eq!((notes[1].state(), notes[1].number()), ("exists", 2));
    assert_eq!(old.attempts().len(), 1, "nothing after expiry");
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_stopped_channel_delivers_nothing_and_only_its_owner_can_stop_it() {
    let w = world();
    let other = bob(&w);
    let bob_access = connect_as(&w, &other).await;
    let access = connect_as(&w, &w.ann).await;
    let (hook, witness) = (Receiver::start(), Receiver::start());
    let json = watch(&w, &access, "primary", &channel("stop-me", &hook.url))
        .await
        .json();
    let resource_id = json["resourceId"].as_str().unwrap();
    let json = watch(&w, &access, "primary", &channel("witness", &witness.url))
        .await
        .json();
    assert_eq!(
        json["resourceId"].as_str(),
        Some(resource_id),
        "one per calendar"
    );
    hook.wait_for(1).await;
    assert_eq!(
        stop(&w, &access, "stop-me", "wrong").await.status,
        StatusCode::NOT_FOUND
    );
    let theirs = stop(&w, &bob_access, "stop-me", resource_id).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    expect_one_violation(&w, "another account");
    let stopped = stop(&w, &access, "stop-me", resource_id).await;
    assert_eq!(stopped.status, StatusCode::NO_CONTENT);
    assert!(stopped.body.is_empty());
    let again = stop(&w, &access, "stop-me", resource_id).await;
    assert_eq!(google_error(&again).1, "notFound");
    w.sandbox.insert_event(&w.ann, timed("After", 7)).unwrap();
    witness.wait_for(2).await;
    assert_eq!(hook.attempts().len(), 1, "nothing after the stop");
    assert_eq!(w.sandbox.channels()[0].state, ChannelState::Stopped);
    assert_eq!(w.sandbox.counters().channels_stopped, 1);
    w.sandbox.assert_no_violations();
}
