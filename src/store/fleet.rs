//! Several nodes on one database (issue #16): who syncs which token. Only an engine that nodes
//! share has a fleet (PostgreSQL); on sled the one process syncs every token.
//!
//! Each connected token's sync belongs to one node through a *lease*: a row with the owner and
//! an *epoch* taken from a sequence at every acquisition, so no two holders ever share one. A
//! lease lasts while its owner's own row is unexpired (in the database's clock): a node renews
//! that one row, whatever number of leases it holds. A sync commit carries its epoch and is refused unless the lease
//! still has it ([`SyncCommit::fence`](super::SyncCommit::fence)), so a node that lost its lease
//! while paused or partitioned can never commit. Correctness rests on those rows and
//! transactions, not on clocks agreeing: a node measures its own lease from before it asked for
//! the renewal, so it always believes its lease ends before the database does.

use std::time::Duration;

use crate::token::TokenId;

use super::StoreError;

/// A lease's epoch: unique over all acquisitions of all tokens.
pub type Epoch = i64;

/// One token this node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The token.
    pub token: TokenId,
    /// The epoch of this node's lease on it.
    pub epoch: Epoch,
}

/// What one [`Fleet::tick`] found and did.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    /// Every token this node holds after the tick, renewed for the lease's length.
    pub held: Vec<Held>,
    /// Of those, how many were taken over from another node's expired lease.
    pub taken_over: u64,
    /// Leases released because the node held more than its share.
    pub released: u64,
    /// Nodes alive (their rows unexpired), this one included.
    pub live_nodes: u64,
    /// Connected tokens in all.
    pub tokens: u64,
}

/// A node as the fleet sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct NodeStatus {
    /// Its `NODE_ID`.
    pub id: String,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub heartbeat_age_ms: i64,
    /// Whether it is alive: its row unexpired.
    pub live: bool,
    /// Leases it holds (none once it is not alive).
    pub leases: i64,
}

/// The leases of a fleet of nodes sharing one store.
pub trait Fleet: Send + Sync {
    /// Announces `node` alive (renewing whatever it holds) without taking anything: a node
    /// registers first and takes its share a moment later, so nodes started together count
    /// each other and split the tokens at once, instead of the first taking them all.
    fn register(&self, node: &str, lease: Duration) -> Result<(), StoreError>;
    /// Renews `node`'s row (and so every lease it holds); beyond its share (the connected
    /// tokens over the live nodes, rounded up) it gives the rest back, due when the renewed row
    /// expires; below it, it takes unleased tokens, those given back and due, and those of
    /// expired nodes. Answers what the node holds now: the caller syncs exactly those.
    fn tick(&self, node: &str, lease: Duration) -> Result<Tick, StoreError>;
    /// Takes the lease of one token (just connected here) if it is free or takeable, or keeps
    /// it if `node` holds it (renewing `node`'s row either way); `None` when another node
    /// holds it.
    fn acquire(
        &self,
        node: &str,
        token: &TokenId,
        lease: Duration,
    ) -> Result<Option<Epoch>, StoreError>;
    /// Who holds a token's lease now, if anyone.
    fn owner(&self, token: &TokenId) -> Result<Option<String>, StoreError>;
    /// Every node that has announced itself, alive or not.
    fn nodes(&self, lease: Duration) -> Result<Vec<NodeStatus>, StoreError>;
    /// Forgets `node`'s row and gives its leases back due now, on an orderly stop, so the
    /// others take over without waiting for a lease to run out; no lease call for `node`
    /// succeeds afterwards.
    fn leave(&self, node: &str) -> Result<(), StoreError>;
    /// The stored push channel with this id and the token it belongs to: a notification may
    /// reach a node other than the one whose actor opened the channel.
    fn channel(
        &self,
        channel_id: &str,
    ) -> Result<Option<(TokenId, super::PushChannel)>, StoreError>;
    /// The database's latency as this node sees it, for `/metrics`.
    fn latency(&self) -> prometheus::Histogram;
    /// Sends `message` to the node `to` ([`EVERY_NODE`] for all), through the database, so a
    /// request that reached one node reaches the node that syncs its token at once.
    fn tell(&self, to: &str, message: &str) -> Result<(), StoreError>;
    /// The messages for `node` (and for every node) as they arrive, until the receiver is
    /// dropped; the subscription reconnects by itself after the database went away (messages
    /// sent meanwhile are lost: the leases' ticks repair what matters).
    fn listen(&self, node: &str) -> tokio::sync::mpsc::UnboundedReceiver<String>;
}

/// The address of a message for every node ([`Fleet::tell`]).
pub const EVERY_NODE: &str = "*";
