//! Push notifications against the sandbox Google, which posts them to the real server: an edit
//! arrives without a poll, a burst gives a handful of syncs, forged notifications start
//! nothing, channels are renewed with no gap, the backstop poll catches dropped notifications,
//! a refused watch falls back to polling, and disconnecting, deselecting and restarting do what
//! they should to the channels. Poll intervals are long unless a test is about the backstop.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono_tz::Europe::Warsaw;
use impulses_gcal::sandbox::{AccountId, ChannelState, Endpoint, Fault, SandboxConfig, Times};
use impulses_gcal::system::Hooks;
use serde_json::{json, Value};

use crate::flow::{at, measurement};
use crate::support::{wait_for, TestApp, PUSH_SELF};

const DURATION: &str = "imp.events.duration";
const DEADLINE: Duration = Duration::from_secs(20);

struct Pushed {
    app: TestApp,
    ann: AccountId,
    id: String,
    token: String,
}

/// An app with push to itself, ann connected, her first sync done and her channel healthy.
async fn pushed(config: SandboxConfig, extra: &[(&str, &str)]) -> Pushed {
    let mut vars = vec![("GCAL_PUSH_URL", PUSH_SELF)];
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_google_with(config, &vars, Hooks::default()).await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let (id, token) = app.token("ann", "phone", "SUPER").await;
    app.connect(&token, &ann).await;
    app.wait_first_sync(&id).await;
    Pushed {
        app,
        ann,
        id,
        token,
    }
}

impl Pushed {
    async fn wait_push(&self, state: &str) -> Value {
        self.app
            .wait_actor(&self.id, &format!("push {state}"), |a| {
                a["calendars"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().all(|c| c["push"]["state"] == state))
            })
            .await
    }

    async fn durations(&self) -> usize {
        self.app.points(&self.token, DURATION).await.len()
    }

    async fn wait_durations(&self, n: usize) {
        wait_for(DEADLINE, &format!("{n} duration points"), || async {
            let got = self.durations().await;
            if got == n {
                Ok(())
            } else {
                Err(format!("{got} points"))
            }
        })
        .await
    }

    fn add_run(&self, day: u32) {
        self.app
            .sandbox()
            .insert_event(
                &self.ann,
                measurement("#!Run", "", at(Warsaw, 2026, 3, day, 7, 0), 30),
            )
            .unwrap();
    }

    async fn notify(&self, headers: &[(&str, &str)]) -> StatusCode {
        self.app
            .call(Method::POST, "/oauth2/google/notifications", headers, None)
            .await
            .status
    }
}

#[actix_web::test]
async fn an_edit_arrives_by_push_without_a_poll() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    let actor = p.wait_push("healthy").await;
    let next_sync = actor["next_sync"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        next_sync - now > 3_000_000,
        "a healthy calendar polls at the backstop (an hour): {actor}"
    );
    let lists = p.app.sandbox().counters().list_calls();
    p.add_run(2);
    p.wait_durations(1).await;
    let c = p.app.sandbox().counters();
    assert_eq!(c.list_calls() - lists, 1, "one incremental list, no poll");
    assert_eq!(c.watch_calls, 1);
    let actor = p.app.actor(&p.id).await;
    assert!(actor["calendars"][0]["push"]["last_notification"]
        .as_i64()
        .is_some());
    p.app.sandbox().assert_no_violations();
}

#[actix_web::test]
async fn a_burst_of_edits_gives_a_handful_of_syncs_and_exact_metrics() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    p.wait_push("healthy").await;
    let before = p.app.actor(&p.id).await["syncs_ok"].as_u64().unwrap();
    for i in 0..100u32 {
        p.app
            .sandbox()
            .insert_event(
                &p.ann,
                measurement(
                    "#!Run",
                    &format!("n={i}"),
                    at(Warsaw, 2026, 3, 1 + i % 28, 6, 0),
                    10 + i as i64,
                ),
            )
            .unwrap();
    }
    p.wait_durations(100).await;
    // Wait for the last notifications to land, then count.
    wait_for(
        DEADLINE,
        "the sandbox to deliver every notification",
        || async {
            let c = p.app.sandbox().counters();
            if c.notifications_sent >= 101 {
                Ok(())
            } else {
                Err(format!("{} sent", c.notifications_sent))
            }
        },
    )
    .await;
    let actor = p
        .app
        .wait_actor(&p.id, "the last sync to end", |a| a["state"] == "idle")
        .await;
    let syncs = actor["syncs_ok"].as_u64().unwrap() - before;
    // Notifications are gathered for half a second, and those arriving during a sync give one
    // more: a handful however the sandbox spreads its deliveries, never one per notification.
    assert!(
        (1..=8).contains(&syncs),
        "{syncs} syncs for 100 notifications"
    );
    assert_eq!(p.durations().await, 100);
}

#[actix_web::test]
async fn forged_notifications_start_nothing_and_are_counted() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    p.wait_push("healthy").await;
    let channel = p.app.sandbox().channels().pop().unwrap();
    let token = channel.token.clone().unwrap();
    let lists = p.app.sandbox().counters().list_calls();
    let cases: [[(&str, &str); 4]; 4] = [
        [
            ("X-Goog-Channel-ID", &channel.id),
            ("X-Goog-Resource-ID", &channel.resource_id),
            ("X-Goog-Channel-Token", "forged"),
            ("X-Goog-Resource-State", "exists"),
        ],
        [
            ("X-Goog-Channel-ID", "no-such-channel"),
            ("X-Goog-Resource-ID", &channel.resource_id),
            ("X-Goog-Channel-Token", &token),
            ("X-Goog-Resource-State", "exists"),
        ],
        [
            ("X-Goog-Channel-ID", &channel.id),
            ("X-Goog-Resource-ID", "another-resource"),
            ("X-Goog-Channel-Token", &token),
            ("X-Goog-Resource-State", "exists"),
        ],
        [
            ("X-Goog-Channel-ID", &channel.id),
            ("X-Goog-Resource-ID", &channel.resource_id),
            ("X-Goog-Channel-Token", ""),
            ("X-Goog-Resource-State", "exists"),
        ],
    ];
    for headers in &cases {
        for _ in 0..50 {
            assert_eq!(p.notify(headers).await, StatusCode::OK);
        }
    }
    assert_eq!(
        p.notify(&[("X-Goog-Resource-State", "exists")]).await,
        StatusCode::OK
    );
    // A trusted one, by contrast, syncs.
    let trusted = [
        ("X-Goog-Channel-ID", channel.id.as_str()),
        ("X-Goog-Resource-ID", &channel.resource_id),
        ("X-Goog-Channel-Token", &token),
        ("X-Goog-Resource-State", "exists"),
    ];
    let synced = p.app.actor(&p.id).await["syncs_ok"].as_u64().unwrap();
    assert_eq!(p.notify(&trusted).await, StatusCode::OK);
    p.app
        .wait_actor(&p.id, "the trusted notification's sync", |a| {
            a["syncs_ok"].as_u64() > Some(synced)
        })
        .await;
    assert_eq!(p.app.sandbox().counters().list_calls() - lists, 1);
    // `/metrics` is text, not JSON: read it raw (loopback callers need no bearer).
    let (_, raw) = crate::support::send(
        &awc::Client::default(),
        Method::GET,
        &p.app.url("/metrics"),
        &[],
        None,
        1 << 20,
    )
    .await
    .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let count = |outcome: &str| -> u64 {
        let prefix = format!("impulses_gcal_push_notifications_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    assert_eq!(count("wrong_token"), 100, "{text}");
    assert_eq!(count("wrong_resource"), 50, "{text}");
    assert_eq!(count("changed"), 1, "{text}");
    // The `sync` handshake may arrive before `events.watch` answered us: then it is unknown too.
    assert!((51..=52).contains(&count("unknown_channel")), "{text}");
}

#[actix_web::test]
async fn channels_are_renewed_before_they_expire_and_no_change_goes_unnoticed() {
    let config = SandboxConfig {
        push_ttl_cap: Duration::from_secs(4),
        ..SandboxConfig::default()
    };
    let p = pushed(config, &[]).await;
    p.wait_push("healthy").await;
    // Each edit must arrive by push (polls are five minutes apart) across several renewals.
    let mut n = 0;
    while p.app.sandbox().counters().watch_calls < 4 {
        n += 1;
        p.add_run(1 + (n % 28) as u32);
        p.wait_durations(n).await;
        assert!(n < 200, "the channel was never renewed");
    }
    let channels = p.app.sandbox().channels();
    let now = p.app.sandbox().now();
    let live: Vec<_> = channels
        .iter()
        .filter(|c| c.state == ChannelState::Live)
        .collect();
    assert!(!live.is_empty(), "{channels:?}");
    // Every replaced channel was stopped by us, not left to expire.
    let stopped = channels
        .iter()
        .filter(|c| c.state == ChannelState::Stopped)
        .count();
    assert!(stopped >= 2, "{channels:?} at {now}");
    p.app.sandbox().assert_no_violations();
}

#[actix_web::test]
async fn dropped_notifications_are_caught_by_the_backstop_poll() {
    let p = pushed(
        SandboxConfig::default(),
        &[("GCAL_PUSH_BACKSTOP_SECS", "2")],
    )
    .await;
    p.wait_push("healthy").await;
    p.app
        .sandbox()
        .inject_fault(Fault::drop_connection(Endpoint::Notification).times(Times::UntilCleared));
    p.add_run(3);
    p.wait_durations(1).await;
    assert!(p.app.sandbox().counters().notifications_dropped >= 1);
}

#[actix_web::test]
async fn a_refused_watch_falls_back_to_polling_and_says_so() {
    let app = TestApp::spawn_google_with(
        SandboxConfig::default(),
        &[("GCAL_PUSH_URL", PUSH_SELF)],
        Hooks::default(),
    )
    .await;
    let sb = app.sandbox();
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    sb.inject_fault(
        Fault::error(Endpoint::Watch, 401, "push.webhookUrlUnauthorized")
            .times(Times::UntilCleared),
    );
    let (id, token) = app.token("ann", "phone", "SUPER").await;
    app.connect(&token, &ann).await;
    let actor = app.wait_first_sync(&id).await;
    let push = &actor["calendars"][0]["push"];
    assert_eq!(push["state"], "failing", "{actor}");
    assert!(
        push["error"]
            .as_str()
            .unwrap()
            .contains("webhookUrlUnauthorized"),
        "{actor}"
    );
    let next = actor["next_sync"].as_i64().unwrap() - chrono::Utc::now().timestamp_millis();
    assert!(next <= 330_000, "polls at the normal interval: {actor}");
    let configs = app
        .data(Method::GET, "/oauth2/google/configs", &token, None)
        .await;
    assert_eq!(configs.body[0]["calendars"][0]["push"]["state"], "failing");
    assert!(sb
        .live_channels(&sb.primary_calendar(&ann).unwrap())
        .is_empty());
}

#[actix_web::test]
async fn disconnecting_stops_the_channel_before_revoking() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    p.wait_push("healthy").await;
    let r = p
        .app
        .data(
            Method::DELETE,
            &format!("/oauth2/google/configs/{}", p.id),
            &p.token,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let channels = p.app.sandbox().channels();
    assert!(
        channels.iter().all(|c| c.state == ChannelState::Stopped),
        "{channels:?}"
    );
    let c = p.app.sandbox().counters();
    assert_eq!((c.channels_stopped, c.revocations), (1, 1));
    p.app.sandbox().assert_no_violations();
}

#[actix_web::test]
async fn deselecting_a_calendar_stops_its_channel() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    let sb = p.app.sandbox();
    let training = sb
        .create_calendar(&p.ann, "Training", "Europe/Warsaw")
        .unwrap();
    let body = json!({"selected": ["primary", training.as_str()]}).to_string();
    let r = p
        .app
        .data(
            Method::PUT,
            "/oauth2/google/calendars",
            &p.token,
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    p.wait_push("healthy").await;
    assert_eq!(sb.live_channels(&training).len(), 1);
    let r = p
        .app
        .data(
            Method::PUT,
            "/oauth2/google/calendars",
            &p.token,
            Some(r#"{"selected":["primary"]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    wait_for(DEADLINE, "the training channel to stop", || async {
        let live = sb.live_channels(&training);
        if live.is_empty() {
            Ok(())
        } else {
            Err(format!("{live:?}"))
        }
    })
    .await;
    assert_eq!(
        sb.live_channels(&sb.primary_calendar(&p.ann).unwrap())
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_restart_reuses_live_channels() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    p.wait_push("healthy").await;
    let Pushed {
        app,
        ann,
        id,
        token,
    } = p;
    let app = app.restart().await;
    let p = Pushed {
        app,
        ann,
        id,
        token,
    };
    p.app.wait_first_sync(&p.id).await;
    p.wait_push("healthy").await;
    assert_eq!(p.app.sandbox().counters().watch_calls, 1, "no new channel");
    p.add_run(5);
    p.wait_durations(1).await;
}

#[actix_web::test]
async fn another_account_on_the_same_token_gets_its_own_channel() {
    let p = pushed(SandboxConfig::default(), &[]).await;
    p.wait_push("healthy").await;
    let sb = p.app.sandbox();
    let bob = sb
        .create_account("bob@example.com", "Europe/Warsaw")
        .unwrap();
    p.app.connect(&p.token, &bob).await;
    let bobs = sb.primary_calendar(&bob).unwrap();
    wait_for(DEADLINE, "a channel on bob's calendar", || async {
        let live = sb.live_channels(&bobs);
        if live.len() == 1 {
            Ok(())
        } else {
            Err(format!("{:?}", sb.channels()))
        }
    })
    .await;
    let anns = sb.primary_calendar(&p.ann).unwrap();
    assert!(sb.live_channels(&anns).is_empty(), "{:?}", sb.channels());
    sb.insert_event(
        &bob,
        measurement("#!Swim", "", at(Warsaw, 2026, 3, 9, 7, 0), 30),
    )
    .unwrap();
    p.wait_durations(1).await;
}
