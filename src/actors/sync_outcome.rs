//! How a finished sync changes its token's actor: each calendar's result folded into the
//! selection and the statuses, the token's state the worst of them, and the next sync planned
//! (the poll interval, or a backoff after a transient failure).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::schedule::{after_failure, jitter_unit};
use super::status::ActorState;
use super::sync_job::{CalendarOutcome, CalendarResult, Failure, JobResult, Outcome};
use super::token_sync::{now_ms, TokenSyncActor};

impl TokenSyncActor {
    pub(super) fn finish(&mut self, result: JobResult, ctx: &mut Context<Self>) {
        self.running = None;
        self.creds = result.creds;
        self.fold_channels(result.channels);
        let end = now_ms();
        self.stats.last_sync_end = Some(end);
        self.stats.last_sync_ms = self.stats.last_sync_start.map(|s| (end - s).max(0) as u64);
        let id = &self.token.id;
        let took = Duration::from_millis(self.stats.last_sync_ms.unwrap_or(0));
        let telemetry = &self.deps.telemetry;
        let never_synced = self
            .selection
            .calendars
            .iter()
            .any(|c| c.sync_token.is_none());
        match result.outcome {
            Outcome::Calendars(results) => self.finish_calendars(results, end, took, ctx),
            Outcome::NeedsReauth(reason) => {
                telemetry.sync_done("needs_reauth", never_synced, took, 0);
                log::warn!("token {id}: Google refused access ({reason}); polling stops until it is reconnected");
                let r = reason.clone();
                let marked =
                    self.deps
                        .store
                        .update_credentials(id, &self.creds.connection_id, &move |c| {
                            c.needs_reauth = Some(r.clone())
                        });
                if let Err(e) = marked {
                    log::error!("token {id}: could not record needs-reauth: {e}");
                }
                Arc::make_mut(&mut self.creds).needs_reauth = Some(reason.clone());
                self.fail(reason);
                self.phase = ActorState::NeedsReauth;
                self.stats.next_sync = None;
                // While the access token may still work: Google would notify in vain.
                self.stop_all_channels(ctx);
            }
            Outcome::Failed(failure) => {
                telemetry.sync_done("failed", never_synced, took, 0);
                self.after_failure(failure, end, ctx);
            }
            Outcome::Stale => {
                telemetry.sync_done("stale", never_synced, took, 0);
                log::info!("token {id}: connection replaced during the sync; results dropped");
                self.phase = ActorState::Stopped;
                self.stats.next_sync = None;
            }
        }
        self.publish();
        if std::mem::take(&mut self.sync_again) {
            self.start_sync(ctx);
        } else if self.push_timer.is_none() {
            // Notifications that came while this sync ran: one more sync of those calendars.
            self.start_notified_sync(ctx);
        }
    }

    /// Folds each calendar's result into the selection and the statuses; the token's state is
    /// the worst of them.
    fn finish_calendars(
        &mut self,
        results: Vec<CalendarResult>,
        end: i64,
        took: Duration,
        ctx: &mut Context<Self>,
    ) {
        let id = self.token.id.clone();
        let (mut written, mut full, mut synced) = (0, false, false);
        let mut worst: Option<Failure> = None;
        for r in results {
            let label = calendar_label(&r.calendar_id);
            let failure = match r.outcome {
                CalendarOutcome::Synced(s) => {
                    // A poll that found nothing is most polls: not worth a line at `info`.
                    let level = if s.full || s.items > 0 {
                        log::Level::Info
                    } else {
                        log::Level::Debug
                    };
                    log::log!(
                        level,
                        "token {id}{label}: {} sync done in {} ms: {} items in {} pages, {} written, {} removed, {} events hold {} datapoints",
                        if s.full { "full" } else { "incremental" },
                        self.stats.last_sync_ms.unwrap_or(0),
                        s.items,
                        s.pages,
                        s.stats.written,
                        s.stats.removed,
                        s.stats.events,
                        s.stats.datapoints
                    );
                    written += s.stats.written;
                    full |= s.full;
                    synced = true;
                    self.stats.full_syncs += u64::from(s.full);
                    Arc::make_mut(&mut self.selection).update(s.state);
                    None
                }
                CalendarOutcome::Failed(f) => {
                    log::warn!("token {id}{label}: sync failed: {}", f.error);
                    let labelled = Failure {
                        error: if label.is_empty() {
                            f.error.clone()
                        } else {
                            format!("calendar {}: {}", r.calendar_id, f.error)
                        },
                        ..f.clone()
                    };
                    worst = Some(match worst {
                        Some(w) if w.transient || !labelled.transient => w,
                        _ => labelled,
                    });
                    Some(f)
                }
                CalendarOutcome::Deselected => continue,
            };
            // A run record is kept only while there is something to show: most calendars never
            // fail, and ten thousand idle actors should not each hold one.
            match self.runs.iter_mut().find(|run| run.slot == r.slot) {
                Some(run) => run.failure = failure,
                None if failure.is_some() => self.run_mut(r.slot).failure = failure,
                None => {}
            }
        }
        let outcome = if worst.is_none() { "ok" } else { "failed" };
        self.deps.telemetry.sync_done(outcome, full, took, written);
        if synced {
            self.stats.last_success = Some(end);
        }
        match worst {
            None => {
                self.stats.syncs_ok += 1;
                self.stats.consecutive_failures = 0;
                self.stats.last_error = None;
                self.phase = ActorState::Idle;
                self.schedule(self.next_tick(), ctx);
            }
            Some(failure) => self.after_failure(failure, end, ctx),
        }
    }

    /// Backs off after a transient failure, or waits for the next poll in the error state.
    fn after_failure(&mut self, failure: Failure, end: i64, ctx: &mut Context<Self>) {
        let interval = self.deps.settings.poll_interval;
        self.fail(failure.error);
        if failure.transient {
            let delay = after_failure(
                self.stats.consecutive_failures,
                failure.retry_after,
                interval,
                jitter_unit(),
            );
            let attempt = self.stats.consecutive_failures;
            self.phase = ActorState::Backoff {
                until_ms: end + delay.as_millis() as i64,
                attempt,
            };
            self.schedule(delay, ctx);
        } else {
            self.phase = ActorState::Error;
            self.schedule(self.next_tick(), ctx);
        }
    }
}

/// How log lines name a calendar: nothing for the primary (as before several calendars),
/// ` (calendar <id>)` for the others.
fn calendar_label(calendar_id: &str) -> String {
    if calendar_id == crate::google::calendar::PRIMARY {
        String::new()
    } else {
        format!(" (calendar {calendar_id})")
    }
}
