//! Delivering push notifications like Google (GOOGLE_APIS.md, "Push notifications"): a bodiless
//! `POST` to the channel's address with the `X-Goog-*` headers, promptly after the change but
//! never inside the call that made it, in order per channel, retried with backoff while the
//! address answers anything but 200, 201, 202 or 204, then given up.
//!
//! One task on the sandbox's own actix system takes the queue `Shared::notify` feeds and hands
//! each notification to its channel's worker task, so a slow or failing address holds up only
//! its own channel. They share one `awc::Client`, which is `!Send` and so is built here.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::channel::Notice;
use super::fault::Endpoint;
use super::state::Shared;

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the dispatcher on the current actix system. It holds the state weakly, so it ends
/// when the sandbox is gone and the queue closes.
pub(crate) fn spawn(shared: Arc<Shared>, mut queue: UnboundedReceiver<Notice>) {
    let shared = Arc::downgrade(&shared);
    actix_web::rt::spawn(async move {
        let client = awc::Client::builder()
            .disable_redirects()
            .timeout(ATTEMPT_TIMEOUT)
            .finish();
        let mut workers: HashMap<u64, UnboundedSender<Notice>> = HashMap::new();
        while let Some(notice) = queue.recv().await {
            let worker = workers.entry(notice.key).or_insert_with(|| {
                let (send, receive) = unbounded_channel();
                actix_web::rt::spawn(work(shared.clone(), client.clone(), receive));
                send
            });
            if worker.send(notice).is_err() {
                log::warn!("sandbox: a channel's delivery worker has ended");
            }
        }
    });
}

/// One channel's worker: its notifications, one after the other.
async fn work(shared: Weak<Shared>, client: awc::Client, mut queue: UnboundedReceiver<Notice>) {
    while let Some(notice) = queue.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        deliver(&shared, &client, &notice).await;
    }
}

/// Applies the notification faults, then delivers (twice when duplicated).
async fn deliver(shared: &Shared, client: &awc::Client, notice: &Notice) {
    let fault = shared
        .lock()
        .faults
        .take(Endpoint::Notification, Some(&notice.channel.account));
    let mut copies = 1;
    if let Some(fault) = fault {
        if let Some(delay) = fault.latency {
            actix_web::rt::time::sleep(delay).await;
        }
        if fault.drop_connection {
            shared.lock().counters.notifications_dropped += 1;
            log::info!("{}: dropped by a fault", subject(notice));
            return;
        }
        if fault.duplicate {
            copies = 2;
        }
    }
    for _ in 0..copies {
        attempts(shared, client, notice).await;
    }
}

/// Tries, and retries after each configured delay, until the address accepts; stops early when
/// the channel stopped or expired meanwhile (it delivers nothing more).
async fn attempts(shared: &Shared, client: &awc::Client, notice: &Notice) {
    let delays = &shared.config.push_retry_delays;
    for attempt in 0..=delays.len() {
        if let Some(delay) = attempt.checked_sub(1).and_then(|i| delays.get(i)) {
            actix_web::rt::time::sleep(*delay).await;
        }
        {
            let state = shared.lock();
            if !state.channels.is_live(notice.key, state.now()) {
                log::info!("{}: not sent, the channel has ended", subject(notice));
                return;
            }
        }
        let outcome = post(client, notice).await;
        let mut state = shared.lock();
        match outcome {
            Ok(status) if is_accepted(status) => {
                state.counters.notifications_sent += 1;
                let by_state = &mut state.counters.notifications_by_state;
                *by_state.entry(notice.state.as_str().into()).or_default() += 1;
                return;
            }
            Ok(status) => log::info!("{}: answered {status}", subject(notice)),
            Err(err) => log::info!("{}: {err}", subject(notice)),
        }
        state.counters.notifications_failed += 1;
    }
    shared.lock().counters.notifications_dropped += 1;
    log::info!(
        "{}: given up after {} retries",
        subject(notice),
        delays.len()
    );
}

/// Google takes these as "received" and anything else as a reason to retry.
fn is_accepted(status: u16) -> bool {
    matches!(status, 200 | 201 | 202 | 204)
}

/// A log line's subject.
fn subject(notice: &Notice) -> String {
    format!(
        "sandbox: notification {} ({}) of channel {}",
        notice.number,
        notice.state.as_str(),
        notice.channel.id
    )
}

/// One attempt: the status the address answered, or why there was no answer.
async fn post(client: &awc::Client, notice: &Notice) -> Result<u16, String> {
    let mut request = client.post(&notice.channel.address);
    for (name, value) in headers(notice) {
        request = request.insert_header((name, value));
    }
    let mut response = request.send().await.map_err(|err| err.to_string())?;
    // Read the answer so the connection can be reused; its content does not matter.
    let _ = response.body().limit(64 << 10).await;
    Ok(response.status().as_u16())
}

/// The headers of a notification; the token only when the channel has one.
pub(crate) fn headers(notice: &Notice) -> Vec<(&'static str, String)> {
    let channel = &notice.channel;
    let mut headers = vec![("X-Goog-Channel-ID", channel.id.clone())];
    if let Some(token) = &channel.token {
        headers.push(("X-Goog-Channel-Token", token.clone()));
    }
    headers.extend([
        ("X-Goog-Channel-Expiration", http_date(channel.expiration)),
        ("X-Goog-Resource-ID", channel.resource_id.clone()),
        ("X-Goog-Resource-URI", channel.resource_uri.clone()),
        ("X-Goog-Resource-State", notice.state.as_str().to_string()),
        ("X-Goog-Message-Number", notice.number.to_string()),
    ]);
    headers
}

/// RFC 1123 (HTTP) date, as Google writes `X-Goog-Channel-Expiration`.
pub(crate) fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::channel::{Channel, ResourceState};
    use crate::sandbox::model::{AccountId, CalendarId};

    fn notice(token: Option<&str>) -> Notice {
        let expiration = DateTime::parse_from_rfc3339("2026-03-02T07:05:09Z")
            .unwrap()
            .with_timezone(&Utc);
        Notice {
            key: 0,
            number: 3,
            state: ResourceState::NotExists,
            channel: Channel {
                key: 0,
                id: "chan-1".into(),
                resource_id: "res".into(),
                resource_uri: "http://x/calendars/primary/events?alt=json".into(),
                calendar: CalendarId("ann@example.com".into()),
                account: AccountId("1".into()),
                address: "https://example.com/hook".into(),
                token: token.map(str::to_string),
                expiration,
                stopped: false,
                messages: 3,
            },
        }
    }

    #[test]
    fn headers_carry_googles_names_and_the_token_only_when_there_is_one() {
        let with = headers(&notice(Some("t=1")));
        let get = |name: &str| {
            with.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("X-Goog-Channel-Token").as_deref(), Some("t=1"));
        assert_eq!(
            get("X-Goog-Channel-Expiration").as_deref(),
            Some("Mon, 02 Mar 2026 07:05:09 GMT")
        );
        assert_eq!(get("X-Goog-Resource-State").as_deref(), Some("not_exists"));
        assert_eq!(get("X-Goog-Message-Number").as_deref(), Some("3"));
        let without = headers(&notice(None));
        assert!(without.iter().all(|(n, _)| *n != "X-Goog-Channel-Token"));
        assert_eq!(without.len(), 6);
    }

    #[test]
    fn only_googles_four_success_statuses_count_as_received() {
        for status in [200, 201, 202, 204] {
            assert!(is_accepted(status));
        }
        for status in [203, 301, 400, 404, 500, 503] {
            assert!(!is_accepted(status));
        }
    }
}
