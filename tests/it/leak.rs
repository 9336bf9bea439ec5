//! No secret leaks: a whole session through the real binary at debug log level (connect, syncs,
//! an access-token refresh, rejected callbacks, data API errors, disconnect, revoke) and not one
//! log line, response body or response header holds a Google token, an authorization code, a
//! PKCE verifier, a push channel's secret, the client secret or a plaintext data token (except the one answer that hands
//! the data token out, which is `no-store`).

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono::Utc;
use impulses_gcal::sandbox::{Consent, SandboxConfig};

use crate::child::{self, ChildServer};
use crate::flow::{param, query_of};
use crate::support::{Reply, ADMIN, ORIGIN};
use impulses_gcal::store::Store;
use impulses_gcal::token::TokenId;

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every answer of the session, as text (status, headers, body).
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn add(&mut self, what: &str, r: &Reply, raw: &[u8]) {
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        self.0.push(format!(
            "{what} -> {} {} {}",
            r.status,
            headers.join("; "),
            String::from_utf8_lossy(raw)
        ));
    }
}

/// Runs of 40 or more base64url characters: the shape of a PKCE verifier (43 to 128), Google's
/// tokens and codes. Nothing the server is allowed to print is that long.
fn long_random_runs(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.len() >= 40)
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn a_whole_session_at_debug_level_leaks_no_secret() {
    let sb = child::sandbox(SandboxConfig::default());
    let client_secret = sb.config().client_secret.clone();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    sb.insert_event(
        &ann,
        crate::flow::measurement(
            "#!Running",
            "km=5",
            crate::flow::at(chrono_tz::UTC, 2026, 3, 2, 7, 0),
            30,
        ),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = child::google_env(&sb, &child::data_dir(&dir));
    env.insert(
        "RUST_LOG".into(),
        std::env::var("LEAK_LOG").unwrap_or("trace".into()),
    );
    env.insert("GCAL_POLL_INTERVAL_SECS".into(), "300".into());
    // Push on, to a port picked now so Google's address survives the restart below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.insert("PORT".into(), port.to_string());
    env.insert("GCAL_PUSH_URL".into(), format!("http://127.0.0.1:{port}"));
    let server = ChildServer::start(&env);
    let mut t = Transcript::default();
    let bearer = format!("Bearer {ADMIN}");
    let admin = [("Authorization", bearer.as_str())];

    // A data token: the only answer allowed to carry its plaintext, and it must not be cached.
    let body = r#"{"user":"ann","name":"phone","capability":"SUPER"}"#;
    let (created, _) = server
        .call(Method::POST, "/admin/tokens", &admin, Some(body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let id = created.body["id"].as_str().unwrap().to_string();
    let token = created.body["token_plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    let data = [("X-Data-Token", token.as_str())];

    // The OAuth flow, step by step, keeping the authorization code the sandbox handed out.
    sb.sign_in(&ann, Consent::GrantAll).unwrap();
    let (auth, raw) = server
        .call(Method::GET, "/oauth2/google/auth", &data, None)
        .await;
    t.add("auth", &auth, &raw);
    let url = auth.body["url"].as_str().unwrap().to_string();
    let location = crate::flow::consent(&url).await;
    let code = param(&location, "code").unwrap();
    let callback = format!("/oauth2/google/callback?{}", query_of(&location));
    let (cb, raw) = server.call(Method::GET, &callback, &[], None).await;
    t.add("callback", &cb, &raw);
    assert_eq!(cb.status, StatusCode::FOUND);
    let to = cb.header("location").unwrap();
    assert!(
        to.starts_with(&format!("{ORIGIN}/")),
        "redirects to ORIGIN only: {to}"
    );

    // Rejected callbacks: a replayed code, a refusal, a forged state. All go to ORIGIN only.
    let state = param(&location, "state").unwrap();
    for (what, path) in [
        ("replay", callback.clone()),
        (
            "refusal",
            format!("/oauth2/google/callback?error=access_denied&state={state}"),
        ),
        (
            "forged",
            format!("/oauth2/google/callback?code={code}&state=forged"),
        ),
        ("bare", "/oauth2/google/callback".to_string()),
    ] {
        let (r, raw) = server.call(Method::GET, &path, &[], None).await;
        t.add(what, &r, &raw);
        assert!(!r.status.is_server_error(), "{what}: {}", r.status);
        if let Some(to) = r.header("location") {
            assert!(to.starts_with(&format!("{ORIGIN}/")), "{what}: {to}");
        }
    }

    // Syncs, then a refresh after Google expired the access token.
    server
        .wait_synced_since(&id, 0, Duration::from_secs(60))
        .await;
    sb.expire_access_tokens(&ann).unwrap();
    let asked = Utc::now().timestamp_millis();
    let (r, raw) = server
        .call(
            Method::POST,
            &format!("/admin/actors/{id}/sync"),
            &admin,
            None,
        )
        .await;
    t.add("sync", &r, &raw);
    server
        .wait_synced_since(&id, asked, Duration::from_secs(60))
        .await;
    assert!(sb.counters().refresh_grants >= 1, "a refresh happened");

    // A push channel, and a notification carrying its secret to the server.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let channel_token = loop {
        if let Some(t) = sb.channels().into_iter().find_map(|c| c.token) {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no push channel opened"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    let sent = sb.counters().notifications_sent;
    sb.insert_event(
        &ann,
        crate::flow::measurement(
            "#!Rowing",
            "",
            crate::flow::at(chrono_tz::UTC, 2026, 3, 3, 7, 0),
            30,
        ),
    )
    .unwrap();
    while sb.counters().notifications_sent <= sent {
        assert!(
            std::time::Instant::now() < deadline,
            "no notification delivered"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }

    // Everything a person or an admin can read.
    for (what, path, headers) in [
        ("configs", "/oauth2/google/configs".to_string(), &data[..]),
        ("data", "/data".to_string(), &data[..]),
        ("metric", "/data/imp.events.duration".to_string(), &data[..]),
        ("actors", "/admin/actors".to_string(), &admin[..]),
        ("actor", format!("/admin/actors/{id}"), &admin[..]),
        ("tokens", "/admin/tokens".to_string(), &admin[..]),
        (
            "bad token",
            "/data".to_string(),
            &[("X-Data-Token", "nope")][..],
        ),
        ("no route", "/nothing".to_string(), &data[..]),
    ] {
        let (r, raw) = server.call(Method::GET, &path, headers, None).await;
        t.add(what, &r, &raw);
    }
    let (r, raw) = server
        .call(Method::POST, "/data/x", &data, Some("{not json"))
        .await;
    t.add("bad json", &r, &raw);

    // A second flow left pending, so the store holds a PKCE verifier we can look up.
    let (auth2, raw) = server
        .call(Method::GET, "/oauth2/google/auth", &data, None)
        .await;
    t.add("auth 2", &auth2, &raw);
    let url2 = auth2.body["url"].as_str().unwrap().to_string();
    let state2 = param(&url2, "state").unwrap();
    let mut log = server.stop();

    // The exact secrets the server holds, read through the store with its key file: the
    // current refresh and access tokens, and the pending verifier.
    let data_dir = child::data_dir(&dir);
    let (refresh, access, verifier) = {
        let store = Store::open(&data_dir).unwrap();
        let token_id = TokenId::parse(&id).unwrap();
        let creds = store.credentials(&token_id).unwrap().unwrap();
        let pending = store
            .take_pending_authorization(&state2, Utc::now().timestamp())
            .unwrap()
            .unwrap();
        store.flush().unwrap();
        (
            creds.refresh_token.expose().clone(),
            creds.access_token.expose().clone(),
            pending.verifier.expose().clone(),
        )
    };
    // At rest: no file under DATA_DIR holds one of them in the clear.
    for entry in walk(&data_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for (name, secret) in [
            ("refresh", &refresh),
            ("access", &access),
            ("verifier", &verifier),
            ("push channel token", &channel_token),
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} token in the clear in {}",
                entry.display()
            );
        }
    }

    // Disconnect (which revokes at Google) on a restarted server.
    let server = ChildServer::start(&env);
    let (r, raw) = server
        .call(
            Method::DELETE,
            &format!("/oauth2/google/configs/{id}"),
            &data,
            None,
        )
        .await;
    t.add("disconnect", &r, &raw);
    assert!(r.status.is_success(), "{}", r.status);
    assert!(
        sb.counters().revocations >= 1,
        "disconnect revokes at Google"
    );
    log.push_str(&server.stop());

    let transcript = t.0.join("\n");
    let mut secrets = vec![
        ("authorization code", code.clone()),
        ("client secret", client_secret),
        ("data token", token.clone()),
        ("refresh token", refresh),
        ("access token", access),
        ("PKCE verifier", verifier),
        ("push channel token", channel_token.clone()),
    ];
    secrets.retain(|(_, s)| !s.is_empty());
    for (name, secret) in &secrets {
        assert!(!log.contains(secret.as_str()), "{name} in the log:\n{log}");
        assert!(
            !transcript.contains(secret.as_str()),
            "{name} in a response:\n{transcript}"
        );
    }
    // Google's access and refresh tokens, whatever their value: their prefixes never appear.
    for prefix in ["ya29.", "1//0"] {
        assert!(!log.contains(prefix), "{prefix} token in the log:\n{log}");
        assert!(
            !transcript.contains(prefix),
            "{prefix} token:\n{transcript}"
        );
    }
    // The detectors detect: the PKCE challenge in the auth URL has the verifier's shape, and the
    // log holds debug lines of our crate.
    assert!(!long_random_runs(&url).is_empty(), "{url}");
    assert!(log.contains(" DEBUG "), "{log}");
    let runs = long_random_runs(&log);
    assert!(
        runs.is_empty(),
        "secret-shaped strings in the log: {runs:?}"
    );
    let runs: Vec<String> = long_random_runs(&transcript)
        .into_iter()
        // The auth URLs carry the PKCE challenge (a hash, public by design) and the state.
        .filter(|r| !url.contains(r.as_str()) && !url2.contains(r.as_str()))
        .collect();
    assert!(
        runs.is_empty(),
        "secret-shaped strings in responses: {runs:?}"
    );
    println!(
        "leak test: {} log lines and {} answers checked for {} secrets, 2 token prefixes and secret-shaped strings",
        log.lines().count(),
        t.0.len(),
        secrets.len()
    );
    sb.assert_no_violations();
}
