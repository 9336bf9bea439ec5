//! Hostile input through the real server: proptest-generated metric names, query strings, bodies,
//! headers and OAuth callback parameters. No panic, no 5xx, and a rejected request changes
//! nothing stored. Also: a Google page that does not parse puts the token in the error state and
//! keeps its sync token, and the next good answer recovers with an incremental sync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::{Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use impulses_gcal::sandbox::Consent;
use impulses_gcal::system::Hooks;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::flow::{at, measurement};
use crate::support::{Reply, TestApp};

/// Draws `n` values of `strategy` (generation only: a failure prints the input, unshrunk).
fn draw<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new(Config::default());
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Text that stresses URLs and JSON: control characters, percent signs, quotes, unicode.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[%&=?#/+ \\\\\"'<>{}\\[\\]\u{0}-\u{1f}\u{7f}-\u{ff}\u{2028}\u{fffd}]{0,40}",
        (0usize..20_000).prop_map(|n| "a".repeat(n)),
        Just("%FF%FE%00".to_string()),
        Just("%ZZ".to_string()),
        Just("imp.events.duration".to_string()),
    ]
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn path_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn json_body() -> impl Strategy<Value = String> {
    let point = (
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            nasty().prop_map(Value::from)
        ],
        prop_oneof![
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            nasty().prop_map(Value::from)
        ],
        prop::collection::btree_map(nasty(), nasty(), 0..4),
    )
        .prop_map(|(t, v, d)| serde_json::json!({"timestamp": t, "value": v, "dimensions": d}));
    prop_oneof![
        prop::collection::vec(point, 0..4).prop_map(|v| Value::Array(v).to_string()),
        nasty(),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        Just("[{\"timestamp\":1,\"value\":1,\"dimensions\":{}}".to_string()),
        Just("[".repeat(10_000)),
    ]
}

/// What the user can see of their data: the metric list and one metric's points.
async fn snapshot(app: &TestApp, token: &str) -> (Value, Value) {
    let list = app.data(Method::GET, "/data", token, None).await;
    let points = app.data(Method::GET, "/data/kept", token, None).await;
    (list.body, points.body)
}

/// The longest URI the `http` crate (and so the test client) can hold; longer ones go raw.
const MAX_CLIENT_URI: usize = 65_000;

/// Sends `GET path` over a plain TCP connection, for request lines no HTTP client library will
/// build, and returns the status code of the answer (0 when none came).
async fn raw_get(app: &TestApp, path: &str) -> u16 {
    let addr = app.url("").trim_start_matches("http://").to_string();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        // The server may answer (431) and close before the whole head is written: a failed
        // write or a reset after the answer are both fine; the status line is what counts.
        let _ = conn.write_all(request.as_bytes());
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer)
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    })
    .await
    .unwrap()
}

fn no_5xx(what: &str, r: &Reply) {
    assert!(
        !r.status.is_server_error(),
        "{what}: {} {}",
        r.status,
        r.body
    );
}

#[actix_web::test]
async fn hostile_data_api_requests_never_5xx_and_rejected_ones_change_nothing() {
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", "65536")]).await;
    let (_, token) = app.token("ann", "phone", "SUPER").await;
    let seed = app
        .data(
            Method::POST,
            "/data/kept",
            &token,
            Some(r#"[{"timestamp":5,"value":1,"dimensions":{"a":"b"}}]"#),
        )
        .await;
    assert_eq!(seed.status, StatusCode::OK);
    let cases = draw((nasty(), nasty(), nasty(), json_body(), 0u8..4), 200);
    let (mut rejected, mut accepted) = (0, 0);
    for (metric, from, to, body, method) in cases {
        let before = snapshot(&app, &token).await;
        let path = format!(
            "/data/{}?from={}&to={}",
            path_encode(&metric),
            encode(&from),
            encode(&to)
        );
        let (method, body) = match method {
            0 => (Method::GET, None),
            1 => (Method::DELETE, None),
            _ => (Method::POST, Some(body.as_str())),
        };
        let write = method != Method::GET;
        let r = app.data(method.clone(), &path, &token, body).await;
        no_5xx(&format!("{method} {path} {body:?}"), &r);
        if r.status.is_client_error() {
            rejected += 1;
            assert_eq!(
                snapshot(&app, &token).await,
                before,
                "{method} {path} changed data"
            );
        } else if write {
            accepted += 1;
        }
        // Raw, unencoded query strings and a bad token header too.
        let raw = format!("/data/kept?{from}&{to}");
        if let Ok(uri) = raw.parse::<actix_web::http::Uri>() {
            let r = app.data(Method::GET, &uri.to_string(), &token, None).await;
            no_5xx(&raw, &r);
        }
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&from) {
            let r = app
                .call(
                    Method::GET,
                    "/data",
                    &[("X-Data-Token", v.to_str().unwrap_or(""))],
                    None,
                )
                .await;
            no_5xx("token header", &r);
        }
    }
    let (_, kept) = snapshot(&app, &token).await;
    assert!(kept.as_array().is_some_and(|a| !a.is_empty()) || accepted > 0);
    println!(
        "hostile data API: 200 cases, {rejected} rejected unchanged, {accepted} writes accepted"
    );
}

#[actix_web::test]
async fn hostile_oauth_callbacks_never_5xx_and_leave_a_pending_flow_intact() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let (_, token) = app.token("ann", "phone", "SUPER").await;
    sb.sign_in(&ann, Consent::GrantAll).unwrap();
    let url = app.auth_url(&token).await;
    let cases = draw(
        (
            nasty(),
            nasty(),
            nasty(),
            nasty(),
            prop::collection::vec((nasty(), nasty()), 0..3),
        ),
        200,
    );
    for (code, state, error, scope, extra) in &cases {
        let mut q = format!(
            "code={}&state={}&scope={}",
            encode(code),
            encode(state),
            encode(scope)
        );
        if !error.is_empty() {
            q.push_str(&format!("&error={}", encode(error)));
        }
        for (k, v) in extra {
            q.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        let path = format!("/oauth2/google/callback?{q}");
        if path.len() > MAX_CLIENT_URI {
            let status = raw_get(&app, &path).await;
            assert!(
                (400..500).contains(&status),
                "{} bytes: {status}",
                path.len()
            );
        } else {
            let r = app.call(Method::GET, &path, &[], None).await;
            no_5xx(&q, &r);
            if let Some(to) = r.header("location") {
                assert!(to.starts_with(crate::support::ORIGIN), "{to}");
            }
        }
        let raw = format!("/oauth2/google/callback?{state}");
        if let Ok(uri) = raw.parse::<actix_web::http::Uri>() {
            let r = app.call(Method::GET, &uri.to_string(), &[], None).await;
            no_5xx(&raw, &r);
        }
        let r = app
            .call(
                Method::GET,
                "/oauth2/google/auth",
                &[("X-Data-Token", &path_encode(code))],
                None,
            )
            .await;
        no_5xx("auth with a random token", &r);
    }
    assert_eq!(
        sb.counters().auth_code_grants,
        0,
        "no rejected callback reached Google"
    );
    let configs = app
        .data(Method::GET, "/oauth2/google/configs", &token, None)
        .await;
    assert_eq!(
        configs.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        configs.body
    );
    // The genuine flow started before the storm still completes.
    let location = crate::flow::consent(&url).await;
    let r = app.callback(&location).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.header("location").unwrap().contains("authorized"),
        "{:?}",
        r.header("location")
    );
    println!(
        "hostile callbacks: {} cases, 3 requests each, none 5xx",
        cases.len()
    );
    sb.assert_no_violations();
}

/// A Calendar API in front of the sandbox that answers a truncated page while `broken` is set.
fn flaky_calendar(upstream: Arc<Mutex<String>>, broken: Arc<AtomicBool>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let upstream = upstream.clone();
        let broken = broken.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let upstream = upstream.lock().unwrap().clone();
            let broken = broken.load(Ordering::SeqCst);
            async move {
                if broken {
                    return HttpResponse::Ok()
                        .content_type("application/json")
                        .body(r#"{"kind":"calendar#events","items":[{"id":"x","summ"#);
                }
                let path = req.uri().path_and_query().map_or("", |p| p.as_str());
                let path = path.trim_start_matches("/calendar/v3");
                let mut fwd = awc::Client::default().get(format!("{upstream}{path}"));
                if let Some(auth) = req.headers().get("authorization") {
                    fwd = fwd.insert_header(("authorization", auth.clone()));
                }
                let mut resp = fwd.send().await.unwrap();
                let body = resp.body().limit(64 << 20).await.unwrap();
                HttpResponse::build(resp.status())
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://{addr}/calendar/v3")
}

#[actix_web::test]
async fn a_page_that_does_not_parse_is_an_error_that_keeps_the_sync_token() {
    let broken = Arc::new(AtomicBool::new(false));
    let upstream = Arc::new(Mutex::new(String::new()));
    let base = flaky_calendar(upstream.clone(), broken.clone());
    let app = TestApp::spawn_google(&[("GOOGLE_CALENDAR_API_BASE", &base)], Hooks::default()).await;
    let sb = app.sandbox().clone();
    *upstream.lock().unwrap() = sb.calendar_api_base();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Run", "", at(chrono_tz::UTC, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    let (id, token) = app.token("ann", "phone", "SUPER").await;
    app.connect(&token, &ann).await;
    app.wait_first_sync(&id).await;
    let full = sb.counters().list_full;

    broken.store(true, Ordering::SeqCst);
    let a = app.sync_and_wait(&id).await;
    assert_eq!(a["state"], "error", "{a}");
    assert!(
        a["last_error"].as_str().unwrap_or("").contains("parse"),
        "{a}"
    );
    assert_eq!(app.points(&token, "imp.events.duration").await.len(), 1);

    broken.store(false, Ordering::SeqCst);
    sb.insert_event(
        &ann,
        measurement("#!Swim", "", at(chrono_tz::UTC, 2026, 3, 3, 7, 0), 45),
    )
    .unwrap();
    let incremental = sb.counters().list_incremental;
    let a = app.sync_and_wait(&id).await;
    assert_eq!(a["state"], "idle", "{a}");
    assert_eq!(
        sb.counters().list_full,
        full,
        "the sync token was kept: no full sync"
    );
    assert!(sb.counters().list_incremental > incremental);
    assert_eq!(app.points(&token, "imp.events.duration").await.len(), 2);
}
