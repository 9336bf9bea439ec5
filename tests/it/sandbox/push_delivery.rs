//! Push notification delivery: retries with backoff, giving up, the notification faults (drop,
//! delay, duplicate), every live channel of a calendar notified, and the admin API's view.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use impulses_gcal::sandbox::{Endpoint, Fault, SandboxConfig};

use super::calendars::timed;
use super::push_support::*;
use super::support::*;

#[actix_web::test]
async fn a_notification_answered_500_twice_arrives_on_the_third_attempt() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    hook.fail_next(2);
    let answer = watch(&w, &access, "primary", &channel("retry", &hook.url)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let notes = hook.wait_for(1).await;
    assert_eq!((notes[0].state(), notes[0].number()), ("sync", 1));
    let attempts = hook.attempts();
    let statuses: Vec<u16> = attempts.iter().map(|n| n.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert!(
        attempts.iter().all(|n| n.number() == 1),
        "the same message each time"
    );
    let waited = attempts[2].at - attempts[0].at;
    assert!(
        waited >= Duration::from_millis(250),
        "50 ms then 200 ms: {waited:?}"
    );
    sent(&w, 1).await;
    let counters = w.sandbox.counters();
    assert_eq!(
        (counters.notifications_failed, counters.notifications_sent),
        (2, 1)
    );
    assert_eq!(counters.notifications_dropped, 0);
}

#[actix_web::test]
async fn a_notification_is_given_up_after_the_last_retry() {
    let w = world_with(SandboxConfig {
        push_retry_delays: vec![Duration::from_millis(10), Duration::from_millis(20)],
        ..SandboxConfig::default()
    });
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    hook.fail_next(3);
    watch(&w, &access, "primary", &channel("give-up", &hook.url)).await;
    eventually("the sync given up", || {
        w.sandbox.counters().notifications_dropped == 1
    })
    .await;
    assert_eq!(hook.attempts().len(), 3);
    w.sandbox.insert_event(&w.ann, timed("Next", 2)).unwrap();
    let notes = hook.wait_for(1).await;
    assert_eq!((notes[0].state(), notes[0].number()), ("exists", 2));
    sent(&w, 1).await;
    let counters = w.sandbox.counters();
    assert_eq!(
        (counters.notifications_failed, counters.notifications_sent),
        (3, 1)
    );
}

#[actix_web::test]
async fn notification_faults_drop_delay_and_duplicate() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    w.sandbox
        .inject_fault(Fault::drop_connection(Endpoint::Notification));
    watch(&w, &access, "primary", &channel("faulty", &hook.url)).await;
    eventually("the sync dropped", || {
        w.sandbox.counters().notifications_dropped == 1
    })
    .await;

    w.sandbox
        .inject_fault(Fault::duplicate(Endpoint::Notification));
    w.sandbox.insert_event(&w.ann, timed("Twice", 2)).unwrap();
    let notes = hook.wait_for(2).await;
    assert_eq!((notes[0].number(), notes[1].number()), (2, 2));

    let delay = Duration::from_millis(300);
    w.sandbox
        .inject_fault(Fault::latency(Endpoint::Notification, delay).for_account(&w.ann));
    let changed = Instant::now();
    w.sandbox.insert_event(&w.ann, timed("Late", 3)).unwrap();
    assert!(
        changed.elapsed() < delay,
        "the change does not wait for its notification"
    );
    let notes = hook.wait_for(3).await;
    assert_eq!((notes[2].state(), notes[2].number()), ("exists", 3));
    assert!(notes[2].at - changed >= delay, "delivered late");
    assert_eq!(hook.attempts().len(), 3, "the dropped sync never arrived");
    sent(&w, 3).await;
    let counters = w.sandbox.counters();
    assert_eq!(
        (counters.notifications_sent, counters.notifications_dropped),
        (3, 1)
    );
}

#[actix_web::test]
async fn every_live_channel_of_a_calendar_is_notified_during_a_renewal() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (old, new) = (Receiver::start(), Receiver::start());
    watch(&w, &access, "primary", &channel("old", &old.url)).await;
    watch(&w, &access, "ann@example.com", &channel("new", &new.url)).await;
    let calendar = w.sandbox.primary_calendar(&w.ann).unwrap();
    let live = w.sandbox.live_channels(&calendar);
    assert_eq!(live.len(), 2);
    assert_eq!(live[0].resource_id, live[1].resource_id);
    w.sandbox.insert_event(&w.ann, timed("Both", 2)).unwrap();
    for (hook, id) in [(&old, "old"), (&new, "new")] {
        let notes = hook.wait_for(2).await;
        assert_eq!((notes[1].state(), notes[1].number()), ("exists", 2));
        assert_eq!(notes[1].channel(), id);
    }
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn the_admin_api_lists_channels_and_arms_notification_faults() {
    let w = world();
    let (access, _) = connect(&w).await;
    let hook = Receiver::start();
    let base = w.sandbox.base_url();
    let fault = serde_json::json!({"endpoint": "notification", "duplicate": true});
    let armed = w
        .client
        .post(format!("{base}/_sandbox/faults"))
        .send_json(&fault)
        .await
        .unwrap();
    assert_eq!(armed.status(), StatusCode::OK);
    let mut body = channel("admin", &hook.url);
    body["token"] = "t".into();
    watch(&w, &access, "primary", &body).await;
    let notes = hook.wait_for(2).await;
    assert_eq!((notes[0].number(), notes[1].number()), (1, 1));
    let answer = get(&w.client, &format!("{base}/_sandbox/channels"), None).await;
    let channels = answer.json();
    let listed = &channels[0];
    assert_eq!(listed["id"], "admin");
    assert_eq!(listed["calendar"], "ann@example.com");
    assert_eq!(listed["address"], hook.url.as_str());
    assert_eq!(listed["token"], "t");
    assert_eq!(listed["state"], "live");
    sent(&w, 2).await;
    let counters = get(&w.client, &format!("{base}/_sandbox/counters"), None).await;
    assert_eq!(counters.json()["watch_calls"], 1);
    assert_eq!(counters.json()["notifications_sent"], 2);
}
