//! Each engine's operations are inherent methods of the same names and signatures, in the
//! modules of their kinds of record; [`engine_by_inherent_methods`] makes them its [`Engine`]
//! implementation, so the interface is spelled out once.

/// Implements [`Engine`](super::Engine) for `$ty` by calling its inherent methods of the same
/// names.
macro_rules! engine_by_inherent_methods {
    ($ty:ty $(, $extra:item)* $(,)?) => {
        impl $crate::store::Engine for $ty {
            $($extra)*

            fn create_token(
                &self,
                new: $crate::store::NewToken,
                now: i64,
            ) -> Result<
                ($crate::token::DataToken, $crate::secret::Secret<String>),
                $crate::store::StoreError,
            > {
                <$ty>::create_token(self, new, now)
            }

            fn find_token_by_plaintext(
                &self,
                plaintext: &str,
            ) -> Result<Option<$crate::token::DataToken>, $crate::store::StoreError> {
                <$ty>::find_token_by_plaintext(self, plaintext)
            }

            fn get_token(
                &self,
                id: &$crate::token::TokenId,
            ) -> Result<Option<$crate::token::DataToken>, $crate::store::StoreError> {
                <$ty>::get_token(self, id)
            }

            fn list_tokens(
                &self,
                user: Option<&str>,
            ) -> Result<Vec<$crate::token::DataToken>, $crate::store::StoreError> {
                <$ty>::list_tokens(self, user)
            }

            fn delete_token(
                &self,
                id: &$crate::token::TokenId,
            ) -> Result<Option<$crate::token::DataToken>, $crate::store::StoreError> {
                <$ty>::delete_token(self, id)
            }

            fn put_credentials(
                &self,
                token: &$crate::token::TokenId,
                creds: &$crate::store::GoogleCredentials,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::put_credentials(self, token, creds)
            }

            fn credentials(
                &self,
                token: &$crate::token::TokenId,
            ) -> Result<Option<$crate::store::GoogleCredentials>, $crate::store::StoreError> {
                <$ty>::credentials(self, token)
            }

            fn connected_tokens(
                &self,
            ) -> Result<Vec<$crate::token::TokenId>, $crate::store::StoreError> {
                <$ty>::connected_tokens(self)
            }

            fn update_credentials(
                &self,
                token: &$crate::token::TokenId,
                connection_id: &str,
                change: &dyn Fn(&mut $crate::store::GoogleCredentials),
            ) -> Result<bool, $crate::store::StoreError> {
                <$ty>::update_credentials(self, token, connection_id, change)
            }

            fn selection(
                &self,
                token: &$crate::token::TokenId,
            ) -> Result<$crate::store::Selection, $crate::store::StoreError> {
                <$ty>::selection(self, token)
            }

            fn put_pending_authorization(
                &self,
                state: &str,
                pending: &$crate::store::PendingAuthorization,
                now: i64,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::put_pending_authorization(self, state, pending, now)
            }

            fn take_pending_authorization(
                &self,
                state: &str,
                now: i64,
            ) -> Result<Option<$crate::store::PendingAuthorization>, $crate::store::StoreError>
            {
                <$ty>::take_pending_authorization(self, state, now)
            }

            fn purge_expired_authorizations(
                &self,
                now: i64,
            ) -> Result<usize, $crate::store::StoreError> {
                <$ty>::purge_expired_authorizations(self, now)
            }

            fn put_channel(
                &self,
                token: &$crate::token::TokenId,
                channel: &$crate::store::PushChannel,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::put_channel(self, token, channel)
            }

            fn remove_channel(
                &self,
                token: &$crate::token::TokenId,
                channel_id: &str,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::remove_channel(self, token, channel_id)
            }

            fn channels(
                &self,
                token: &$crate::token::TokenId,
            ) -> Result<Vec<$crate::store::PushChannel>, $crate::store::StoreError> {
                <$ty>::channels(self, token)
            }

            fn remove_channels(
                &self,
                token: &$crate::token::TokenId,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::remove_channels(self, token)
            }

            fn upsert_datapoints(
                &self,
                user: &str,
                metric: &$crate::metric::MetricName,
                points: &[$crate::metric::Datapoint],
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::upsert_datapoints(self, user, metric, points)
            }

            fn read_datapoints(
                &self,
                user: &str,
                metric: &$crate::metric::MetricName,
                range: $crate::store::TimeRange,
            ) -> Result<Vec<$crate::metric::Datapoint>, $crate::store::StoreError> {
                <$ty>::read_datapoints(self, user, metric, range)
            }

            fn read_datapoints_json(
                &self,
                user: &str,
                metric: &$crate::metric::MetricName,
                range: $crate::store::TimeRange,
            ) -> Result<Vec<u8>, $crate::store::StoreError> {
                <$ty>::read_datapoints_json(self, user, metric, range)
            }

            fn list_metrics(&self, user: &str) -> Result<Vec<String>, $crate::store::StoreError> {
                <$ty>::list_metrics(self, user)
            }

            fn delete_metric(
                &self,
                user: &str,
                metric: &$crate::metric::MetricName,
            ) -> Result<usize, $crate::store::StoreError> {
                <$ty>::delete_metric(self, user, metric)
            }

            fn commit_sync(
                &self,
                commit: &$crate::store::SyncCommit,
            ) -> Result<$crate::store::SyncCommitStats, $crate::store::StoreError> {
                <$ty>::commit_sync(self, commit)
            }

            fn commit_syncs(
                &self,
                commits: &[$crate::store::SyncCommit],
            ) -> Vec<Result<$crate::store::SyncCommitStats, $crate::store::StoreError>> {
                <$ty>::commit_syncs(self, commits)
            }

            fn forget_calendar(
                &self,
                token: &$crate::token::TokenId,
                purge: bool,
                credentials: bool,
            ) -> Result<(), $crate::store::StoreError> {
                <$ty>::forget_calendar(self, token, purge, credentials)
            }

            fn select_calendars(
                &self,
                token: &$crate::token::TokenId,
                connection_id: &str,
                ids: &[String],
            ) -> Result<$crate::store::Selection, $crate::store::StoreError> {
                <$ty>::select_calendars(self, token, connection_id, ids)
            }

            fn flush(&self) -> Result<(), $crate::store::StoreError> {
                <$ty>::flush(self)
            }
        }
    };
}
pub(crate) use engine_by_inherent_methods;

use super::SledStore;

engine_by_inherent_methods!(SledStore);
