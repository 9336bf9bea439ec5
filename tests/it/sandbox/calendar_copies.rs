//! Events copied between calendars (an invitation in each attendee's calendar) and list calls
//! counted per calendar.

use impulses_gcal::sandbox::{EventPatch, SandboxError};

use super::calendars::{bob, full, items, timed};
use super::support::*;

#[actix_web::test]
async fn a_copied_event_keeps_its_id_and_lives_on_independently() {
    let w = world();
    let other = bob(&w);
    let from = w.sandbox.primary_calendar(&w.ann).unwrap();
    let to = w.sandbox.primary_calendar(&other).unwrap();
    let id = w.sandbox.insert_event(&w.ann, timed("Dinner", 5)).unwrap();
    w.sandbox.copy_event(&from, &id, &to).unwrap();
    assert!(matches!(
        w.sandbox.copy_event(&from, &id, &to),
        Err(SandboxError::Invalid(_))
    ));
    let bob_access = connect_as(&w, &other).await;
    let access = connect_as(&w, &w.ann).await;
    let (mine, _) = full(&w, &access, "primary").await;
    let (theirs, theirs_token) = full(&w, &bob_access, "primary").await;
    assert_eq!(
        (mine[0]["id"].clone(), theirs[0]["id"].clone()),
        (id.as_str().into(), id.as_str().into())
    );
    assert_eq!(mine[0]["iCalUID"], theirs[0]["iCalUID"]);

    let patch = EventPatch {
        summary: Some("Dinner at eight".into()),
        ..EventPatch::default()
    };
    w.sandbox.patch_event_in(&to, &id, patch).unwrap();
    let (mine, _) = full(&w, &access, "primary").await;
    assert_eq!(
        mine[0]["summary"], "Dinner",
        "the copy changed, not the original"
    );
    let delta = list_in(&w, &bob_access, "primary", &[("syncToken", &theirs_token)])
        .await
        .json();
    assert_eq!(items(&delta)[0]["summary"], "Dinner at eight");
    w.sandbox.delete_event_in(&to, &id).unwrap();
    assert_eq!(full(&w, &access, "primary").await.0.len(), 1);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn list_calls_are_counted_per_calendar() {
    let w = world();
    let gym = w
        .sandbox
        .create_calendar(&w.ann, "Gym", "Europe/Warsaw")
        .unwrap();
    let access = connect(&w).await.0;
    for calendar in [
        "primary",
        "ANN@example.com",
        gym.as_str(),
        gym.as_str(),
        gym.as_str(),
    ] {
        list_in(&w, &access, calendar, &[]).await;
    }
    list_in(&w, &access, "c_none@group.calendar.google.com", &[]).await;
    let counters = w.sandbox.counters();
    assert_eq!(
        counters.list_calls_by_calendar.get("ann@example.com"),
        Some(&2)
    );
    assert_eq!(counters.list_calls_by_calendar.get(gym.as_str()), Some(&3));
    assert_eq!(counters.list_calls_by_account.get(w.ann.as_str()), Some(&6));
    assert_eq!(counters.list_calls_by_calendar.values().sum::<u64>(), 6);
    w.sandbox.assert_no_violations();
}
