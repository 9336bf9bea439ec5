//! The body of `events.watch` and `channels.stop`, checked field by field into Google's 400s
//! (GOOGLE_APIS.md, "Push notifications"), and the lifetime a watch is granted.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::params::{invalid, Refused};

/// A checked `events.watch` body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WatchBody {
    pub id: String,
    pub address: String,
    pub token: Option<String>,
    /// `expiration`, when sent.
    pub expiration: Option<DateTime<Utc>>,
    /// `params.ttl` in seconds, when sent.
    pub ttl: Option<i64>,
}

/// A checked `channels.stop` body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StopBody {
    pub id: String,
    pub resource_id: String,
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refused> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refused::usual(400, "parseError")),
    }
}

fn required<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, Refused> {
    match map.get(name) {
        None | Some(Value::Null) => Err(invalid("required", &format!("Required: {name}"))),
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::String(_)) => Err(invalid("required", &format!("Required: {name}"))),
        Some(_) => Err(invalid("invalid", &format!("Invalid value for: {name}"))),
    }
}

/// Google's channel ids: 1 to 64 characters of `[A-Za-z0-9\-_+/=]`.
fn is_channel_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+/=".contains(&b))
}

/// HTTPS, or (**Ours**) plain HTTP to a loopback host so a local server can be tested.
fn check_address(address: &str) -> Result<(), Refused> {
    let url = url::Url::parse(address)
        .map_err(|_| invalid("invalid", &format!("Invalid value for: address: {address}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(
            "push.webhookUrlNotHttps",
            &format!("WebHook callback must be HTTPS: {address}"),
        )),
    }
}

/// An int64 Google accepts as a JSON number or a string of digits.
fn int64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// Checks an `events.watch` body.
pub(crate) fn watch(body: &[u8]) -> Result<WatchBody, Refused> {
    let map = object(body)?;
    let id = required(&map, "id")?;
    if !is_channel_id(id) {
        return Err(invalid("invalid", &format!("Invalid channel id: {id}")));
    }
    // Google's reference: "web_hook" (or "webhook").
    let kind = required(&map, "type")?;
    if !kind.eq_ignore_ascii_case("web_hook") && !kind.eq_ignore_ascii_case("webhook") {
        return Err(invalid(
            "invalid",
            &format!("Invalid value for: type: {kind}"),
        ));
    }
    let address = required(&map, "address")?;
    check_address(address)?;
    let token = match map.get("token") {
        None | Some(Value::Null) => None,
        Some(Value::String(text))
            if text.len() <= 256 && text.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
        {
            Some(text.clone())
        }
        Some(_) => return Err(invalid("invalid", "Invalid value for: token")),
    };
    let expiration = match map.get("expiration") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            int64(value)
                .and_then(DateTime::from_timestamp_millis)
                .ok_or_else(|| invalid("invalid", "Invalid value for: expiration"))?,
        ),
    };
    let ttl = match map.get("params").and_then(|params| params.get("ttl")) {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            int64(value)
                .filter(|seconds| *seconds > 0)
                .ok_or_else(|| invalid("invalid", "Invalid value for: params.ttl"))?,
        ),
    };
    Ok(WatchBody {
        id: id.to_string(),
        address: address.to_string(),
        token,
        expiration,
        ttl,
    })
}

/// Checks a `channels.stop` body.
pub(crate) fn stop(body: &[u8]) -> Result<StopBody, Refused> {
    let map = object(body)?;
    Ok(StopBody {
        id: required(&map, "id")?.to_string(),
        resource_id: required(&map, "resourceId")?.to_string(),
    })
}

/// When the channel expires: the sooner of what was asked (`ttl`, `expiration`) and `cap` from
/// now, in whole milliseconds as Google reports it; without a request, `cap` from now. An
/// expiration already past is refused (**Ours**).
pub(crate) fn granted(
    body: &WatchBody,
    now: DateTime<Utc>,
    cap: chrono::Duration,
) -> Result<DateTime<Utc>, Refused> {
    let mut until = now + cap;
    if let Some(at) = body.expiration {
        if at <= now {
            return Err(invalid("invalid", "Invalid value for: expiration (past)"));
        }
        until = until.min(at);
    }
    if let Some(seconds) = body.ttl {
        let asked = chrono::Duration::try_seconds(seconds).unwrap_or(cap);
        until = until.min(now + asked.min(cap));
    }
    let millis = until.timestamp_millis();
    Ok(DateTime::from_timestamp_millis(millis).unwrap_or(until))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> String {
        let err = watch(body.as_bytes()).unwrap_err();
        let json = actix_web::body::MessageBody::try_into_bytes(err.answer().into_body())
            .unwrap_or_default();
        let value: Value = serde_json::from_slice(&json).unwrap();
        value["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn bad_bodies_get_googles_reasons() {
        let ok = r#""type":"web_hook","address":"https://example.com/h""#;
        let table = [
            ("not json", "parseError"),
            (
                r#"{"type":"web_hook","address":"https://example.com/h"}"#,
                "required",
            ),
            (&format!(r#"{{"id":"a b",{ok}}}"#), "invalid"),
            (&format!(r#"{{"id":"{}",{ok}}}"#, "a".repeat(65)), "invalid"),
            (
                r#"{"id":"a","type":"email","address":"https://e.com/"}"#,
                "invalid",
            ),
            (r#"{"id":"a","type":"web_hook"}"#, "required"),
            (
                r#"{"id":"a","type":"web_hook","address":"http://example.com/h"}"#,
                "push.webhookUrlNotHttps",
            ),
            (
                r#"{"id":"a","type":"web_hook","address":"ftp://127.0.0.1/h"}"#,
                "push.webhookUrlNotHttps",
            ),
            (
                r#"{"id":"a","type":"web_hook","address":"nothing"}"#,
                "invalid",
            ),
            (
                &format!(r#"{{"id":"a",{ok},"token":"{}"}}"#, "t".repeat(257)),
                "invalid",
            ),
            (
                &format!(r#"{{"id":"a",{ok},"expiration":"soon"}}"#),
                "invalid",
            ),
            (
                &format!(r#"{{"id":"a",{ok},"params":{{"ttl":"x"}}}}"#),
                "invalid",
            ),
            (
                &format!(r#"{{"id":"a",{ok},"params":{{"ttl":"0"}}}}"#),
                "invalid",
            ),
        ];
        for (body, expected) in table {
            assert_eq!(reason(body), expected, "{body}");
        }
    }

    #[test]
    fn loopback_http_and_any_https_are_accepted() {
        for address in [
            "https://example.com/hook",
            "http://127.0.0.1:8000/push",
            "http://[::1]:9/p",
            "http://localhost/p",
        ] {
            let body = format!(r#"{{"id":"A-z_0+/=","type":"web_hook","address":"{address}"}}"#);
            let parsed = watch(body.as_bytes()).unwrap();
            assert_eq!((parsed.address.as_str(), parsed.token), (address, None));
        }
    }

    #[test]
    fn the_granted_lifetime_is_the_sooner_of_the_request_and_the_cap() {
        let now = DateTime::from_timestamp_millis(1_770_000_000_123).unwrap();
        let week = chrono::Duration::days(7);
        let parse = |extra: &str| {
            let body =
                format!(r#"{{"id":"a","type":"web_hook","address":"https://e.com/"{extra}}}"#);
            watch(body.as_bytes()).unwrap()
        };
        assert_eq!(granted(&parse(""), now, week).unwrap(), now + week);
        let month = r#","params":{"ttl":"2592000"}"#;
        assert_eq!(granted(&parse(month), now, week).unwrap(), now + week);
        let minute = r#","params":{"ttl":"60"}"#;
        let in_a_minute = now + chrono::Duration::seconds(60);
        assert_eq!(granted(&parse(minute), now, week).unwrap(), in_a_minute);
        let at = now.timestamp_millis() + 5_000;
        let as_string = parse(&format!(r#","expiration":"{at}""#));
        let as_number = parse(&format!(r#","expiration":{at}"#));
        for body in [as_string, as_number] {
            assert_eq!(granted(&body, now, week).unwrap().timestamp_millis(), at);
        }
        let past = parse(&format!(r#","expiration":{}"#, now.timestamp_millis() - 1));
        assert!(granted(&past, now, week).is_err());
    }

    #[test]
    fn stop_needs_both_ids() {
        assert!(stop(br#"{"id":"a","resourceId":"r"}"#).is_ok());
        assert!(stop(br#"{"id":"a"}"#).is_err());
        assert!(stop(b"[]").is_err());
    }
}
