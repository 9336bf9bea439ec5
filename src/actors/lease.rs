//! The supervisor's part in a fleet (issue #16): on a shared store it syncs only the tokens this
//! node holds leases on ([`Fleet`](crate::store::fleet::Fleet)), renews them every third of a
//! lease, takes its share of the rest, gives back its surplus when nodes join, and stops every
//! actor when its leases may have run out (the database unreachable), resuming by itself when
//! the database answers again.
//!
//! A lease counts from the instant the renewal was *sent*, minus a margin: the database starts
//! it later than that, so the node always stops before the database would let another node take
//! over. Surplus tokens are released with their expiry just renewed and their actors stopped at
//! once: another node takes them only when that expiry has passed, long after this node stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::supervisor::SyncSupervisor;
use crate::store::fleet::{Epoch, Tick};
use crate::store::StoreError;
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

/// The supervisor's lease bookkeeping on a fleet.
pub(super) struct Leases {
    /// Tokens held, with the epoch their actor syncs under.
    pub(super) held: HashMap<TokenId, Epoch>,
    /// Until when (this node's clock) the held leases are surely valid.
    valid_until: Option<Instant>,
    ticking: bool,
    pub(super) view: FleetView,
}

impl Leases {
    pub(super) fn new(view: FleetView) -> Self {
        Self {
            held: HashMap::new(),
            valid_until: None,
            ticking: false,
            view,
        }
    }
}

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
        self.fleet_tick(ctx);
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
        ctx.spawn(work.into_actor(self).map(move |done, act, _| {
            let result = done.unwrap_or_else(|e| Err(StoreError::corrupt(e.to_string())));
            act.ticked(result, sent);
        }));
    }

    fn ticked(&mut self, result: Result<Tick, StoreError>, sent: Instant) {
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
        leases.valid_until = Some(sent + lease - margin(lease));
        let was = std::mem::take(&mut leases.held);
        let now: HashMap<TokenId, Epoch> =
            tick.held.into_iter().map(|h| (h.token, h.epoch)).collect();
        self.deps.telemetry.lease_takeovers(tick.taken_over);
        for token in was.keys() {
            if !now.contains_key(token) {
                log::info!(
                    "token {token}: no longer held here (given back or gone); not synced here"
                );
                self.stop_actor(token);
            }
        }
        for (token, epoch) in &now {
            if was.get(token) != Some(epoch) || !self.actors.contains_key(token) {
                if let Err(e) = self.start_actor(token, Some(*epoch)) {
                    log::warn!("token {token}: not synced: {e}");
                }
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
    }

    /// Stops every actor once the leases may have run out: another node may take the tokens
    /// over from then on.
    fn check_validity(&mut self) {
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        if leases.valid_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let ready = leases.view.get().ready;
        let held: Vec<TokenId> = leases.held.drain().map(|(t, _)| t).collect();
        leases.valid_until = None;
        leases.view.update(|v| {
            v.ready = false;
            v.held = 0;
        });
        if ready {
            log::warn!(
                "fleet: this node's leases may have run out; it stops syncing {} tokens until \
                 the database answers again",
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
        let epoch = fleet
            .acquire(&node.id, token, node.lease)
            .map_err(|e| e.to_string())?;
        if let (Some(epoch), Some(leases)) = (epoch, self.leases.as_mut()) {
            leases.held.insert(token.clone(), epoch);
        }
        Ok(epoch)
    }

    /// On an orderly stop: lets this node's leases expire now, so the others take over at once.
    pub(super) fn leave_fleet(&mut self) {
        let Some(leases) = self.leases.as_mut() else {
            return;
        };
        leases.held.clear();
        leases.view.update(|v| v.ready = false);
        if let Some(fleet) = self.deps.store.fleet() {
            if let Err(e) = fleet.leave(&self.deps.settings.node.id) {
                log::warn!("fleet: could not hand this node's leases back: {e}");
            }
        }
    }
}
