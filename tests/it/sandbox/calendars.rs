//! Several calendars per account: `calendarList.list`, sharing and access roles, `events.list`
//! on secondary calendars, per-calendar sync tokens, deletion, copies and counters.

use awc::http::StatusCode;
use chrono::{NaiveDate, TimeZone};
use impulses_gcal::sandbox::{AccountId, CalendarId, EventSpec, EventTime, SandboxError};
use serde_json::Value;

use super::support::*;

fn day(d: u32) -> EventTime {
    EventTime::AllDay(NaiveDate::from_ymd_opt(2026, 3, d).unwrap())
}

fn trip() -> EventSpec {
    EventSpec::new("Trip", day(28), day(29)).description("<b>secret</b> plans")
}

pub(super) fn timed(summary: &str, d: u32) -> EventSpec {
    let start = chrono_tz::Europe::Warsaw
        .with_ymd_and_hms(2026, 3, d, 9, 0, 0)
        .unwrap();
    EventSpec::new(
        summary,
        EventTime::Timed(start),
        EventTime::Timed(start + chrono::Duration::hours(1)),
    )
}

pub(super) fn bob(w: &World) -> AccountId {
    w.sandbox
        .create_account("bob@example.com", "America/New_York")
        .unwrap()
}

pub(super) fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().unwrap().clone()
}

/// The whole of a full sync of `calendar`: items and the sync token.
pub(super) async fn full(w: &World, access: &str, calendar: &str) -> (Vec<Value>, String) {
    let answer = list_in(w, access, calendar, &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    let page = answer.json();
    (items(&page), page["nextSyncToken"].as_str().unwrap().into())
}

#[actix_web::test]
async fn the_calendar_list_pages_with_tokens_bound_to_the_account() {
    let w = world();
    for n in 1..=6 {
        w.sandbox
            .create_calendar(&w.ann, &format!("Cal {n}"), "Europe/Warsaw")
            .unwrap();
    }
    let other = bob(&w);
    let bob_access = connect_as(&w, &other).await;
    let access = connect_as(&w, &w.ann).await;
    let mut pages = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut params = vec![("maxResults", "3")];
        if let Some(token) = page_token.as_deref() {
            params.push(("pageToken", token));
        }
        let answer = calendar_list(&w, &access, &params).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        let page = answer.json();
        page_token = page["nextPageToken"].as_str().map(str::to_string);
        pages.push(page);
        if page_token.is_none() {
            break;
        }
    }
    let lens: Vec<usize> = pages.iter().map(|p| items(p).len()).collect();
    assert_eq!(lens, [3, 3, 1]);
    let first_token = pages[0]["nextPageToken"].as_str().unwrap();
    assert!(first_token.contains('+') && first_token.contains('/') && first_token.contains('='));
    assert!(pages[..2].iter().all(|p| p["nextSyncToken"].is_null()));
    assert!(pages[2]["nextSyncToken"].is_string() && pages[2]["nextPageToken"].is_null());
    assert_eq!(pages[0]["kind"], "calendar#calendarList");
    let all: Vec<Value> = pages.iter().flat_map(items).collect();
    let primary = &all[0];
    assert_eq!(primary["id"], "ann@example.com");
    assert_eq!(primary["summary"], "ann@example.com");
    assert_eq!(primary["primary"], true);
    assert_eq!(primary["accessRole"], "owner");
    assert_eq!(primary["kind"], "calendar#calendarListEntry");
    for (n, item) in all[1..].iter().enumerate() {
        let id = item["id"].as_str().unwrap();
        assert!(
            id.starts_with("c_") && id.ends_with("@group.calendar.google.com"),
            "{id}"
        );
        assert_eq!(item["summary"], format!("Cal {}", n + 1), "creation order");
        assert!(item.get("primary").is_none() && item.get("summaryOverride").is_none());
        assert_eq!(
            (&item["accessRole"], &item["selected"]),
            (&"owner".into(), &true.into())
        );
        assert_eq!(item["backgroundColor"], "#9fe1e7");
    }
    let ids: Vec<String> = w
        .sandbox
        .calendar_ids(&w.ann)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(ids, super::support::ids(&all));

    let stolen = pages[0]["nextPageToken"].as_str().unwrap();
    let answer = calendar_list(
        &w,
        &bob_access,
        &[("maxResults", "3"), ("pageToken", stolen)],
    )
    .await;
    assert_eq!(google_error(&answer).0, 400);
    assert_eq!(google_error(&answer).1, "invalid");
    for bad in ["0", "x"] {
        let answer = calendar_list(&w, &access, &[("maxResults", bad)]).await;
        assert_eq!(
            (answer.status, google_error(&answer).1),
            (StatusCode::BAD_REQUEST, "invalid".into())
        );
    }
    let clamped = calendar_list(&w, &access, &[("maxResults", "1000")])
        .await
        .json();
    assert_eq!(items(&clamped).len(), 7);
    let sync = pages[2]["nextSyncToken"].as_str().unwrap();
    let again = calendar_list(&w, &access, &[("syncToken", sync)]).await;
    assert_eq!(items(&again.json()).len(), 7);
    let unknown = calendar_list(&w, &access, &[("syncToken", "+/nope==")]).await;
    assert_eq!(google_error(&unknown).1, "fullSyncRequired");
    assert_eq!(w.sandbox.counters().calendar_list_calls, 3 + 1 + 2 + 1 + 2);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_shared_calendar_shows_its_override_and_role_and_its_own_zone() {
    let w = world();
    let other = bob(&w);
    let training = w
        .sandbox
        .create_calendar(&w.ann, "Training", "Asia/Tokyo")
        .unwrap();
    let trip_id = w.sandbox.insert_event_in(&training, trip()).unwrap();
    w.sandbox
        .share_calendar(&training, &other, "reader", Some("Partner's training"))
        .unwrap();
    let access = connect_as(&w, &other).await;
    let list = calendar_list(&w, &access, &[]).await.json();
    let entries = items(&list);
    assert_eq!(
        super::support::ids(&entries),
        ["bob@example.com", training.as_str()]
    );
    assert_eq!(entries[0]["timeZone"], "America/New_York");
    let shared = &entries[1];
    assert_eq!(shared["summary"], "Training");
    assert_eq!(shared["summaryOverride"], "Partner's training");
    assert_eq!(shared["accessRole"], "reader");
    assert_eq!(shared["timeZone"], "Asia/Tokyo");
    assert!(shared.get("primary").is_none());
    let owners = calendar_list(&w, &access, &[("minAccessRole", "owner")])
        .await
        .json();
    assert_eq!(super::support::ids(&items(&owners)), ["bob@example.com"]);
    let bad = calendar_list(&w, &access, &[("minAccessRole", "boss")]).await;
    assert_eq!(google_error(&bad).0, 400);

    let page = list_in(&w, &access, training.as_str(), &[]).await.json();
    assert_eq!(
        page["timeZone"], "Asia/Tokyo",
        "the calendar's zone, not the reader's"
    );
    assert_eq!(
        (&page["accessRole"], &page["summary"]),
        (&"reader".into(), &"Training".into())
    );
    let events = items(&page);
    assert_eq!(super::support::ids(&events), [trip_id.as_str()]);
    assert_eq!(events[0]["start"]["date"], "2026-03-28");
    assert_eq!(events[0]["summary"], "Trip");
    let own = list_in(&w, &access, "primary", &[]).await.json();
    assert_eq!(own["timeZone"], "America/New_York");
    assert!(
        items(&own).is_empty(),
        "the shared calendar's events stay in it"
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_free_busy_reader_sees_when_but_not_what() {
    let w = world();
    let other = bob(&w);
    let primary = w.sandbox.primary_calendar(&w.ann).unwrap();
    assert_eq!(primary.as_str(), "ann@example.com");
    w.sandbox.insert_event(&w.ann, trip()).unwrap();
    w.sandbox
        .share_calendar(&primary, &other, "freeBusyReader", None)
        .unwrap();
    let access = connect_as(&w, &other).await;
    let page = list_in(&w, &access, "ann@example.com", &[]).await.json();
    assert_eq!(page["accessRole"], "freeBusyReader");
    let event = &items(&page)[0];
    assert!(
        event.get("summary").is_none() && event.get("description").is_none(),
        "{event}"
    );
    assert_eq!(
        (&event["start"]["date"], &event["end"]["date"]),
        (&"2026-03-28".into(), &"2026-03-29".into())
    );
    let readers = calendar_list(&w, &access, &[("minAccessRole", "reader")])
        .await
        .json();
    assert_eq!(
        items(&readers).len(),
        1,
        "only bob's own primary is at least reader"
    );
    let ann_access = connect_as(&w, &w.ann).await;
    let own = items(&list_in(&w, &ann_access, "primary", &[]).await.json());
    assert_eq!(
        (&own[0]["summary"], &own[0]["description"]),
        (&"Trip".into(), &"<b>secret</b> plans".into())
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn sync_tokens_belong_to_one_calendar() {
    let w = world();
    let gym = w
        .sandbox
        .create_calendar(&w.ann, "Gym", "Europe/Warsaw")
        .unwrap();
    w.sandbox.insert_event(&w.ann, timed("Standup", 2)).unwrap();
    w.sandbox.insert_event_in(&gym, timed("Lift", 3)).unwrap();
    let access = connect(&w).await.0;
    let (primary_items, primary_token) = full(&w, &access, "primary").await;
    let (gym_items, gym_token) = full(&w, &access, gym.as_str()).await;
    assert_eq!(
        (
            primary_items[0]["summary"].clone(),
            gym_items[0]["summary"].clone()
        ),
        ("Standup".into(), "Lift".into())
    );
    assert_eq!(gym_items[0]["organizer"]["email"], gym.as_str());

    let added = w.sandbox.insert_event_in(&gym, timed("Run", 4)).unwrap();
    let primary_delta = list_in(&w, &access, "primary", &[("syncToken", &primary_token)])
        .await
        .json();
    assert!(
        items(&primary_delta).is_empty(),
        "a change in Gym is not a change of primary"
    );
    let gym_delta = list_in(&w, &access, gym.as_str(), &[("syncToken", &gym_token)])
        .await
        .json();
    assert_eq!(super::support::ids(&items(&gym_delta)), [added.as_str()]);

    w.sandbox.invalidate_calendar_sync_tokens(&gym).unwrap();
    let gone = list_in(&w, &access, gym.as_str(), &[("syncToken", &gym_token)]).await;
    assert_eq!(
        (gone.status, google_error(&gone).1),
        (StatusCode::GONE, "fullSyncRequired".into())
    );
    let kept = list_in(&w, &access, "primary", &[("syncToken", &primary_token)]).await;
    assert_eq!(
        kept.status,
        StatusCode::OK,
        "only Gym's tokens were invalidated"
    );
    w.sandbox.assert_no_violations();

    let crossed = list_in(&w, &access, gym.as_str(), &[("syncToken", &primary_token)]).await;
    assert_eq!(crossed.status, StatusCode::GONE);
    expect_one_violation(&w, "sync token of another calendar");

    let (_, fresh_gym) = full(&w, &access, gym.as_str()).await;
    w.sandbox.invalidate_sync_tokens(&w.ann).unwrap();
    for (calendar, token) in [("primary", &primary_token), (gym.as_str(), &fresh_gym)] {
        let answer = list_in(&w, &access, calendar, &[("syncToken", token)]).await;
        assert_eq!(
            answer.status,
            StatusCode::GONE,
            "the account-wide call reaches {calendar}"
        );
    }
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn page_tokens_belong_to_one_calendar() {
    let w = world();
    let gym = w
        .sandbox
        .create_calendar(&w.ann, "Gym", "Europe/Warsaw")
        .unwrap();
    for d in 1..=4 {
        w.sandbox.insert_event(&w.ann, timed("Standup", d)).unwrap();
    }
    let access = connect(&w).await.0;
    let first = list_in(&w, &access, "primary", &[("maxResults", "2")])
        .await
        .json();
    let token = first["nextPageToken"].as_str().unwrap();
    let wrong = list_in(
        &w,
        &access,
        gym.as_str(),
        &[("maxResults", "2"), ("pageToken", token)],
    )
    .await;
    assert_eq!(
        (wrong.status, google_error(&wrong).1),
        (StatusCode::BAD_REQUEST, "invalid".into())
    );
    let right = list_in(
        &w,
        &access,
        "ann@example.com",
        &[("maxResults", "2"), ("pageToken", token)],
    )
    .await;
    assert_eq!(
        right.status,
        StatusCode::OK,
        "the e-mail names the same calendar as primary"
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn deleted_and_unshared_calendars_answer_not_found() {
    let w = world();
    let other = bob(&w);
    let gone = w
        .sandbox
        .create_calendar(&w.ann, "Old", "Europe/Warsaw")
        .unwrap();
    let lent = w
        .sandbox
        .create_calendar(&w.ann, "Lent", "Europe/Warsaw")
        .unwrap();
    w.sandbox
        .share_calendar(&gone, &other, "writer", None)
        .unwrap();
    w.sandbox
        .share_calendar(&lent, &other, "reader", None)
        .unwrap();
    let bob_access = connect_as(&w, &other).await;
    let access = connect_as(&w, &w.ann).await;
    assert_eq!(
        list_in(&w, &bob_access, gone.as_str(), &[]).await.status,
        StatusCode::OK
    );

    w.sandbox.delete_calendar(&gone).unwrap();
    w.sandbox.unshare_calendar(&lent, &other).unwrap();
    for (token, calendar) in [(&access, &gone), (&bob_access, &gone), (&bob_access, &lent)] {
        let answer = list_in(&w, token, calendar.as_str(), &[]).await;
        assert_eq!(
            google_error(&answer),
            (404, "notFound".into(), "Not Found".into())
        );
    }
    assert_eq!(
        list_in(&w, &access, lent.as_str(), &[]).await.status,
        StatusCode::OK
    );
    let never = list_in(&w, &access, "c_0@group.calendar.google.com", &[]).await;
    assert_eq!(never.status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.sandbox.calendar_ids(&other).unwrap(),
        [CalendarId::new("bob@example.com")]
    );
    assert_eq!(w.sandbox.calendar_ids(&w.ann).unwrap().len(), 2);
    let bob_deleted = calendar_list(&w, &bob_access, &[("showDeleted", "true")])
        .await
        .json();
    assert_eq!(
        items(&bob_deleted).len(),
        1,
        "gone from the lists it was shared into"
    );
    let with_deleted = calendar_list(&w, &access, &[("showDeleted", "true")])
        .await
        .json();
    let shown: Vec<Value> = items(&with_deleted)
        .into_iter()
        .filter(|i| i["id"] == gone.as_str())
        .collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["deleted"], true);
    let without = calendar_list(&w, &access, &[]).await.json();
    assert!(items(&without)
        .iter()
        .all(|i| i["id"] != gone.as_str() && i.get("deleted").is_none()));

    let primary = w.sandbox.primary_calendar(&w.ann).unwrap();
    assert!(matches!(
        w.sandbox.delete_calendar(&primary),
        Err(SandboxError::Invalid(_))
    ));
    assert!(matches!(
        w.sandbox.insert_event_in(&gone, trip()),
        Err(SandboxError::UnknownCalendar(_))
    ));
    w.sandbox.assert_no_violations();
}
