//! Throughput: a 50,000-event full sync and many small list calls. Figures are printed, not
//! asserted (the machine is shared); correctness is asserted.

use std::collections::HashSet;
use std::time::Instant;

use chrono::TimeZone;
use impulses_gcal::sandbox::SeedPlan;

use super::support::*;

/// A full sync that only skims the pages (the server's share of the time).
async fn wire_sync(w: &World, access: &str) -> (usize, usize, std::time::Duration) {
    #[derive(serde::Deserialize)]
    struct Skim {
        #[serde(rename = "nextPageToken")]
        next: Option<String>,
        items: Vec<serde::de::IgnoredAny>,
    }
    let started = Instant::now();
    let (mut pages, mut items, mut token) = (0, 0, None::<String>);
    loop {
        let mut params = vec![("maxResults", "2500")];
        if let Some(token) = token.as_deref() {
            params.push(("pageToken", token));
        }
        let skim: Skim = serde_json::from_slice(&list(w, access, &params).await.body).unwrap();
        pages += 1;
        items += skim.items.len();
        token = skim.next;
        if token.is_none() {
            return (pages, items, started.elapsed());
        }
    }
}

#[actix_web::test]
async fn a_50k_event_calendar_syncs_fully_in_20_pages() {
    let w = world();
    let seeding = Instant::now();
    let plan = SeedPlan::new(
        50_000,
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap(),
    );
    w.sandbox.seed(&w.ann, &plan).unwrap();
    let seeded_in = seeding.elapsed();
    let (access, _) = connect(&w).await;
    let (wire_pages, wire_items, wire_took) = wire_sync(&w, &access).await;
    assert_eq!((wire_pages, wire_items), (20, 50_000));
    let started = Instant::now();
    let pages = sync_pages(&w, &access, &[("maxResults", "2500")], None).await;
    let took = started.elapsed();
    println!(
        "seeded 50,000 events in {seeded_in:?}; full sync of 50,000 events in 20 pages: {wire_took:?} \
         on the wire (items skipped by the client), {took:?} with every item parsed into serde_json::Value"
    );
    assert_eq!(pages.len(), 20);
    let (items, _) = items_and_token(&pages);
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>().len(),
        50_000
    );
    let capped = list(&w, &access, &[("maxResults", "5000")]).await.json();
    assert_eq!(
        capped["items"].as_array().unwrap().len(),
        2500,
        "maxResults is capped at 2500"
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
#[ignore = "timing figures; run with --ignored --nocapture (best in --release)"]
async fn small_list_calls_per_second() {
    let w = world();
    let (access, _) = connect(&w).await;
    let (_, token) = items_and_token(&sync_pages(&w, &access, &[], None).await);
    let calls = 4000;
    let started = Instant::now();
    let url = format!(
        "{}/calendars/primary/events?{}",
        w.sandbox.calendar_api_base(),
        query(&[("syncToken", &token)])
    );
    let mut pending = futures_util::stream::FuturesUnordered::new();
    for _ in 0..calls {
        pending.push(get(&w.client, &url, Some(&access)));
        if pending.len() >= 16 {
            let answer = futures_util::StreamExt::next(&mut pending).await.unwrap();
            assert!(answer.status.is_success());
        }
    }
    while let Some(answer) = futures_util::StreamExt::next(&mut pending).await {
        assert!(answer.status.is_success());
    }
    let took = started.elapsed();
    println!(
        "{calls} incremental list calls in {took:?}: {:.0} calls/s",
        calls as f64 / took.as_secs_f64()
    );
}
