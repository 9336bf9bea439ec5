//! The OAuth endpoints: consent, code exchange with PKCE, refresh, revocation, userinfo.

use std::time::Duration;

use awc::http::StatusCode;
use base64::Engine;
use impulses_gcal::sandbox::Consent;

use super::support::*;

fn jwt_claims(token: &str) -> serde_json::Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[actix_web::test]
async fn full_flow_with_pkce_issues_google_shaped_tokens() {
    let w = world();
    let (verifier, challenge) = pkce();
    let redirect = consent(&w, &challenge, SCOPES).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    let location = redirect.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let back = form_of(&location);
    assert_eq!(back["state"], "st4te");
    let granted: Vec<&str> = back["scope"].split(' ').collect();
    assert!(granted.contains(&CALENDAR), "{granted:?}");
    assert!(
        granted.contains(&"https://www.googleapis.com/auth/userinfo.email"),
        "email comes back as its full URL: {granted:?}"
    );
    assert!(granted.contains(&"openid"));

    let tokens = exchange(&w, &back["code"], &verifier).await;
    assert_eq!(tokens.status, StatusCode::OK);
    let json = tokens.json();
    assert!(json["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(json["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(json["expires_in"], 3599);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"].as_str().unwrap().split(' ').count(), 3);
    let claims = jwt_claims(json["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], w.ann.as_str());
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["aud"], w.sandbox.config().client_id.as_str());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

    let me = get(
        &w.client,
        &w.sandbox.userinfo_uri(),
        json["access_token"].as_str(),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.json(),
        serde_json::json!({"sub": w.ann.as_str(), "email": "ann@example.com", "email_verified": true})
    );

    let counters = w.sandbox.counters();
    assert_eq!(
        (
            counters.authorizations,
            counters.auth_code_grants,
            counters.userinfo_calls
        ),
        (1, 1, 1)
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn client_secret_json_points_at_the_sandbox() {
    let w = world();
    let json = w.sandbox.client_secret_json();
    assert_eq!(json["web"]["token_uri"], w.sandbox.token_uri());
    assert_eq!(json["web"]["auth_uri"], w.sandbox.auth_uri());
    assert_eq!(json["web"]["redirect_uris"][0], REDIRECT);
    assert_eq!(json["web"]["revoke_uri"], w.sandbox.revoke_uri());
    assert_eq!(json["web"]["userinfo_uri"], w.sandbox.userinfo_uri());
    let parsed = impulses_gcal::settings::GoogleClientConfig::from_json(&json.to_string()).unwrap();
    assert_eq!(parsed.revoke_uri, w.sandbox.revoke_uri());
    assert!(w.sandbox.auth_uri().ends_with("/o/oauth2/auth"));
    assert!(w.sandbox.calendar_api_base().ends_with("/calendar/v3"));
}

#[actix_web::test]
async fn wrong_redirect_uri_shows_an_error_page_and_never_redirects() {
    let w = world();
    let (_, challenge) = pkce();
    let url = format!(
        "{}?{}",
        w.sandbox.auth_uri(),
        query(&[
            ("response_type", "code"),
            ("client_id", &w.sandbox.config().client_id),
            ("redirect_uri", "http://127.0.0.1:8000/oauth/callback/"),
            ("scope", SCOPES),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = get(&w.client, &url, None).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.header("location").is_none());
    assert!(String::from_utf8_lossy(&page.body).contains("redirect_uri_mismatch"));
    expect_one_violation(&w, "redirect_uri");
}

#[actix_web::test]
async fn unknown_client_on_the_consent_screen_is_refused_without_redirect() {
    let w = world();
    let url = format!(
        "{}?{}",
        w.sandbox.auth_uri(),
        query(&[("client_id", "nobody"), ("redirect_uri", REDIRECT)])
    );
    let page = get(&w.client, &url, None).await;
    assert!(page.status.is_client_error());
    assert!(page.header("location").is_none());
}

#[actix_web::test]
async fn missing_pkce_challenge_is_a_violation_but_still_consents() {
    let w = world();
    let url = format!(
        "{}?{}",
        w.sandbox.auth_uri(),
        query(&[
            ("response_type", "code"),
            ("client_id", &w.sandbox.config().client_id),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPES)
        ])
    );
    let redirect = get(&w.client, &url, None).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    expect_one_violation(&w, "PKCE");
}

#[actix_web::test]
async fn refusal_comes_back_as_access_denied_with_state() {
    let w = world();
    w.sandbox.sign_in(&w.ann, Consent::Deny).unwrap();
    let (_, challenge) = pkce();
    let redirect = consent(&w, &challenge, SCOPES).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    let back = form_of(&redirect.header("location").unwrap());
    assert_eq!(back.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(back["state"], "st4te");
    assert!(!back.contains_key("code"));
}

#[actix_web::test]
async fn granular_consent_grants_less_and_the_calendar_then_answers_403() {
    let w = world();
    w.sandbox
        .sign_in(
            &w.ann,
            Consent::GrantOnly(vec!["openid".into(), "email".into()]),
        )
        .unwrap();
    let (verifier, challenge) = pkce();
    let redirect = consent(&w, &challenge, SCOPES).await;
    let back = form_of(&redirect.header("location").unwrap());
    assert!(!back["scope"].contains("calendar"), "{}", back["scope"]);
    let tokens = exchange(&w, &back["code"], &verifier).await.json();
    assert!(!tokens["scope"].as_str().unwrap().contains("calendar"));
    let answer = list(&w, tokens["access_token"].as_str().unwrap(), &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(google_error(&answer).1, "insufficientPermissions");
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_code_works_once_then_invalid_grant_and_a_violation() {
    let w = world();
    let (verifier, challenge) = pkce();
    let code = code_for(&w, &challenge).await;
    let first = exchange(&w, &code, &verifier).await;
    assert_eq!(first.status, StatusCode::OK);
    let second = exchange(&w, &code, &verifier).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.json()["error"], "invalid_grant");
    expect_one_violation(&w, "used twice");
    // Google revokes what a replayed code issued.
    let refreshed = refresh(&w, first.json()["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
}

#[actix_web::test]
async fn an_expired_code_is_invalid_grant() {
    let w = world();
    let (verifier, challenge) = pkce();
    let code = code_for(&w, &challenge).await;
    w.sandbox.advance_clock(Duration::from_secs(601));
    let answer = exchange(&w, &code, &verifier).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_grant");
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_wrong_or_missing_verifier_is_invalid_grant_and_a_violation() {
    let w = world();
    let (_, challenge) = pkce();
    let code = code_for(&w, &challenge).await;
    let (other_verifier, _) = pkce();
    let answer = exchange(&w, &code, &other_verifier).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_grant");
    assert_eq!(answer.json()["error_description"], "Invalid code verifier.");
    expect_one_violation(&w, "code_verifier");

    let (_, challenge) = pkce();
    let code = code_for(&w, &challenge).await;
    let config = w.sandbox.config();
    let answer = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await;
    assert_eq!(answer.json()["error"], "invalid_grant");
    expect_one_violation(&w, "code_verifier missing");
    assert_eq!(w.sandbox.counters().token_errors, 2);
}

#[actix_web::test]
async fn a_redirect_uri_differing_at_the_token_endpoint_is_refused() {
    let w = world();
    let (verifier, challenge) = pkce();
    let code = code_for(&w, &challenge).await;
    let config = w.sandbox.config();
    let answer = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/x"),
            ("code_verifier", &verifier),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "redirect_uri_mismatch");
    expect_one_violation(&w, "redirect_uri");
}

#[actix_web::test]
async fn bad_client_credentials_are_invalid_client_401() {
    let w = world();
    let (_, refresh_token) = connect(&w).await;
    let config = w.sandbox.config();
    let wrong_secret = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &config.client_id),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");
    let unknown = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "other"),
            ("client_secret", &config.client_secret),
        ],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.json()["error"], "invalid_client");
    // HTTP Basic works as well as the body.
    let mut basic = w
        .client
        .post(w.sandbox.token_uri())
        .basic_auth(&config.client_id, &config.client_secret)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(query(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ]))
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK, "{:?}", basic.body().await);
    let bad_type = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "password"),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await;
    assert_eq!(
        (bad_type.status, bad_type.json()["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
    let no_type = post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await;
    assert_eq!(no_type.json()["error"], "invalid_request");
}

#[actix_web::test]
async fn refresh_gives_a_new_access_token_and_no_new_refresh_token() {
    let w = world();
    let (access, refresh_token) = connect(&w).await;
    let answer = refresh(&w, &refresh_token).await;
    assert_eq!(answer.status, StatusCode::OK);
    let json = answer.json();
    let fresh = json["access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    assert!(json.get("refresh_token").is_none(), "{json}");
    assert_eq!(json["expires_in"], 3599);
    assert_eq!(list(&w, fresh, &[]).await.status, StatusCode::OK);
    assert_eq!(
        refresh(&w, &refresh_token).await.status,
        StatusCode::OK,
        "the old refresh token keeps working"
    );
    assert_eq!(w.sandbox.counters().refresh_grants, 2);
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn a_revoked_account_gets_invalid_grant_on_refresh_and_401_on_list() {
    let w = world();
    let (access, refresh_token) = connect(&w).await;
    w.sandbox.revoke_account(&w.ann).unwrap();
    let answer = refresh(&w, &refresh_token).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_grant");
    let listed = list(&w, &access, &[]).await;
    assert_eq!(listed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(google_error(&listed).1, "authError");
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn revoking_an_access_token_revokes_its_refresh_token_too() {
    let w = world();
    let (access, refresh_token) = connect(&w).await;
    let revoked = post_form(&w.client, &w.sandbox.revoke_uri(), &[("token", &access)]).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        refresh(&w, &refresh_token).await.json()["error"],
        "invalid_grant"
    );
    let again = post_form(
        &w.client,
        &w.sandbox.revoke_uri(),
        &[("token", &refresh_token)],
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_token");
    assert_eq!(
        get(&w.client, &w.sandbox.userinfo_uri(), Some(&access))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(w.sandbox.counters().revocations, 1);
}

#[actix_web::test]
async fn an_access_token_used_after_its_lifetime_is_401_and_a_violation() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox.advance_clock(Duration::from_secs(3600));
    let answer = list(&w, &access, &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        google_error(&answer),
        (401, "authError".into(), "Invalid Credentials".into())
    );
    assert!(answer
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    expect_one_violation(&w, "expired");
}

#[actix_web::test]
async fn access_tokens_expired_by_the_test_answer_401_without_a_violation() {
    let w = world();
    let (access, refresh_token) = connect(&w).await;
    w.sandbox.expire_access_tokens(&w.ann).unwrap();
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = refresh(&w, &refresh_token).await.json();
    assert_eq!(
        list(&w, fresh["access_token"].as_str().unwrap(), &[])
            .await
            .status,
        StatusCode::OK
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn an_unknown_or_missing_access_token_is_401_and_a_violation() {
    let w = world();
    assert_eq!(
        list(&w, "ya29.made-up", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let url = format!("{}/calendars/primary/events", w.sandbox.calendar_api_base());
    assert_eq!(
        get(&w.client, &url, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(w.sandbox.take_violations().len(), 2);
}

#[actix_web::test]
async fn a_refresh_token_comes_only_offline_on_first_consent_or_with_prompt_consent() {
    let w = world();
    connect(&w).await;
    let config = w.sandbox.config().clone();
    let mut granted = Vec::new();
    for (access_type, prompt) in [
        ("offline", ""),
        ("online", "consent"),
        ("offline", "consent"),
    ] {
        let (verifier, challenge) = pkce();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", config.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPES),
            ("access_type", access_type),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if !prompt.is_empty() {
            params.push(("prompt", prompt));
        }
        let redirect = get(
            &w.client,
            &format!("{}?{}", w.sandbox.auth_uri(), query(&params)),
            None,
        )
        .await;
        let code = form_of(&redirect.header("location").unwrap())["code"].clone();
        granted.push(
            exchange(&w, &code, &verifier)
                .await
                .json()
                .get("refresh_token")
                .is_some(),
        );
    }
    assert_eq!(
        granted,
        vec![false, false, true],
        "second consent, online, offline+prompt=consent"
    );
    w.sandbox.assert_no_violations();
}

#[actix_web::test]
async fn include_granted_scopes_adds_what_was_granted_before() {
    let w = world();
    w.sandbox
        .sign_in(
            &w.ann,
            Consent::GrantOnly(vec!["openid".into(), "email".into()]),
        )
        .unwrap();
    let (_, challenge) = pkce();
    let first = form_of(
        &consent(&w, &challenge, SCOPES)
            .await
            .header("location")
            .unwrap(),
    );
    assert!(!first["scope"].contains("calendar"));
    w.sandbox.sign_in(&w.ann, Consent::GrantAll).unwrap();
    let (verifier, challenge) = pkce();
    let second = form_of(
        &consent(&w, &challenge, CALENDAR)
            .await
            .header("location")
            .unwrap(),
    );
    let granted: std::collections::HashSet<&str> = second["scope"].split(' ').collect();
    assert_eq!(
        granted,
        std::collections::HashSet::from([
            CALENDAR,
            "openid",
            "https://www.googleapis.com/auth/userinfo.email"
        ])
    );
    let tokens = exchange(&w, &second["code"], &verifier).await.json();
    assert!(tokens["id_token"].is_string());
}

#[actix_web::test]
async fn the_clock_can_start_elsewhere_and_move_forward() {
    let config = impulses_gcal::sandbox::SandboxConfig {
        clock_offset: chrono::Duration::days(-30),
        ..Default::default()
    };
    let w = world_with(config);
    let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
    assert!((w.sandbox.now() - month_ago).num_seconds().abs() < 60);
    let (access, _) = connect(&w).await;
    w.sandbox.advance_clock(Duration::from_secs(3598));
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
    w.sandbox.advance_clock(Duration::from_secs(2));
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    expect_one_violation(&w, "expired");
}
