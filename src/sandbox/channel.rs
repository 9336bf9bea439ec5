//! Push channels (GOOGLE_APIS.md, "Push notifications (events.watch)"): the channels
//! `events.watch` opened, which of them are live by the sandbox's clock, and the notifications a
//! change of a watched calendar owes them.
//!
//! Notifications are made under the state lock, numbered per channel there, and queued to the
//! delivery task (`delivery.rs`) before the lock is released, so each channel's messages leave in
//! the order its calendar changed.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;

use super::model::{AccountId, CalendarId};
use super::state::State;
use super::Sandbox;

/// Where a channel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// Notifications go out.
    Live,
    /// Past its expiration by the sandbox's clock: silent, as Google never renews a channel.
    Expired,
    /// Ended by `channels.stop`.
    Stopped,
}

/// One channel as tests and the admin API see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelInfo {
    /// The id the client chose.
    pub id: String,
    /// The watched calendar's `resourceId` (the same for every channel on it).
    pub resource_id: String,
    /// The watched calendar (the real id, also when watched as `primary`).
    pub calendar: CalendarId,
    /// The account whose access token opened it.
    pub account: AccountId,
    /// Where notifications go.
    pub address: String,
    /// The client's token, echoed in `X-Goog-Channel-Token`.
    pub token: Option<String>,
    /// When it stops delivering, by the sandbox's clock.
    pub expiration: DateTime<Utc>,
    /// Live, expired or stopped, now.
    pub state: ChannelState,
}

/// A channel and its message count.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    /// Unique among all channels ever opened (client ids may repeat once a channel ended).
    pub key: u64,
    pub id: String,
    pub resource_id: String,
    pub resource_uri: String,
    pub calendar: CalendarId,
    pub account: AccountId,
    pub address: String,
    pub token: Option<String>,
    pub expiration: DateTime<Utc>,
    pub stopped: bool,
    /// The last `X-Goog-Message-Number` handed out.
    pub messages: u64,
}

impl Channel {
    pub fn state(&self, now: DateTime<Utc>) -> ChannelState {
        if self.stopped {
            ChannelState::Stopped
        } else if now >= self.expiration {
            ChannelState::Expired
        } else {
            ChannelState::Live
        }
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.state(now) == ChannelState::Live
    }

    pub fn info(&self, now: DateTime<Utc>) -> ChannelInfo {
        ChannelInfo {
            id: self.id.clone(),
            resource_id: self.resource_id.clone(),
            calendar: self.calendar.clone(),
            account: self.account.clone(),
            address: self.address.clone(),
            token: self.token.clone(),
            expiration: self.expiration,
            state: self.state(now),
        }
    }

    /// The next notification of this channel.
    fn notice(&mut self, state: ResourceState) -> Notice {
        self.messages += 1;
        Notice {
            key: self.key,
            number: self.messages,
            state,
            channel: self.clone(),
        }
    }
}

/// `X-Goog-Resource-State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResourceState {
    /// The first message of every channel.
    Sync,
    /// The watched events changed.
    Exists,
    /// The watched calendar is gone.
    NotExists,
}

impl ResourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Exists => "exists",
            Self::NotExists => "not_exists",
        }
    }
}

/// One notification waiting for delivery.
#[derive(Clone, Debug)]
pub(crate) struct Notice {
    pub key: u64,
    pub number: u64,
    pub state: ResourceState,
    /// The channel as it was when the notification was made.
    pub channel: Channel,
}

/// Every channel ever opened, in the order they were opened.
#[derive(Debug, Default)]
pub(crate) struct Channels {
    all: Vec<Channel>,
}

impl Channels {
    pub fn is_live_id(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.all.iter().any(|c| c.id == id && c.is_live(now))
    }

    pub fn is_live(&self, key: u64, now: DateTime<Utc>) -> bool {
        self.all.iter().any(|c| c.key == key && c.is_live(now))
    }

    /// Opens a channel and makes its `sync` message.
    pub fn open(&mut self, mut channel: Channel) -> Notice {
        channel.key = self.all.len() as u64;
        channel.messages = 0;
        let notice = channel.notice(ResourceState::Sync);
        self.all.push(channel.clone());
        notice
    }

    /// The newest not-yet-stopped channel with this client id, for `channels.stop`.
    pub fn stoppable_mut(&mut self, id: &str) -> Option<&mut Channel> {
        self.all.iter_mut().rev().find(|c| c.id == id && !c.stopped)
    }
}

/// A watched calendar's change position before a control call, to see whether the call
/// changed it.
#[derive(Debug)]
pub(crate) struct Mark {
    calendar: CalendarId,
    seq: u64,
    deleted: bool,
}

/// The change positions of the calendars that have live channels (usually none, so the
/// control API pays nothing when nobody watches).
pub(crate) fn marks(state: &State) -> Vec<Mark> {
    let now = state.now();
    let mut marks: Vec<Mark> = Vec::new();
    for channel in state.channels.all.iter().filter(|c| c.is_live(now)) {
        if marks.iter().any(|m| m.calendar == channel.calendar) {
            continue;
        }
        if let Some(record) = state.calendars.get(&channel.calendar) {
            marks.push(Mark {
                calendar: channel.calendar.clone(),
                seq: record.events.seq,
                deleted: record.deleted,
            });
        }
    }
    marks
}

/// The notifications owed after a control call: `exists` to every live channel of a calendar
/// whose events changed, `not_exists` to those of a calendar deleted.
pub(crate) fn changes(state: &mut State, marks: &[Mark]) -> Vec<Notice> {
    let now = state.now();
    let mut notices = Vec::new();
    for mark in marks {
        let Some(record) = state.calendars.get(&mark.calendar) else {
            continue;
        };
        let kind = if record.deleted && !mark.deleted {
            ResourceState::NotExists
        } else if record.events.seq != mark.seq {
            ResourceState::Exists
        } else {
            continue;
        };
        let watching = state.channels.all.iter_mut();
        for channel in watching.filter(|c| c.calendar == mark.calendar && c.is_live(now)) {
            notices.push(channel.notice(kind));
        }
    }
    notices
}

/// A fresh opaque `resourceId`, shaped like Google's (27 characters of `[A-Za-z0-9_-]`).
pub(crate) fn resource_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..27)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

impl Sandbox {
    /// Every channel `events.watch` opened, oldest first, with its state now.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let state = self.shared.lock();
        let now = state.now();
        state.channels.all.iter().map(|c| c.info(now)).collect()
    }

    /// The channels of this calendar that still deliver (two during a renewal).
    pub fn live_channels(&self, calendar: &CalendarId) -> Vec<ChannelInfo> {
        self.channels()
            .into_iter()
            .filter(|c| &c.calendar == calendar && c.state == ChannelState::Live)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: &str, expiration: DateTime<Utc>) -> Channel {
        Channel {
            key: 0,
            id: id.into(),
            resource_id: resource_id(),
            resource_uri: String::new(),
            calendar: CalendarId("ann@example.com".into()),
            account: AccountId("1".into()),
            address: "https://example.com/hook".into(),
            token: None,
            expiration,
            stopped: false,
            messages: 0,
        }
    }

    #[test]
    fn a_channel_is_live_until_its_expiration_or_a_stop() {
        let now = Utc::now();
        let mut c = channel("a", now + chrono::Duration::seconds(60));
        assert_eq!(c.state(now), ChannelState::Live);
        assert_eq!(
            c.state(now + chrono::Duration::seconds(60)),
            ChannelState::Expired
        );
        c.stopped = true;
        assert_eq!(c.state(now), ChannelState::Stopped);
    }

    #[test]
    fn channels_number_their_messages_from_one_and_keys_stay_unique() {
        let now = Utc::now();
        let mut channels = Channels::default();
        let first = channels.open(channel("a", now + chrono::Duration::days(1)));
        assert_eq!((first.number, first.state), (1, ResourceState::Sync));
        let again = channels.open(channel("a", now + chrono::Duration::days(1)));
        assert_ne!(first.key, again.key);
        assert_eq!(again.number, 1);
        assert!(channels.is_live_id("a", now) && !channels.is_live_id("b", now));
        let newest = channels.stoppable_mut("a").map(|c| c.key);
        assert_eq!(newest, Some(again.key));
    }

    #[test]
    fn resource_ids_are_opaque_and_distinct() {
        let id = resource_id();
        assert_eq!(id.len(), 27);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(resource_id(), id);
    }
}
