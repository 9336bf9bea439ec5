//! Connecting a Google Calendar: the OAuth flow against the sandbox, every failure path, a flow
//! spanning a restart, reconnecting, disconnecting.

use actix_web::http::{Method, StatusCode};
use chrono_tz::Europe::Warsaw;
use impulses_gcal::sandbox::{Consent, Endpoint, Fault};
use impulses_gcal::system::Hooks;
use serde_json::json;

use crate::flow::{at, measurement, param};
use crate::support::{TestApp, ORIGIN, ORIGIN_API};

const CALENDAR: &str = "https://www.googleapis.com/auth/calendar.readonly";
const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";

fn is_error_redirect(location: &str) -> bool {
    location.starts_with(&format!("{ORIGIN}/tokens?google_oauth2=error&detail="))
}

#[actix_web::test]
async fn the_auth_url_asks_google_for_offline_access_with_pkce() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let (_, t) = app.token("ann", "phone", "API").await;
    let url = app.auth_url(&t).await;
    assert!(url.starts_with(&app.sandbox().auth_uri()), "{url}");
    for (k, v) in [
        ("response_type", "code"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(param(&url, k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(
        param(&url, "client_id").as_deref(),
        Some(app.sandbox().config().client_id.as_str())
    );
    assert_eq!(
        param(&url, "redirect_uri"),
        Some(format!("{ORIGIN_API}/oauth2/google/callback"))
    );
    let scopes = param(&url, "scope").unwrap();
    for s in [CALENDAR, EMAIL, "openid"] {
        assert!(scopes.split(' ').any(|x| x == s), "{scopes}");
    }
    assert!(param(&url, "state").unwrap().len() >= 43);
    assert!(param(&url, "code_challenge").unwrap().len() >= 43);
    // INGEST tokens may not connect a calendar; no token at all is 401.
    let (_, ingest) = app.token("ann", "writer", "INGEST").await;
    assert_eq!(
        app.data(Method::GET, "/oauth2/google/auth", &ingest, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::GET, "/oauth2/google/auth", &[], None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_connection_is_stored_synced_and_listed() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    sb.insert_event(
        &ann,
        measurement(
            "#!Running",
            "where:park\ndistance=10000",
            at(Warsaw, 2026, 3, 2, 7, 0),
            45,
        ),
    )
    .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    let to = app.try_connect(&t, &ann).await;
    assert_eq!(
        to,
        format!("{ORIGIN}/tokens?google_oauth2=authorized&token_id={id}&token_name=phone")
    );
    assert!(!to.contains("code="));
    app.wait_first_sync(&id).await;
    let points = app.points(&t, "imp.events.duration").await;
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["value"], json!(2_700_000.0));
    assert_eq!(points[0]["dimensions"]["activity"], "Running");
    assert_eq!(points[0]["dimensions"]["where"], "park");
    let custom = app.points(&t, "imp.events.custom.distance").await;
    assert_eq!(custom[0]["value"], json!(10000.0));

    let r = app
        .data(Method::GET, "/oauth2/google/configs", &t, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let c = &r.body[0];
    assert_eq!(
        (c["provider"].as_str(), c["product"].as_str()),
        (Some("google"), Some("calendar"))
    );
    assert_eq!(c["token_id"], json!(id));
    assert_eq!(c["token_name"], "phone");
    assert_eq!(c["connected"], true);
    assert_eq!(c["account_email"], "ann@example.com");
    assert_eq!(c["status"], "ok");
    assert_eq!(c["sync"]["calendar_id"], "primary");
    assert_eq!(c["sync"]["has_sync_token"], true);
    assert_eq!(c["sync"]["events"], 1);
    assert_eq!(c["sync"]["datapoints"], 2);
    assert!(c["sync"]["last_sync_at"].as_i64().is_some());
    let text = r.body.to_string();
    assert!(
        !text.contains("refresh") && !text.contains("access_token"),
        "{text}"
    );
    let counters = sb.counters();
    assert_eq!(counters.auth_code_grants, 1);
    sb.assert_no_violations();
}

#[actix_web::test]
async fn unknown_used_or_missing_states_are_refused_with_400() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    for q in ["", "?code=abc", "?code=abc&state=forged"] {
        let r = app
            .call(
                Method::GET,
                &format!("/oauth2/google/callback{q}"),
                &[],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.detail().contains("state"), "{}", r.body);
    }
    sb.sign_in(&ann, Consent::GrantAll).unwrap();
    let location = crate::flow::consent(&app.auth_url(&t).await).await;
    assert_eq!(app.callback(&location).await.status, StatusCode::FOUND);
    let again = app.callback(&location).await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "a state is single use"
    );
    assert_eq!(
        sb.counters().auth_code_grants,
        1,
        "the replay never reached Google"
    );
}

#[actix_web::test]
async fn every_failure_after_the_state_redirects_to_the_ui_with_a_reason() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;

    sb.sign_in(&ann, Consent::Deny).unwrap();
    let location = crate::flow::consent(&app.auth_url(&t).await).await;
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(
        is_error_redirect(&to) && param(&to, "detail").unwrap().contains("denied"),
        "{to}"
    );

    sb.sign_in(
        &ann,
        Consent::GrantOnly(vec![EMAIL.into(), "openid".into()]),
    )
    .unwrap();
    let location = crate::flow::consent(&app.auth_url(&t).await).await;
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(
        is_error_redirect(&to) && param(&to, "detail").unwrap().contains("calendar.readonly"),
        "{to}"
    );

    sb.sign_in(&ann, Consent::GrantAll).unwrap();
    sb.inject_fault(Fault::error(Endpoint::Token, 400, "invalid_grant"));
    let location = crate::flow::consent(&app.auth_url(&t).await).await;
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(
        is_error_redirect(&to) && param(&to, "detail").unwrap().contains("refused"),
        "{to}"
    );

    // Without offline access Google sends no refresh token: the connection cannot work.
    let url = app
        .auth_url(&t)
        .await
        .replace("access_type=offline", "access_type=online");
    let location = crate::flow::consent(&url).await;
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(
        is_error_redirect(&to) && param(&to, "detail").unwrap().contains("no refresh token"),
        "{to}"
    );

    // The data token is deleted while the person is on the consent screen.
    let location = crate::flow::consent(&app.auth_url(&t).await).await;
    assert_eq!(
        app.admin(Method::DELETE, &format!("/admin/tokens/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(
        is_error_redirect(&to) && param(&to, "detail").unwrap().contains("deleted"),
        "{to}"
    );

    assert!(!to.contains("code="), "{to}");
    let (_, t2) = app.token("ann", "laptop", "SUPER").await;
    assert_eq!(
        app.data(Method::GET, "/oauth2/google/configs", &t2, None)
            .await
            .body,
        json!([]),
        "nothing stored"
    );
}

#[actix_web::test]
async fn a_flow_started_before_a_restart_finishes_after_it() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let ann = app
        .sandbox()
        .create_account("ann@example.com", "UTC")
        .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    app.sandbox().sign_in(&ann, Consent::GrantAll).unwrap();
    let url = app.auth_url(&t).await;
    let app = app.restart().await;
    let location = crate::flow::consent(&url).await;
    let to = app
        .callback(&location)
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert!(to.contains("google_oauth2=authorized"), "{to}");
    app.wait_first_sync(&id).await;
}

#[actix_web::test]
async fn reconnecting_another_account_replaces_the_old_accounts_datapoints() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let work = sb
        .create_account("ann@work.example.com", "Europe/Warsaw")
        .unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Running", "", at(Warsaw, 2026, 3, 2, 7, 0), 30),
    )
    .unwrap();
    sb.insert_event(
        &work,
        measurement("#!Reading", "", at(Warsaw, 2026, 3, 3, 20, 0), 60),
    )
    .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    let before = app.actor(&id).await["full_syncs"].as_u64().unwrap();
    assert_eq!(before, 1);
    app.connect(&t, &work).await;
    app.wait_first_sync(&id).await;
    let points = app.points(&t, "imp.events.duration").await;
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0]["dimensions"]["activity"], "Reading");
    let configs = app
        .data(Method::GET, "/oauth2/google/configs", &t, None)
        .await;
    assert_eq!(configs.body[0]["account_email"], "ann@work.example.com");
    assert_eq!(
        app.actor(&id).await["full_syncs"],
        1,
        "the new connection starts with a full sync"
    );
}

#[actix_web::test]
async fn disconnecting_revokes_stops_and_keeps_or_purges_datapoints() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    sb.insert_event(
        &ann,
        measurement("#!Gym", "", at(chrono_tz::UTC, 2026, 3, 2, 7, 0), 60),
    )
    .unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    let (_, bob) = app.token("bob", "phone", "SUPER").await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;

    let path = format!("/oauth2/google/configs/{id}");
    assert_eq!(
        app.data(Method::DELETE, &path, &bob, None).await.status,
        StatusCode::NOT_FOUND,
        "other users see nothing"
    );
    assert_eq!(
        app.data(Method::DELETE, "/oauth2/google/configs/nonsense", &t, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.data(Method::DELETE, &path, &t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(sb.counters().revocations, 1);
    assert_eq!(
        app.actor(&id).await,
        serde_json::Value::Null,
        "actor stopped"
    );
    assert_eq!(
        app.data(Method::GET, "/oauth2/google/configs", &t, None)
            .await
            .body,
        json!([])
    );
    assert_eq!(
        app.points(&t, "imp.events.duration").await.len(),
        1,
        "datapoints stay"
    );
    let calls = sb.counters().list_calls();
    assert_eq!(
        app.admin(Method::POST, &format!("/admin/actors/{id}/sync"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(sb.counters().list_calls(), calls);

    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    let r = app
        .data(Method::DELETE, &format!("{path}?purge=true"), &t, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        app.points(&t, "imp.events.duration").await.is_empty(),
        "purged"
    );
    assert_eq!(
        app.data(Method::DELETE, &path, &t, None).await.status,
        StatusCode::NOT_FOUND,
        "already gone"
    );
}

#[actix_web::test]
async fn deleting_the_data_token_stops_its_actor_and_forgets_its_credentials() {
    let app = TestApp::spawn_google(&[], Hooks::default()).await;
    let sb = app.sandbox();
    let ann = sb.create_account("ann@example.com", "UTC").unwrap();
    let (id, t) = app.token("ann", "phone", "SUPER").await;
    let (_, other) = app.token("ann", "laptop", "SUPER").await;
    app.connect(&t, &ann).await;
    app.wait_first_sync(&id).await;
    assert_eq!(
        app.admin(Method::DELETE, &format!("/admin/tokens/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.actor(&id).await, serde_json::Value::Null);
    assert_eq!(
        app.data(Method::GET, "/oauth2/google/configs", &other, None)
            .await
            .body,
        json!([])
    );
    let calls = sb.counters().list_calls();
    let app = app.restart().await;
    assert_eq!(
        app.actor(&id).await,
        serde_json::Value::Null,
        "not restarted either"
    );
    assert_eq!(app.sandbox().counters().list_calls(), calls);
}
