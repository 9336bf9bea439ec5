//! `SyncSupervisor`: starts one `TokenSyncActor` per connected token at start-up (on a fleet,
//! per token this node holds the lease of: [`lease`](super::lease)), and starts, replaces and
//! stops them on messages from the HTTP front door.

use std::collections::HashMap;

use actix::prelude::*;

use super::calendar_selection::{
    elsewhere, CalendarListing, ListCalendars, SelectCalendars, SelectionError,
};
use super::lease::{FleetMessage, FleetView, Leases};
use super::token_push::CalendarChanged;
use super::token_sync::{StopSync, SyncNow, SyncRefused, TokenSyncActor};
use super::SyncDeps;
use crate::store::fleet::Epoch;
use crate::store::ActorInputs;
use crate::token::TokenId;

/// The supervisor of all sync actors.
pub struct SyncSupervisor {
    pub(super) deps: SyncDeps,
    pub(super) actors: HashMap<TokenId, Addr<TokenSyncActor>>,
    pub(super) shutting_down: bool,
    /// On a shared store: the leases this node holds.
    pub(super) leases: Option<Leases>,
}

impl SyncSupervisor {
    /// A supervisor over the tokens connected in `deps.store` (on a fleet, those this node
    /// holds leases on; `view` shows how that goes).
    pub fn new(deps: SyncDeps, view: FleetView) -> Self {
        let leases = deps
            .lease_clock
            .clone()
            .map(|clock| Leases::new(view, clock));
        Self {
            deps,
            actors: HashMap::new(),
            shutting_down: false,
            leases,
        }
    }

    pub(super) fn stop_actor(&mut self, token: &TokenId) {
        if let Some(addr) = self.actors.remove(token) {
            // Dropping the last address right after the stop message means the actix supervisor
            // sees no one left to restart the actor for.
            addr.do_send(StopSync);
        }
        self.deps.board.remove(token);
    }

    /// Starts (or restarts) a token's actor; its commits carry `fence`, its lease's epoch.
    pub(super) fn start_actor(&mut self, id: &TokenId, fence: Option<Epoch>) -> Result<(), String> {
        let inputs = self
            .deps
            .store
            .actor_inputs(std::slice::from_ref(id))
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("the data token no longer exists or has no Google connection")?;
        self.spawn_actor(inputs, fence);
        Ok(())
    }

    /// Starts (or restarts) the actor of a token whose inputs were read.
    pub(super) fn spawn_actor(&mut self, inputs: ActorInputs, fence: Option<Epoch>) {
        let id = inputs.token.id.clone();
        self.stop_actor(&id);
        let actor = TokenSyncActor::new(
            self.deps.clone(),
            inputs.token,
            inputs.credentials,
            inputs.selection,
            inputs.channels,
            fence,
        );
        let addr = actix::Supervisor::start(move |_| actor);
        self.actors.insert(id, addr);
    }
}

impl Actor for SyncSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.leases.is_some() {
            self.start_fleet(ctx);
            return;
        }
        let tokens = match self.deps.store.connected_tokens() {
            Ok(t) => t,
            Err(e) => {
                log::error!("sync supervisor: cannot list connected tokens: {e}");
                return;
            }
        };
        let mut started = 0;
        // In batches, so the inputs on their way to the actors stay few.
        for batch in tokens.chunks(500) {
            match self.deps.store.actor_inputs(batch) {
                Ok(inputs) => {
                    started += inputs.len();
                    for input in inputs {
                        self.spawn_actor(input, None);
                    }
                }
                Err(e) => log::error!("sync supervisor: cannot read connected tokens: {e}"),
            }
        }
        log::info!(
            "sync supervisor: started {started} of {} connected tokens",
            tokens.len()
        );
    }
}

/// A token was connected or reconnected: start its actor, or replace it so it picks up the new
/// credentials, and sync at once.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Connected(pub TokenId);

impl Handler<Connected> for SyncSupervisor {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: Connected, _: &mut Context<Self>) -> Self::Result {
        if self.shutting_down {
            return Err("shutting down".into());
        }
        if self.leases.is_none() {
            return self.start_actor(&msg.0, None);
        }
        match self.acquire(&msg.0)? {
            Some(epoch) => self.start_actor(&msg.0, Some(epoch)),
            None => {
                // Another node syncs it: it restarts the actor on the new credentials.
                self.forward(
                    &msg.0,
                    FleetMessage::Connected {
                        token: msg.0.clone(),
                    },
                );
                Ok(())
            }
        }
    }
}

/// A token was disconnected or deleted: stop its actor; no further Google request for it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnected(pub TokenId);

impl Handler<Disconnected> for SyncSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Disconnected, _: &mut Context<Self>) {
        self.let_go(&msg.0);
        self.tell_everyone_gone(&msg.0);
    }
}

/// Why `SyncNow` for a token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyncNowError {
    /// No actor for this token (not connected, unknown).
    #[error("no sync actor for this token")]
    NotFound,
    /// The actor refused.
    #[error(transparent)]
    Refused(#[from] SyncRefused),
}

/// Asks a token's actor to sync now.
#[derive(Message)]
#[rtype(result = "Result<(), SyncNowError>")]
pub struct SyncTokenNow(pub TokenId);

impl Handler<SyncTokenNow> for SyncSupervisor {
    type Result = ResponseFuture<Result<(), SyncNowError>>;

    fn handle(&mut self, msg: SyncTokenNow, _: &mut Context<Self>) -> Self::Result {
        let addr = self.actors.get(&msg.0).cloned();
        if addr.is_none()
            && self.forward(
                &msg.0,
                FleetMessage::SyncNow {
                    token: msg.0.clone(),
                },
            )
        {
            return Box::pin(async { Ok(()) });
        }
        Box::pin(async move {
            let addr = addr.ok_or(SyncNowError::NotFound)?;
            addr.send(SyncNow)
                .await
                .map_err(|_| SyncNowError::NotFound)?
                .map_err(SyncNowError::from)
        })
    }
}

/// The actor of a token, for the messages the front door sends it directly (listing and
/// selecting calendars); `None` when the token has no actor.
#[derive(Message)]
#[rtype(result = "Option<Addr<TokenSyncActor>>")]
pub struct ActorOf(pub TokenId);

impl Handler<ActorOf> for SyncSupervisor {
    type Result = Option<Addr<TokenSyncActor>>;

    fn handle(&mut self, msg: ActorOf, _: &mut Context<Self>) -> Self::Result {
        self.actors.get(&msg.0).cloned()
    }
}

/// A token's calendars, listed or (with `select`) selected: by its actor here, or on a fleet from
/// this node when another node syncs the token (which then restarts its actor on the new
/// selection). `None` when the token has no Google connection.
#[derive(Message)]
#[rtype(result = "Option<Result<CalendarListing, SelectionError>>")]
pub struct Calendars {
    /// The data token.
    pub token: TokenId,
    /// The calendars to select; `None` lists.
    pub select: Option<Vec<String>>,
}

impl Handler<Calendars> for SyncSupervisor {
    type Result = ResponseActFuture<Self, Option<Result<CalendarListing, SelectionError>>>;

    fn handle(&mut self, msg: Calendars, _: &mut Context<Self>) -> Self::Result {
        let gone = |e: MailboxError| SelectionError::Store(e.to_string());
        if let Some(actor) = self.actors.get(&msg.token).cloned() {
            return Box::pin(
                async move {
                    Some(match msg.select {
                        None => actor
                            .send(ListCalendars)
                            .await
                            .map_err(gone)
                            .and_then(|r| r),
                        Some(ids) => actor
                            .send(SelectCalendars(ids))
                            .await
                            .map_err(gone)
                            .and_then(|r| r),
                    })
                }
                .into_actor(self),
            );
        }
        let creds = match self.leases.is_some() {
            true => self.deps.store.credentials(&msg.token).ok().flatten(),
            false => None,
        };
        let Some(creds) = creds else {
            return Box::pin(fut::ready(None));
        };
        let selecting = msg.select.is_some();
        let token = msg.token.clone();
        let work = elsewhere(self.deps.clone(), msg.token, creds, msg.select);
        Box::pin(work.into_actor(self).map(move |result, act, _| {
            if selecting && result.is_ok() {
                // The owner's actor rereads its selection.
                act.forward(
                    &token,
                    FleetMessage::Connected {
                        token: token.clone(),
                    },
                );
            }
            Some(result)
        }))
    }
}

/// A trusted push notification about one of a token's calendars; the actor gathers a burst
/// into one sync. Dropped when the token has no actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notified {
    /// The data token.
    pub token: TokenId,
    /// The calendar's slot.
    pub slot: u32,
}

impl Handler<Notified> for SyncSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Notified, _: &mut Context<Self>) {
        match self.actors.get(&msg.token) {
            Some(addr) => addr.do_send(CalendarChanged { slot: msg.slot }),
            None => {
                let message = FleetMessage::Notified {
                    token: msg.token.clone(),
                    slot: msg.slot,
                };
                self.forward(&msg.token, message);
            }
        }
    }
}

/// Stops every actor and then the supervisor: no new sync starts after this.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownSync;

impl Handler<ShutdownSync> for SyncSupervisor {
    type Result = ();

    fn handle(&mut self, _: ShutdownSync, ctx: &mut Context<Self>) {
        self.shutting_down = true;
        let ids: Vec<TokenId> = self.actors.keys().cloned().collect();
        for id in ids {
            self.stop_actor(&id);
        }
        self.quit_fleet();
        ctx.stop();
    }
}
