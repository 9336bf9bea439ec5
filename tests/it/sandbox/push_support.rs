//! Helpers for push notification tests: a tiny webhook receiver that records every notification
//! (and can answer 500 to the next few), and `events.watch` / `channels.stop` calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

use super::support::{segment, Answer, World};

/// One notification attempt as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Note {
    /// What the receiver answered.
    pub status: u16,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Note {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn state(&self) -> &str {
        self.get("X-Goog-Resource-State").unwrap()
    }

    pub fn number(&self) -> u64 {
        self.get("X-Goog-Message-Number").unwrap().parse().unwrap()
    }

    pub fn channel(&self) -> &str {
        self.get("X-Goog-Channel-ID").unwrap()
    }
}

#[derive(Default)]
struct Inner {
    notes: Vec<Note>,
    fail_next: u32,
}

/// A webhook receiver on `127.0.0.1:0`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn record(
    inner: web::Data<Mutex<Inner>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut inner = inner.lock().unwrap();
    let status = if inner.fail_next > 0 {
        inner.fail_next -= 1;
        500
    } else {
        200
    };
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    inner.notes.push(Note {
        status,
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    pub fn start() -> Receiver {
        let inner = web::Data::new(Mutex::new(Inner::default()));
        let shared = inner.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::post().to(record))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://{addr}/push"),
            inner: inner.into_inner(),
        }
    }

    /// Answers 500 to the next `n` notifications.
    pub fn fail_next(&self, n: u32) {
        self.inner.lock().unwrap().fail_next = n;
    }

    /// Every attempt, failed ones included.
    pub fn attempts(&self) -> Vec<Note> {
        self.inner.lock().unwrap().notes.clone()
    }

    /// The notifications answered 200, in arrival order.
    pub fn received(&self) -> Vec<Note> {
        let notes = self.attempts();
        notes.into_iter().filter(|n| n.status == 200).collect()
    }

    /// Waits until at least `n` notifications were received; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Note> {
        eventually(&format!("{n} notifications at {}", self.url), || {
            self.received().len() >= n
        })
        .await;
        self.received()
    }
}

/// Polls `condition` every few milliseconds; panics after 10 s.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the sandbox has counted `n` delivered notifications (it counts once the
/// receiver's answer is back, a moment after the receiver recorded the notification).
pub async fn sent(w: &World, n: u64) {
    let what = format!("{n} notifications counted as sent");
    eventually(&what, || w.sandbox.counters().notifications_sent == n).await;
}

async fn post_json(w: &World, url: &str, access: Option<&str>, body: &Value) -> Answer {
    let mut req = w.client.post(url);
    if let Some(token) = access {
        req = req.bearer_auth(token);
    }
    let mut res = req.send_json(body).await.unwrap();
    let body = res.body().await.unwrap().to_vec();
    Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body,
    }
}

/// A watch request body for `address`.
pub fn channel(id: &str, address: &str) -> Value {
    serde_json::json!({"id": id, "type": "web_hook", "address": address})
}

/// `events.watch` on `calendar` (an id, `primary` or an e-mail).
pub async fn watch(w: &World, access: &str, calendar: &str, body: &Value) -> Answer {
    let base = w.sandbox.calendar_api_base();
    let url = format!("{base}/calendars/{}/events/watch", segment(calendar));
    post_json(w, &url, Some(access), body).await
}

/// `channels.stop`.
pub async fn stop(w: &World, access: &str, id: &str, resource_id: &str) -> Answer {
    let url = format!("{}/channels/stop", w.sandbox.calendar_api_base());
    let body = serde_json::json!({"id": id, "resourceId": resource_id});
    post_json(w, &url, Some(access), &body).await
}
