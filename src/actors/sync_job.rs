//! One sync of one token, as plain async code: refresh the access token if needed, then sync
//! each selected calendar in turn ([`calendar_sync`](super::calendar_sync)), each with its own
//! commit. The actor around it only schedules it and folds its result into its state.
//!
//! A calendar that fails (gone, access lost, rate-limited) does not stop the others; a refused
//! grant or a replaced connection stops the whole sync, since no calendar can go on with it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::calendar_sync::{sync_calendar, CalendarSynced, Target};
use super::channel_job::{self, ChannelResult};
use super::push::ChannelPlan;
use super::schedule::{backoff_delay, jitter_unit, MAX_IN_SYNC_DELAY};
use super::SyncDeps;
use crate::google::calendar_list::{fetch_calendar_list, CalendarListEntry};
use crate::google::error::{Disposition, GoogleError};
use crate::google::oauth;
use crate::store::fleet::Epoch;
use crate::store::{GoogleCredentials, Selection};
use crate::token::{now_secs, TokenId};

pub use super::calendar_sync::FULL_RESYNC_AFTER_SECS;

/// Refresh the access token when it expires within this margin.
pub const REFRESH_MARGIN_SECS: i64 = 60;

/// What a sync starts from.
pub struct JobInput {
    /// The token synced.
    pub token_id: TokenId,
    /// Its user.
    pub user: String,
    /// Its credentials as the actor holds them.
    pub creds: Arc<GoogleCredentials>,
    /// Its selected calendars as stored.
    pub selection: Arc<Selection>,
    /// The slots of the calendars to list; `None` lists every selected one.
    pub scope: Option<Vec<u32>>,
    /// The push channels to open before the listing and to stop after it.
    pub channels: ChannelPlan,
    /// The epoch of the lease this node syncs the token under (on a fleet); its commits carry it.
    pub fence: Option<Epoch>,
}

/// How one calendar's sync ended.
#[derive(Debug, Clone)]
pub enum CalendarOutcome {
    /// Committed.
    Synced(CalendarSynced),
    /// Failed; nothing was committed and its stored sync token is unchanged.
    Failed(Failure),
    /// The calendar was deselected while it synced; its results were dropped.
    Deselected,
}

/// A failed sync, with what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// A person-readable reason.
    pub error: String,
    /// Transient (retry soon) or permanent (error state until the next poll).
    pub transient: bool,
    /// Google's `Retry-After`, if it gave one.
    pub retry_after: Option<Duration>,
    /// Google no longer has the calendar (404): deleted, or no longer shared.
    pub gone: bool,
}

impl Failure {
    fn from_google(e: &GoogleError) -> Self {
        let gone = matches!(e, GoogleError::Api { status: 404, .. });
        let error = if gone {
            "Google no longer has this calendar (deleted, or no longer shared with the account); \
             its datapoints stay until it is deselected"
                .to_string()
        } else {
            e.summary()
        };
        match e.disposition() {
            Disposition::Retry { after } => Self {
                error,
                transient: true,
                retry_after: after,
                gone,
            },
            _ => Self {
                error,
                transient: false,
                retry_after: None,
                gone,
            },
        }
    }
}

/// One calendar's result.
#[derive(Debug, Clone)]
pub struct CalendarResult {
    /// Its slot in the selection.
    pub slot: u32,
    /// Its id.
    pub calendar_id: String,
    /// How its sync ended.
    pub outcome: CalendarOutcome,
}

/// How a token's sync ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every selected calendar was tried; each has its own result.
    Calendars(Vec<CalendarResult>),
    /// Google refused the grant (or a scope is missing): reconnect needed.
    NeedsReauth(String),
    /// The access token could not be refreshed; no calendar was tried.
    Failed(Failure),
    /// The connection was replaced or removed while the sync ran; its results were dropped.
    Stale,
}

/// The result: the outcome plus the credentials as they are now (maybe refreshed).
pub struct JobResult {
    /// How it ended.
    pub outcome: Outcome,
    /// Credentials after the sync.
    pub creds: Arc<GoogleCredentials>,
    /// What happened to the token's push channels.
    pub channels: ChannelResult,
}

/// Why a sync (or a call on its behalf) stopped.
pub(super) enum Stop {
    Google(GoogleError),
    Stale,
    Deselected,
    Store(String),
}

impl From<GoogleError> for Stop {
    fn from(e: GoogleError) -> Self {
        Self::Google(e)
    }
}

/// Runs one sync.
pub async fn run(deps: SyncDeps, input: JobInput) -> JobResult {
    let JobInput {
        token_id,
        user,
        mut creds,
        selection,
        scope,
        channels: plan,
        fence,
    } = input;
    let mut channels = ChannelResult::default();
    if creds.access_expires_at - now_secs() < REFRESH_MARGIN_SECS {
        if let Err(stop) = refresh(&deps, &token_id, Arc::make_mut(&mut creds)).await {
            let outcome = token_stop(stop);
            return JobResult {
                outcome,
                creds,
                channels,
            };
        }
    }
    // Channels open before the listing, so a change made while it runs is notified.
    if let Err(e) = channel_job::open(&deps, &token_id, &creds, &plan, &mut channels).await {
        return JobResult {
            outcome: token_stop(e.into()),
            creds,
            channels,
        };
    }
    let target = Target {
        token: &token_id,
        user: &user,
        fence,
    };
    let mut refreshed_after_401 = false;
    let mut results = Vec::with_capacity(selection.calendars.len());
    let listed = selection
        .calendars
        .iter()
        .filter(|c| scope.as_ref().is_none_or(|slots| slots.contains(&c.slot)));
    for state in listed {
        let synced =
            sync_calendar(&deps, &target, &mut creds, state, &mut refreshed_after_401).await;
        let outcome = match synced {
            Ok(s) => CalendarOutcome::Synced(s),
            Err(Stop::Deselected) => CalendarOutcome::Deselected,
            Err(Stop::Store(error)) => CalendarOutcome::Failed(Failure {
                error,
                transient: true,
                retry_after: None,
                gone: false,
            }),
            Err(Stop::Google(e)) if e.disposition() != Disposition::Reauth => {
                CalendarOutcome::Failed(Failure::from_google(&e))
            }
            Err(stop) => {
                let outcome = token_stop(stop);
                return JobResult {
                    outcome,
                    creds,
                    channels,
                };
            }
        };
        results.push(CalendarResult {
            slot: state.slot,
            calendar_id: state.calendar_id.clone(),
            outcome,
        });
    }
    // Old channels stop only now that their replacements answered.
    channel_job::close(&deps, &token_id, &creds, &plan, &mut channels).await;
    JobResult {
        outcome: Outcome::Calendars(results),
        creds,
        channels,
    }
}

/// The outcome of a stop that ends the whole token's sync.
fn token_stop(stop: Stop) -> Outcome {
    match stop {
        Stop::Stale => Outcome::Stale,
        Stop::Google(e) if e.disposition() == Disposition::Reauth => {
            Outcome::NeedsReauth(e.summary())
        }
        Stop::Google(e) => Outcome::Failed(Failure::from_google(&e)),
        Stop::Deselected | Stop::Store(_) => Outcome::Failed(Failure {
            error: "the sync could not be stored".into(),
            transient: true,
            retry_after: None,
            gone: false,
        }),
    }
}

/// Why the calendar list could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ListFailure {
    /// Google refused the grant: reconnect needed.
    #[error("{0}")]
    NeedsReauth(String),
    /// Google failed or answered something else.
    #[error("{0}")]
    Google(String),
    /// The connection was replaced or removed meanwhile.
    #[error("the Google connection changed meanwhile")]
    Stale,
}

/// The account's calendars, with a refresh first when the access token is about to expire and
/// one more after a 401.
pub async fn calendar_list(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &mut GoogleCredentials,
) -> Result<Vec<CalendarListEntry>, ListFailure> {
    let fail = |stop: Stop| match stop {
        Stop::Stale => ListFailure::Stale,
        Stop::Google(e) if e.disposition() == Disposition::Reauth => {
            ListFailure::NeedsReauth(e.summary())
        }
        Stop::Google(e) => ListFailure::Google(e.summary()),
        Stop::Deselected | Stop::Store(_) => ListFailure::Google("store failure".into()),
    };
    if creds.access_expires_at - now_secs() < REFRESH_MARGIN_SECS {
        refresh(deps, token, creds).await.map_err(fail)?;
    }
    let base = &deps.settings.calendar_api_base;
    match fetch_calendar_list(&deps.http, base, &creds.access_token).await {
        Err(e) if e.disposition() == Disposition::Refresh => {
            refresh(deps, token, creds).await.map_err(fail)?;
            fetch_calendar_list(&deps.http, base, &creds.access_token)
                .await
                .map_err(|e| fail(e.into()))
        }
        other => other.map_err(|e| fail(e.into())),
    }
}

/// Refreshes the access token (retrying transient failures) and stores it for the connection.
pub(super) async fn refresh(
    deps: &SyncDeps,
    token: &TokenId,
    creds: &mut GoogleCredentials,
) -> Result<(), Stop> {
    let started = Instant::now();
    let mut attempt = 0;
    let grant = loop {
        let result = oauth::refresh(
            &deps.http,
            &deps.google,
            &deps.settings.redirect_uri(),
            &creds.refresh_token,
            now_secs(),
        )
        .await;
        deps.telemetry.refresh(result.is_ok());
        match result {
            Ok(g) => break g,
            Err(e) => match e.disposition() {
                Disposition::Retry { after } if attempt < deps.settings.max_retries => {
                    attempt += 1;
                    actix_web::rt::time::sleep(backoff_delay(
                        attempt,
                        after,
                        MAX_IN_SYNC_DELAY,
                        jitter_unit(),
                    ))
                    .await;
                }
                _ => return Err(e.into()),
            },
        }
    };
    creds.access_token = grant.access_token;
    creds.access_expires_at = grant.expires_at;
    if let Some(r) = grant.refresh_token {
        creds.refresh_token = r;
    }
    creds.updated_at = now_secs();
    let updated = creds.clone();
    let stored = deps
        .store
        .update_credentials(token, &creds.connection_id, &move |c| {
            c.access_token = updated.access_token.clone();
            c.access_expires_at = updated.access_expires_at;
            c.refresh_token = updated.refresh_token.clone();
            c.updated_at = updated.updated_at;
        })
        .map_err(|e| {
            Stop::Google(GoogleError::Protocol(format!(
                "could not store refreshed credentials: {e}"
            )))
        })?;
    if !stored {
        return Err(Stop::Stale);
    }
    log::info!(
        "token {token}: access token refreshed in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}
