//! The supervisor's part in a fleet (issue #16): on a shared store it syncs only the tokens this
//! node holds leases on ([`Fleet`](crate::store::fleet::Fleet)), renews them (its own row) every
//! third of a lease, takes its share of the rest, gives back its surplus when nodes join, and stops every
//! actor when its leases may have run out (the database unreachable), resuming by itself when
//! the database answers again.
//!
//! A lease counts from the instant the renewal was *sent*, minus a margin: the database starts
//! it later than that, so the node always stops before the database would let another node take
//! over. Surplus tokens are given back due when the row just renewed expires, their actors
//! stopped at once: another node takes them only then, long after this node stopped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::status::ActorState;
use super::supervisor::SyncSupervisor;
use super::token_push::CalendarChanged;
use super::token_sync::SyncNow;
use crate::store::fleet::{Epoch, Tick, EVERY_NODE};
use crate::store::{ActorInputs, StoreError};
use crate::token::TokenId;

/// What the node's fleet work looks like from outside (readiness, admin status).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FleetState {
    /// Whether this node holds valid leases and may sync: false before its first tick and while
    /// the database cannot be reached.
    pub ready: bool,
    /// Live nodes at the last tick, this one included.
    pub live_nodes: u64,
    /// Tokens whose leases this node holds.
    pub held: u64,
    /// The last failure to reach the database, until a tick succeeds.
    pub last_error: Option<String>,
}

/// A shared view of [`FleetState`], written by the supervisor.
#[derive(Debug, Clone, Default)]
pub struct FleetView(Arc<Mutex<FleetState>>);

impl FleetView {
    /// The state now.
    pub fn get(&self) -> FleetState {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut FleetState)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Until when (this node's clock) its leases are surely valid; `None` before the first renewal
/// and once they may have run out. Shared with the syncs, which check it before every page they
/// ask for, so a node woken after its leases ran out asks Google for nothing more.
#[derive(Debug, Clone, Default)]
pub struct LeaseClock(Arc<Mutex<Option<Instant>>>);

impl LeaseClock {
    /// Whether the leases are valid now.
    pub fn is_valid(&self) -> bool {
        self.until().is_some_and(|t| Instant::now() < t)
    }

    fn until(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, until: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }
}

/// The supervisor's lease bookkeeping on a fleet.
pub(super) struct Leases {
    /// Tokens held, with the epoch their actor syncs under.
    pub(super) held: HashMap<TokenId, Epoch>,
    /// Until when the held leases are surely valid.
    clock: LeaseClock,
    /// When each token connected here was acquired: a tick sent before that cannot know it.
    acquired: HashMap<TokenId, Instant>,
    /// Tokens whose actors' inputs are being read (off this thread, in batches) to start them.
    starting: HashSet<TokenId>,
    ticking: bool,
    pub(super) view: FleetView,
}

impl Leases {
    pub(super) fn new(view: FleetView, clock: LeaseClock) -> Self {
        Self {
            held: HashMap::new(),
            clock,
            acquired: HashMap::new(),
            starting: HashSet::new(),
            ticking: false,
            view,
        }
    }
}

/// How long after registering a node first takes its share.
const REGISTERED: Duration = Duration::from_secs(1);

/// Tokens whose actors' inputs one read fetches.
const START_BATCH: usize = 500;

/// How much earlier than its lease a node considers it ended: room for clocks that run at
/// slightly different rates and for stopping the actors.
fn margin(lease: Duration) -> Duration {
    (lease / 10).max(Duration::from_millis(500))
}

impl SyncSupervisor {
    /// Starts the fleet work: a tick now, then every third of a lease, and a check every second
    /// that the leases are still valid.
    pub(super) fn start_fleet(&mut self, ctx: &mut Context<Self>) {
        let lease = self.deps.settings.node.lease;
        if let Some(fleet) = self.deps.store.fleet() {
            let mut inbox = fleet.listen(&self.deps.settings.node.id);
            ctx.add_stream(futures_util::stream::poll_fn(move |cx| inbox.poll_recv(cx)));
        }
        // Register now, take a share a second later (when nodes started together have all
        // registered), then tick every third of a lease.
        let (store, node) = (self.deps.store.clone(), self.deps.settings.node.id.clone());
        actix_web::rt::task::spawn_blocking(move || {
            if let Some(Err(e)) = store.fleet().map(|f| f.register(&node, lease)) {
                log::warn!("fleet: cannot register this node yet: {e}");
            }
        });
        ctx.run_later(REGISTERED, |act, ctx| act.fleet_tick(ctx));
        ctx.run_interval(lease / 3, |act, ctx| act.fleet_tick(ctx));
        ctx.run_interval(Duration::from_secs(1), |act, _| act.check_validity());
    }

    fn fleet_tick(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        if leases.ticking {
            return;
        }
        leases.ticking = true;
        let store = self.deps.store.clone();
        let node = self.deps.settings.node.id.clone();
        let lease = self.deps.settings.node.lease;
        let sent = Instant::now();
        let work = actix_web::rt::task::spawn_blocking(move || -> Result<Tick, StoreError> {
            match store.fleet() {
                Some(fleet) => fleet.tick(&node, lease),
                None => Err(StoreError::corrupt("the store has no fleet")),
            }
        });
        ctx.spawn(work.into_actor(self).map(move |done, act, ctx| {
            let result = done.unwrap_or_else(|e| Err(StoreError::corrupt(e.to_string())));
            act.ticked(result, sent, ctx);
        }));
    }

    fn ticked(&mut self, result: Result<Tick, StoreError>, sent: Instant, ctx: &mut Context<Self>) {
        let lease = self.deps.settings.node.lease;
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        leases.ticking = false;
        if self.shutting_down {
            return;
        }
        let tick = match result {
            Ok(tick) => tick,
            Err(e) => {
                let said = e.to_string();
                if leases.view.get().last_error.as_deref() != Some(said.as_str()) {
                    log::warn!("fleet: cannot renew this node's leases: {said}");
                }
                leases.view.update(|v| v.last_error = Some(said));
                self.check_validity();
                return;
            }
        };
        leases.clock.set(Some(sent + lease - margin(lease)));
        let was = std::mem::take(&mut leases.held);
        let mut now: HashMap<TokenId, Epoch> =
            tick.held.into_iter().map(|h| (h.token, h.epoch)).collect();
        // A token acquired while this tick was on its way is kept: the next tick renews it.
        leases.acquired.retain(|_, at| *at > sent);
        for token in leases.acquired.keys() {
            if let (Some(epoch), false) = (was.get(token), now.contains_key(token)) {
                now.insert(token.clone(), *epoch);
            }
        }
        self.deps.telemetry.lease_takeovers(tick.taken_over);
        for token in was.keys() {
            if !now.contains_key(token) {
                log::info!(
                    "token {token}: no longer held here (given back or gone); not synced here"
                );
                self.stop_actor(token);
            }
        }
        let mut to_start = Vec::new();
        for (token, epoch) in &now {
            if was.get(token).is_some_and(|e| e != epoch) {
                // Its actor commits under a lost epoch.
                self.stop_actor(token);
            }
            if self.needs_start(token) {
                to_start.push((token.clone(), *epoch));
            }
        }
        let held = now.len() as u64;
        if let Some(leases) = self.leases.as_mut() {
            leases.held = now;
            if !leases.view.get().ready {
                log::info!(
                    "fleet: node {} ready: {held} of {} tokens, {} nodes alive",
                    self.deps.settings.node.id,
                    tick.tokens,
                    tick.live_nodes
                );
            }
            leases.view.update(|v| {
                *v = FleetState {
                    ready: true,
                    live_nodes: tick.live_nodes,
                    held,
                    last_error: None,
                }
            });
        }
        self.start_held(to_start, ctx);
    }

    /// Whether a held token needs its actor (re)started: it has none, or its actor stopped
    /// because its connection changed under it. The latter is the backstop for a `Connected`
    /// message lost while this node's `LISTEN` connection was down: the actor's next commit is
    /// refused, it stops, and the next tick restarts it from what is stored.
    fn needs_start(&self, token: &TokenId) -> bool {
        !self.actors.contains_key(token)
            || self
                .deps
                .board
                .state(token)
                .is_some_and(|s| s == ActorState::Stopped.name())
    }

    /// Starts the actors of tokens just held: their inputs are read in batches on a blocking
    /// thread (thousands at once after a takeover or a start), and each actor starts only if
    /// its lease is still held with that epoch when they arrive.
    fn start_held(&mut self, tokens: Vec<(TokenId, Epoch)>, ctx: &mut Context<Self>) {
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        let tokens: Vec<(TokenId, Epoch)> = tokens
            .into_iter()
            .filter(|(t, _)| leases.starting.insert(t.clone()))
            .collect();
        for batch in tokens.chunks(START_BATCH) {
            let batch = batch.to_vec();
            let ids: Vec<TokenId> = batch.iter().map(|(t, _)| t.clone()).collect();
            let store = self.deps.store.clone();
            let read = actix_web::rt::task::spawn_blocking(move || store.actor_inputs(&ids));
            ctx.spawn(read.into_actor(self).map(move |done, act, _| {
                let inputs = match done {
                    Ok(Ok(inputs)) => inputs,
                    Ok(Err(e)) => {
                        log::warn!(
                            "fleet: cannot read {} tokens to sync them: {e}",
                            batch.len()
                        );
                        Vec::new()
                    }
                    Err(e) => {
                        log::warn!("fleet: reading tokens to sync them failed: {e}");
                        Vec::new()
                    }
                };
                act.started_held(&batch, inputs);
            }));
        }
    }

    fn started_held(&mut self, batch: &[(TokenId, Epoch)], inputs: Vec<ActorInputs>) {
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        for (token, _) in batch {
            leases.starting.remove(token);
        }
        if self.shutting_down || !leases.clock.is_valid() {
            return;
        }
        let epochs: HashMap<&TokenId, Epoch> = batch.iter().map(|(t, e)| (t, *e)).collect();
        for input in inputs {
            let id = input.token.id.clone();
            let still = epochs.get(&id).copied().filter(|e| {
                self.leases
                    .as_ref()
                    .is_some_and(|l| l.held.get(&id) == Some(e))
            });
            // A token held anew meanwhile (another epoch) starts from its own read; one whose
            // actor was started meanwhile (connected here) keeps it.
            if let (Some(epoch), true) = (still, self.needs_start(&id)) {
                self.spawn_actor(input, Some(epoch));
            }
        }
    }

    /// Stops every actor once the leases may have run out: another node may take the tokens
    /// over from then on.
    fn check_validity(&mut self) {
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        if leases.clock.is_valid() {
            return;
        }
        let ready = leases.view.get().ready;
        let held: Vec<TokenId> = leases.held.drain().map(|(t, _)| t).collect();
        leases.clock.set(None);
        leases.view.update(|v| {
            v.ready = false;
            v.held = 0;
        });
        if ready {
            log::warn!(
                "fleet: this node's leases may have run out (no renewal in time); it stops \
                 syncing {} tokens until it renews them",
                held.len()
            );
        }
        for token in &held {
            self.stop_actor(token);
        }
    }

    /// Stops syncing a token held on the fleet and forgets its lease here.
    pub(super) fn let_go(&mut self, token: &TokenId) {
        if let Some(leases) = self.leases.as_mut() {
            leases.held.remove(token);
        }
        self.stop_actor(token);
    }

    /// Takes the lease of a token just connected here; `Ok(None)` when another node holds it.
    pub(super) fn acquire(&mut self, token: &TokenId) -> Result<Option<Epoch>, String> {
        let Some(fleet) = self.deps.store.fleet() else {
            return Ok(None);
        };
        let node = &self.deps.settings.node;
        let (sent, lease) = (Instant::now(), node.lease);
        let epoch = fleet
            .acquire(&node.id, token, lease)
            .map_err(|e| e.to_string())?;
        if let (Some(epoch), Some(leases)) = (epoch, self.leases.as_mut()) {
            leases.held.insert(token.clone(), epoch);
            leases.acquired.insert(token.clone(), Instant::now());
            // Before any tick succeeded (or after the leases ran out) this is the one lease held:
            // it is valid from before it was asked for, or the validity check would stop it.
            if leases.clock.until().is_none() {
                leases.clock.set(Some(sent + lease - margin(lease)));
            }
        }
        Ok(epoch)
    }

    /// On an orderly stop: this node holds nothing more and is not ready. Its leases are given
    /// back in the database only once its actors are gone ([`leave`], from the shutdown), so no
    /// other node lists an account while a request of this one is still under way.
    pub(super) fn quit_fleet(&mut self) {
        if let Some(leases) = self.leases.as_mut() {
            leases.held.clear();
            leases.view.update(|v| v.ready = false);
        }
    }
}

/// Gives this node's leases back so the others take its tokens at once; after it, no lease call
/// of this node's succeeds (a tick still under way cannot register it again).
pub fn leave(store: &crate::store::Store, node: &str) {
    if let Some(fleet) = store.fleet() {
        if let Err(e) = fleet.leave(node) {
            log::warn!("fleet: could not hand this node's leases back: {e}");
        }
    }
}

/// What one node tells another about a token whose sync the other holds: the requests that
/// reached the wrong node, forwarded at once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum FleetMessage {
    /// The token was (re)connected: its actor restarts on the new credentials.
    Connected { token: TokenId },
    /// The token was disconnected or deleted: its actor stops.
    Disconnected { token: TokenId },
    /// Someone asked for a sync now.
    SyncNow { token: TokenId },
    /// Google notified about one of the token's calendars.
    Notified { token: TokenId, slot: u32 },
}

impl SyncSupervisor {
    /// Sends `message` to `to` (a node, or every node); a failure is logged: the leases' ticks
    /// and the next poll repair what a lost message would have done sooner.
    pub(super) fn tell(&self, to: &str, message: &FleetMessage) {
        let Some(fleet) = self.deps.store.fleet() else {
            return;
        };
        let sent = serde_json::to_string(message)
            .map_err(|e| e.to_string())
            .and_then(|m| fleet.tell(to, &m).map_err(|e| e.to_string()));
        if let Err(e) = sent {
            log::warn!("fleet: could not tell {to} about {message:?}: {e}");
        }
    }

    /// Forwards `message` to the node that holds `token`'s lease, when another does; answers
    /// whether one did.
    pub(super) fn forward(&self, token: &TokenId, message: FleetMessage) -> bool {
        let Some(fleet) = self.deps.store.fleet() else {
            return false;
        };
        match fleet.owner(token) {
            Ok(Some(owner)) if owner != self.deps.settings.node.id => {
                self.tell(&owner, &message);
                true
            }
            Ok(_) => false,
            Err(e) => {
                log::warn!("fleet: cannot find the node syncing token {token}: {e}");
                false
            }
        }
    }

    /// Tells every node that a token is gone.
    pub(super) fn tell_everyone_gone(&self, token: &TokenId) {
        if self.leases.is_some() {
            self.tell(
                EVERY_NODE,
                &FleetMessage::Disconnected {
                    token: token.clone(),
                },
            );
        }
    }
}

impl StreamHandler<String> for SyncSupervisor {
    fn handle(&mut self, message: String, _: &mut Context<Self>) {
        let message: FleetMessage = match serde_json::from_str(&message) {
            Ok(m) => m,
            Err(e) => {
                log::warn!("fleet: a message that does not parse ({e}) was dropped");
                return;
            }
        };
        if self.shutting_down {
            return;
        }
        let epoch = |s: &Self, t: &TokenId| s.leases.as_ref().and_then(|l| l.held.get(t).copied());
        match message {
            FleetMessage::Connected { token } => {
                if let Some(e) = epoch(self, &token) {
                    if let Err(why) = self.start_actor(&token, Some(e)) {
                        log::warn!("token {token}: not synced: {why}");
                    }
                }
            }
            FleetMessage::Disconnected { token } => {
                if self.actors.contains_key(&token) {
                    self.let_go(&token);
                }
            }
            FleetMessage::SyncNow { token } => {
                if let Some(actor) = self.actors.get(&token) {
                    actor.do_send(SyncNow);
                }
            }
            FleetMessage::Notified { token, slot } => {
                if let Some(actor) = self.actors.get(&token) {
                    actor.do_send(CalendarChanged { slot });
                }
            }
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The subscription ends with the store; the supervisor outlives neither.
    }
}
