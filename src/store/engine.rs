//! The one interface the actors and routes store through, whatever the engine: sled under
//! `DATA_DIR` (the embedded default) or PostgreSQL for a fleet (issue #16).
//!
//! Its methods are the operations callers need, not a key-value API, so each engine keeps the
//! guarantees in its own way: a sync's datapoints, event index and sync token commit together; a
//! data API write is stored whole or not at all, and durable when the call returns; a pending
//! OAuth state is taken at most once. One test suite, run against every engine
//! (`engine_tests.rs`), holds them to the same behaviour.

use crate::metric::{Datapoint, MetricName};
use crate::secret::Secret;
use crate::token::{DataToken, TokenId};

use super::{
    GoogleCredentials, NewToken, PendingAuthorization, PushChannel, Selection, StoreError,
    SyncCommit, SyncCommitStats, TimeRange,
};

/// What a token's sync actor starts from: its data token, Google credentials, selected
/// calendars and push channels.
#[derive(Debug, Clone)]
pub struct ActorInputs {
    /// The data token.
    pub token: crate::token::DataToken,
    /// Its Google connection.
    pub credentials: super::GoogleCredentials,
    /// Its selected calendars and their sync state.
    pub selection: Selection,
    /// Its push channels.
    pub channels: Vec<super::PushChannel>,
}

/// What a store engine does. Every method may block on I/O: async callers run the heavy ones
/// on a blocking thread (`web::block`).
pub trait Engine: Send + Sync + 'static {
    // Data tokens.

    /// Creates a token and returns it with its plaintext, the only time the plaintext exists.
    /// A name its user already has is [`StoreError::Conflict`], never a duplicate.
    fn create_token(
        &self,
        new: NewToken,
        now: i64,
    ) -> Result<(DataToken, Secret<String>), StoreError>;
    /// Finds the token whose plaintext is `plaintext`, by its hash.
    fn find_token_by_plaintext(&self, plaintext: &str) -> Result<Option<DataToken>, StoreError>;
    /// The token with this id, if any.
    fn get_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError>;
    /// Every token, or those of one user, ordered by user then name.
    fn list_tokens(&self, user: Option<&str>) -> Result<Vec<DataToken>, StoreError>;
    /// Deletes a token, so it stops working at once; answers the deleted record.
    fn delete_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError>;

    // Google connections.

    /// Stores credentials for a token, replacing any previous connection.
    fn put_credentials(&self, token: &TokenId, creds: &GoogleCredentials)
        -> Result<(), StoreError>;
    /// The token's credentials, if connected.
    fn credentials(&self, token: &TokenId) -> Result<Option<GoogleCredentials>, StoreError>;
    /// Every connected token id.
    fn connected_tokens(&self) -> Result<Vec<TokenId>, StoreError>;
    /// Changes the credentials of the connection `connection_id` in place; does nothing (and
    /// answers false) when that connection is gone or replaced meanwhile.
    fn update_credentials(
        &self,
        token: &TokenId,
        connection_id: &str,
        change: &dyn Fn(&mut GoogleCredentials),
    ) -> Result<bool, StoreError>;
    /// The token's selected calendars with their sync state (default: the primary, never
    /// synced).
    fn selection(&self, token: &TokenId) -> Result<Selection, StoreError>;

    // Started OAuth flows.

    /// Records a started authorization under its `state`, durably before it returns (the person
    /// is about to leave for Google's consent page), purging expired ones and evicting the
    /// token's oldest beyond [`MAX_PENDING_PER_TOKEN`](super::MAX_PENDING_PER_TOKEN).
    fn put_pending_authorization(
        &self,
        state: &str,
        pending: &PendingAuthorization,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Takes the authorization started with `state`, removed in the same step, so a replayed
    /// callback finds nothing. `None` when unknown, used or expired.
    fn take_pending_authorization(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
    /// Removes expired authorizations; answers how many.
    fn purge_expired_authorizations(&self, now: i64) -> Result<usize, StoreError>;

    // Push channels.

    /// Stores a channel `events.watch` just opened, durably, so a restart keeps answering it.
    fn put_channel(&self, token: &TokenId, channel: &PushChannel) -> Result<(), StoreError>;
    /// Forgets a channel (stopped, expired, or its calendar deselected).
    fn remove_channel(&self, token: &TokenId, channel_id: &str) -> Result<(), StoreError>;
    /// The token's channels.
    fn channels(&self, token: &TokenId) -> Result<Vec<PushChannel>, StoreError>;
    /// Forgets every channel of a token.
    fn remove_channels(&self, token: &TokenId) -> Result<(), StoreError>;

    // Datapoints (the data API).

    /// Inserts or replaces points by `(timestamp, dimensions)`, whole or not at all. Of points
    /// with the same identity in one request, the last wins.
    fn upsert_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        points: &[Datapoint],
    ) -> Result<(), StoreError>;
    /// The points of one metric within `range`, sorted by timestamp, then by dimensions hash.
    fn read_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<Datapoint>, StoreError>;
    /// [`Self::read_datapoints`] as the JSON array the data API answers.
    fn read_datapoints_json(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<u8>, StoreError>;
    /// The names of the user's metrics, sorted.
    fn list_metrics(&self, user: &str) -> Result<Vec<String>, StoreError>;
    /// Removes every point of one metric of one user; answers how many were removed.
    fn delete_metric(&self, user: &str, metric: &MetricName) -> Result<usize, StoreError>;

    // Calendar syncs.

    /// Commits one calendar's sync: its datapoints, its share of the token's event index and
    /// its new sync token, all or nothing. An event another selected calendar also holds keeps
    /// its datapoints when this calendar drops it. [`StoreError::Stale`] when the connection
    /// was replaced or removed meanwhile, [`StoreError::Deselected`] when the calendar was.
    fn commit_sync(&self, commit: &SyncCommit) -> Result<SyncCommitStats, StoreError>;
    /// Commits several tokens' syncs (each token at most once), each as
    /// [`Self::commit_sync`] would; one refused commit never refuses the others.
    fn commit_syncs(&self, commits: &[SyncCommit]) -> Vec<Result<SyncCommitStats, StoreError>>;
    /// Forgets a token's calendars: its selection and event index, with `purge` the datapoints
    /// they produced, with `credentials` its Google credentials too, all or nothing.
    fn forget_calendar(
        &self,
        token: &TokenId,
        purge: bool,
        credentials: bool,
    ) -> Result<(), StoreError>;
    /// Selects exactly `ids` for the token's connection `connection_id`: calendars kept keep
    /// their state, new ones start unsynced, and the events only the dropped calendars held
    /// lose their datapoints with the dropped calendars' sync state. Answers the new selection.
    fn select_calendars(
        &self,
        token: &TokenId,
        connection_id: &str,
        ids: &[String],
    ) -> Result<Selection, StoreError>;

    // The engine itself.

    /// What the sync actors of `ids` start from, read at once: on a shared database this is a
    /// few queries instead of four round trips per token, which a node taking thousands of
    /// leases would otherwise spend on its supervisor's thread. A token deleted or disconnected
    /// meanwhile is left out, and so (logged) is one whose records do not decode.
    fn actor_inputs(&self, ids: &[TokenId]) -> Result<Vec<ActorInputs>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let inputs = (|| {
                let (Some(token), Some(credentials)) = (self.get_token(id)?, self.credentials(id)?)
                else {
                    return Ok(None);
                };
                Ok::<_, StoreError>(Some(ActorInputs {
                    token,
                    credentials,
                    selection: self.selection(id)?,
                    channels: self.channels(id)?,
                }))
            })();
            // A record that does not decode costs its own token only, not the batch.
            match inputs {
                Ok(Some(inputs)) => out.push(inputs),
                Ok(None) => {}
                Err(e) => log::warn!("token {id}: not synced: {e}"),
            }
        }
        Ok(out)
    }

    /// Whether every call waits on a database server's answer: async callers then move even a
    /// small lookup (a token by its plaintext) off their thread, which sled answers in
    /// microseconds from memory.
    fn is_remote(&self) -> bool {
        false
    }

    /// The leases of the nodes sharing this store, when it can be shared (PostgreSQL); `None`
    /// when this process is the store's only user (sled) and syncs every token.
    fn fleet(&self) -> Option<&dyn super::fleet::Fleet> {
        None
    }

    /// Makes every change so far durable; called on shutdown.
    fn flush(&self) -> Result<(), StoreError>;
}
