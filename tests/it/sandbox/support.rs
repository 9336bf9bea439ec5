//! Helpers: a sandbox with one account, the OAuth dance, and `events.list` calls.

use std::time::Duration;

use awc::http::StatusCode;
use base64::Engine;
use impulses_gcal::sandbox::{AccountId, Sandbox, SandboxConfig};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://127.0.0.1:8000/oauth/callback";
pub const CALENDAR: &str = "https://www.googleapis.com/auth/calendar.readonly";
pub const SCOPES: &str = "openid email https://www.googleapis.com/auth/calendar.readonly";

/// A client that does not follow redirects (the consent screen's 302 is what we look at).
pub fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .finish()
}

pub struct World {
    pub sandbox: Sandbox,
    pub ann: AccountId,
    pub client: awc::Client,
}

/// Calls the sandbox's own admin API (`/_sandbox{path}`); answers the status and the JSON body
/// (Null when there is none).
pub async fn admin(
    w: &World,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}/_sandbox{path}", w.sandbox.base_url());
    let req = match method {
        "POST" => w.client.post(&url),
        "PATCH" => w.client.patch(&url),
        "DELETE" => w.client.delete(&url),
        _ => w.client.get(&url),
    };
    let mut res = match body {
        Some(body) => req.send_json(&body).await.unwrap(),
        None => req.send().await.unwrap(),
    };
    let bytes = res.body().await.unwrap();
    (
        res.status(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn world_with(config: SandboxConfig) -> World {
    let sandbox = Sandbox::start(config).unwrap();
    let ann = sandbox
        .create_account("ann@example.com", "Europe/Warsaw")
        .unwrap();
    World {
        sandbox,
        ann,
        client: client(),
    }
}

pub fn world() -> World {
    world_with(SandboxConfig::default())
}

/// A PKCE verifier and its S256 challenge, computed here independently of the sandbox.
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub fn form_of(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

pub async fn get(client: &awc::Client, url: &str, bearer: Option<&str>) -> Answer {
    let mut req = client.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let mut res = req.send().await.unwrap();
    let body = res.body().limit(64 << 20).await.unwrap().to_vec();
    Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body,
    }
}

pub async fn post_form(client: &awc::Client, url: &str, pairs: &[(&str, &str)]) -> Answer {
    let mut res = client
        .post(url)
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(query(pairs))
        .await
        .unwrap();
    let body = res.body().await.unwrap().to_vec();
    Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body,
    }
}

/// Opens the consent screen with everything our client sends; returns the 302's query.
pub async fn consent(w: &World, challenge: &str, scopes: &str) -> Answer {
    let params = query(&[
        ("response_type", "code"),
        ("client_id", &w.sandbox.config().client_id),
        ("redirect_uri", REDIRECT),
        ("scope", scopes),
        ("state", "st4te"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    get(
        &w.client,
        &format!("{}?{params}", w.sandbox.auth_uri()),
        None,
    )
    .await
}

pub async fn exchange(w: &World, code: &str, verifier: &str) -> Answer {
    let config = w.sandbox.config();
    post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await
}

pub async fn refresh(w: &World, refresh_token: &str) -> Answer {
    let config = w.sandbox.config();
    post_form(
        &w.client,
        &w.sandbox.token_uri(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ],
    )
    .await
}

/// The code of a consent with everything our client sends.
pub async fn code_for(w: &World, challenge: &str) -> String {
    let redirect = consent(w, challenge, SCOPES).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    form_of(&redirect.header("location").unwrap())["code"].clone()
}

/// Takes the violations, asserting there was exactly one and that it mentions `needle`.
pub fn expect_one_violation(w: &World, needle: &str) {
    let violations = w.sandbox.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains(needle), "{violations:?}");
}

/// Access and refresh token of the signed-in account after a full, correct OAuth dance.
pub async fn connect(w: &World) -> (String, String) {
    let (verifier, challenge) = pkce();
    let code = code_for(w, &challenge).await;
    let tokens = exchange(w, &code, &verifier).await;
    assert_eq!(
        tokens.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&tokens.body)
    );
    let json = tokens.json();
    (
        json["access_token"].as_str().unwrap().to_string(),
        json["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// One `events.list` call on `primary`, parameters URL-encoded properly.
pub async fn list(w: &World, access: &str, params: &[(&str, &str)]) -> Answer {
    let url = format!(
        "{}/calendars/primary/events?{}",
        w.sandbox.calendar_api_base(),
        query(params)
    );
    get(&w.client, &url, Some(access)).await
}

/// Pages through a whole sync (full, or incremental when `sync` is given) with `params`;
/// returns every page's JSON.
pub async fn sync_pages(
    w: &World,
    access: &str,
    params: &[(&str, &str)],
    sync: Option<&str>,
) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(token) = sync {
            all.push(("syncToken", token));
        }
        if let Some(token) = page_token.as_deref() {
            all.push(("pageToken", token));
        }
        let answer = list(w, access, &all).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let page = answer.json();
        page_token = page["nextPageToken"].as_str().map(str::to_string);
        pages.push(page);
        if page_token.is_none() {
            return pages;
        }
        assert!(pages.len() < 10_000, "endless paging");
    }
}

/// All items of the pages and the sync token of the last one.
pub fn items_and_token(pages: &[Value]) -> (Vec<Value>, String) {
    let items = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .collect();
    let token = pages.last().unwrap()["nextSyncToken"]
        .as_str()
        .expect("last page has nextSyncToken")
        .to_string();
    (items, token)
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// The body of a Calendar API error: (code, reason, message).
pub fn google_error(answer: &Answer) -> (u64, String, String) {
    let json = answer.json();
    let error = &json["error"];
    assert_eq!(error["errors"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        error["code"],
        answer.status.as_u16(),
        "body code matches the HTTP status"
    );
    (
        error["code"].as_u64().unwrap(),
        error["errors"][0]["reason"].as_str().unwrap().to_string(),
        error["message"].as_str().unwrap().to_string(),
    )
}

/// Access token of `account` after a full OAuth dance with it signed in.
pub async fn connect_as(w: &World, account: &AccountId) -> String {
    w.sandbox
        .sign_in(account, impulses_gcal::sandbox::Consent::GrantAll)
        .unwrap();
    connect(w).await.0
}

/// A path segment with everything but unreserved characters percent-encoded (`@` → `%40`), as
/// Google's client libraries send a calendar id.
pub fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One `events.list` call on `calendar` (an id, `primary` or an e-mail).
pub async fn list_in(w: &World, access: &str, calendar: &str, params: &[(&str, &str)]) -> Answer {
    let url = format!(
        "{}/calendars/{}/events?{}",
        w.sandbox.calendar_api_base(),
        segment(calendar),
        query(params)
    );
    get(&w.client, &url, Some(access)).await
}

/// One `calendarList.list` call.
pub async fn calendar_list(w: &World, access: &str, params: &[(&str, &str)]) -> Answer {
    let url = format!(
        "{}/users/me/calendarList?{}",
        w.sandbox.calendar_api_base(),
        query(params)
    );
    get(&w.client, &url, Some(access)).await
}
