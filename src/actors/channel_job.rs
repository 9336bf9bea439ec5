//! The push-channel part of a sync job: open the channels the actor planned before the
//! calendars are listed (so a change made during the listing is notified), and stop the old ones
//! after, once their replacements answered. Each opened channel is stored durably before it is
//! relied on; stopping is best effort (Google forgets a channel at its expiration anyway).

use base64::Engine;

use super::push::ChannelPlan;
use super::SyncDeps;
use crate::google::error::{Disposition, GoogleError};
use crate::google::push;
use crate::secret::Secret;
use crate::store::{GoogleCredentials, PushChannel};
use crate::token::TokenId;

/// What happened to a token's channels in one job.
#[derive(Debug, Default)]
pub struct ChannelResult {
    /// Channels opened (and stored).
    pub opened: Vec<PushChannel>,
    /// Calendars (slots) whose `events.watch` failed, with Google's reason.
    pub failed: Vec<(u32, String)>,
    /// Channels stopped or forgotten (and removed from the store).
    pub closed: Vec<String>,
}

fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn random_secret() -> Secret<String> {
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Opens a channel on each calendar of `plan.open`. Stops early with the error when Google
/// refuses the grant itself (the whole sync then ends in needs-reauth).
pub async fn open(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &GoogleCredentials,
    plan: &ChannelPlan,
    out: &mut ChannelResult,
) -> Result<(), GoogleError> {
    let Some(settings) = &deps.settings.push else {
        return Ok(());
    };
    for (slot, calendar_id) in &plan.open {
        let (id, secret) = (random_id(), random_secret());
        let watched = push::watch(
            &deps.http,
            &deps.settings.calendar_api_base,
            &creds.access_token,
            calendar_id,
            &id,
            &settings.address,
            &secret,
        )
        .await;
        match watched {
            Ok(opened) => {
                let channel = PushChannel {
                    id,
                    resource_id: opened.resource_id,
                    secret,
                    expiration_ms: opened.expiration_ms,
                    slot: *slot,
                    calendar_id: calendar_id.clone(),
                    opened_ms: now_ms(),
                };
                if let Err(e) = deps.store.put_channel(token, &channel) {
                    log::error!("token {token}: could not store a push channel: {e}");
                    continue;
                }
                // Trusted from now, not from the end of the job: a change made while the
                // calendars are listed is notified, and a notification the registry did not
                // know yet would be dropped, leaving the change to the backstop poll.
                deps.channels.add(token, &channel);
                deps.telemetry.channel("opened");
                log::info!(
                    "token {token}: push channel {} open on calendar {calendar_id} until {}",
                    channel.id,
                    channel.expiration_ms
                );
                out.opened.push(channel);
            }
            Err(e) if e.disposition() == Disposition::Reauth => return Err(e),
            Err(e) => {
                deps.telemetry.channel("watch_failed");
                let reason = e.summary();
                log::warn!(
                    "token {token}: events.watch on calendar {calendar_id} failed, polling instead: {reason}"
                );
                out.failed.push((*slot, reason));
            }
        }
    }
    Ok(())
}

/// Stops the channels of `plan.stop` and forgets those of `plan.forget`.
pub async fn close(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &GoogleCredentials,
    plan: &ChannelPlan,
    out: &mut ChannelResult,
) {
    // A renewed channel stops once its replacement answered; if the watch failed, it stays.
    let replaced = plan
        .replace
        .iter()
        .filter(|c| out.opened.iter().any(|o| o.slot == c.slot));
    for c in plan.stop.iter().chain(replaced) {
        stop_one(deps, token, creds, c).await;
        out.closed.push(c.id.clone());
    }
    for c in &plan.forget {
        deps.telemetry.channel("expired");
        if let Err(e) = deps.store.remove_channel(token, &c.id) {
            log::error!("token {token}: could not forget push channel {}: {e}", c.id);
        }
        out.closed.push(c.id.clone());
    }
}

/// Stops one channel at Google (best effort) and forgets it.
pub async fn stop_one(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &GoogleCredentials,
    c: &PushChannel,
) {
    let stopped = push::stop(
        &deps.http,
        &deps.settings.calendar_api_base,
        &creds.access_token,
        &c.id,
        &c.resource_id,
    )
    .await;
    match stopped {
        Ok(()) => {
            deps.telemetry.channel("stopped");
            log::info!("token {token}: push channel {} stopped", c.id);
        }
        Err(e) => {
            deps.telemetry.channel("stop_failed");
            log::warn!(
                "token {token}: stopping push channel {} failed (it expires by itself): {}",
                c.id,
                e.summary()
            );
        }
    }
    if let Err(e) = deps.store.remove_channel(token, &c.id) {
        log::error!("token {token}: could not forget push channel {}: {e}", c.id);
    }
}
