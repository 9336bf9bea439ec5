//! The sled engine behind the store's interface: each operation is the [`SledStore`] method of
//! the same name, in the module of its kind of record.

use crate::metric::{Datapoint, MetricName};
use crate::secret::Secret;
use crate::token::{DataToken, TokenId};

use super::{
    Engine, GoogleCredentials, NewToken, PendingAuthorization, PushChannel, Selection, SledStore,
    StoreError, SyncCommit, SyncCommitStats, TimeRange,
};

impl Engine for SledStore {
    fn create_token(
        &self,
        new: NewToken,
        now: i64,
    ) -> Result<(DataToken, Secret<String>), StoreError> {
        SledStore::create_token(self, new, now)
    }

    fn find_token_by_plaintext(&self, plaintext: &str) -> Result<Option<DataToken>, StoreError> {
        SledStore::find_token_by_plaintext(self, plaintext)
    }

    fn get_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        SledStore::get_token(self, id)
    }

    fn list_tokens(&self, user: Option<&str>) -> Result<Vec<DataToken>, StoreError> {
        SledStore::list_tokens(self, user)
    }

    fn delete_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        SledStore::delete_token(self, id)
    }

    fn put_credentials(
        &self,
        token: &TokenId,
        creds: &GoogleCredentials,
    ) -> Result<(), StoreError> {
        SledStore::put_credentials(self, token, creds)
    }

    fn credentials(&self, token: &TokenId) -> Result<Option<GoogleCredentials>, StoreError> {
        SledStore::credentials(self, token)
    }

    fn connected_tokens(&self) -> Result<Vec<TokenId>, StoreError> {
        SledStore::connected_tokens(self)
    }

    fn update_credentials(
        &self,
        token: &TokenId,
        connection_id: &str,
        change: &dyn Fn(&mut GoogleCredentials),
    ) -> Result<bool, StoreError> {
        SledStore::update_credentials(self, token, connection_id, change)
    }

    fn selection(&self, token: &TokenId) -> Result<Selection, StoreError> {
        SledStore::selection(self, token)
    }

    fn put_pending_authorization(
        &self,
        state: &str,
        pending: &PendingAuthorization,
        now: i64,
    ) -> Result<(), StoreError> {
        SledStore::put_pending_authorization(self, state, pending, now)
    }

    fn take_pending_authorization(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        SledStore::take_pending_authorization(self, state, now)
    }

    fn purge_expired_authorizations(&self, now: i64) -> Result<usize, StoreError> {
        SledStore::purge_expired_authorizations(self, now)
    }

    fn put_channel(&self, token: &TokenId, channel: &PushChannel) -> Result<(), StoreError> {
        SledStore::put_channel(self, token, channel)
    }

    fn remove_channel(&self, token: &TokenId, channel_id: &str) -> Result<(), StoreError> {
        SledStore::remove_channel(self, token, channel_id)
    }

    fn channels(&self, token: &TokenId) -> Result<Vec<PushChannel>, StoreError> {
        SledStore::channels(self, token)
    }

    fn remove_channels(&self, token: &TokenId) -> Result<(), StoreError> {
        SledStore::remove_channels(self, token)
    }

    fn upsert_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        points: &[Datapoint],
    ) -> Result<(), StoreError> {
        SledStore::upsert_datapoints(self, user, metric, points)
    }

    fn read_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<Datapoint>, StoreError> {
        SledStore::read_datapoints(self, user, metric, range)
    }

    fn read_datapoints_json(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<u8>, StoreError> {
        SledStore::read_datapoints_json(self, user, metric, range)
    }

    fn list_metrics(&self, user: &str) -> Result<Vec<String>, StoreError> {
        SledStore::list_metrics(self, user)
    }

    fn delete_metric(&self, user: &str, metric: &MetricName) -> Result<usize, StoreError> {
        SledStore::delete_metric(self, user, metric)
    }

    fn commit_sync(&self, commit: &SyncCommit) -> Result<SyncCommitStats, StoreError> {
        SledStore::commit_sync(self, commit)
    }

    fn commit_syncs(&self, commits: &[SyncCommit]) -> Vec<Result<SyncCommitStats, StoreError>> {
        SledStore::commit_syncs(self, commits)
    }

    fn forget_calendar(
        &self,
        token: &TokenId,
        purge: bool,
        credentials: bool,
    ) -> Result<(), StoreError> {
        SledStore::forget_calendar(self, token, purge, credentials)
    }

    fn select_calendars(
        &self,
        token: &TokenId,
        connection_id: &str,
        ids: &[String],
    ) -> Result<Selection, StoreError> {
        SledStore::select_calendars(self, token, connection_id, ids)
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }
}
