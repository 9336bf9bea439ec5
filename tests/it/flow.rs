//! Helpers for tests that connect calendars: the OAuth dance through the sandbox's consent
//! screen, and waiting on the sync actors' published state.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono::TimeZone;
use impulses_gcal::sandbox::{AccountId, EventSpec, EventTime};
use serde_json::Value;

use crate::support::{wait_for, Reply, TestApp};

/// How long a test waits for a sync before failing.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(30);

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A timed event time in a zone.
pub fn at(zone: chrono_tz::Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> EventTime {
    EventTime::Timed(zone.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap())
}

/// A `#!` event of `minutes` length.
pub fn measurement(title: &str, description: &str, start: EventTime, minutes: i64) -> EventSpec {
    let EventTime::Timed(s) = &start else {
        panic!("timed only")
    };
    let end = EventTime::Timed(*s + chrono::Duration::minutes(minutes));
    let spec = EventSpec::new(title, start, end);
    if description.is_empty() {
        spec
    } else {
        spec.description(description)
    }
}

/// The query string of a URL.
pub fn query_of(url: &str) -> String {
    url.split_once('?')
        .map(|(_, q)| q.to_string())
        .unwrap_or_default()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query_of(url).as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The person on Google's consent screen at `url`: the sandbox answers with a redirect to the
/// callback, whose `Location` is returned.
pub async fn consent(url: &str) -> String {
    let client = awc::Client::builder().disable_redirects().finish();
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "consent screen did not redirect"
    );
    resp.headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

impl TestApp {
    /// `GET /oauth2/google/auth` → the URL.
    pub async fn auth_url(&self, token: &str) -> String {
        let r = self
            .data(Method::GET, "/oauth2/google/auth", token, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["url"].as_str().unwrap().to_string()
    }

    /// The browser following Google's redirect to our callback.
    pub async fn callback(&self, location: &str) -> Reply {
        self.call(
            Method::GET,
            &format!("/oauth2/google/callback?{}", query_of(location)),
            &[],
            None,
        )
        .await
    }

    /// The whole flow for `token` with `account` signed in at the sandbox; returns the final
    /// redirect's URL (to `ORIGIN`).
    pub async fn try_connect(&self, token: &str, account: &AccountId) -> String {
        self.sandbox()
            .sign_in(account, impulses_gcal::sandbox::Consent::GrantAll)
            .unwrap();
        let url = self.auth_url(token).await;
        let location = consent(&url).await;
        let r = self.callback(&location).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
        r.header("location").unwrap().to_string()
    }

    /// Connects and asserts success; returns the token id from the redirect.
    pub async fn connect(&self, token: &str, account: &AccountId) -> String {
        let to = self.try_connect(token, account).await;
        assert!(to.contains("/tokens?google_oauth2=authorized"), "{to}");
        param(&to, "token_id").unwrap()
    }

    /// The actor's status as `/admin/actors/{id}` shows it (Null when absent).
    pub async fn actor(&self, token_id: &str) -> Value {
        let r = self
            .admin(Method::GET, &format!("/admin/actors/{token_id}"), None)
            .await;
        if r.status == StatusCode::OK {
            r.body
        } else {
            Value::Null
        }
    }

    /// Waits until the actor's status satisfies `pred`.
    pub async fn wait_actor(
        &self,
        token_id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(SYNC_DEADLINE, what, || async {
            let a = self.actor(token_id).await;
            if pred(&a) {
                Ok(a)
            } else {
                Err(a.to_string())
            }
        })
        .await
    }

    /// Waits for the first sync after a connection to succeed.
    pub async fn wait_first_sync(&self, token_id: &str) -> Value {
        self.wait_actor(token_id, "the first sync", |a| {
            a["syncs_ok"].as_u64() >= Some(1) && a["state"] == "idle"
        })
        .await
    }

    /// Starts a sync now and waits until a sync that started after this call has ended.
    pub async fn sync_and_wait(&self, token_id: &str) -> Value {
        let asked = now_ms();
        let r = self
            .admin(
                Method::POST,
                &format!("/admin/actors/{token_id}/sync"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        self.wait_actor(token_id, "a sync to finish", |a| {
            let start = a["last_sync_start"].as_i64().unwrap_or(0);
            let end = a["last_sync_end"].as_i64().unwrap_or(0);
            start >= asked && end >= start && a["state"] != "syncing"
        })
        .await
    }

    /// `GET /data/{metric}` as (timestamp, value, dimensions) triples.
    pub async fn points(&self, token: &str, metric: &str) -> Vec<Value> {
        let r = self
            .data(Method::GET, &format!("/data/{metric}"), token, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body.as_array().unwrap().clone()
    }
}
