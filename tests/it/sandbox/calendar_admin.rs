//! The admin HTTP routes for calendars (ids with `@` sent as `%40`) and the `calendarlist` fault.

use awc::http::StatusCode;
use impulses_gcal::sandbox::{Endpoint, Fault, Times};
use serde_json::{json, Value};

use super::support::*;

fn dinner() -> Value {
    json!({"summary": "Dinner", "description": "at <i>Rosa</i>",
        "start": {"dateTime": "2026-03-05T19:00:00", "timeZone": "Europe/Warsaw"},
        "end": {"dateTime": "2026-03-05T21:00:00", "timeZone": "Europe/Warsaw"}})
}

#[actix_web::test]
async fn the_admin_api_creates_shares_fills_copies_and_deletes_calendars() {
    let w = world();
    let (_, bob) = admin(
        &w,
        "POST",
        "/accounts",
        Some(json!({"email": "bob@example.com", "time_zone": "America/New_York"})),
    )
    .await;
    let bob = bob["sub"].as_str().unwrap().to_string();
    let ann = w.ann.to_string();
    let (status, created) = admin(
        &w,
        "POST",
        &format!("/accounts/{ann}/calendars"),
        Some(json!({"summary": "Training", "time_zone": "Europe/Warsaw"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let cal = created["id"].as_str().unwrap().to_string();
    assert!(cal.starts_with("c_") && cal.ends_with("@group.calendar.google.com"));
    let encoded = segment(&cal);
    assert!(encoded.contains("%40"), "{encoded}");

    let (status, shared) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/share"),
        Some(json!({"with": bob, "role": "reader", "summary_override": "Partner's reading"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    let (status, list) = admin(&w, "GET", &format!("/accounts/{bob}/calendars"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([
        {"id": "bob@example.com", "summary": "bob@example.com", "summary_override": null,
         "time_zone": "America/New_York", "access_role": "owner", "primary": true},
        {"id": cal, "summary": "Training", "summary_override": "Partner's reading",
         "time_zone": "Europe/Warsaw", "access_role": "reader", "primary": false}])
    );

    let (status, inserted) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/events"),
        Some(dinner()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{inserted}");
    let id = inserted["id"].as_str().unwrap().to_string();
    let (status, _) = admin(
        &w,
        "PATCH",
        &format!("/calendars/{encoded}/events/{id}"),
        Some(json!({"summary": "Late dinner"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let primary = segment("ann@example.com");
    let (status, copied) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/events/{id}/copy"),
        Some(json!({"to": "ann@example.com"})),
    )
    .await;
    assert_eq!(
        (status, copied["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let (status, again) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/events/{id}/copy"),
        Some(json!({"to": "ann@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert!(again["detail"].as_str().unwrap().contains(&id));

    let bob_access = connect_as(&w, &impulses_gcal::sandbox::AccountId::from_sub(&bob)).await;
    let page = list_in(&w, &bob_access, &cal, &[]).await.json();
    assert_eq!(page["items"][0]["summary"], "Late dinner");
    let token = page["nextSyncToken"].as_str().unwrap().to_string();
    let (status, _) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/invalidate-sync-tokens"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let gone = list_in(&w, &bob_access, &cal, &[("syncToken", &token)]).await;
    assert_eq!(gone.status, StatusCode::GONE);

    let (status, _) = admin(
        &w,
        "DELETE",
        &format!("/calendars/{encoded}/share/{bob}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list_in(&w, &bob_access, &cal, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let (status, _) = admin(
        &w,
        "DELETE",
        &format!("/calendars/{encoded}/events/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = admin(&w, "DELETE", &format!("/calendars/{primary}"), None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a primary calendar stays: {refused}"
    );
    let (status, _) = admin(&w, "DELETE", &format!("/calendars/{encoded}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, missing) = admin(
        &w,
        "POST",
        &format!("/calendars/{encoded}/events"),
        Some(dinner()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing["detail"].as_str().unwrap().contains("no calendar"));
    let (_, list) = admin(&w, "GET", &format!("/accounts/{ann}/calendars"), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (status, _) = admin(
        &w,
        "POST",
        &format!("/calendars/{primary}/share"),
        Some(json!({"with": bob, "role": "boss"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn the_calendar_list_fault_answers_with_googles_body_then_clears() {
    let w = world();
    let access = connect(&w).await.0;
    w.sandbox
        .inject_fault(Fault::error(Endpoint::CalendarList, 503, "backendError").times(Times::N(2)));
    for _ in 0..2 {
        let answer = calendar_list(&w, &access, &[]).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(google_error(&answer).1, "backendError");
    }
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::OK,
        "events.list is untouched"
    );
    assert_eq!(calendar_list(&w, &access, &[]).await.status, StatusCode::OK);

    let (status, _) = admin(
        &w,
        "POST",
        "/faults",
        Some(json!({"endpoint": "calendarlist",
        "status": 429, "reason": "rateLimitExceeded", "retry_after": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let limited = calendar_list(&w, &access, &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after").as_deref(), Some("5"));
    let counters = w.sandbox.counters();
    assert_eq!(counters.calendar_list_calls, 4);
    assert_eq!(counters.status(503), 2);

    let unauthenticated = calendar_list(&w, "ya29.nope", &[]).await;
    assert_eq!(google_error(&unauthenticated).1, "authError");
    expect_one_violation(&w, "unknown access token");
}
