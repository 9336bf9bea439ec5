//! The HTTP admin API under `/_sandbox`.

use awc::http::StatusCode;
use impulses_gcal::sandbox::AccountId;
use serde_json::json;

use super::support::*;

#[actix_web::test]
async fn the_admin_api_drives_accounts_events_faults_and_reports() {
    let w = world();
    let (status, created) = admin(
        &w,
        "POST",
        "/accounts",
        Some(json!({"email": "cy@example.com", "time_zone": "America/New_York"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let sub = created["sub"].as_str().unwrap().to_string();
    assert_eq!(
        admin(
            &w,
            "POST",
            "/sign-in",
            Some(json!({"sub": sub, "consent": "grant_all"}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let event = json!({"summary": "Standup", "start": {"dateTime": "2026-03-02T07:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-02T07:15:00", "timeZone": "America/New_York"}, "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]});
    let (status, inserted) =
        admin(&w, "POST", &format!("/accounts/{sub}/events"), Some(event)).await;
    assert_eq!(status, StatusCode::OK, "{inserted}");
    let id = inserted["id"].as_str().unwrap().to_string();
    let (status, occurrence) = admin(
        &w,
        "POST",
        &format!("/accounts/{sub}/events/{id}/occurrence"),
        Some(json!({"original_start": {"dateTime": "2026-03-09T07:00:00-04:00"}, "cancel": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{occurrence}");
    assert_eq!(occurrence["id"], format!("{id}_20260309T110000Z"));
    assert_eq!(
        admin(
            &w,
            "PATCH",
            &format!("/accounts/{sub}/events/{id}"),
            Some(json!({"summary": "Sync"}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, seeded) = admin(
        &w,
        "POST",
        &format!("/accounts/{sub}/seed"),
        Some(json!({"count": 5, "start": "2026-01-01T08:00:00Z"})),
    )
    .await;
    assert_eq!(
        (status, seeded["count"].as_u64()),
        (StatusCode::OK, Some(5))
    );

    let (access, refresh_token) = connect(&w).await;
    let (items, _) =
        items_and_token(&sync_pages(&w, &access, &[("singleEvents", "true")], None).await);
    assert_eq!(
        items.len(),
        6,
        "5 seeded + 1 remaining occurrence: {items:?}"
    );
    assert_eq!(items.iter().filter(|i| i["summary"] == "Sync").count(), 1);

    assert_eq!(admin(&w, "POST", "/faults", Some(json!({"endpoint": "list", "status": 429, "reason": "rateLimitExceeded", "retry_after": 3, "times": {"n": 2}}))).await.0, StatusCode::OK);
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(admin(&w, "DELETE", "/faults", None).await.0, StatusCode::OK);
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);

    assert_eq!(
        admin(&w, "DELETE", &format!("/accounts/{sub}/events/{id}"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        admin(
            &w,
            "POST",
            &format!("/accounts/{sub}/invalidate-sync-tokens"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        admin(
            &w,
            "POST",
            &format!("/accounts/{sub}/expire-access-tokens"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin(&w, "POST", &format!("/accounts/{sub}/revoke"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        refresh(&w, &refresh_token).await.json()["error"],
        "invalid_grant"
    );

    let (_, counters) = admin(&w, "GET", "/counters", None).await;
    assert_eq!(
        counters["full_syncs_started"], 2,
        "the paged sync and the call after the fault cleared"
    );
    assert_eq!(counters["by_status"]["429"], 1);
    let (_, violations) = admin(&w, "GET", "/violations", None).await;
    assert_eq!(violations, json!([]));
    let (_, secret) = admin(&w, "GET", "/client_secret.json", None).await;
    assert_eq!(secret["web"]["token_uri"], w.sandbox.token_uri());
    let (status, now) = admin(
        &w,
        "POST",
        "/clock/advance",
        Some(json!({"seconds": 86400})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(now["now"].is_string());
    assert!(w.sandbox.now() > chrono::Utc::now() + chrono::Duration::hours(23));
    assert!(w.sandbox.account_info(&AccountId::from_sub(&sub)).is_some());
}

#[actix_web::test]
async fn the_admin_api_refuses_bad_input_with_a_detail() {
    let w = world();
    let (status, body) = admin(
        &w,
        "POST",
        "/accounts",
        Some(json!({"email": "x@example.com", "time_zone": "Mars/Base"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("time zone"));
    let (status, body) = admin(&w, "POST", "/accounts", Some(json!({"mail": 1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].is_string());
    let (status, _) = admin(&w, "DELETE", "/accounts/123/events/abc", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin(
        &w,
        "POST",
        &format!("/accounts/{}/events", w.ann),
        Some(
            json!({"summary": "x", "start": {"date": "2026-01-02"}, "end": {"date": "2026-01-01"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
