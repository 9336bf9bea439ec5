//! `events.list`: full and incremental sync, paging, tokens, tombstones and errors.

use std::collections::HashSet;

use awc::http::StatusCode;
use chrono::{NaiveDate, TimeZone};
use impulses_gcal::sandbox::{EventPatch, EventSpec, EventTime, SandboxConfig};

use super::support::*;

fn warsaw(d: u32, h: u32) -> EventTime {
    EventTime::Timed(
        chrono_tz::Europe::Warsaw
            .with_ymd_and_hms(2026, 3, d, h, 0, 0)
            .unwrap(),
    )
}

fn meeting(n: u32) -> EventSpec {
    EventSpec::new(format!("Meeting {n}"), warsaw(n, 9), warsaw(n, 10))
}

fn seed(w: &World, n: u32) -> Vec<String> {
    (1..=n)
        .map(|i| {
            w.sandbox
                .insert_event(&w.ann, meeting(i))
                .unwrap()
                .as_str()
                .to_string()
        })
        .collect()
}

#[actix_web::test]
async fn full_sync_pages_and_gives_the_sync_token_only_on_the_last_page() {
    let w = world();
    let inserted = seed(&w, 7);
    let (access, _) = connect(&w).await;
    let pages = sync_pages(&w, &access, &[("maxResults", "3")], None).await;
    assert_eq!(pages.len(), 3);
    for page in &pages[..2] {
        assert!(
            page["nextPageToken"].is_string() && page.get("nextSyncToken").is_none(),
            "{page}"
        );
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
    }
    assert!(pages[2].get("nextPageToken").is_none());
    let (items, token) = items_and_token(&pages);
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>(),
        inserted.into_iter().collect::<HashSet<_>>()
    );
    assert!(
        token.contains('+') && token.contains('/') && token.contains('='),
        "{token}"
    );
    let page_token = pages[0]["nextPageToken"].as_str().unwrap();
    assert!(page_token.contains('+') && page_token.contains('/') && page_token.contains('='));

    let first = &pages[0];
    assert_eq!(first["kind"], "calendar#events");
    assert_eq!(first["summary"], "ann@example.com");
    assert_eq!(first["timeZone"], "Europe/Warsaw");
    assert_eq!(first["accessRole"], "owner");
    assert!(first["etag"].as_str().unwrap().starts_with('"'));
    assert!(first["updated"].as_str().unwrap().ends_with('Z'));
    assert!(first["defaultReminders"].is_array());

    let event = items.iter().find(|i| i["summary"] == "Meeting 1").unwrap();
    assert_eq!(event["kind"], "calendar#event");
    assert_eq!(event["status"], "confirmed");
    assert_eq!(
        event["start"],
        serde_json::json!({"dateTime": "2026-03-01T09:00:00+01:00", "timeZone": "Europe/Warsaw"})
    );
    assert_eq!(event["end"]["dateTime"], "2026-03-01T10:00:00+01:00");
    assert_eq!(event["eventType"], "default");
    assert_eq!(event["organizer"]["email"], "ann@example.com");
    for field in ["etag", "htmlLink", "created", "updated", "iCalUID"] {
        assert!(event[field].is_string(), "{field} missing in {event}");
    }
    assert!(event["sequence"].is_u64());

    let counters = w.sandbox.counters();
    assert_eq!(
        (
            counters.full_syncs_started,
            counters.list_full,
            counters.list_incremental
        ),
        (1, 3, 0)
    );
    assert_eq!((counters.pages_served, counters.items_served), (3, 7));
    assert_eq!(counters.list_calls_by_account[w.ann.as_str()], 3);
    assert_eq!(
        (counters.status(200), counters.status(302)),
        (4, 1),
        "token + 3 pages, 1 consent: {counters:?}"
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn short_pages_may_be_short_or_empty_while_more_remain() {
    let w = world_with(SandboxConfig {
        short_pages: Some(7),
        ..SandboxConfig::default()
    });
    let inserted = seed(&w, 28);
    let (access, _) = connect(&w).await;
    let pages = sync_pages(&w, &access, &[("maxResults", "5")], None).await;
    let (items, _) = items_and_token(&pages);
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>(),
        inserted.into_iter().collect::<HashSet<_>>()
    );
    assert_eq!(items.len(), 28, "each event exactly once");
    let with_more: Vec<usize> = pages
        .iter()
        .filter(|p| p["nextPageToken"].is_string())
        .map(|p| p["items"].as_array().unwrap().len())
        .collect();
    assert!(
        with_more.iter().any(|n| *n < 5),
        "a short page while more remain: {with_more:?}"
    );
    assert!(
        with_more.contains(&0),
        "an empty page while more remain: {with_more:?}"
    );
    assert!(
        pages
            .iter()
            .filter(|p| p.get("nextSyncToken").is_some())
            .count()
            == 1
    );
}

#[actix_web::test]
async fn incremental_sync_returns_changes_once_and_deletions_as_minimal_tombstones() {
    let w = world();
    let inserted = seed(&w, 4);
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[], None).await);

    let first = impulses_gcal::sandbox::EventId::new(inserted[0].clone());
    let second = impulses_gcal::sandbox::EventId::new(inserted[1].clone());
    w.sandbox
        .patch_event(
            &w.ann,
            &first,
            EventPatch {
                summary: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    w.sandbox
        .patch_event(
            &w.ann,
            &first,
            EventPatch {
                summary: Some("Renamed twice".into()),
                ..Default::default()
            },
        )
        .unwrap();
    w.sandbox.delete_event(&w.ann, &second).unwrap();
    let added = w.sandbox.insert_event(&w.ann, meeting(20)).unwrap();

    let pages = sync_pages(&w, &access, &[], Some(&token)).await;
    let (items, next) = items_and_token(&pages);
    assert_ne!(next, token);
    assert_eq!(items.len(), 3, "{items:?}");
    let renamed = items
        .iter()
        .find(|i| i["id"] == inserted[0].as_str())
        .unwrap();
    assert_eq!(renamed["summary"], "Renamed twice");
    let tombstone = items
        .iter()
        .find(|i| i["id"] == inserted[1].as_str())
        .unwrap();
    let keys: HashSet<&str> = tombstone
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["kind", "etag", "id", "status"]));
    assert_eq!(tombstone["status"], "cancelled");
    assert_eq!(tombstone["kind"], "calendar#event");
    assert!(items.iter().any(|i| i["id"] == added.as_str()));

    // Nothing changed since: no items, the same token.
    let quiet = sync_pages(&w, &access, &[], Some(&next)).await;
    assert_eq!(quiet.len(), 1);
    assert_eq!(quiet[0]["items"].as_array().unwrap().len(), 0);
    assert_eq!(quiet[0]["nextSyncToken"], next.as_str());

    // A full sync lists no tombstones.
    let (full, _) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    assert_eq!(full.len(), 4);
    assert!(full.iter().all(|i| i["status"] == "confirmed"));
    let counters = w.sandbox.counters();
    assert_eq!(
        (counters.full_syncs_started, counters.list_incremental),
        (2, 2)
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn incremental_answers_page_too() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[("maxResults", "2")], None).await);
    seed(&w, 5);
    let pages = sync_pages(&w, &access, &[("maxResults", "2")], Some(&token)).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(items_and_token(&pages).0.len(), 5);
    assert_eq!(w.sandbox.counters().list_incremental, 3);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn restrictions_with_a_sync_token_are_400_and_a_violation() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    for name in [
        "timeMin",
        "timeMax",
        "updatedMin",
        "orderBy",
        "q",
        "iCalUID",
        "privateExtendedProperty",
        "sharedExtendedProperty",
    ] {
        let value = if name.starts_with("time") || name == "updatedMin" {
            "2026-01-01T00:00:00Z"
        } else {
            "updated"
        };
        let answer = list(&w, &access, &[("syncToken", &token), (name, value)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}");
        let (code, reason, _) = google_error(&answer);
        assert_eq!(
            (code, reason.as_str()),
            (400, "syncTokenWithRequestRestrictions"),
            "{name}"
        );
        assert_eq!(answer.json()["error"]["errors"][0]["domain"], "global");
    }
    assert_eq!(w.sandbox.take_violations().len(), 8);
}

#[actix_web::test]
async fn an_invalidated_sync_token_is_410_full_sync_required() {
    let w = world();
    seed(&w, 2);
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    w.sandbox.invalidate_sync_tokens(&w.ann).unwrap();
    let answer = list(&w, &access, &[("syncToken", &token)]).await;
    assert_eq!(answer.status, StatusCode::GONE);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": {"errors": [{"domain": "global", "reason": "fullSyncRequired",
            "message": "Sync token is no longer valid, a full sync is required."}],
            "code": 410, "message": "Sync token is no longer valid, a full sync is required."}})
    );
    let (items, fresh) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    assert_eq!(items.len(), 2);
    assert_eq!(
        list(&w, &access, &[("syncToken", &fresh)]).await.status,
        StatusCode::OK
    );
    assert_eq!(w.sandbox.counters().status(410), 1);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_token_sent_without_url_encoding_is_a_violation() {
    let w = world();
    seed(&w, 3);
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    // The careless client: the token pasted raw into the query, so '+' arrives as a space.
    let url = format!(
        "{}/calendars/primary/events?syncToken={token}",
        w.sandbox.calendar_api_base()
    );
    let answer = get(&w.client, &url, Some(&access)).await;
    assert_eq!(answer.status, StatusCode::GONE);
    expect_one_violation(&w, "sync token arrived with '+'");

    let first = list(&w, &access, &[("maxResults", "1")]).await.json();
    let page_token = first["nextPageToken"].as_str().unwrap();
    let url = format!(
        "{}/calendars/primary/events?maxResults=1&pageToken={page_token}",
        w.sandbox.calendar_api_base()
    );
    let answer = get(&w.client, &url, Some(&access)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    expect_one_violation(&w, "page token arrived with '+'");
}

#[actix_web::test]
async fn a_sync_token_used_with_other_parameters_is_a_violation() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (_, token) =
        items_and_token(&sync_pages(&w, &access, &[("singleEvents", "true")], None).await);
    let answer = list(
        &w,
        &access,
        &[("syncToken", &token), ("showDeleted", "true")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let violations = w.sandbox.take_violations();
    assert_eq!(violations.len(), 1);
    assert!(
        violations[0].contains("singleEvents") && violations[0].contains("showDeleted"),
        "{violations:?}"
    );
}

#[actix_web::test]
async fn all_day_events_use_dates_with_an_exclusive_end() {
    let w = world();
    let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
    w.sandbox
        .insert_event(
            &w.ann,
            EventSpec::new(
                "Trip",
                EventTime::AllDay(day),
                EventTime::AllDay(day.succ_opt().unwrap()),
            )
            .description("<b>bring</b>&nbsp;passport"),
        )
        .unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    assert_eq!(items[0]["start"], serde_json::json!({"date": "2026-03-28"}));
    assert_eq!(items[0]["end"], serde_json::json!({"date": "2026-03-29"}));
    assert_eq!(items[0]["description"], "<b>bring</b>&nbsp;passport");
}

#[actix_web::test]
async fn time_range_filters_full_syncs_and_timezone_shifts_datetimes() {
    let w = world();
    seed(&w, 10);
    let (access, _) = connect(&w).await;
    let pages = sync_pages(
        &w,
        &access,
        &[
            ("timeMin", "2026-03-03T00:00:00Z"),
            ("timeMax", "2026-03-05T00:00:00Z"),
            ("timeZone", "UTC"),
        ],
        None,
    )
    .await;
    let (items, _) = items_and_token(&pages);
    let summaries: HashSet<&str> = items
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, HashSet::from(["Meeting 3", "Meeting 4"]));
    assert_eq!(
        items[0]["start"]["dateTime"].as_str().unwrap().len(),
        20,
        "UTC shown with Z: {}",
        items[0]["start"]
    );
    let empty = list(
        &w,
        &access,
        &[
            ("timeMin", "2026-03-05T00:00:00Z"),
            ("timeMax", "2026-03-03T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(google_error(&empty).1, "timeRangeEmpty");
}

#[actix_web::test]
async fn bad_parameters_and_other_calendars_are_refused() {
    let w = world();
    let (access, _) = connect(&w).await;
    for bad in [
        ("maxResults", "0"),
        ("maxResults", "many"),
        ("singleEvents", "yes"),
        ("timeMin", "yesterday"),
        ("orderBy", "startTime"),
    ] {
        let answer = list(&w, &access, &[bad]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(google_error(&answer).0, 400);
    }
    let by_email = get(
        &w.client,
        &format!(
            "{}/calendars/ann%40example.com/events",
            w.sandbox.calendar_api_base()
        ),
        Some(&access),
    )
    .await;
    assert_eq!(by_email.status, StatusCode::OK);
    let other = get(
        &w.client,
        &format!(
            "{}/calendars/bob%40example.com/events",
            w.sandbox.calendar_api_base()
        ),
        Some(&access),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(google_error(&other).1, "notFound");
    let unknown_page = list(&w, &access, &[("pageToken", "+/nope==")]).await;
    assert_eq!(unknown_page.status, StatusCode::BAD_REQUEST);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn q_and_ical_uid_narrow_a_full_sync() {
    let w = world();
    seed(&w, 3);
    w.sandbox
        .insert_event(
            &w.ann,
            meeting(9).description("Quarterly PLANNING with finance"),
        )
        .unwrap();
    let (access, _) = connect(&w).await;
    let (items, _) =
        items_and_token(&sync_pages(&w, &access, &[("q", "planning quarterly")], None).await);
    assert_eq!(ids(&items).len(), 1);
    assert_eq!(items[0]["summary"], "Meeting 9");
    let uid = items[0]["iCalUID"].as_str().unwrap().to_string();
    let (items, _) = items_and_token(&sync_pages(&w, &access, &[("iCalUID", &uid)], None).await);
    assert_eq!(ids(&items).len(), 1);
    let (items, _) =
        items_and_token(&sync_pages(&w, &access, &[("q", "nothing-like-this")], None).await);
    assert!(items.is_empty());
}

#[actix_web::test]
async fn a_sync_token_of_another_account_is_410_and_a_violation() {
    let w = world();
    let bob = w.sandbox.create_account("bob@example.com", "UTC").unwrap();
    let (ann_access, _) = connect(&w).await;
    w.sandbox.sign_in(&bob, Default::default()).unwrap();
    let (bob_access, _) = connect(&w).await;
    let (_, ann_token) = items_and_token(&sync_pages(&w, &ann_access, &[], None).await);
    let answer = list(&w, &bob_access, &[("syncToken", &ann_token)]).await;
    assert_eq!(answer.status, StatusCode::GONE);
    expect_one_violation(&w, "sync token of another account");
}

#[actix_web::test]
async fn a_stopped_sandbox_refuses_connections() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox.stop().await;
    let url = format!("{}/calendars/primary/events", w.sandbox.calendar_api_base());
    let fresh = client();
    assert!(fresh.get(&url).bearer_auth(&access).send().await.is_err());
}
