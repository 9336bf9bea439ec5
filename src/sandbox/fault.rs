//! Injected failures: each endpoint can be made to answer an error, answer late, or drop the
//! connection, once, n times or until cleared, optionally only for one account. Push
//! notifications (the sandbox calling out) can be dropped, delayed or delivered twice.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};

use super::error;
use super::model::AccountId;

/// The endpoints a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// The consent screen (`auth_uri`).
    Auth,
    /// The token endpoint (`token_uri`).
    Token,
    /// `events.list`, every request.
    List,
    /// `events.list` requests that carry a `pageToken` (the pages after the first), for failures
    /// in the middle of a paged listing. Tried before `List` faults on such requests.
    ListPage,
    /// The userinfo endpoint.
    Userinfo,
    /// `calendarList.list` (JSON `"calendarlist"`).
    CalendarList,
    /// The revocation endpoint.
    Revoke,
    /// `events.watch` (JSON `"watch"`), e.g. 401 `push.webhookUrlUnauthorized`.
    Watch,
    /// `channels.stop` (JSON `"channelstop"`).
    ChannelStop,
    /// The notifications the sandbox sends to channels (JSON `"notification"`): a fault with
    /// `drop_connection` drops one (never delivered), `latency` delays it, `duplicate` delivers
    /// it twice; `status` and `reason` mean nothing here. `account` is the channel's account.
    Notification,
}

/// How many matching requests a fault hits before it disarms itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Times {
    /// The next matching request only.
    Once,
    /// The next n matching requests.
    N(u32),
    /// Every matching request until [`super::Sandbox::clear_faults`].
    UntilCleared,
}

/// One injected failure. Build with [`Fault::error`], [`Fault::latency`],
/// [`Fault::drop_connection`] or [`Fault::duplicate`], then narrow it with the `with_*`/`for_*`
/// methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which endpoint it hits.
    pub endpoint: Endpoint,
    /// Only requests of this account (by its token, code or signed-in session); `None` hits all.
    pub account: Option<AccountId>,
    /// The error status to answer; `None` lets the request through (after any latency).
    pub status: Option<u16>,
    /// Google's `reason` (Calendar API) or `error` (OAuth endpoints).
    pub reason: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// Delay before answering (or before letting the request through).
    pub latency: Option<Duration>,
    /// Close the connection without an answer (for [`Endpoint::Notification`]: drop it).
    pub drop_connection: bool,
    /// Deliver a notification twice, as Google sometimes does ([`Endpoint::Notification`] only).
    pub duplicate: bool,
    /// How long the fault stays armed.
    pub times: Times,
}

impl Fault {
    /// Answer `status` with Google's error body for `reason`, once.
    pub fn error(endpoint: Endpoint, status: u16, reason: impl Into<String>) -> Self {
        Self {
            endpoint,
            account: None,
            status: Some(status),
            reason: reason.into(),
            retry_after: None,
            latency: None,
            drop_connection: false,
            duplicate: false,
            times: Times::Once,
        }
    }

    /// Let the request through after `delay`, once.
    pub fn latency(endpoint: Endpoint, delay: Duration) -> Self {
        Self {
            status: None,
            reason: String::new(),
            latency: Some(delay),
            ..Self::error(endpoint, 0, "")
        }
    }

    /// Close the connection without answering, once.
    pub fn drop_connection(endpoint: Endpoint) -> Self {
        Self {
            status: None,
            reason: String::new(),
            drop_connection: true,
            ..Self::error(endpoint, 0, "")
        }
    }

    /// Deliver a notification twice, once (for [`Endpoint::Notification`]).
    pub fn duplicate(endpoint: Endpoint) -> Self {
        Self {
            status: None,
            reason: String::new(),
            duplicate: true,
            ..Self::error(endpoint, 0, "")
        }
    }

    /// Also delivers the notification twice.
    pub fn duplicated(mut self) -> Self {
        self.duplicate = true;
        self
    }

    /// Arms the fault for this many requests.
    pub fn times(mut self, times: Times) -> Self {
        self.times = times;
        self
    }

    /// Limits the fault to one account.
    pub fn for_account(mut self, account: &AccountId) -> Self {
        self.account = Some(account.clone());
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds a delay before the answer.
    pub fn with_latency(mut self, delay: Duration) -> Self {
        self.latency = Some(delay);
        self
    }
}

/// An armed fault and how many hits it has left (`None`: until cleared).
#[derive(Debug)]
pub(crate) struct Armed {
    fault: Fault,
    left: Option<u32>,
}

/// The armed faults, in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    armed: Vec<Armed>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        let left = match fault.times {
            Times::Once => Some(1),
            Times::N(n) => Some(n),
            Times::UntilCleared => None,
        };
        self.armed.push(Armed { fault, left });
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// The first fault matching this request, counting the hit; spent faults disarm.
    pub fn take(&mut self, endpoint: Endpoint, account: Option<&AccountId>) -> Option<Fault> {
        let index = self.armed.iter().position(|armed| {
            armed.fault.endpoint == endpoint
                && armed
                    .fault
                    .account
                    .as_ref()
                    .is_none_or(|only| Some(only) == account)
        })?;
        let armed = &mut self.armed[index];
        let fault = armed.fault.clone();
        if let Some(left) = armed.left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.armed.remove(index);
            }
        }
        Some(fault)
    }
}

/// A response whose body fails before its first byte: actix then closes the connection without
/// writing the response, and the client sees the connection end with no answer.
pub(crate) fn dropped() -> HttpResponse {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection dropped",
        ))
    });
    let mut response = HttpResponse::Ok().streaming(failing);
    response.extensions_mut().insert(Dropped);
    response
}

/// Marks a response that will never reach the client, so it is not counted by status.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dropped;

/// The error answer of a fault, shaped like the endpoint's real errors.
pub(crate) fn answer(fault: &Fault, status: u16) -> HttpResponse {
    let mut response = match fault.endpoint {
        Endpoint::List
        | Endpoint::ListPage
        | Endpoint::CalendarList
        | Endpoint::Watch
        | Endpoint::ChannelStop
        | Endpoint::Notification => {
            error::calendar(status, &fault.reason, error::default_message(&fault.reason))
        }
        Endpoint::Auth => error::page(status, &fault.reason, "sandbox fault"),
        Endpoint::Token | Endpoint::Userinfo | Endpoint::Revoke => {
            error::oauth(status, &fault.reason, "sandbox fault")
        }
    };
    if let Some(seconds) = fault.retry_after {
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string()) {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
    }
    response
}
