//! Google credentials and calendar sync state per data token.
//!
//! Each successful connection gets a random `connection_id`. Everything written on behalf of a
//! connection (refreshed tokens, sync commits) checks it inside its transaction, so a sync that
//! was running when the person disconnected or switched accounts can never write afterwards.

use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

use super::calendars::{decode_selection, Selection};
use super::cipher::{context, Cipher};
use super::{SledStore, StoreError, GOOGLE_CREDENTIALS};
use crate::google::scopes::Scopes;
use crate::secret::Secret;
use crate::token::TokenId;

/// A data token's Google connection.
#[derive(Debug, Clone)]
pub struct GoogleCredentials {
    /// Changes with every (re)connection; writes on behalf of an older one are refused.
    pub connection_id: String,
    /// The current access token.
    pub access_token: Secret<String>,
    /// Unix seconds when it expires.
    pub access_expires_at: i64,
    /// The refresh token.
    pub refresh_token: Secret<String>,
    /// Granted scopes.
    pub scopes: Scopes,
    /// The Google account's e-mail.
    pub account_email: String,
    /// The Google account's stable id.
    pub account_sub: String,
    /// Unix seconds of the connection.
    pub connected_at: i64,
    /// Unix seconds of the last change (refresh, reauth).
    pub updated_at: i64,
    /// Set when Google refused the grant: polling stops until the person reconnects.
    pub needs_reauth: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    connection_id: String,
    access_token: String,
    access_expires_at: i64,
    refresh_token: String,
    scopes: Scopes,
    account_email: String,
    account_sub: String,
    connected_at: i64,
    updated_at: i64,
    needs_reauth: Option<String>,
}

impl From<&GoogleCredentials> for StoredCredentials {
    fn from(c: &GoogleCredentials) -> Self {
        Self {
            connection_id: c.connection_id.clone(),
            access_token: c.access_token.expose().clone(),
            access_expires_at: c.access_expires_at,
            refresh_token: c.refresh_token.expose().clone(),
            scopes: c.scopes.clone(),
            account_email: c.account_email.clone(),
            account_sub: c.account_sub.clone(),
            connected_at: c.connected_at,
            updated_at: c.updated_at,
            needs_reauth: c.needs_reauth.clone(),
        }
    }
}

impl From<StoredCredentials> for GoogleCredentials {
    fn from(s: StoredCredentials) -> Self {
        Self {
            connection_id: s.connection_id,
            access_token: Secret::new(s.access_token),
            access_expires_at: s.access_expires_at,
            refresh_token: Secret::new(s.refresh_token),
            scopes: s.scopes,
            account_email: s.account_email,
            account_sub: s.account_sub,
            connected_at: s.connected_at,
            updated_at: s.updated_at,
            needs_reauth: s.needs_reauth,
        }
    }
}

/// Encodes credentials for the `google_credentials` tree, sealed under the credentials key and
/// bound to the token id, so the tokens never reach the disk in the clear.
pub(super) fn encode_credentials(
    cipher: &Cipher,
    token: &TokenId,
    c: &GoogleCredentials,
) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(&StoredCredentials::from(c))
        .map_err(|e| StoreError::corrupt(e.to_string()))?;
    cipher
        .seal(
            &context(GOOGLE_CREDENTIALS, token.as_str().as_bytes()),
            &json,
        )
        .map_err(|_| StoreError::corrupt("sealing credentials failed"))
}

/// Decodes a `google_credentials` record; one that does not open under the key (altered, or
/// copied from another token) is corrupt.
pub(super) fn decode_credentials(
    cipher: &Cipher,
    token: &TokenId,
    bytes: &[u8],
) -> Result<GoogleCredentials, StoreError> {
    let json = cipher
        .open(
            &context(GOOGLE_CREDENTIALS, token.as_str().as_bytes()),
            bytes,
        )
        .map_err(|_| {
            StoreError::corrupt(format!("credentials record of token {token} does not open"))
        })?;
    serde_json::from_slice::<StoredCredentials>(&json)
        .map(Into::into)
        .map_err(|e| StoreError::corrupt(format!("credentials record: {e}")))
}

/// Where the sync of one selected calendar stands; committed together with the data it covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// The calendar's slot in its token's selection ([`Selection`]); names it in the event
    /// index.
    #[serde(default)]
    pub slot: u32,
    /// The synced calendar: `primary`, or a Google calendar id.
    pub calendar_id: String,
    /// Google's opaque sync token; `None` means the next sync is a full one.
    pub sync_token: Option<String>,
    /// The calendar's time zone as of the last sync.
    pub time_zone: Option<String>,
    /// Events of this calendar that produced datapoints.
    pub events: u64,
    /// Datapoints those events hold.
    pub datapoints: u64,
    /// Unix seconds of the last successful sync.
    pub last_success_at: Option<i64>,
    /// Events skipped as malformed in the last sync.
    pub skipped: u64,
    /// Unix seconds of the last full sync.
    #[serde(default)]
    pub last_full_sync_at: Option<i64>,
    /// The `#!` events of this calendar that gave no datapoint, oldest first
    /// ([`super::skip_notices`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_notices: Vec<super::SkipNotice>,
}

/// Reads a schema-3 `sync_state` record: one calendar's state.
pub(super) fn decode_legacy_state(bytes: &[u8]) -> Result<SyncState, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::corrupt(format!("sync state record: {e}")))
}

impl SledStore {
    /// Stores credentials for a token, replacing any previous connection.
    pub fn put_credentials(
        &self,
        token: &TokenId,
        creds: &GoogleCredentials,
    ) -> Result<(), StoreError> {
        self.inner.google_credentials.insert(
            token.as_str(),
            encode_credentials(&self.inner.cipher, token, creds)?,
        )?;
        Ok(())
    }

    /// The token's credentials, if connected.
    pub fn credentials(&self, token: &TokenId) -> Result<Option<GoogleCredentials>, StoreError> {
        self.inner
            .google_credentials
            .get(token.as_str())?
            .map(|b| decode_credentials(&self.inner.cipher, token, &b))
            .transpose()
    }

    /// Every connected token id.
    pub fn connected_tokens(&self) -> Result<Vec<TokenId>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.google_credentials.iter() {
            let (key, _) = item?;
            let id = std::str::from_utf8(&key)
                .ok()
                .and_then(TokenId::parse)
                .ok_or_else(|| StoreError::corrupt("credentials key"))?;
            out.push(id);
        }
        Ok(out)
    }

    /// Changes the credentials of the connection `connection_id` in place; does nothing (and
    /// answers false) when that connection is gone or replaced meanwhile.
    pub fn update_credentials(
        &self,
        token: &TokenId,
        connection_id: &str,
        change: impl Fn(&mut GoogleCredentials),
    ) -> Result<bool, StoreError> {
        let updated = self.inner.google_credentials.transaction(|t| {
            let Some(bytes) = t.get(token.as_str())? else {
                return Ok(false);
            };
            let mut creds = decode_credentials(&self.inner.cipher, token, &bytes)
                .map_err(ConflictableTransactionError::Abort)?;
            if creds.connection_id != connection_id {
                return Ok(false);
            }
            change(&mut creds);
            t.insert(
                token.as_str(),
                encode_credentials(&self.inner.cipher, token, &creds)
                    .map_err(ConflictableTransactionError::Abort)?,
            )?;
            Ok(true)
        })?;
        Ok(updated)
    }

    /// The token's selected calendars with their sync state (default: the primary, never
    /// synced).
    pub fn selection(&self, token: &TokenId) -> Result<Selection, StoreError> {
        Ok(self
            .inner
            .sync_state
            .get(token.as_str())?
            .map(|b| decode_selection(&b))
            .transpose()?
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{test_credentials, Store};
    use crate::token::TokenId;

    fn credentials_change_only_for_their_connection(store: &Store) {
        let (a, b) = (TokenId::generate(), TokenId::generate());
        assert!(store.credentials(&a).unwrap().is_none());
        store.put_credentials(&a, &test_credentials("c1")).unwrap();
        store.put_credentials(&b, &test_credentials("c9")).unwrap();
        let mut connected = store.connected_tokens().unwrap();
        connected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut want = vec![a.clone(), b.clone()];
        want.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(connected, want);
        let set_email = |c: &mut crate::store::GoogleCredentials| c.account_email = "new@x".into();
        assert!(store.update_credentials(&a, "c1", &set_email).unwrap());
        assert!(!store.update_credentials(&a, "c0", &set_email).unwrap());
        assert!(!store
            .update_credentials(&TokenId::generate(), "c1", &set_email)
            .unwrap());
        let stored = store.credentials(&a).unwrap().unwrap();
        assert_eq!(stored.account_email, "new@x");
        assert_eq!(stored.refresh_token.expose(), "r");
        assert_eq!(
            store.credentials(&b).unwrap().unwrap().account_email,
            "ann@example.com"
        );
        // A new connection replaces the old one whole.
        store.put_credentials(&a, &test_credentials("c2")).unwrap();
        let replaced = store.credentials(&a).unwrap().unwrap();
        assert_eq!(
            (
                replaced.connection_id.as_str(),
                replaced.account_email.as_str()
            ),
            ("c2", "ann@example.com")
        );
        store.forget_calendar(&a, true, true).unwrap();
        assert!(store.credentials(&a).unwrap().is_none());
        assert_eq!(store.connected_tokens().unwrap(), vec![b]);
    }

    crate::store::engine_tests::for_each_engine!(credentials_change_only_for_their_connection);
}
