//! Calendar API v3 push channels: `events.watch` opens one, `channels.stop` closes it
//! (`GOOGLE_APIS.md`, "Push notifications (events.watch)").

use actix_web::http::Method;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::GoogleError;
use super::http::GoogleHttp;
use crate::secret::Secret;

/// The lifetime we ask for: a week, which Google caps (it says so in `expiration`).
pub const REQUESTED_TTL_SECS: u64 = 7 * 24 * 3600;

/// What `events.watch` granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Google's id of the watched resource.
    pub resource_id: String,
    /// Unix ms when the channel expires.
    pub expiration_ms: i64,
}

#[derive(Serialize)]
struct WatchBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    address: &'a str,
    token: &'a str,
    params: WatchParams,
}

#[derive(Serialize)]
struct WatchParams {
    ttl: String,
}

/// Google sends int64 fields as strings; a number is read too.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::Number(n)) => Some(n),
        Some(Either::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Channel {
    resource_id: Option<String>,
    #[serde(default, deserialize_with = "int64")]
    expiration: Option<i64>,
}

fn calendar_path(base: &str, calendar_id: &str) -> String {
    let calendar: String = url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect();
    format!("{base}/calendars/{calendar}/events/watch")
}

/// Opens channel `channel_id` on a calendar: Google will post notifications to `address` with
/// `secret` as the channel token.
pub async fn watch(
    http: &GoogleHttp,
    base: &str,
    access_token: &Secret<String>,
    calendar_id: &str,
    channel_id: &str,
    address: &str,
    secret: &Secret<String>,
) -> Result<Opened, GoogleError> {
    let body = serde_json::to_vec(&WatchBody {
        id: channel_id,
        kind: "web_hook",
        address,
        token: secret.expose(),
        params: WatchParams {
            ttl: REQUESTED_TTL_SECS.to_string(),
        },
    })
    .map_err(|e| GoogleError::Protocol(e.to_string()))?;
    let url = calendar_path(base, calendar_id);
    let answer = http
        .api("events.watch", Method::POST, &url, access_token, Some(body))
        .await?;
    let channel: Channel = serde_json::from_slice(&answer.body)
        .map_err(|e| GoogleError::Protocol(format!("watch answer does not parse: {e}")))?;
    match (channel.resource_id, channel.expiration) {
        (Some(resource_id), Some(expiration_ms)) if !resource_id.is_empty() => Ok(Opened {
            resource_id,
            expiration_ms,
        }),
        _ => Err(GoogleError::Protocol(
            "watch answer without resourceId or expiration".into(),
        )),
    }
}

/// Stops a channel; one Google no longer knows (404) counts as stopped.
pub async fn stop(
    http: &GoogleHttp,
    base: &str,
    access_token: &Secret<String>,
    channel_id: &str,
    resource_id: &str,
) -> Result<(), GoogleError> {
    let body =
        serde_json::to_vec(&serde_json::json!({"id": channel_id, "resourceId": resource_id}))
            .map_err(|e| GoogleError::Protocol(e.to_string()))?;
    let url = format!("{base}/channels/stop");
    match http
        .api(
            "channels.stop",
            Method::POST,
            &url,
            access_token,
            Some(body),
        )
        .await
    {
        Ok(_) | Err(GoogleError::Api { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_answers_read_expiration_as_google_sends_it() {
        let c: Channel = serde_json::from_str(
            r#"{"kind":"api#channel","id":"x","resourceId":"r","resourceUri":"u","expiration":"1790000000000"}"#,
        )
        .unwrap();
        assert_eq!(c.expiration, Some(1_790_000_000_000));
        let c: Channel = serde_json::from_str(r#"{"resourceId":"r","expiration":5}"#).unwrap();
        assert_eq!(c.expiration, Some(5));
        let c: Channel = serde_json::from_str(r#"{"resourceId":"r"}"#).unwrap();
        assert_eq!(c.expiration, None);
    }

    #[test]
    fn calendar_ids_are_encoded_in_the_watch_path() {
        assert_eq!(
            calendar_path("https://g/calendar/v3", "c_1@group.calendar.google.com"),
            "https://g/calendar/v3/calendars/c_1%40group.calendar.google.com/events/watch"
        );
    }
}
