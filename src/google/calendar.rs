//! Calendar API v3 `events.list`, one page at a time.

use actix_web::http::Method;

use super::error::GoogleError;
use super::http::GoogleHttp;
use super::model::EventsPage;
use crate::secret::Secret;

/// The calendar we sync (GOOGLE_APIS.md, "Ours").
pub const PRIMARY: &str = "primary";
/// The largest page Google serves.
pub const MAX_RESULTS: u32 = 2500;

/// Which page to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRequest<'a> {
    /// The first page of a full sync.
    Full,
    /// The first page of an incremental sync from a stored sync token.
    Incremental(&'a str),
    /// A following page of either.
    Next(&'a str),
}

/// The events.list URL. The parameters are the same for full and incremental syncs
/// (`singleEvents`, `maxResults`), as Google requires for a sync token to stay valid, and none
/// of those forbidden with a sync token is ever sent. Tokens are opaque base64 with `+`, `/` and
/// `=`, so they are form-encoded.
///
/// Written into one buffer sized for the worst case (every byte of the id and token escaped):
/// every sync builds one, and the pieces and their joins were five allocations of its own.
pub fn list_url(base: &str, calendar_id: &str, page: PageRequest<'_>) -> String {
    let token = match page {
        PageRequest::Full => None,
        PageRequest::Incremental(token) => Some(("syncToken", token)),
        PageRequest::Next(token) => Some(("pageToken", token)),
    };
    let longest = base.len()
        + 3 * calendar_id.len()
        + token.map_or(0, |(_, t)| 3 * t.len())
        + "/calendars//events?maxResults=&singleEvents=true&pageToken=".len()
        + 20;
    let mut url = String::with_capacity(longest);
    url.push_str(base);
    url.push_str("/calendars/");
    url.extend(url::form_urlencoded::byte_serialize(calendar_id.as_bytes()));
    url.push_str("/events?");
    let start = url.len();
    let mut query = url::form_urlencoded::Serializer::for_suffix(url, start);
    query
        .append_pair("maxResults", itoa::Buffer::new().format(MAX_RESULTS))
        .append_pair("singleEvents", "true");
    if let Some((name, token)) = token {
        query.append_pair(name, token);
    }
    query.finish()
}

/// Fetches and parses one page. A body that does not parse is a protocol error (the token's
/// sync token stays as it was).
pub async fn fetch_page(
    http: &GoogleHttp,
    base: &str,
    calendar_id: &str,
    access_token: &Secret<String>,
    page: PageRequest<'_>,
) -> Result<EventsPage, GoogleError> {
    let url = list_url(base, calendar_id, page);
    let answer = http
        .api("events.list", Method::GET, &url, access_token, None)
        .await?;
    serde_json::from_slice(&answer.body)
        .map_err(|e| GoogleError::Protocol(format!("events page does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_tokens_and_keep_parameters_stable() {
        let base = "https://www.googleapis.com/calendar/v3";
        assert_eq!(
            list_url(base, PRIMARY, PageRequest::Full),
            "https://www.googleapis.com/calendar/v3/calendars/primary/events?maxResults=2500&singleEvents=true"
        );
        let inc = list_url(base, PRIMARY, PageRequest::Incremental("CPi+a/b=="));
        assert!(
            inc.ends_with("?maxResults=2500&singleEvents=true&syncToken=CPi%2Ba%2Fb%3D%3D"),
            "{inc}"
        );
        let next = list_url(base, "ann@example.com", PageRequest::Next("x y"));
        assert!(
            next.contains("/calendars/ann%40example.com/events?"),
            "{next}"
        );
        assert!(next.ends_with("&pageToken=x+y"), "{next}");
        // Ids and tokens of any bytes come back whole from the path and the query.
        let (id, token) = ("ü/?#&= +%\u{0}c@group", "é+/=&#%\u{7f} tok");
        let hostile = list_url(base, id, PageRequest::Incremental(token));
        let parsed = url::Url::parse(&hostile).expect("a URL");
        let segments: Vec<String> = parsed
            .path_segments()
            .expect("segments")
            .map(|s| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .expect("one pair")
                    .1
                    .into_owned()
            })
            .collect();
        assert_eq!(segments[segments.len() - 2], id);
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("maxResults".to_string(), "2500".to_string()),
                ("singleEvents".into(), "true".into()),
                ("syncToken".into(), token.into()),
            ]
        );
        for forbidden in [
            "timeMin",
            "timeMax",
            "updatedMin",
            "orderBy",
            "q=",
            "iCalUID",
        ] {
            assert!(!inc.contains(forbidden));
        }
    }
}
