//! The push side of a token's actor: planning and folding its channels, the notifications the
//! front door forwards (gathered into one sync per burst), stopping channels on disconnect or
//! deselection, and the poll interval push allows.

use std::time::Duration;

use actix::prelude::*;

use super::channel_job::{self, ChannelResult};
use super::push::{self, ChannelPlan};
use super::schedule::{jitter_unit, next_poll};
use super::status::PushStatus;
use super::token_sync::{now_ms, CalendarRun, TokenSyncActor};
use crate::store::PushChannel;

/// How long notifications are gathered before their sync starts: a burst of edits (a person
/// dragging events around) gives one sync.
pub const GATHER: Duration = Duration::from_millis(500);

impl TokenSyncActor {
    fn is_push_on(&self) -> bool {
        self.deps.settings.push.is_some()
    }

    /// The run record of the calendar in `slot`, made on first use.
    pub(super) fn run_mut(&mut self, slot: u32) -> &mut CalendarRun {
        let at = match self.runs.iter().position(|r| r.slot == slot) {
            Some(at) => at,
            None => {
                self.runs.push(CalendarRun {
                    slot,
                    ..CalendarRun::default()
                });
                self.runs.len() - 1
            }
        };
        &mut self.runs[at]
    }

    /// What the next job does about the channels (nothing without push).
    pub(super) fn channel_plan(&self) -> ChannelPlan {
        if !self.is_push_on() {
            return ChannelPlan::default();
        }
        push::plan_channels(&self.selection, &self.channels, now_ms(), |slot| {
            self.runs
                .iter()
                .find(|r| r.slot == slot)
                .and_then(|r| r.watch_failure.as_ref().map(|(at, _)| *at))
        })
    }

    /// Registers the channels this actor holds, so notifications on them are trusted.
    pub(super) fn register_channels(&self) {
        for c in &self.channels {
            self.deps.channels.add(&self.token.id, c);
        }
    }

    /// Takes what a job did to the channels into the actor and the registry.
    pub(super) fn fold_channels(&mut self, result: ChannelResult) {
        for id in &result.closed {
            self.deps.channels.remove(id);
        }
        self.channels.retain(|c| !result.closed.contains(&c.id));
        for c in result.opened {
            self.deps.channels.add(&self.token.id, &c);
            self.run_mut(c.slot).watch_failure = None;
            self.channels.push(c);
        }
        let now = now_ms();
        for (slot, reason) in result.failed {
            self.run_mut(slot).watch_failure = Some((now, reason));
        }
    }

    /// The push state of the calendar in `slot`, as the status pages show it.
    pub(super) fn push_status(&self, slot: u32) -> PushStatus {
        let run = self.runs.iter().find(|r| r.slot == slot);
        let last_notification = run.and_then(|r| r.last_notification);
        if !self.is_push_on() {
            return PushStatus::off();
        }
        let now = now_ms();
        let live = self
            .channels
            .iter()
            .filter(|c| c.slot == slot && c.expiration_ms > now)
            .map(|c| c.expiration_ms)
            .max();
        let failure = run.and_then(|r| r.watch_failure.as_ref().map(|(_, why)| why.clone()));
        PushStatus::new(live, failure, last_notification)
    }

    /// The delay until the next poll: the poll interval, or the backstop when every calendar
    /// has a healthy channel; sooner when a channel is due for renewal.
    pub(super) fn next_tick(&self) -> Duration {
        let now = now_ms();
        let settings = &self.deps.settings;
        let interval = push::poll_interval(
            &self.selection,
            &self.channels,
            now,
            settings.poll_interval,
            settings.push.as_ref().map(|p| p.backstop),
        );
        let poll = next_poll(interval, jitter_unit());
        match push::next_renewal(&self.channels) {
            Some(at) if self.is_push_on() => {
                poll.min(Duration::from_millis((at - now).max(0) as u64))
            }
            _ => poll,
        }
    }

    /// Stops the channels of calendars no longer selected, at once (a deselection does not
    /// wait for the next sync). They stop taking notifications before Google is even asked.
    pub(super) fn stop_unselected_channels(&mut self, ctx: &mut Context<Self>) {
        let (gone, kept): (Vec<PushChannel>, Vec<PushChannel>) = std::mem::take(&mut self.channels)
            .into_iter()
            .partition(|c| {
                self.selection
                    .get(c.slot)
                    .is_none_or(|s| s.calendar_id != c.calendar_id)
            });
        self.channels = kept;
        self.spawn_stops(gone, ctx);
    }

    fn spawn_stops(&mut self, channels: Vec<PushChannel>, ctx: &mut Context<Self>) {
        if channels.is_empty() {
            return;
        }
        for c in &channels {
            self.deps.channels.remove(&c.id);
        }
        let (deps, token, creds) = (
            self.deps.clone(),
            self.token.id.clone(),
            (*self.creds).clone(),
        );
        ctx.spawn(
            async move {
                for c in &channels {
                    channel_job::stop_one(&deps, &token, &creds, c).await;
                }
            }
            .into_actor(self),
        );
    }

    /// Attempts to stop every channel, e.g. once Google refused the grant (the access token may
    /// still be good for this).
    pub(super) fn stop_all_channels(&mut self, ctx: &mut Context<Self>) {
        let all = std::mem::take(&mut self.channels);
        self.spawn_stops(all, ctx);
    }
}

/// Google said a calendar changed (a trusted notification): sync it soon, once per burst.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CalendarChanged {
    /// The calendar's slot.
    pub slot: u32,
}

impl Handler<CalendarChanged> for TokenSyncActor {
    type Result = ();

    fn handle(&mut self, msg: CalendarChanged, ctx: &mut Context<Self>) {
        if self.selection.get(msg.slot).is_none() {
            return;
        }
        self.run_mut(msg.slot).last_notification = Some(now_ms());
        if !self.dirty.contains(&msg.slot) {
            self.dirty.push(msg.slot);
        }
        if self.running.is_some() || self.push_timer.is_some() {
            // The running sync's end, or the pending timer, picks it up: never a queue.
            return;
        }
        self.push_timer = Some(ctx.run_later(GATHER, |act, ctx| {
            act.push_timer = None;
            act.start_notified_sync(ctx);
        }));
    }
}

/// Stops every push channel of the token at Google (before a disconnect revokes the grant,
/// while the credentials still work) and forgets them; answers when done.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopChannels;

impl Handler<StopChannels> for TokenSyncActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: StopChannels, _: &mut Context<Self>) -> Self::Result {
        let channels = std::mem::take(&mut self.channels);
        for c in &channels {
            self.deps.channels.remove(&c.id);
        }
        let (deps, token, creds) = (
            self.deps.clone(),
            self.token.id.clone(),
            (*self.creds).clone(),
        );
        Box::pin(
            async move {
                for c in &channels {
                    channel_job::stop_one(&deps, &token, &creds, c).await;
                }
            }
            .into_actor(self),
        )
    }
}
