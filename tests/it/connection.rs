//! A data token and its own connection: `POST /oauth2/google/sync` (rate-limited per token) and
//! `GET /oauth2/google/skipped` (why a `#!` event gave no datapoint).

use actix_web::http::{Method, StatusCode};
use chrono_tz::Europe::Warsaw;
use impulses_gcal::sandbox::{EventPatch, SandboxConfig};
use serde_json::Value;

use crate::flow::{at, measurement};
use crate::support::TestApp;

async fn skipped(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app
        .data(Method::GET, "/oauth2/google/skipped", token, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_token_syncs_its_own_connection_at_most_once_per_ten_seconds() {
    let app = TestApp::spawn_google_with(SandboxConfig::default(), &[], Default::default()).await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    let (_, unconnected) = app.token("ann", "laptop", "SUPER").await;
    let (_, ingest) = app.token("ann", "scale", "INGEST").await;

    let r = app
        .data(Method::POST, "/oauth2/google/sync", &unconnected, None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = app
        .data(Method::POST, "/oauth2/google/sync", &ingest, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(Method::POST, "/oauth2/google/sync", &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    app.connect(&t, &ann).await;
    let first = app.wait_first_sync(&id).await;
    let syncs = first["syncs_ok"].as_u64().unwrap();
    app.sandbox()
        .insert_event(
            &ann,
            measurement("#!Running", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
        )
        .unwrap();
    let r = app
        .data(Method::POST, "/oauth2/google/sync", &t, None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let again = app
        .data(Method::POST, "/oauth2/google/sync", &t, None)
        .await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.body
    );
    let wait: u64 = again.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "Retry-After: {wait}");
    assert!(again.detail().contains("try again"), "{}", again.body);
    // The accepted one ran: the new event is a datapoint.
    app.wait_actor(&id, "the requested sync", |a| {
        a["syncs_ok"].as_u64().unwrap() > syncs && a["state"] == "idle"
    })
    .await;
    assert_eq!(app.points(&t, "imp.events.duration").await.len(), 1);
}

#[actix_web::test]
async fn skipped_events_say_why_and_leave_the_list_once_fixed() {
    let app = TestApp::spawn_google_with(SandboxConfig::default(), &[], Default::default()).await;
    let sb = app.sandbox();
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    let hostile = "#!<img src=x onerror=alert(1)>";
    let backwards = sb
        .insert_event(
            &ann,
            measurement(
                "#!Running",
                "distance=1e400",
                at(Warsaw, 2026, 3, 2, 7, 0),
                30,
            ),
        )
        .unwrap();
    sb.insert_event(
        &ann,
        measurement(hostile, "x=1e999", at(Warsaw, 2026, 3, 3, 7, 0), 5),
    )
    .unwrap();
    sb.insert_event(
        &ann,
        measurement("#!", "", at(Warsaw, 2026, 3, 4, 7, 0), 30),
    )
    .unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Gym", "", at(Warsaw, 2026, 3, 5, 7, 0), 30),
    )
    .unwrap();
    // Gives its duration and laps, but not the distance a person meant.
    sb.insert_event(
        &ann,
        measurement(
            "#!Cycling",
            "distance=10 km\nlaps=3",
            at(Warsaw, 2026, 3, 6, 7, 0),
            30,
        ),
    )
    .unwrap();
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;

    let events = skipped(&app, &t).await;
    let mut reasons: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["title"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            (
                "#!".to_string(),
                "title has no activity after #!".to_string()
            ),
            (
                hostile.to_string(),
                "custom metric \"x\" has a value that is not a finite number".to_string()
            ),
            (
                "#!Cycling".to_string(),
                "a line was ignored: \"distance=10 km\" (\"10 km\" is not a number)".to_string()
            ),
            (
                "#!Running".to_string(),
                "custom metric \"distance\" has a value that is not a finite number".to_string()
            ),
        ]
    );
    let running = events.iter().find(|e| e["title"] == "#!Running").unwrap();
    assert_eq!(running["calendar_id"], "primary");
    assert_eq!(running["event_id"], backwards.as_str());
    let start = at(Warsaw, 2026, 3, 2, 7, 0);
    let impulses_gcal::sandbox::EventTime::Timed(start) = start else {
        unreachable!()
    };
    assert_eq!(running["start"].as_i64(), Some(start.timestamp_millis()));

    // Fixing the run in the calendar takes it off the list at the next (incremental) sync.
    sb.patch_event(
        &ann,
        &backwards,
        EventPatch {
            description: Some(Some("distance=10000".into())),
            ..EventPatch::default()
        },
    )
    .unwrap();
    app.sync_and_wait(&id).await;
    let titles: Vec<String> = skipped(&app, &t)
        .await
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(!titles.contains(&"#!Running".to_string()));
    assert_eq!(app.points(&t, "imp.events.duration").await.len(), 3);
    assert_eq!(app.points(&t, "imp.events.custom.laps").await.len(), 1);

    // Another user's token sees nothing of it.
    let (_, bob) = app.token("bob", "phone", "SUPER").await;
    assert!(skipped(&app, &bob).await.is_empty());
}
