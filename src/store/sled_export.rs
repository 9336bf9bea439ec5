//! Reading every record of a sled store into a [`Snapshot`] (for `migrate-store`).

use super::blocks;
use super::google::decode_credentials;
use super::snapshot::{Snapshot, StoredPoint};
use super::{keys, oauth_states, push_channels, SledStore, StoreError};
use crate::token::TokenId;

fn token_id(bytes: &[u8]) -> Result<TokenId, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(TokenId::parse)
        .ok_or_else(|| StoreError::corrupt("token id"))
}

impl SledStore {
    /// Every record, secrets opened, in canonical order. Sees block changes whole.
    pub fn export(&self) -> Result<Snapshot, StoreError> {
        let i = &self.inner;
        let mut snap = Snapshot::default();
        for item in i.tokens.iter() {
            let (_, bytes) = item?;
            let stored = super::tokens::decode_stored(&bytes)?;
            let hash: [u8; 32] = hex::decode(&stored.hash)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| StoreError::corrupt("token hash"))?;
            snap.tokens.push((stored.token, hash));
        }
        for item in i.google_credentials.iter() {
            let (k, v) = item?;
            let token = token_id(&k)?;
            let creds = decode_credentials(&i.cipher, &token, &v)?;
            snap.credentials.push((token, creds));
        }
        for item in i.sync_state.iter() {
            let (k, v) = item?;
            snap.selections.push((token_id(&k)?, v.to_vec()));
        }
        let _reading = self.reading_blocks();
        for item in i.event_index.iter() {
            let (k, block) = item?;
            let (token, _) = keys::take_str(&k).ok_or_else(|| StoreError::corrupt("index key"))?;
            let token = token_id(token.as_bytes())?;
            for entry in blocks::entries(&block)? {
                let (event, value) = entry?;
                let event = std::str::from_utf8(event)
                    .map_err(|_| StoreError::corrupt("event id"))?
                    .to_string();
                snap.index.push((token.clone(), event, value.to_vec()));
            }
        }
        for item in i.datapoints.iter() {
            let (k, block) = item?;
            let (user, metric, _) =
                keys::split_series_key(&k).ok_or_else(|| StoreError::corrupt("series key"))?;
            for entry in blocks::entries(&block)? {
                let (key, value) = entry?;
                snap.datapoints.push(StoredPoint {
                    user: user.to_string(),
                    metric: metric.to_string(),
                    entry: key.to_vec(),
                    point: value.to_vec(),
                });
            }
        }
        for item in i.oauth_states.iter() {
            let (k, v) = item?;
            let hash: [u8; 32] = k
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::corrupt("oauth state key"))?;
            snap.oauth_states
                .push((hash, oauth_states::decode(&i.cipher, &k, &v)?));
        }
        for item in i.push_channels.iter() {
            let (k, v) = item?;
            let (token, _) =
                keys::take_str(&k).ok_or_else(|| StoreError::corrupt("channel key"))?;
            let token = token_id(token.as_bytes())?;
            snap.channels
                .push((token, push_channels::decode(&i.cipher, &k, &v)?));
        }
        snap.sort();
        Ok(snap)
    }
}
