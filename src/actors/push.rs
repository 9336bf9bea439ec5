//! Push channels of the sync actors (`GOOGLE_APIS.md`, "Push notifications"): which channels a
//! token needs opened or stopped ([`plan_channels`], pure), when a channel is renewed, how often
//! a calendar is polled as a backstop, and the registry the notification route checks incoming
//! notifications against.
//!
//! No gap: a channel is renewed a day before it expires (at half its life when that is shorter),
//! and the old one is stopped only after Google answered the new one's `events.watch`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::secret::Secret;
use crate::store::{PushChannel, Selection};
use crate::token::TokenId;

/// How long before its expiration a channel is replaced, at most.
pub const RENEW_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// How long after a refused `events.watch` it is tried again, at least.
pub const WATCH_RETRY_MS: i64 = 3600 * 1000;

/// When a channel is replaced: a day ahead of its expiration, or at half its life if shorter.
pub fn renew_at(channel: &PushChannel) -> i64 {
    let life = (channel.expiration_ms - channel.opened_ms).max(0);
    channel.expiration_ms - RENEW_AHEAD_MS.min(life / 2)
}

/// Whether a calendar has a channel Google still notifies on.
pub fn is_healthy(channels: &[PushChannel], slot: u32, now_ms: i64) -> bool {
    channels
        .iter()
        .any(|c| c.slot == slot && c.expiration_ms > now_ms)
}

/// What to do about a token's channels now.
#[derive(Debug, Default, PartialEq)]
pub struct ChannelPlan {
    /// Calendars (slot, id) that need a new channel.
    pub open: Vec<(u32, String)>,
    /// Channels to stop: replaced by a newer one, or of a calendar no longer selected.
    pub stop: Vec<PushChannel>,
    /// Channels being renewed: stopped once their calendar's new channel answered.
    pub replace: Vec<PushChannel>,
    /// Channels that expired: nothing to stop, only to forget.
    pub forget: Vec<PushChannel>,
}

/// Plans the channels of `selection` given those open, at `now_ms`. `watch_failed(slot)` is
/// when `events.watch` last failed for a calendar, so a refused watch is retried only after
/// [`WATCH_RETRY_MS`].
pub fn plan_channels(
    selection: &Selection,
    channels: &[PushChannel],
    now_ms: i64,
    watch_failed: impl Fn(u32) -> Option<i64>,
) -> ChannelPlan {
    let mut plan = ChannelPlan::default();
    for c in channels {
        let selected = selection
            .get(c.slot)
            .is_some_and(|s| s.calendar_id == c.calendar_id);
        if c.expiration_ms <= now_ms {
            plan.forget.push(c.clone());
        } else if !selected {
            plan.stop.push(c.clone());
        }
    }
    for cal in &selection.calendars {
        let mut live: Vec<&PushChannel> = channels
            .iter()
            .filter(|c| {
                c.slot == cal.slot && c.calendar_id == cal.calendar_id && c.expiration_ms > now_ms
            })
            .collect();
        live.sort_by_key(|c| c.expiration_ms);
        match live.split_last() {
            None => {
                if watch_failed(cal.slot).is_none_or(|t| now_ms - t >= WATCH_RETRY_MS) {
                    plan.open.push((cal.slot, cal.calendar_id.clone()));
                }
            }
            Some((newest, older)) => {
                // An older channel is stopped once a newer one exists (it answered already).
                plan.stop.extend(older.iter().map(|c| (*c).clone()));
                if now_ms >= renew_at(newest) {
                    plan.open.push((cal.slot, cal.calendar_id.clone()));
                    plan.replace.push((*newest).clone());
                }
            }
        }
    }
    plan
}

/// The earliest instant a channel of these needs renewing, if any is open.
pub fn next_renewal(channels: &[PushChannel]) -> Option<i64> {
    channels.iter().map(renew_at).min()
}

/// How often a token is polled: at the backstop when every selected calendar has a healthy
/// channel, else at the poll interval (at the shorter of the two when some have one).
pub fn poll_interval(
    selection: &Selection,
    channels: &[PushChannel],
    now_ms: i64,
    interval: Duration,
    backstop: Option<Duration>,
) -> Duration {
    let Some(backstop) = backstop else {
        return interval;
    };
    let healthy = selection
        .calendars
        .iter()
        .filter(|c| is_healthy(channels, c.slot, now_ms))
        .count();
    match healthy {
        0 => interval,
        n if n == selection.calendars.len() => backstop,
        _ => interval.min(backstop),
    }
}

/// A channel as the notification route checks it.
#[derive(Debug, Clone)]
struct Registered {
    token: TokenId,
    slot: u32,
    resource_id: String,
    secret: Secret<String>,
    expiration_ms: i64,
}

/// Why a notification was not trusted (or what it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A live channel, all three headers matching.
    Trusted,
    /// No live channel has this id.
    UnknownChannel,
    /// The resource id does not match the channel's.
    WrongResource,
    /// The channel token does not match the channel's secret.
    WrongToken,
    /// The channel expired.
    Expired,
}

impl Verdict {
    /// The label of the outcome in the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::UnknownChannel => "unknown_channel",
            Self::WrongResource => "wrong_resource",
            Self::WrongToken => "wrong_token",
            Self::Expired => "expired",
        }
    }
}

/// The live channels of every actor, by channel id: what the notification route checks
/// notifications against without a round of messages. Cheap to clone.
#[derive(Clone, Default)]
pub struct ChannelRegistry {
    channels: Arc<RwLock<HashMap<String, Registered>>>,
}

impl ChannelRegistry {
    /// Registers an open channel of `token`.
    pub fn add(&self, token: &TokenId, channel: &PushChannel) {
        let entry = Registered {
            token: token.clone(),
            slot: channel.slot,
            resource_id: channel.resource_id.clone(),
            secret: channel.secret.clone(),
            expiration_ms: channel.expiration_ms,
        };
        // Each change is one insert or removal: a poisoned lock holds consistent data.
        let mut map = self.channels.write().unwrap_or_else(|p| p.into_inner());
        map.insert(channel.id.clone(), entry);
    }

    /// Forgets a channel.
    pub fn remove(&self, channel_id: &str) {
        let mut map = self.channels.write().unwrap_or_else(|p| p.into_inner());
        map.remove(channel_id);
    }

    /// How many channels are registered.
    pub fn len(&self) -> usize {
        self.channels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks a notification's headers. Secrets and resource ids are compared in constant time;
    /// the token and slot come back only for a trusted one.
    pub fn verify(
        &self,
        channel_id: &str,
        resource_id: &str,
        token: &str,
        now_ms: i64,
    ) -> (Verdict, Option<(TokenId, u32)>) {
        let map = self.channels.read().unwrap_or_else(|p| p.into_inner());
        let Some(c) = map.get(channel_id) else {
            return (Verdict::UnknownChannel, None);
        };
        let verdict = judge(
            &c.resource_id,
            &c.secret,
            c.expiration_ms,
            resource_id,
            token,
            now_ms,
        );
        let target = (verdict == Verdict::Trusted).then(|| (c.token.clone(), c.slot));
        (verdict, target)
    }
}

/// Checks a notification against a stored channel `token` owns (on a fleet, the channel of an
/// actor on another node), as [`ChannelRegistry::verify`] checks a live one.
pub fn verify_stored(
    owner: TokenId,
    channel: &PushChannel,
    resource_id: &str,
    token: &str,
    now_ms: i64,
) -> (Verdict, Option<(TokenId, u32)>) {
    let verdict = judge(
        &channel.resource_id,
        &channel.secret,
        channel.expiration_ms,
        resource_id,
        token,
        now_ms,
    );
    let target = (verdict == Verdict::Trusted).then_some((owner, channel.slot));
    (verdict, target)
}

/// The verdict on a notification for a channel with this resource, secret and expiry; both
/// comparisons take constant time.
fn judge(
    expected_resource: &str,
    secret: &Secret<String>,
    expiration_ms: i64,
    resource_id: &str,
    token: &str,
    now_ms: i64,
) -> Verdict {
    let resource_ok: bool = expected_resource
        .as_bytes()
        .ct_eq(resource_id.as_bytes())
        .into();
    let token_ok: bool = secret.expose().as_bytes().ct_eq(token.as_bytes()).into();
    match (resource_ok, token_ok) {
        (false, _) => Verdict::WrongResource,
        (_, false) => Verdict::WrongToken,
        _ if expiration_ms <= now_ms => Verdict::Expired,
        _ => Verdict::Trusted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;

    fn ch(id: &str, slot: u32, cal: &str, opened: i64, expires: i64) -> PushChannel {
        PushChannel {
            id: id.into(),
            resource_id: format!("res-{cal}"),
            secret: Secret::new(format!("s-{id}")),
            expiration_ms: expires,
            slot,
            calendar_id: cal.into(),
            opened_ms: opened,
        }
    }

    fn two() -> Selection {
        Selection::default()
            .reselect(&["primary".to_string(), "gym".to_string()])
            .0
    }

    #[test]
    fn renewal_is_a_day_ahead_or_at_half_life() {
        assert_eq!(renew_at(&ch("a", 0, "primary", 0, 7 * DAY)), 6 * DAY);
        assert_eq!(renew_at(&ch("a", 0, "primary", 0, 60_000)), 30_000);
        assert_eq!(renew_at(&ch("a", 0, "primary", 0, 0)), 0);
    }

    #[test]
    fn every_selected_calendar_gets_a_channel_renewed_before_it_expires() {
        let s = two();
        let none = plan_channels(&s, &[], 0, |_| None);
        assert_eq!(none.open, vec![(0, "primary".into()), (1, "gym".into())]);
        let open = [
            ch("a", 0, "primary", 0, 7 * DAY),
            ch("b", 1, "gym", 0, 7 * DAY),
        ];
        assert_eq!(
            plan_channels(&s, &open, DAY, |_| None),
            ChannelPlan::default()
        );
        let due = plan_channels(&s, &open, 6 * DAY, |_| None);
        assert_eq!(due.open.len(), 2);
        assert!(
            due.stop.is_empty(),
            "the old ones stay until the new ones answer"
        );
        // Once renewed, the older channel is stopped.
        let renewed = [
            ch("a", 0, "primary", 0, 7 * DAY),
            ch("a2", 0, "primary", 6 * DAY, 13 * DAY),
            ch("b", 1, "gym", 0, 7 * DAY),
        ];
        let p = plan_channels(&s, &renewed, 6 * DAY + 1, |_| None);
        assert_eq!(
            p.stop.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["a"]
        );
        assert_eq!(p.open, vec![(1, "gym".into())]);
    }

    #[test]
    fn deselected_and_expired_channels_go_and_refused_watches_wait() {
        let s = Selection::default();
        let chans = [ch("a", 0, "primary", 0, DAY), ch("g", 1, "gym", 0, 7 * DAY)];
        let p = plan_channels(&s, &chans, 2 * DAY, |_| None);
        assert_eq!(
            p.forget.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["a"]
        );
        assert_eq!(
            p.stop.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["g"]
        );
        assert_eq!(p.open, vec![(0, "primary".into())]);
        let failed_recently = plan_channels(&s, &[], 10_000, |_| Some(5_000));
        assert!(failed_recently.open.is_empty());
        let failed_long_ago = plan_channels(&s, &[], WATCH_RETRY_MS + 5_000, |_| Some(5_000));
        assert_eq!(failed_long_ago.open.len(), 1);
    }

    #[test]
    fn healthy_calendars_poll_at_the_backstop() {
        let s = two();
        let (i, b) = (Duration::from_secs(300), Duration::from_secs(3600));
        let both = [ch("a", 0, "primary", 0, DAY), ch("b", 1, "gym", 0, DAY)];
        assert_eq!(poll_interval(&s, &both, 1, i, Some(b)), b);
        assert_eq!(poll_interval(&s, &both[..1], 1, i, Some(b)), i);
        assert_eq!(
            poll_interval(&s, &both[..1], 1, i, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(poll_interval(&s, &[], 1, i, Some(b)), i);
        assert_eq!(poll_interval(&s, &both, DAY, i, Some(b)), i, "expired");
        assert_eq!(poll_interval(&s, &both, 1, i, None), i);
    }

    #[test]
    fn notifications_are_trusted_only_with_all_three_headers_right() {
        let r = ChannelRegistry::default();
        let t = TokenId::generate();
        let c = ch("chan", 3, "gym", 0, 1_000);
        r.add(&t, &c);
        let ok = r.verify("chan", "res-gym", "s-chan", 10);
        assert_eq!(ok, (Verdict::Trusted, Some((t.clone(), 3))));
        assert_eq!(
            r.verify("other", "res-gym", "s-chan", 10).0,
            Verdict::UnknownChannel
        );
        assert_eq!(
            r.verify("chan", "res-x", "s-chan", 10).0,
            Verdict::WrongResource
        );
        assert_eq!(
            r.verify("chan", "res-gym", "s-cha", 10).0,
            Verdict::WrongToken
        );
        assert_eq!(r.verify("chan", "res-gym", "", 10).0, Verdict::WrongToken);
        assert_eq!(
            r.verify("chan", "res-gym", "s-chan", 1_000).0,
            Verdict::Expired
        );
        r.remove("chan");
        assert!(r.is_empty());
    }
}
