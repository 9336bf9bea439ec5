//! The calendar routes' refusals: bad selections, a connection that is missing or needs
//! reconnecting, Google failing to list, a read-less token, a server without Google. Each
//! refusal changes nothing.

use actix_web::http::{Method, StatusCode};
use impulses_gcal::sandbox::{Endpoint, Fault};
use serde_json::json;

use crate::calendars::{connected, entry};
use crate::support::TestApp;

#[actix_web::test]
async fn bad_selections_get_their_4xx_and_change_nothing() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let training = sb
        .create_calendar(&c.ann, "Training", "Europe/Warsaw")
        .unwrap();
    // Not connected yet: 409.
    let r = c.calendars().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        c.select(r#"{"selected":["primary"]}"#).await.status,
        StatusCode::CONFLICT
    );
    c.connect().await;
    let unknown = r#"{"selected":["primary","c_nope@group.calendar.google.com"]}"#;
    let twice = json!({"selected": [training.as_str(), training.as_str()]}).to_string();
    let big = format!(r#"{{"selected":["{}"]}}"#, "x".repeat(11 * 1024 * 1024));
    let cases: Vec<(&str, &str, StatusCode)> = vec![
        ("unknown id", unknown, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "the primary twice",
            r#"{"selected":["primary","ann@example.com"]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("a calendar twice", &twice, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "empty",
            r#"{"selected":[]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("no field", r#"{}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "not a list",
            r#"{"selected":"primary"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("not JSON", "selected=primary", StatusCode::BAD_REQUEST),
        ("10 MiB", &big, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    let list_calls = sb.counters().list_calls();
    for (what, body, status) in cases {
        let r = c.select(body).await;
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(!r.detail().is_empty(), "{what}: {}", r.body);
    }
    let r = c.calendars().await;
    assert_eq!(entry(&r.body, training.as_str())["selected"], false);
    assert_eq!(entry(&r.body, "ann@example.com")["selected"], true);
    assert_eq!(
        sb.counters().list_calls(),
        list_calls,
        "no sync was started"
    );

    // Google failing to list: 502 with its reason; a read-less token: 403.
    sb.inject_fault(Fault::error(Endpoint::CalendarList, 503, "backendError"));
    let r = c.calendars().await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert!(r.detail().contains("503"), "{}", r.body);
    let (_, ingest) = c.app.token("ann", "scale", "INGEST").await;
    let r = c
        .app
        .data(Method::GET, "/oauth2/google/calendars", &ingest, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[actix_web::test]
async fn without_google_the_calendar_routes_answer_503() {
    let app = TestApp::spawn().await;
    let (_, token) = app.token("ann", "phone", "SUPER").await;
    let r = app
        .data(Method::GET, "/oauth2/google/calendars", &token, None)
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let r = app
        .data(
            Method::PUT,
            "/oauth2/google/calendars",
            &token,
            Some(r#"{"selected":["primary"]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}

#[actix_web::test]
async fn a_connection_that_needs_reconnecting_answers_409() {
    let c = connected().await;
    c.connect().await;
    let sb = c.app.sandbox();
    sb.revoke_account(&c.ann).unwrap();
    sb.expire_access_tokens(&c.ann).unwrap();
    // Google refuses the refresh while listing.
    let r = c.calendars().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.detail().contains("reconnect"), "{}", r.body);
    // Once the actor knows, it refuses without asking Google.
    let r = c
        .app
        .admin(Method::POST, &format!("/admin/actors/{}/sync", c.id), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    c.app
        .wait_actor(&c.id, "needs_reauth", |a| a["state"] == "needs_reauth")
        .await;
    let calls = sb.counters().calendar_list_calls;
    let r = c.select(r#"{"selected":["primary"]}"#).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(sb.counters().calendar_list_calls, calls);
}
