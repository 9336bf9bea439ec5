//! Connects the demo calendar through the real routes (admin token creation, OAuth consent at
//! the sandbox, callback), waits for the first sync and prints what a newcomer can try next.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{base_url, DemoError, FIRST_SYNC_DEADLINE};
use crate::sandbox::{AccountId, Sandbox};

fn demo_err(what: &str) -> impl Fn(String) -> DemoError + '_ {
    move |e| DemoError::Demo(format!("{what}: {e}"))
}

async fn json(
    resp: Result<
        awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
                + Unpin,
        >,
        awc::error::SendRequestError,
    >,
    what: &str,
) -> Result<Value, DemoError> {
    let mut resp = resp.map_err(|e| DemoError::Demo(format!("{what}: {e}")))?;
    let body = resp
        .body()
        .await
        .map_err(|e| DemoError::Demo(format!("{what}: {e}")))?;
    if !resp.status().is_success() {
        return Err(DemoError::Demo(format!(
            "{what}: {} {}",
            resp.status(),
            String::from_utf8_lossy(&body)
        )));
    }
    serde_json::from_slice(&body).map_err(|e| DemoError::Demo(format!("{what}: {e}")))
}

/// Runs the demo connection and returns the text to print.
pub async fn connect_and_report(
    server: std::net::SocketAddr,
    sandbox: &Sandbox,
    account: &AccountId,
    admin_token: &str,
    poll_secs: u64,
    data_dir: &str,
) -> Result<String, DemoError> {
    let base = base_url(server);
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .finish();
    let bearer = format!("Bearer {admin_token}");
    let created = json(
        client
            .post(format!("{base}/admin/tokens"))
            .insert_header(("Authorization", bearer.as_str()))
            .send_json(&serde_json::json!({"user": "demo", "name": "google-calendar", "capability": "SUPER"}))
            .await,
        "creating the data token",
    )
    .await?;
    let token_id = created["id"].as_str().unwrap_or_default().to_string();
    let token = created["token_plaintext"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let auth = json(
        client
            .get(format!("{base}/oauth2/google/auth"))
            .insert_header(("X-Data-Token", token.as_str()))
            .send()
            .await,
        "starting OAuth",
    )
    .await?;
    let url = auth["url"]
        .as_str()
        .ok_or_else(|| DemoError::Demo("no authorization URL".into()))?;
    let consent = client
        .get(url)
        .send()
        .await
        .map_err(|e| demo_err("consent screen")(e.to_string()))?;
    let location = header(&consent, "location")
        .ok_or_else(|| DemoError::Demo("the consent screen did not redirect".into()))?;
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let callback = client
        .get(format!("{base}/oauth2/google/callback?{query}"))
        .send()
        .await
        .map_err(|e| demo_err("callback")(e.to_string()))?;
    let done = header(&callback, "location").unwrap_or_default();
    if !done.contains("google_oauth2=authorized") {
        return Err(DemoError::Demo(format!(
            "the OAuth flow did not complete: {done}"
        )));
    }
    let status = wait_first_sync(&client, &base, &bearer, &token_id).await?;
    let metrics = json(
        client
            .get(format!("{base}/data"))
            .insert_header(("X-Data-Token", token.as_str()))
            .send()
            .await,
        "listing metrics",
    )
    .await?;
    let (email, _) = sandbox.account_info(account).unwrap_or_default();
    let training = sandbox
        .calendar_list(account)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.summary == super::seed::TRAINING)
        .map(|c| c.id.as_str().to_string())
        .unwrap_or_default();
    Ok(instructions(&Report {
        base: &base,
        google: &sandbox.base_url(),
        sub: account.as_str(),
        training: &training,
        email: &email,
        token: &token,
        token_id: &token_id,
        admin: admin_token,
        poll_secs,
        data_dir,
        status: &status,
        metrics: &metrics,
    }))
}

fn header(resp: &awc::ClientResponse<impl Sized>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn wait_first_sync(
    client: &awc::Client,
    base: &str,
    bearer: &str,
    token_id: &str,
) -> Result<Value, DemoError> {
    let started = Instant::now();
    loop {
        let status = json(
            client
                .get(format!("{base}/admin/actors/{token_id}"))
                .insert_header(("Authorization", bearer))
                .send()
                .await,
            "reading the sync status",
        )
        .await;
        if let Ok(s) = &status {
            if s["syncs_ok"].as_u64().unwrap_or(0) >= 1 {
                return Ok(s.clone());
            }
        }
        if started.elapsed() > FIRST_SYNC_DEADLINE {
            return Err(DemoError::Demo(format!(
                "the first sync did not finish within {FIRST_SYNC_DEADLINE:?}: {status:?}"
            )));
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Report<'a> {
    base: &'a str,
    google: &'a str,
    sub: &'a str,
    /// The id of the demo account's second calendar.
    training: &'a str,
    email: &'a str,
    token: &'a str,
    token_id: &'a str,
    admin: &'a str,
    poll_secs: u64,
    data_dir: &'a str,
    status: &'a Value,
    metrics: &'a Value,
}

fn instructions(r: &Report<'_>) -> String {
    let names: Vec<&str> = r
        .metrics
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (base, google, token, admin, sub, token_id) =
        (r.base, r.google, r.token, r.admin, r.sub, r.token_id);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let event = format!(
        r##"{{"summary":"#!Yoga","description":"where:studio\nmats=1","start":{{"dateTime":"{tomorrow}T08:00:00","timeZone":"Europe/Warsaw"}},"end":{{"dateTime":"{tomorrow}T09:00:00","timeZone":"Europe/Warsaw"}}}}"##
    );
    [
        String::new(),
        "impulses-gcal sandbox is running.".into(),
        format!("  server:         {base}"),
        format!("  sandbox Google: {google} (account {}, time zone Europe/Warsaw)", r.email),
        format!("  data token:     {token}   (user \"demo\", token id {token_id})"),
        format!("  admin token:    {admin}"),
        format!("  data dir:       {}", r.data_dir),
        String::new(),
        "Open the console in a browser, signed in (the token rides in the URL's fragment, which the".into(),
        "browser never sends to a server); Disconnect, then Connect, walks through the sandbox's consent:".into(),
        format!("  as \"demo\":      {base}/#token={token}"),
        format!("  as the operator: {base}/#admin={admin}"),
        String::new(),
        format!(
            "The demo calendar was connected through the real OAuth flow and synced: {} events gave {} datapoints",
            r.status["events"], r.status["datapoints"]
        ),
        format!("in {} metrics: {}.", names.len(), names.join(", ")),
        String::new(),
        "Try it:".into(),
        String::new(),
        "# the metrics of user \"demo\"".into(),
        format!("curl -s {base}/data -H 'X-Data-Token: {token}'"),
        "# one metric: every #! event's duration in ms".into(),
        format!("curl -s {base}/data/imp.events.duration -H 'X-Data-Token: {token}'"),
        "# the Google connection as the Impulses UI shows it".into(),
        format!("curl -s {base}/oauth2/google/configs -H 'X-Data-Token: {token}'"),
        "# every sync actor's state".into(),
        format!("curl -s {base}/admin/actors -H 'Authorization: Bearer {admin}'"),
        "# add a #! event to the sandbox calendar...".into(),
        format!("curl -s -X POST {google}/_sandbox/accounts/{sub}/events -H 'Content-Type: application/json' -d '{event}'"),
        format!("# ...and Google's push notification makes it a datapoint within a second (polls, every {} seconds, are the backstop); or sync right away:", r.poll_secs),
        format!("curl -s -X POST {base}/admin/actors/{token_id}/sync -H 'Authorization: Bearer {admin}'"),
        format!("curl -s {base}/data/imp.events.custom.mats -H 'X-Data-Token: {token}'"),
        format!("# the account's calendars: only the primary is synced; select \"{}\" too...", super::seed::TRAINING),
        format!("curl -s {base}/oauth2/google/calendars -H 'X-Data-Token: {token}'"),
        format!("curl -s -X PUT {base}/oauth2/google/calendars -H 'X-Data-Token: {token}' -H 'Content-Type: application/json' -d '{{\"selected\":[\"primary\",\"{}\"]}}'", r.training),
        "# ...and its climbing sessions become metrics at once".into(),
        format!("curl -s {base}/data/imp.events.custom.routes -H 'X-Data-Token: {token}'"),
        String::new(),
        "Stop with Ctrl-C; the data directory of this run is removed then.".into(),
    ]
    .join("\n")
}
