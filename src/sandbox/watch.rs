//! `POST …/calendars/{calendarId}/events/watch` and `POST …/channels/stop` (GOOGLE_APIS.md,
//! "Push notifications"): opening a channel on a calendar the caller can list, and ending it.
//! What the channel then receives is `channel.rs` and `delivery.rs`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::calendar::authenticate;
use super::channel::Channel;
use super::config::span;
use super::fault::Endpoint;
use super::oauth::bearer_token;
use super::params::{invalid, Refused};
use super::state::Shared;
use super::watch_body;

/// The account the request's bearer token names, valid or not, for fault filters.
fn owner_of(shared: &Shared, token: Option<&str>) -> Option<super::model::AccountId> {
    token.and_then(|token| shared.lock().grants.account_of(token))
}

/// The `events.watch` handler: authentication and calendar resolution as `events.list`.
pub(crate) async fn watch(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = bearer_token(&req);
    let raw = path.into_inner();
    shared.lock().counters.watch_calls += 1;
    let owner = owner_of(&shared, token.as_deref());
    if let Some(answer) = shared.fault_gate(Endpoint::Watch, owner.as_ref()).await {
        return answer;
    }
    let account = match authenticate(&mut shared.lock(), token.as_deref()) {
        Ok(account) => account,
        Err(refused) => return refused.answer(),
    };
    let Some((calendar, _)) = shared.lock().resolve(&account, &raw) else {
        return Refused::usual(404, "notFound").answer();
    };
    let body = match watch_body::watch(&body) {
        Ok(body) => body,
        Err(refused) => return refused.answer(),
    };
    let mut state = shared.lock();
    let now = state.now();
    let expiration = match watch_body::granted(&body, now, span(shared.config.push_ttl_cap)) {
        Ok(at) => at,
        Err(refused) => return refused.answer(),
    };
    // Channel ids are unique among live channels; an ended channel's id may be used again.
    if state.channels.is_live_id(&body.id, now) {
        let message = format!("Channel id {} not unique", body.id);
        return invalid("channelIdNotUnique", &message).answer();
    }
    let Ok(record) = state.calendar(&calendar) else {
        return Refused::usual(404, "notFound").answer();
    };
    // Google echoes the calendar as the request named it (`primary` stays `primary`).
    let named: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
    let channel = Channel {
        key: 0,
        id: body.id,
        resource_id: record.resource_id.clone(),
        resource_uri: format!(
            "{}/calendar/v3/calendars/{named}/events?alt=json",
            shared.base_url
        ),
        calendar,
        account,
        address: body.address,
        token: body.token,
        expiration,
        stopped: false,
        messages: 0,
    };
    let mut answer = serde_json::json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
        // An int64, which Google's JSON always writes as a string.
        "expiration": expiration.timestamp_millis().to_string(),
    });
    if let Some(token) = &channel.token {
        answer["token"] = token.clone().into();
    }
    log::info!(
        "sandbox: channel {} opened on {} for {}",
        channel.id,
        channel.calendar,
        channel.address
    );
    // The sync message is queued with the lock held, ahead of any change's message.
    let sync = state.channels.open(channel);
    shared.notify(vec![sync]);
    drop(state);
    HttpResponse::Ok().json(answer)
}

/// The `channels.stop` handler: 204 for the caller's own channel, 404 for any other.
pub(crate) async fn stop(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let token = bearer_token(&req);
    let owner = owner_of(&shared, token.as_deref());
    if let Some(answer) = shared
        .fault_gate(Endpoint::ChannelStop, owner.as_ref())
        .await
    {
        return answer;
    }
    let account = match authenticate(&mut shared.lock(), token.as_deref()) {
        Ok(account) => account,
        Err(refused) => return refused.answer(),
    };
    let body = match watch_body::stop(&body) {
        Ok(body) => body,
        Err(refused) => return refused.answer(),
    };
    let mut state = shared.lock();
    let not_found = || {
        let message = format!("Channel '{}' not found for project", body.id);
        Refused::new(404, "notFound", message).answer()
    };
    let Some(channel) = state.channels.stoppable_mut(&body.id) else {
        return not_found();
    };
    if channel.resource_id != body.resource_id {
        return not_found();
    }
    if channel.account != account {
        let text = format!(
            "channels.stop: channel {} stopped with an access token of another account",
            body.id
        );
        state.violation(text);
        return not_found();
    }
    channel.stopped = true;
    state.counters.channels_stopped += 1;
    log::info!("sandbox: channel {} stopped", body.id);
    HttpResponse::NoContent().finish()
}
