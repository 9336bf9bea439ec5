//! The web console in a real browser (headless Chromium through ChromeDriver) against the real
//! server and the sandbox Google: a person signs in, connects a calendar through the consent
//! page and lands back on the console, reads the metrics chart, syncs, disconnects; the operator
//! creates a token and syncs an actor. Calendar text stays text; the pages fit a phone.

use actix_web::http::{Method, StatusCode};
use chrono::{Duration as Days, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;
use impulses_gcal::sandbox::{
    AccountId, Consent, Endpoint, EventTime, Fault, SandboxConfig, Times,
};
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::flow::measurement;
use crate::support::{TestApp, ADMIN};

const DURATION: &str = "imp.events.duration";
const HOSTILE: &str = "#!<img src=x onerror=window.__pwned=1>";

/// `days` ago at `hour`:00 in Warsaw.
fn days_ago(days: i64, hour: u32) -> EventTime {
    let day = (Utc::now() - Days::days(days))
        .with_timezone(&Warsaw)
        .date_naive();
    EventTime::Timed(
        Warsaw
            .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
            .earliest()
            .unwrap(),
    )
}

/// An hour ago, so the page's default range (up to now) holds it.
fn an_hour_ago() -> EventTime {
    EventTime::Timed((Utc::now() - Days::hours(1)).with_timezone(&Warsaw))
}

/// An app with a sandbox account holding a few weeks of runs and reading, a hostile title and
/// an event that gives no datapoint; and a SUPER data token for user "ann".
async fn app_with_calendar() -> (TestApp, AccountId, String, String) {
    let app = TestApp::spawn_console(SandboxConfig::default()).await;
    let sb = app.sandbox();
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    for day in 1..=20 {
        let run = measurement(
            "#!Running",
            "where:park\ndistance=5000",
            days_ago(day, 7),
            40,
        );
        sb.insert_event(&ann, run).unwrap();
        if day % 3 == 0 {
            sb.insert_event(&ann, measurement("#!Reading", "", days_ago(day, 21), 60))
                .unwrap();
        }
    }
    sb.insert_event(&ann, measurement(HOSTILE, "", days_ago(2, 12), 30))
        .unwrap();
    sb.insert_event(&ann, measurement(HOSTILE, "x=1e999", days_ago(3, 12), 30))
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    (app, ann, id, t)
}

async fn sign_in_by_link(b: &Browser, app: &TestApp, token: &str, key: &str) {
    b.goto(&app.url(&format!("/#{key}={token}"))).await;
    b.until(
        "the token to leave the URL",
        &format!("!location.href.includes({token:?})"),
    )
    .await;
}

/// The console's asset path, as the page names it.
async fn assets(b: &Browser) -> String {
    b.until(
        "the app script",
        "(() => { const s = document.querySelector('script[type=module]'); \
           return s && s.getAttribute('src').replace(/\\/app\\.js$/, ''); })()",
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

async fn point_count(app: &TestApp, token: &str, metric: &str) -> usize {
    app.points(token, metric).await.len()
}

#[actix_web::test]
async fn a_person_connects_with_the_keyboard_alone_and_lands_back_on_the_console() {
    let Some(b) = Browser::start("console connect", 1280, 900).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.sandbox().sign_in(&ann, Consent::GrantAll).unwrap();

    b.goto(&app.url("/")).await;
    b.visible("#token-input").await;
    b.screenshot("signin").await;
    // A wrong token gets a plain message.
    b.fill("#token-input", "not-a-token").await;
    b.click("#sign-in").await;
    b.text_with("#message", "unknown").await;

    // Keyboard only from here: Tab to the field, type, Enter; Tab to Connect, Enter.
    b.js(
        "document.activeElement && document.activeElement.blur(); document.body.focus();",
        vec![],
    )
    .await;
    tab_to(&b, "token-input").await;
    b.js("document.activeElement.value = ''", vec![]).await;
    b.keys(&t).await;
    b.keys("\u{E007}").await; // Enter
    b.text_with("#connection-state", "Not connected").await;
    tab_to(&b, "connect").await;
    b.keys("\u{E007}").await;
    // Through the sandbox's consent page, Google's callback, and back to the console.
    let banner = b.text_with("#banner", "ann@example.com").await;
    assert!(banner.contains("connected"), "{banner}");
    assert!(!b
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("google_oauth2"));
    app.wait_first_sync(&id).await;
    b.text_with("#connection-state", "Syncing normally").await;
    let events = app.actor(&id).await["events"].as_u64().unwrap();
    b.text_with("#events-count", &events.to_string()).await;
    b.text_with("#account", "ann@example.com").await;
    b.screenshot("connection").await;
    b.close().await;
}

/// Presses Tab until the element with `id` has the focus.
async fn tab_to(b: &Browser, id: &str) {
    for _ in 0..40 {
        let focused = b
            .js(
                "return document.activeElement ? document.activeElement.id : ''",
                vec![],
            )
            .await;
        if focused == json!(id) {
            return;
        }
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{E004}")
            .await
            .unwrap();
    }
    panic!("Tab never reached #{id}");
}

#[actix_web::test]
async fn the_metrics_page_draws_what_the_api_returns_and_keeps_calendar_text_as_text() {
    let Some(b) = Browser::start("console metrics", 1280, 900).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sign_in_by_link(&b, &app, &t, "token").await;

    b.goto(&app.url("/#/metrics")).await;
    b.click(&format!(".metric[data-metric=\"{DURATION}\"]"))
        .await;
    let api = point_count(&app, &t, DURATION).await;
    assert!(api >= 27, "{api}");
    let drawn = b
        .until(
            "the chart",
            &format!("document.querySelector('#chart[data-point-count=\"{api}\"] svg')"),
        )
        .await;
    assert!(!drawn.is_null());
    b.visible("svg#bars").await;
    let rows = b
        .js(
            "return document.querySelectorAll('#points-table tbody tr').length",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(api));
    // The hostile activity is in the legend as those characters, and nothing ran.
    let legend = b
        .text_with("#legend", "<img src=x onerror=window.__pwned=1>")
        .await;
    assert!(legend.contains("Running"), "{legend}");
    let pwned = b
        .js(
            "return [window.__pwned === undefined, document.querySelectorAll('#view img').length]",
            vec![],
        )
        .await;
    assert_eq!(pwned, json!([true, 0]));
    b.js("window.scrollTo(0, 0)", vec![]).await;
    b.screenshot("metrics").await;
    // The CSV download holds exactly the points shown.
    let csv = b.download("#csv", &format!("{DURATION}.csv")).await;
    assert_eq!(
        csv.trim_end().lines().count(),
        api + 1,
        "header and one line per point"
    );
    assert!(csv.starts_with("timestamp_ms,time_iso,value,"), "{csv}");

    // A new run in the calendar, Sync now, and the chart has one point more.
    app.sandbox()
        .insert_event(&ann, measurement("#!Running", "", an_hour_ago(), 30))
        .unwrap();
    b.goto(&app.url("/#/connection")).await;
    b.click("#sync-now").await;
    let events = api as u64;
    app.wait_actor(&id, "the sync now", |a| {
        a["events"].as_u64() == Some(events + 1) && a["state"] == "idle"
    })
    .await;
    b.goto(&app.url("/#/metrics?metric=imp.events.duration"))
        .await;
    b.until(
        "the new point",
        &format!(
            "document.querySelector('#chart[data-point-count=\"{}\"]')",
            api + 1
        ),
    )
    .await;

    // Own data written through the data API shows the same way.
    let now = Utc::now().timestamp_millis();
    let weights = format!(
        r#"[{{"timestamp":{},"value":70.5}},{{"timestamp":{},"value":70.1}},{{"timestamp":{},"value":69.8}}]"#,
        now - 3 * 86_400_000,
        now - 2 * 86_400_000,
        now - 86_400_000
    );
    let r = app
        .data(Method::POST, "/data/weight", &t, Some(&weights))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    b.goto(&app.url("/#/metrics?metric=weight")).await;
    b.until(
        "the weight chart",
        "document.querySelector('#chart[data-point-count=\"3\"] svg')",
    )
    .await;
    let rows = b
        .js(
            "return document.querySelectorAll('#points-table tbody tr').length",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(3));

    // Why is my run missing: the hostile broken event, as text.
    b.goto(&app.url("/#/missing")).await;
    let title = b.text_with("#skipped tbody .title", "<img").await;
    assert_eq!(title, HOSTILE);
    b.text_with("#skipped tbody .reason", "not a finite number")
        .await;
    let pwned = b.js("return window.__pwned === undefined", vec![]).await;
    assert_eq!(pwned, json!(true));
    b.screenshot("missing").await;
    b.close().await;
}

#[actix_web::test]
async fn pages_fit_a_phone_without_sideways_scrolling() {
    let Some(b) = Browser::start("console on a phone", 375, 800).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sign_in_by_link(&b, &app, &t, "token").await;
    let pages = [
        ("/#/connection", "#connection-state"),
        ("/#/metrics?metric=imp.events.duration", "#chart svg"),
        ("/#/missing", "#skipped"),
    ];
    for (page, ready) in pages {
        b.goto(&app.url(page)).await;
        b.visible(ready).await;
        b.assert_no_horizontal_scroll(page).await;
        b.screenshot(&format!(
            "phone-{}",
            page.trim_start_matches("/#/").split('?').next().unwrap()
        ))
        .await;
    }
    b.goto(&app.url("/")).await;
    b.js("sessionStorage.clear()", vec![]).await;
    sign_in_by_link(&b, &app, ADMIN, "admin").await;
    for (page, ready) in [("/#/actors", "#actors"), ("/#/tokens", "#tokens")] {
        b.goto(&app.url(page)).await;
        b.visible(ready).await;
        b.assert_no_horizontal_scroll(page).await;
    }
    b.close().await;
}

#[actix_web::test]
async fn disconnecting_keeps_or_deletes_the_datapoints_and_a_revoked_grant_asks_to_reconnect() {
    let Some(b) = Browser::start("console disconnect", 1280, 900).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    let held = point_count(&app, &t, DURATION).await;
    sign_in_by_link(&b, &app, &t, "token").await;
    b.text_with("#connection-state", "Syncing normally").await;

    b.click("#disconnect").await;
    b.visible("#disconnect-dialog").await;
    b.screenshot("disconnect-dialog").await;
    b.click("#disconnect-keep").await;
    b.text_with("#connection-state", "Not connected").await;
    assert_eq!(point_count(&app, &t, DURATION).await, held, "kept");

    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    b.text_with("#connection-state", "Syncing normally").await;
    b.click("#disconnect").await;
    b.click("#disconnect-delete").await;
    b.text_with("#connection-state", "Not connected").await;
    assert_eq!(point_count(&app, &t, DURATION).await, 0, "deleted");

    // Google revokes the grant: the next sync shows that the person must reconnect.
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    app.sandbox().revoke_account(&ann).unwrap();
    b.text_with("#connection-state", "Syncing normally").await;
    b.click("#sync-now").await;
    b.text_with("#connection-state", "reconnect").await;
    b.text_with("#connect", "Reconnect").await;
    b.screenshot("needs-reconnect").await;
    b.close().await;
}

#[actix_web::test]
async fn the_operator_creates_a_token_once_and_syncs_an_actor() {
    let Some(b) = Browser::start("console operator", 1280, 900).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.connect(&t, &ann).await;
    let before = app.wait_first_sync(&id).await["syncs_ok"].as_u64().unwrap();
    sign_in_by_link(&b, &app, ADMIN, "admin").await;

    b.goto(&app.url("/#/tokens")).await;
    b.fill("#new-user", "bob").await;
    b.fill("#new-name", "scale").await;
    b.js("const s = document.querySelector('#new-capability'); s.value = 'INGEST'; s.dispatchEvent(new Event('change'));", vec![])
        .await;
    b.click("#create-token").await;
    let plaintext = b
        .until(
            "the plaintext",
            "(() => { const e = document.querySelector('#plaintext'); \
               const v = e && (e.value || e.textContent); return v && v.length > 20 ? v : null; })()",
        )
        .await
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    b.screenshot("tokens-created").await;
    let r = app
        .data(
            Method::POST,
            "/data/weight",
            &plaintext,
            Some(r#"[{"timestamp":1,"value":70}]"#),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the shown plaintext works: {}",
        r.body
    );
    b.text_with("#tokens", "scale").await;
    // Shown once: gone after leaving the page.
    b.goto(&app.url("/#/actors")).await;
    b.goto(&app.url("/#/tokens")).await;
    b.text_with("#tokens", "scale").await;
    let page = b.js("return document.body.innerText", vec![]).await;
    assert!(
        !page.as_str().unwrap().contains(&plaintext),
        "plaintext shown again"
    );

    // Actors: the connected token's row, and Sync now on it.
    b.goto(&app.url("/#/actors")).await;
    let row = format!("#actors tr[data-token-id=\"{id}\"]");
    b.text_with(&row, "ann@example.com").await;
    b.screenshot("actors").await;
    b.click(&format!("{row} .sync-now")).await;
    app.wait_actor(&id, "the operator's sync", |a: &Value| {
        a["syncs_ok"].as_u64().unwrap() > before
    })
    .await;

    // Delete bob's token through the confirmation.
    b.goto(&app.url("/#/tokens")).await;
    b.text_with("#tokens", "scale").await;
    let bob_row = b
        .js(
            "const rows = [...document.querySelectorAll('#tokens tbody tr')]; \
             const row = rows.find(r => r.textContent.includes('scale')); \
             row.querySelector('.delete-token').click(); return true;",
            vec![],
        )
        .await;
    assert_eq!(bob_row, json!(true));
    b.text_with("#confirm-delete", "stops working").await;
    b.click("#confirm-delete-yes").await;
    b.until(
        "the row to go",
        "![...document.querySelectorAll('#tokens tbody tr')].some(r => r.textContent.includes('scale'))",
    )
    .await;
    let r = app.data(Method::GET, "/data", &plaintext, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    b.close().await;
}

#[actix_web::test]
async fn pure_helpers_compute_ranges_buckets_downsampling_and_csv() {
    let Some(b) = Browser::start("console helpers", 800, 600).await else {
        return;
    };
    let app = TestApp::spawn_console(SandboxConfig::default()).await;
    b.goto(&app.url("/")).await;
    let base = assets(&b).await;
    // Runs in the browser's time zone, which the harness sets to Europe/Warsaw (DST on
    // 2026-03-29 and 2026-10-25).
    let results = b
        .js_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 Promise.all(['range', 'bucket', 'downsample', 'csv'].map(m => import('{base}/lib/' + m + '.js')))
                 .then(([range, bucket, ds, csv]) => {{
                   const out = {{}};
                   out.tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
                   const now = Date.UTC(2026, 10, 28, 12);
                   out.range7 = range.rangeFor(7, now);
                   out.custom = range.customRange('2026-03-28', '2026-03-29');
                   try {{ range.customRange('2026-03-30', '2026-03-29'); out.backwards = 'accepted'; }}
                   catch (e) {{ out.backwards = 'refused'; }}
                   out.day = bucket.dayStart(Date.UTC(2026, 2, 29, 22, 30));
                   out.weekSpring = bucket.weekStart(Date.UTC(2026, 2, 29, 20));
                   out.weekAutumn = bucket.weekStart(Date.UTC(2026, 9, 25, 12));
                   const pts = [
                     {{timestamp: Date.UTC(2026, 2, 23, 6), value: 3600000, dimensions: {{activity: 'Running'}}}},
                     {{timestamp: Date.UTC(2026, 2, 29, 20), value: 1800000, dimensions: {{activity: 'Running'}}}},
                     {{timestamp: Date.UTC(2026, 2, 30, 6), value: 7200000, dimensions: {{activity: 'Reading'}}}},
                     {{timestamp: Date.UTC(2026, 2, 30, 7), value: 3600000, dimensions: {{}}}},
                   ];
                   const weekly = bucket.bucketHours(pts, 'week', 'activity');
                   out.weeks = weekly.buckets;
                   out.series = Object.fromEntries([...weekly.series].map(([k, v]) => [k, v]));
                   const many = Array.from({{length: 100000}}, (_, i) => ({{timestamp: i * 1000, value: i % 977 === 0 ? 1e6 : i % 10, dimensions: {{}}}}));
                   const small = ds.downsample(many, 0, 100000 * 1000, 500);
                   out.downsampled = small.length;
                   out.keptSpike = small.some(p => p.value === 1e6);
                   out.keptEnds = small[0] === many[0] && small[small.length - 1] === many[many.length - 1];
                   out.ordered = small.every((p, i) => i === 0 || small[i - 1].timestamp <= p.timestamp);
                   out.untouched = ds.downsample(many.slice(0, 100), 0, 100000, 500).length;
                   out.csv = csv.toCsv([
                     {{timestamp: 0, value: 1.5, dimensions: {{activity: '=HYPERLINK(\"x\")', where: 'a,\"b\"'}}}},
                   ]);
                   done(out);
                 }}).catch(e => done({{error: String(e)}}));"
            ),
            vec![],
        )
        .await;
    assert!(results.get("error").is_none(), "{results}");
    assert_eq!(results["tz"], "Europe/Warsaw");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        results["range7"],
        json!({"from": now - 7 * 86_400_000, "to": now + 1})
    );
    let ms = |y, m, d, h| {
        Warsaw
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        results["custom"],
        json!({"from": ms(2026, 3, 28, 0), "to": ms(2026, 3, 30, 0)})
    );
    assert_eq!(results["backwards"], "refused");
    // 22:30 UTC on the 29th of March is 00:30 on the 30th in Warsaw (summer time).
    assert_eq!(results["day"], json!(ms(2026, 3, 30, 0)));
    assert_eq!(results["weekSpring"], json!(ms(2026, 3, 23, 0)));
    assert_eq!(results["weekAutumn"], json!(ms(2026, 10, 19, 0)));
    assert_eq!(
        results["weeks"],
        json!([ms(2026, 3, 23, 0), ms(2026, 3, 30, 0)])
    );
    let hours = |name: &str| -> Vec<f64> {
        let series = results["series"][name]
            .as_array()
            .unwrap_or_else(|| panic!("{name}"));
        series.iter().map(|h| h.as_f64().unwrap()).collect()
    };
    assert_eq!(hours("Running"), [1.5, 0.0]);
    assert_eq!(hours("Reading"), [0.0, 2.0]);
    assert_eq!(hours("(none)"), [0.0, 1.0]);
    let kept = results["downsampled"].as_u64().unwrap();
    assert!((500..=1002).contains(&kept), "{kept} points for 500 px");
    assert_eq!(results["keptSpike"], json!(true));
    assert_eq!(results["keptEnds"], json!(true));
    assert_eq!(results["ordered"], json!(true));
    assert_eq!(results["untouched"], json!(100));
    let csv = results["csv"].as_str().unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp_ms,time_iso,value,activity,where")
    );
    assert_eq!(
        lines.next(),
        Some(r#"0,1970-01-01T00:00:00.000Z,1.5,"'=HYPERLINK(""x"")","a,""b""""#)
    );
    b.close().await;
}

#[actix_web::test]
async fn the_console_is_served_with_a_strict_policy_and_cached_assets() {
    let app = TestApp::spawn_console(SandboxConfig::default()).await;
    for page in [
        "/",
        "/tokens?google_oauth2=authorized&token_id=x&token_name=y",
    ] {
        let r = app.call(Method::GET, page, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let csp = r.header("content-security-policy").unwrap();
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
    let paths = impulses_gcal::http::console::paths();
    let app_js = paths.iter().find(|p| p.ends_with("/app.js")).unwrap();
    let r = app
        .call(Method::GET, app_js, &[("Accept-Encoding", "gzip")], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    // Another version's file, or a file that is not the console's, is not found.
    let stale = app_js.replace(impulses_gcal::http::console::version(), "0000000000");
    let r = app.call(Method::GET, &stale, &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = app_js.replace("app.js", "../../Cargo.toml");
    assert_eq!(
        app.call(Method::GET, &other, &[], None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn console_off_leaves_only_the_api() {
    let app = TestApp::spawn_google(&[("CONSOLE", "off")], Default::default()).await;
    let r = app.call(Method::GET, "/", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let doc = app.call(Method::GET, "/openapi.json", &[], None).await;
    assert!(doc.body["paths"].get("/").is_none());
    assert_eq!(
        app.call(Method::GET, "/healthz", &[], None).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_rate_limited_connection_says_when_google_is_tried_again() {
    let Some(b) = Browser::start("console rate limit", 1280, 900).await else {
        return;
    };
    let (app, ann, id, t) = app_with_calendar().await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    sign_in_by_link(&b, &app, &t, "token").await;
    b.text_with("#connection-state", "Syncing normally").await;
    let sb = app.sandbox();
    sb.inject_fault(
        Fault::error(Endpoint::List, 429, "rateLimitExceeded").times(Times::UntilCleared),
    );
    b.click("#sync-now").await;
    let state = b.text_with("#connection-state", "next try at").await;
    let at = state.rsplit("next try at ").next().unwrap().trim();
    assert!(
        at.len() == 5
            && at.as_bytes()[2] == b':'
            && at.chars().filter(char::is_ascii_digit).count() == 4,
        "a local HH:MM: {state}"
    );
    b.screenshot("rate-limited").await;
    sb.clear_faults();
    b.close().await;
}
