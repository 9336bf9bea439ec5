//! The sync actors against the sandbox Google: full then incremental syncs, paging, 410, token
//! refresh, revoked grants, rate limits and 5xx, slow calendars, injected writer failures and
//! panics. Poll intervals are long, so only the syncs a test asks for run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono_tz::Europe::Warsaw;
use impulses_gcal::sandbox::{
    AccountId, Endpoint, EventPatch, EventStatus, Fault, SandboxConfig, Times,
};
use impulses_gcal::system::Hooks;
use serde_json::Value;

use crate::flow::{at, measurement};
use crate::support::TestApp;

const DURATION: &str = "imp.events.duration";

/// (activity, timestamp) of every duration datapoint, sorted.
pub async fn activities(app: &TestApp, token: &str) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = app
        .points(token, DURATION)
        .await
        .iter()
        .map(|p| {
            (
                p["dimensions"]["activity"].as_str().unwrap().to_string(),
                p["timestamp"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn ms(t: &impulses_gcal::sandbox::EventTime) -> i64 {
    match t {
        impulses_gcal::sandbox::EventTime::Timed(d) => d.timestamp_millis(),
        impulses_gcal::sandbox::EventTime::AllDay(_) => panic!("timed only"),
    }
}

/// An app with one connected account and token, synced once.
async fn connected(config: SandboxConfig, hooks: Hooks) -> (TestApp, AccountId, String, String) {
    let app = TestApp::spawn_google_with(config, &[], hooks).await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    (app, ann, id, t)
}

#[actix_web::test]
async fn a_full_sync_then_incremental_ones_keep_datapoints_exactly_in_step() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    let a = sb
        .insert_event(
            &ann,
            measurement("#!Running", "km=5", at(Warsaw, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
    let b = sb
        .insert_event(
            &ann,
            measurement("#!Reading", "", at(Warsaw, 2026, 3, 2, 21, 0), 60),
        )
        .unwrap();
    let c = sb
        .insert_event(
            &ann,
            measurement("Standup", "", at(Warsaw, 2026, 3, 3, 9, 0), 15),
        )
        .unwrap();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    let first = activities(&app, &t).await;
    assert_eq!(
        first.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["Reading", "Running"]
    );
    assert_eq!(sb.counters().full_syncs_started, 1);

    // Edit one (new time, no custom line), delete one, make a meeting a measurement, add one.
    let moved = at(Warsaw, 2026, 3, 4, 6, 30);
    let patch = EventPatch {
        description: Some(None),
        start: Some(moved),
        end: Some(at(Warsaw, 2026, 3, 4, 7, 0)),
        ..EventPatch::default()
    };
    sb.patch_event(&ann, &a, patch).unwrap();
    sb.delete_event(&ann, &b).unwrap();
    sb.patch_event(
        &ann,
        &c,
        EventPatch {
            summary: Some("#!Standup".into()),
            ..EventPatch::default()
        },
    )
    .unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Gym", "where:home", at(Warsaw, 2026, 3, 5, 18, 0), 45),
    )
    .unwrap();
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    let now = activities(&app, &t).await;
    let names: Vec<&str> = now.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names, ["Gym", "Running", "Standup"]);
    assert!(
        now.contains(&("Running".to_string(), ms(&moved))),
        "{now:?}"
    );
    assert!(
        app.points(&t, "imp.events.custom.km").await.is_empty(),
        "the removed line's metric is gone"
    );
    let counters = sb.counters();
    assert_eq!(
        counters.full_syncs_started, 1,
        "the second sync was incremental"
    );
    assert!(counters.list_incremental >= 1);
    assert_eq!(status["events"], 3);
    assert_eq!(status["datapoints"], 3);

    // No change: one list call, nothing written.
    let calls = sb.counters().list_calls();
    app.sync_and_wait(&id).await;
    assert_eq!(sb.counters().list_calls(), calls + 1);
    assert_eq!(activities(&app, &t).await, now);
    sb.assert_no_violations();
}

/// `n` ten-minute `#!Walk` measurements (`steps=i`), one every ten minutes from 2025-01-01 UTC.
fn walks(n: i64) -> Vec<impulses_gcal::sandbox::EventSpec> {
    (0..n)
        .map(|i| {
            let mut s = measurement(
                "#!Walk",
                &format!("steps={i}"),
                at(chrono_tz::UTC, 2025, 1, 1, 0, 0),
                10,
            );
            let start =
                chrono::TimeZone::timestamp_opt(&chrono_tz::UTC, 1_735_689_600 + i * 600, 0)
                    .unwrap();
            s.start = impulses_gcal::sandbox::EventTime::Timed(start);
            s.end = impulses_gcal::sandbox::EventTime::Timed(start + chrono::Duration::minutes(10));
            s
        })
        .collect()
}

/// The sync asks for page n+1 before it converts page n, so a failure of a later page arrives
/// while the page before is converted: it must be handled exactly like one of a first page.
#[actix_web::test]
async fn failures_of_later_pages_are_handled_and_lose_nothing() {
    let config = SandboxConfig {
        max_page_size: 100,
        ..SandboxConfig::default()
    };
    let (app, ann, id, t) = connected(config, Hooks::default()).await;
    let sb = app.sandbox();
    let specs = walks(1_000);
    sb.seed_events(&ann, specs).unwrap();
    // Pages 2, 3 and 4 fail once each: a 401 (refresh, then the same page again), a 503 (retried
    // after a backoff) and a dropped connection (retried).
    sb.inject_fault(Fault::error(Endpoint::ListPage, 401, "authError").times(Times::Once));
    app.connect(&t, &ann).await;
    let status = app.wait_first_sync(&id).await;
    assert_eq!(status["syncs_ok"], 1, "{status}");
    assert_eq!(status["events"], 1_000);
    assert_eq!(sb.counters().refresh_grants, 1, "{:?}", sb.counters());

    sb.inject_fault(Fault::error(Endpoint::ListPage, 503, "backendError").times(Times::Once));
    sb.inject_fault(Fault::drop_connection(Endpoint::ListPage).times(Times::Once));
    sb.invalidate_sync_tokens(&ann).unwrap();
    let before = sb.counters();
    let status = app.sync_and_wait(&id).await;
    let after = sb.counters();
    assert_eq!(status["syncs_ok"], 2, "{status}");
    assert_eq!(status["full_syncs"], 2, "{status}");
    assert_eq!(status["events"], 1_000, "{status}");
    assert_eq!(after.dropped_connections, before.dropped_connections + 1);
    assert_eq!(after.status(503), before.status(503) + 1, "{after:?}");
    // The 410 that started the full sync, its 10 pages, and the two failed page requests.
    let calls = |c: &impulses_gcal::sandbox::Counters| c.list_calls_by_account[ann.as_str()];
    assert_eq!(calls(&after) - calls(&before), 13, "{after:?}");
    let points = app.points(&t, "imp.events.custom.steps").await;
    assert_eq!(points.len(), 1_000);
    let values: std::collections::BTreeSet<i64> = points
        .iter()
        .map(|p| p["value"].as_f64().unwrap() as i64)
        .collect();
    assert_eq!(values, (0..1_000).collect());
    sb.assert_no_violations();
}

#[actix_web::test]
async fn a_calendar_of_several_short_pages_syncs_completely() {
    let config = SandboxConfig {
        short_pages: Some(7),
        ..SandboxConfig::default()
    };
    let (app, ann, id, t) = connected(config, Hooks::default()).await;
    let sb = app.sandbox();
    let specs = walks(6_000);
    sb.seed_events(&ann, specs).unwrap();
    app.connect(&t, &ann).await;
    let status = app.wait_first_sync(&id).await;
    assert_eq!(status["events"], 6000);
    assert_eq!(status["datapoints"], 12000);
    assert_eq!(app.points(&t, DURATION).await.len(), 6000);
    assert_eq!(app.points(&t, "imp.events.custom.steps").await.len(), 6000);
    assert!(sb.counters().pages_served >= 3, "{:?}", sb.counters());
    sb.assert_no_violations();
}

#[actix_web::test]
async fn a_410_is_answered_by_a_full_sync_without_duplicates_or_leftovers() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    let keep = sb
        .insert_event(
            &ann,
            measurement("#!Keep", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
    let gone = sb
        .insert_event(
            &ann,
            measurement("#!Gone", "", at(Warsaw, 2026, 3, 2, 8, 0), 30),
        )
        .unwrap();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sb.delete_event(&ann, &gone).unwrap();
    sb.patch_event(
        &ann,
        &keep,
        EventPatch {
            summary: Some("#!Kept".into()),
            ..EventPatch::default()
        },
    )
    .unwrap();
    sb.invalidate_sync_tokens(&ann).unwrap();
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(status["full_syncs"], 2);
    assert_eq!(sb.counters().status(410), 1);
    let now = activities(&app, &t).await;
    assert_eq!(
        now.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["Kept"],
        "{now:?}"
    );
    assert_eq!(
        (status["events"].as_u64(), status["datapoints"].as_u64()),
        (Some(1), Some(1))
    );
    sb.assert_no_violations();
}

#[actix_web::test]
async fn an_expired_access_token_is_refreshed_and_the_sync_retried() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sb.insert_event(
        &ann,
        measurement("#!Run", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    sb.expire_access_tokens(&ann).unwrap();
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(sb.counters().refresh_grants, 1);
    assert_eq!(sb.counters().status(401), 1);
    assert_eq!(activities(&app, &t).await.len(), 1);
    sb.assert_no_violations();
}

#[actix_web::test]
async fn a_revoked_grant_needs_reauth_while_other_tokens_keep_syncing() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let bob = sb.create_account("bob@example.com", "UTC").unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Run", "", at(chrono_tz::UTC, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    let (ann_id, ann_t) = app.token("ann", "phone", "SUPER").await;
    let (bob_id, bob_t) = app.token("bob", "phone", "SUPER").await;
    app.connect(&ann_t, &ann).await;
    app.connect(&bob_t, &bob).await;
    app.wait_first_sync(&ann_id).await;
    app.wait_first_sync(&bob_id).await;

    sb.revoke_account(&ann).unwrap();
    let r = app
        .admin(Method::POST, &format!("/admin/actors/{ann_id}/sync"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let status = app
        .wait_actor(&ann_id, "needs_reauth", |a| a["state"] == "needs_reauth")
        .await;
    assert!(
        status["last_error"].as_str().unwrap().contains("reconnect"),
        "{status}"
    );
    assert_eq!(status["next_sync"], Value::Null);
    let configs = app
        .data(Method::GET, "/oauth2/google/configs", &ann_t, None)
        .await;
    assert_eq!(configs.body[0]["status"], "needs_reauth");
    assert_eq!(activities(&app, &ann_t).await.len(), 1, "datapoints kept");
    let r = app
        .admin(Method::POST, &format!("/admin/actors/{ann_id}/sync"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    sb.insert_event(
        &bob,
        measurement("#!Swim", "", at(chrono_tz::UTC, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    let b = app.sync_and_wait(&bob_id).await;
    assert_eq!(b["state"], "idle");
    assert_eq!(activities(&app, &bob_t).await.len(), 1);

    // Survives a restart, and reconnecting heals it.
    let app = app.restart().await;
    let status = app
        .wait_actor(&ann_id, "needs_reauth after restart", |a| {
            a["state"] == "needs_reauth"
        })
        .await;
    assert_eq!(status["syncs_ok"], 0);
    app.connect(&ann_t, &ann).await;
    app.wait_first_sync(&ann_id).await;
}

#[actix_web::test]
async fn rate_limits_and_server_errors_are_retried_and_nothing_is_lost() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sb.insert_event(
        &ann,
        measurement("#!Run", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    sb.inject_fault(
        Fault::error(Endpoint::List, 429, "rateLimitExceeded")
            .with_retry_after(1)
            .times(Times::Once),
    );
    sb.inject_fault(Fault::error(Endpoint::List, 500, "backendError").times(Times::Once));
    sb.inject_fault(Fault::error(Endpoint::List, 403, "userRateLimitExceeded").times(Times::Once));
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(status["syncs_failed"], 0, "retried within the sync");
    assert_eq!(activities(&app, &t).await.len(), 1);

    // A burst longer than the retries: backoff, the sync token kept, then recovery.
    sb.inject_fault(Fault::error(Endpoint::List, 503, "backendError").times(Times::UntilCleared));
    sb.insert_event(
        &ann,
        measurement("#!Swim", "", at(Warsaw, 2026, 3, 3, 7, 0), 30),
    )
    .unwrap();
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "backoff", "{status}");
    assert_eq!(status["consecutive_failures"], 1);
    assert!(status["next_sync"].as_i64().is_some());
    let configs = app
        .data(Method::GET, "/oauth2/google/configs", &t, None)
        .await;
    assert_eq!(
        (
            configs.body[0]["status"].as_str(),
            configs.body[0]["sync"]["has_sync_token"].as_bool()
        ),
        (Some("retrying"), Some(true))
    );
    sb.clear_faults();
    let full_before = sb.counters().full_syncs_started;
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(
        sb.counters().full_syncs_started,
        full_before,
        "a transient error keeps the sync token"
    );
    assert_eq!(activities(&app, &t).await.len(), 2);
    sb.assert_no_violations();
}

#[actix_web::test]
async fn dropped_connections_and_timeouts_are_transient() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    sb.insert_event(
        &ann,
        measurement("#!Run", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    sb.inject_fault(Fault::drop_connection(Endpoint::List).times(Times::N(2)));
    app.connect(&t, &ann).await;
    let status = app.wait_first_sync(&id).await;
    assert_eq!(status["syncs_failed"], 0, "{status}");
    assert_eq!(activities(&app, &t).await.len(), 1);
}

#[actix_web::test]
async fn a_slow_calendar_does_not_delay_the_others() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let slow = sb.create_account("slow@example.com", "UTC").unwrap();
    let fast = sb.create_account("fast@example.com", "UTC").unwrap();
    let (slow_id, slow_t) = app.token("ann", "slow", "SUPER").await;
    let (fast_id, fast_t) = app.token("bob", "fast", "SUPER").await;
    app.connect(&slow_t, &slow).await;
    app.connect(&fast_t, &fast).await;
    app.wait_first_sync(&slow_id).await;
    app.wait_first_sync(&fast_id).await;
    sb.inject_fault(
        Fault::latency(Endpoint::List, Duration::from_secs(20))
            .for_account(&slow)
            .times(Times::Once),
    );
    let r = app
        .admin(Method::POST, &format!("/admin/actors/{slow_id}/sync"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    app.wait_actor(&slow_id, "the slow sync to start", |a| {
        a["state"] == "syncing"
    })
    .await;
    let fast_status = app.sync_and_wait(&fast_id).await;
    assert_eq!(fast_status["state"], "idle");
    assert_eq!(
        app.actor(&slow_id).await["state"],
        "syncing",
        "the slow one is still waiting on Google"
    );
    assert!(
        fast_status["last_sync_ms"].as_u64().unwrap() < 10_000,
        "{fast_status}"
    );
}

#[actix_web::test]
async fn a_writer_failure_mid_commit_leaves_the_store_as_it_was() {
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let hooks = Hooks {
        before_commit: Some(Arc::new(move |_| {
            if f.load(Ordering::SeqCst) {
                Err("injected".into())
            } else {
                Ok(())
            }
        })),
        ..Hooks::default()
    };
    let (app, ann, id, t) = connected(SandboxConfig::default(), hooks).await;
    let sb = app.sandbox();
    let a = sb
        .insert_event(
            &ann,
            measurement("#!Run", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    let before = activities(&app, &t).await;
    sb.delete_event(&ann, &a).unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Swim", "", at(Warsaw, 2026, 3, 3, 7, 0), 30),
    )
    .unwrap();
    fail.store(true, Ordering::SeqCst);
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "backoff", "{status}");
    assert!(
        status["last_error"].as_str().unwrap().contains("injected"),
        "{status}"
    );
    assert_eq!(
        activities(&app, &t).await,
        before,
        "nothing of the failed sync is visible"
    );
    fail.store(false, Ordering::SeqCst);
    let incremental_before = sb.counters().list_incremental;
    let status = app.sync_and_wait(&id).await;
    assert_eq!(status["state"], "idle", "{status}");
    assert!(
        sb.counters().list_incremental > incremental_before,
        "the old sync token was kept and reused"
    );
    let now = activities(&app, &t).await;
    assert_eq!(
        now.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["Swim"]
    );
}

#[actix_web::test]
async fn a_panicking_sync_restarts_the_actor_and_is_counted() {
    let panic_once = Arc::new(AtomicBool::new(false));
    let p = panic_once.clone();
    let hooks = Hooks {
        panic_in_sync: Some(Arc::new(move |_| p.swap(false, Ordering::SeqCst))),
        ..Hooks::default()
    };
    let (app, ann, id, t) = connected(SandboxConfig::default(), hooks).await;
    sb_event(&app, &ann);
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    panic_once.store(true, Ordering::SeqCst);
    let r = app
        .admin(Method::POST, &format!("/admin/actors/{id}/sync"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    crate::support::wait_for(
        Duration::from_secs(10),
        "the restart to be counted",
        || async {
            let r = app.admin(Method::GET, "/admin/actors", None).await;
            if r.body["supervisor"]["restarts"] == 1 {
                Ok(())
            } else {
                Err(r.body.to_string())
            }
        },
    )
    .await;
    let status = app.sync_and_wait(&id).await;
    assert_eq!(
        status["state"], "idle",
        "the restarted actor syncs again: {status}"
    );
    assert_eq!(activities(&app, &t).await.len(), 1);
}

fn sb_event(app: &TestApp, ann: &AccountId) {
    app.sandbox()
        .insert_event(
            ann,
            measurement("#!Run", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
}

#[actix_web::test]
async fn a_weekly_series_gives_one_datapoint_per_occurrence_with_its_exceptions() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    let sb = app.sandbox();
    let series = measurement("#!Gym", "where:club", at(Warsaw, 2026, 3, 16, 18, 0), 60)
        .recurrence(["RRULE:FREQ=WEEKLY;COUNT=4"]);
    let gym = sb.insert_event(&ann, series).unwrap();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    assert_eq!(activities(&app, &t).await.len(), 4);
    // Cancel the 2nd (23 March), move the 3rd (30 March, after the DST change) to 07:00.
    sb.cancel_occurrence(&ann, &gym, at(Warsaw, 2026, 3, 23, 18, 0))
        .unwrap();
    let moved = EventPatch {
        summary: Some("#!Gym early".into()),
        start: Some(at(Warsaw, 2026, 3, 30, 7, 0)),
        end: Some(at(Warsaw, 2026, 3, 30, 8, 0)),
        status: Some(EventStatus::Confirmed),
        ..EventPatch::default()
    };
    sb.patch_occurrence(&ann, &gym, at(Warsaw, 2026, 3, 30, 18, 0), moved)
        .unwrap();
    app.sync_and_wait(&id).await;
    let now = activities(&app, &t).await;
    let expected = vec![
        ("Gym".to_string(), ms(&at(Warsaw, 2026, 3, 16, 18, 0))),
        ("Gym".to_string(), ms(&at(Warsaw, 2026, 4, 6, 18, 0))),
        ("Gym early".to_string(), ms(&at(Warsaw, 2026, 3, 30, 7, 0))),
    ];
    let mut expected = expected;
    expected.sort();
    assert_eq!(now, expected);
    sb.assert_no_violations();
}

#[actix_web::test]
async fn prometheus_metrics_count_syncs_requests_and_states() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    sb_event(&app, &ann);
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    app.sandbox().expire_access_tokens(&ann).unwrap();
    // Something to commit: an incremental sync that finds nothing writes nothing.
    sb_event(&app, &ann);
    app.sync_and_wait(&id).await;
    let r = app.call(Method::GET, "/metrics", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    let client = awc::Client::default();
    let mut resp = client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap();
    for line in [
        "impulses_gcal_syncs_total{kind=\"full\",outcome=\"ok\"} 1",
        "impulses_gcal_syncs_total{kind=\"incremental\",outcome=\"ok\"} 1",
        "impulses_gcal_google_requests_total{endpoint=\"events.list\",status=\"401\"} 1",
        "impulses_gcal_google_requests_total{endpoint=\"token\",status=\"200\"} 2",
        "impulses_gcal_token_refreshes_total{outcome=\"ok\"} 1",
        "impulses_gcal_datapoints_written_total 2",
        "impulses_gcal_actors{state=\"idle\"} 1",
        "impulses_gcal_sync_duration_seconds_count{kind=\"full\"} 1",
        "impulses_gcal_store_commit_duration_seconds_count{kind=\"full\"} 1",
        "impulses_gcal_store_commit_duration_seconds_count{kind=\"incremental\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[actix_web::test]
async fn a_token_whose_data_token_expired_is_not_polled() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let soon = impulses_gcal::token::now_secs() + 2;
    let body =
        format!(r#"{{"user":"ann","name":"short","capability":"SUPER","expires_at":{soon}}}"#);
    let r = app.admin(Method::POST, "/admin/tokens", Some(&body)).await;
    let (id, t) = (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["token_plaintext"].as_str().unwrap().to_string(),
    );
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    crate::support::wait_for(Duration::from_secs(10), "the token to expire", || async {
        let r = app
            .admin(Method::POST, &format!("/admin/actors/{id}/sync"), None)
            .await;
        if r.status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(format!("{} {}", r.status, r.body))
        }
    })
    .await;
    let calls = sb.counters().list_calls();
    let app = app.restart().await;
    let status = app
        .wait_actor(&id, "the expired state", |a| a["state"] == "expired")
        .await;
    assert_eq!(status["next_sync"], Value::Null);
    assert_eq!(
        app.sandbox().counters().list_calls(),
        calls,
        "no Google request for an expired token"
    );
}

#[actix_web::test]
async fn two_tokens_of_one_user_never_touch_each_others_datapoints() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let e = sb
        .insert_event(
            &ann,
            measurement("#!Run", "", at(chrono_tz::UTC, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
    let (a_id, a) = app.token("ann", "phone", "SUPER").await;
    let (b_id, b) = app.token("ann", "laptop", "SUPER").await;
    app.connect(&a, &ann).await;
    app.wait_first_sync(&a_id).await;
    app.connect(&b, &ann).await;
    app.wait_first_sync(&b_id).await;
    assert_eq!(
        activities(&app, &a).await.len(),
        2,
        "each connection holds its own datapoint"
    );
    // One token's edit sync and purge leave the other token's datapoint alone.
    sb.patch_event(
        &ann,
        &e,
        EventPatch {
            summary: Some("#!Walk".into()),
            ..EventPatch::default()
        },
    )
    .unwrap();
    app.sync_and_wait(&a_id).await;
    let names: Vec<String> = activities(&app, &a)
        .await
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(names, ["Run", "Walk"]);
    let r = app
        .data(
            Method::DELETE,
            &format!("/oauth2/google/configs/{a_id}?purge=true"),
            &a,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let names: Vec<String> = activities(&app, &b)
        .await
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(names, ["Run"], "the other token's datapoint is untouched");
    assert_eq!(app.actor(&b_id).await["datapoints"], 1);
}

#[actix_web::test]
async fn an_access_token_expiring_within_a_minute_is_refreshed_before_listing() {
    let config = SandboxConfig {
        access_token_lifetime: Duration::from_secs(30),
        ..SandboxConfig::default()
    };
    let (app, ann, id, t) = connected(config, Hooks::default()).await;
    sb_event(&app, &ann);
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    app.sync_and_wait(&id).await;
    let counters = app.sandbox().counters();
    assert_eq!(
        counters.refresh_grants, 2,
        "one refresh before each sync: {counters:?}"
    );
    assert_eq!(
        counters.status(401),
        0,
        "never listed with a token about to expire"
    );
    assert_eq!(activities(&app, &t).await.len(), 1);
    app.sandbox().assert_no_violations();
}

/// The `kind` count of the store commit histogram in `/metrics` (0 when absent).
async fn commits(app: &TestApp, kind: &str) -> u64 {
    let client = awc::Client::default();
    let mut resp = client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap();
    let prefix = format!("impulses_gcal_store_commit_duration_seconds_count{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.parse().unwrap())
}

#[actix_web::test]
async fn a_poll_that_finds_nothing_writes_nothing_and_still_counts_as_a_success() {
    let (app, ann, id, t) = connected(SandboxConfig::default(), Hooks::default()).await;
    sb_event(&app, &ann);
    app.connect(&t, &ann).await;
    let first = app.wait_first_sync(&id).await;
    let lists = app.sandbox().counters().list_calls();
    let mut last_success = first["last_success"].as_i64().unwrap();
    for _ in 0..2 {
        let actor = app.sync_and_wait(&id).await;
        assert_eq!(actor["state"], "idle", "{actor}");
        assert!(
            actor["last_success"].as_i64().unwrap() >= last_success,
            "{actor}"
        );
        last_success = actor["last_success"].as_i64().unwrap();
        assert_eq!(actor["calendars"][0]["state"], "ok", "{actor}");
        assert_eq!(actor["datapoints"], 1, "{actor}");
    }
    // Two list requests, and not one commit: the sandbox answered with the stored token.
    assert_eq!(app.sandbox().counters().list_calls() - lists, 2);
    assert_eq!(commits(&app, "incremental").await, 0);
    // A change is committed as before, and the sync token it stores works on.
    sb_event(&app, &ann);
    app.sync_and_wait(&id).await;
    assert_eq!(commits(&app, "incremental").await, 1);
    assert_eq!(app.points(&t, "imp.events.duration").await.len(), 2);
    let actor = app.sync_and_wait(&id).await;
    assert_eq!(
        (actor["syncs_ok"].as_u64(), actor["full_syncs"].as_u64()),
        (Some(5), Some(1)),
        "{actor}"
    );
    assert_eq!(commits(&app, "incremental").await, 1);
}

#[actix_web::test]
async fn an_answer_over_the_size_cap_fails_the_sync_and_keeps_what_is_stored() {
    let app = TestApp::spawn_google_with(
        SandboxConfig::default(),
        &[("GOOGLE_MAX_RESPONSE_BYTES", "20000")],
        Hooks::default(),
    )
    .await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    sb_event(&app, &ann);
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    // Enough events that the next page is far over 20,000 bytes.
    for month in 4..=5 {
        for day in 1..=28 {
            let start = at(Warsaw, 2026, month, day, 7, 0);
            app.sandbox()
                .insert_event(&ann, measurement("#!Read", "pages=30", start, 30))
                .unwrap();
        }
    }
    let actor = app.sync_and_wait(&id).await;
    let error = actor["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("reading the answer"), "{actor}");
    assert_eq!(actor["calendars"][0]["has_sync_token"], true, "{actor}");
    assert_eq!(app.points(&t, "imp.events.duration").await.len(), 1);
}
