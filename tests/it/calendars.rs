//! Several calendars per connection against the sandbox Google: listing and selecting them,
//! per-calendar time zones, an event shared by two calendars, a deleted calendar, a 410 on one
//! calendar, and bad selections. Poll intervals are long: only the syncs a test causes run.

use actix_web::http::{Method, StatusCode};
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use impulses_gcal::sandbox::{AccountId, CalendarId, EventSpec, EventTime, SandboxConfig};
use impulses_gcal::system::Hooks;
use serde_json::{json, Value};

use crate::flow::{at, measurement, now_ms};
use crate::support::{Reply, TestApp};

/// An app with ann's account connected and its first sync done.
pub struct Connected {
    pub app: TestApp,
    pub ann: AccountId,
    pub id: String,
    pub token: String,
}

pub async fn connected() -> Connected {
    let app = TestApp::spawn_google_with(SandboxConfig::default(), &[], Hooks::default()).await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, token) = app.token("ann", "phone", "SUPER").await;
    Connected {
        app,
        ann,
        id,
        token,
    }
}

impl Connected {
    pub async fn connect(&self) {
        self.app.connect(&self.token, &self.ann).await;
        self.app.wait_first_sync(&self.id).await;
    }

    pub async fn calendars(&self) -> Reply {
        self.app
            .data(Method::GET, "/oauth2/google/calendars", &self.token, None)
            .await
    }

    pub async fn select(&self, body: &str) -> Reply {
        self.app
            .data(
                Method::PUT,
                "/oauth2/google/calendars",
                &self.token,
                Some(body),
            )
            .await
    }

    /// A "Training" calendar of ann's (Warsaw) with one `#!Gym` session in it.
    pub fn training_with_gym(&self) -> CalendarId {
        let sb = self.app.sandbox();
        let training = sb
            .create_calendar(&self.ann, "Training", "Europe/Warsaw")
            .unwrap();
        let gym = measurement(
            "#!Gym",
            "",
            at(chrono_tz::Europe::Warsaw, 2026, 3, 3, 18, 0),
            60,
        );
        sb.insert_event_in(&training, gym).unwrap();
        training
    }

    /// Selects `ids` and waits until every selected calendar has synced since.
    pub async fn select_synced(&self, ids: &[&str]) -> Value {
        let since = now_ms();
        let r = self.select(&json!({ "selected": ids }).to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        self.wait_calendars_synced(since).await
    }

    /// Waits until every selected calendar has synced successfully since `since` (unix ms; a
    /// calendar's last success is kept in whole seconds).
    async fn wait_calendars_synced(&self, since: i64) -> Value {
        let since = since / 1000 * 1000;
        self.app
            .wait_actor(&self.id, "every selected calendar to sync", |a| {
                a["state"] != "syncing"
                    && a["calendars"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .all(|c| c["last_success"].as_i64().unwrap_or(0) >= since)
                    })
            })
            .await
    }

    /// Sorted (activity, timestamp) of every duration point.
    async fn activities(&self) -> Vec<(String, i64)> {
        crate::sync::activities(&self.app, &self.token).await
    }
}

fn hike(day: NaiveDate) -> EventSpec {
    EventSpec::new(
        "#!Hike",
        EventTime::AllDay(day),
        EventTime::AllDay(day.succ_opt().unwrap()),
    )
}

fn midnight(zone: Tz, day: NaiveDate) -> i64 {
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

pub fn entry<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no calendar {id} in {answer}"))
}

#[actix_web::test]
async fn calendars_in_their_own_zones_are_selected_and_deselected_in_one_step() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
    let training = sb
        .create_calendar(&c.ann, "Training", "America/New_York")
        .unwrap();
    let reading = sb.create_calendar(&c.ann, "Reading", "Asia/Tokyo").unwrap();
    sb.insert_event(&c.ann, hike(day)).unwrap();
    sb.insert_event_in(&training, hike(day)).unwrap();
    sb.insert_event_in(&reading, hike(day)).unwrap();
    let warsaw = midnight(chrono_tz::Europe::Warsaw, day);
    let new_york = midnight(chrono_tz::America::New_York, day);
    let tokyo = midnight(chrono_tz::Asia::Tokyo, day);
    c.connect().await;
    assert_eq!(c.activities().await, vec![("Hike".into(), warsaw)]);

    let r = c.calendars().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["calendars"].as_array().unwrap().len(),
        3,
        "{}",
        r.body
    );
    let primary = entry(&r.body, "ann@example.com");
    assert_eq!(primary["primary"], true);
    assert_eq!(primary["selected"], true);
    assert_eq!(primary["access_role"], "owner");
    assert_eq!(primary["events"], 1);
    assert_eq!(primary["gone"], false);
    let t = entry(&r.body, training.as_str());
    assert_eq!(
        (&t["selected"], &t["summary"], &t["time_zone"]),
        (
            &json!(false),
            &json!("Training"),
            &json!("America/New_York")
        )
    );
    assert!(t.get("events").is_none(), "{t}");

    let since = now_ms();
    let body = json!({"selected": ["primary", training.as_str(), reading.as_str()]}).to_string();
    let r = c.select(&body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(entry(&r.body, reading.as_str())["selected"], true);
    let actor = c.wait_calendars_synced(since).await;
    assert_eq!(actor["calendars"].as_array().unwrap().len(), 3, "{actor}");
    let mut want = vec![
        ("Hike".to_string(), warsaw),
        ("Hike".to_string(), new_york),
        ("Hike".to_string(), tokyo),
    ];
    want.sort();
    assert_eq!(c.activities().await, want);
    // The primary's fields keep their meaning: the primary calendar's counts.
    assert_eq!(actor["events"], 1, "{actor}");
    let r = c.calendars().await;
    assert_eq!(entry(&r.body, training.as_str())["events"], 1, "{}", r.body);

    // Deselecting two calendars removes their points by the time the answer arrives.
    let r = c.select(r#"{"selected":["ann@example.com"]}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(entry(&r.body, training.as_str())["selected"], false);
    assert_eq!(c.activities().await, vec![("Hike".into(), warsaw)]);
    let configs = c
        .app
        .data(Method::GET, "/oauth2/google/configs", &c.token, None)
        .await;
    let cals = configs.body[0]["calendars"].as_array().unwrap();
    assert_eq!(cals.len(), 1, "{}", configs.body);
    assert_eq!(cals[0]["calendar_id"], "primary");
    assert_eq!(configs.body[0]["sync"]["calendar_id"], "primary");
    c.app.sandbox().assert_no_violations();
}

#[actix_web::test]
async fn an_event_in_two_calendars_counts_once_and_stays_while_either_has_it() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let training = sb
        .create_calendar(&c.ann, "Training", "Europe/Warsaw")
        .unwrap();
    let primary: CalendarId = sb.primary_calendar(&c.ann).unwrap();
    let run = sb
        .insert_event(
            &c.ann,
            measurement(
                "#!Run",
                "km=5",
                at(chrono_tz::Europe::Warsaw, 2026, 3, 2, 7, 0),
                30,
            ),
        )
        .unwrap();
    sb.copy_event(&primary, &run, &training).unwrap();
    c.connect().await;
    c.select_synced(&["primary", training.as_str()]).await;
    assert_eq!(c.activities().await.len(), 1);
    assert_eq!(
        c.app.points(&c.token, "imp.events.custom.km").await.len(),
        1
    );

    // It leaves the training calendar: the primary still has it.
    sb.delete_event_in(&training, &run).unwrap();
    c.app.sync_and_wait(&c.id).await;
    assert_eq!(c.activities().await.len(), 1);
    // It leaves the primary too: gone.
    sb.delete_event(&c.ann, &run).unwrap();
    c.app.sync_and_wait(&c.id).await;
    assert!(c.activities().await.is_empty());
    sb.assert_no_violations();
}

#[actix_web::test]
async fn a_deleted_calendar_is_gone_the_others_sync_on_and_its_points_stay_until_deselected() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let training = c.training_with_gym();
    let w = chrono_tz::Europe::Warsaw;
    c.connect().await;
    c.select_synced(&["primary", training.as_str()]).await;
    assert_eq!(c.activities().await.len(), 1);

    sb.delete_calendar(&training).unwrap();
    sb.insert_event(
        &c.ann,
        measurement("#!Run", "", at(w, 2026, 3, 4, 7, 0), 30),
    )
    .unwrap();
    let actor = c.app.sync_and_wait(&c.id).await;
    let cals = actor["calendars"].as_array().unwrap();
    let gone = cals
        .iter()
        .find(|x| x["calendar_id"] == training.as_str())
        .unwrap();
    assert_eq!(
        (&gone["state"], &gone["gone"]),
        (&json!("gone"), &json!(true)),
        "{actor}"
    );
    assert!(
        gone["last_error"].as_str().unwrap().contains("no longer"),
        "{actor}"
    );
    assert_eq!(actor["state"], "error", "{actor}");
    // The primary synced on, and the gone calendar's point is still there.
    let names: Vec<String> = c.activities().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(names, vec!["Gym".to_string(), "Run".to_string()]);
    let r = c.calendars().await;
    let listed = entry(&r.body, training.as_str());
    assert_eq!(
        (&listed["gone"], &listed["selected"]),
        (&json!(true), &json!(true)),
        "{}",
        r.body
    );
    // Keeping it selected is allowed (it stays gone); deselecting it removes its point.
    let keep = json!({"selected": ["primary", training.as_str()]}).to_string();
    assert_eq!(c.select(&keep).await.status, StatusCode::OK);
    assert_eq!(c.activities().await.len(), 2);
    assert_eq!(
        c.select(r#"{"selected":["primary"]}"#).await.status,
        StatusCode::OK
    );
    let names: Vec<String> = c.activities().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(names, vec!["Run".to_string()]);
    let actor = c.app.sync_and_wait(&c.id).await;
    assert_eq!(actor["state"], "idle", "{actor}");
}

#[actix_web::test]
async fn a_410_on_one_calendar_resyncs_only_that_one() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let training = c.training_with_gym();
    let w = chrono_tz::Europe::Warsaw;
    sb.insert_event(
        &c.ann,
        measurement("#!Run", "", at(w, 2026, 3, 4, 7, 0), 30),
    )
    .unwrap();
    c.connect().await;
    c.select_synced(&["primary", training.as_str()]).await;
    let before = sb.counters();
    sb.invalidate_calendar_sync_tokens(&training).unwrap();
    c.app.sync_and_wait(&c.id).await;
    let after = sb.counters();
    assert_eq!(after.full_syncs_started - before.full_syncs_started, 1);
    assert_eq!(after.status(410) - before.status(410), 1);
    assert_eq!(c.activities().await.len(), 2);
    sb.assert_no_violations();
}

#[actix_web::test]
async fn a_calendar_shared_by_another_account_syncs_until_it_is_unshared() {
    let c = connected().await;
    let sb = c.app.sandbox();
    let bob = sb
        .create_account("bob@example.com", "Europe/Berlin")
        .unwrap();
    let runs = sb.create_calendar(&bob, "Runs", "Europe/Berlin").unwrap();
    let w = chrono_tz::Europe::Berlin;
    sb.insert_event_in(
        &runs,
        measurement("#!Run", "km=7", at(w, 2026, 3, 5, 7, 0), 40),
    )
    .unwrap();
    sb.share_calendar(&runs, &c.ann, "reader", Some("Bob's runs"))
        .unwrap();
    c.connect().await;
    let r = c.calendars().await;
    let listed = entry(&r.body, runs.as_str());
    assert_eq!(
        (
            &listed["summary"],
            &listed["access_role"],
            &listed["primary"]
        ),
        (&json!("Bob's runs"), &json!("reader"), &json!(false)),
        "{}",
        r.body
    );
    c.select_synced(&["primary", runs.as_str()]).await;
    let points = c.app.points(&c.token, "imp.events.custom.km").await;
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["value"], 7.0);

    // The selection survives a restart: no full sync is needed afterwards.
    let Connected {
        app,
        ann,
        id,
        token,
    } = c;
    let app = app.restart().await;
    let c = Connected {
        app,
        ann,
        id,
        token,
    };
    let full_before = c.app.sandbox().counters().full_syncs_started;
    let actor = c.app.wait_first_sync(&c.id).await;
    assert_eq!(actor["calendars"].as_array().unwrap().len(), 2, "{actor}");
    assert_eq!(c.app.sandbox().counters().full_syncs_started, full_before);

    c.app.sandbox().unshare_calendar(&runs, &c.ann).unwrap();
    let actor = c.app.sync_and_wait(&c.id).await;
    assert!(
        actor["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["calendar_id"] == runs.as_str() && x["state"] == "gone"),
        "{actor}"
    );
    assert_eq!(
        c.app.points(&c.token, "imp.events.custom.km").await.len(),
        1
    );
    c.app.sandbox().assert_no_violations();
}
