//! Answers that promise something stored are durable first: an OAuth flow started just before a
//! SIGKILL finishes after the restart, and a calendar selection acknowledged just before one is
//! still the selection afterwards.

use actix_web::http::{Method, StatusCode};
use impulses_gcal::sandbox::Consent;
use serde_json::json;

use crate::child::{self, ChildServer};
use crate::flow::query_of;
use crate::support::ORIGIN;

#[actix_web::test]
async fn a_started_oauth_flow_and_a_selection_survive_a_sigkill_right_after_their_answers() {
    let sb = child::sandbox(Default::default());
    let ann = sb
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    let training = sb
        .create_calendar(&ann, "Training", "Europe/Warsaw")
        .unwrap();
    sb.sign_in(&ann, Consent::GrantAll).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = child::google_env(&sb, &child::data_dir(&dir));
    let server = ChildServer::start(&env);
    let (id, token) = server.token("ann", "phone").await;
    let data = [("X-Data-Token", token.as_str())];
    let (auth, _) = server
        .call(Method::GET, "/oauth2/google/auth", &data, None)
        .await;
    assert_eq!(auth.status, StatusCode::OK, "{}", auth.body);
    server.kill();

    // The person comes back from Google's consent page to a restarted server.
    let location = crate::flow::consent(auth.body["url"].as_str().unwrap()).await;
    let server = ChildServer::start(&env);
    let callback = format!("/oauth2/google/callback?{}", query_of(&location));
    let (r, _) = server.call(Method::GET, &callback, &[], None).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with(&format!("{ORIGIN}/tokens?google_oauth2=authorized")),
        "the flow started before the crash finishes after it: {to}"
    );

    let body = json!({"selected": ["primary", training.as_str()]}).to_string();
    let (r, _) = server
        .call(Method::PUT, "/oauth2/google/calendars", &data, Some(&body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    server.kill();
    let server = ChildServer::start(&env);
    let (r, _) = server
        .call(Method::GET, "/oauth2/google/configs", &data, None)
        .await;
    let calendars: Vec<&str> = r.body[0]["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["calendar_id"].as_str().unwrap())
        .collect();
    assert_eq!(calendars, vec!["primary", training.as_str()], "{}", r.body);
    assert_eq!(r.body[0]["token_id"], id.as_str());
    server.stop();
}
