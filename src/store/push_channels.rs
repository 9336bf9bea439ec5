//! Push channels (`events.watch`, `GOOGLE_APIS.md` "Push notifications"): per token, the
//! channels open on its selected calendars, each with the secret Google echoes in every
//! notification, sealed like the other credentials.
//!
//! Key: `len(token id) token id | channel id`; value: the sealed JSON of [`PushChannel`]. A
//! calendar has one channel, two while one is renewed (the new one is stored before the old one
//! is stopped), so a restart finds every channel Google may still notify.

use serde::{Deserialize, Serialize};

use super::cipher::{context, Cipher};
use super::{keys, SledStore, StoreError, PUSH_CHANNELS};
use crate::secret::Secret;
use crate::token::TokenId;

/// One open channel of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct PushChannel {
    /// Our id for the channel (sent to Google, echoed in `X-Goog-Channel-ID`).
    pub id: String,
    /// Google's id of the watched resource (`X-Goog-Resource-ID`).
    pub resource_id: String,
    /// The secret Google echoes as `X-Goog-Channel-Token`.
    pub secret: Secret<String>,
    /// Unix ms when Google stops notifying.
    pub expiration_ms: i64,
    /// The selection slot of the watched calendar.
    pub slot: u32,
    /// The watched calendar (`primary` or its id).
    pub calendar_id: String,
    /// Unix ms when `events.watch` answered.
    pub opened_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    resource_id: String,
    secret: String,
    expiration_ms: i64,
    slot: u32,
    calendar_id: String,
    opened_ms: i64,
}

/// Seals a channel under its key (`len(token id) token id | channel id`, its sealing context in
/// every engine).
pub(super) fn encode(
    cipher: &Cipher,
    key: &[u8],
    channel: &PushChannel,
) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(&Stored {
        id: channel.id.clone(),
        resource_id: channel.resource_id.clone(),
        secret: channel.secret.expose().clone(),
        expiration_ms: channel.expiration_ms,
        slot: channel.slot,
        calendar_id: channel.calendar_id.clone(),
        opened_ms: channel.opened_ms,
    })
    .map_err(|e| StoreError::corrupt(e.to_string()))?;
    cipher
        .seal(&context(PUSH_CHANNELS, key), &json)
        .map_err(|_| StoreError::corrupt("sealing a push channel failed"))
}

/// Opens a channel sealed by [`encode`] under `key`.
pub(super) fn decode(
    cipher: &Cipher,
    key: &[u8],
    sealed: &[u8],
) -> Result<PushChannel, StoreError> {
    let json = cipher
        .open(&context(PUSH_CHANNELS, key), sealed)
        .map_err(|_| StoreError::corrupt("a push channel record does not open"))?;
    let s: Stored = serde_json::from_slice(&json)
        .map_err(|e| StoreError::corrupt(format!("push channel record: {e}")))?;
    Ok(PushChannel {
        id: s.id,
        resource_id: s.resource_id,
        secret: Secret::new(s.secret),
        expiration_ms: s.expiration_ms,
        slot: s.slot,
        calendar_id: s.calendar_id,
        opened_ms: s.opened_ms,
    })
}

pub(super) fn key(token: &str, channel_id: &str) -> Vec<u8> {
    let mut k = keys::token_prefix(token);
    k.extend_from_slice(channel_id.as_bytes());
    k
}

impl SledStore {
    /// Stores a channel `events.watch` just opened, durably, so a restart keeps answering it.
    pub fn put_channel(&self, token: &TokenId, channel: &PushChannel) -> Result<(), StoreError> {
        let k = key(token.as_str(), &channel.id);
        let sealed = encode(&self.inner.cipher, &k, channel)?;
        self.inner.push_channels.insert(k, sealed)?;
        self.inner.push_channels.flush()?;
        Ok(())
    }

    /// Forgets a channel (stopped, expired, or its calendar deselected).
    pub fn remove_channel(&self, token: &TokenId, channel_id: &str) -> Result<(), StoreError> {
        self.inner
            .push_channels
            .remove(key(token.as_str(), channel_id))?;
        Ok(())
    }

    /// The token's channels.
    pub fn channels(&self, token: &TokenId) -> Result<Vec<PushChannel>, StoreError> {
        let prefix = keys::token_prefix(token.as_str());
        let mut out = Vec::new();
        for item in self.inner.push_channels.scan_prefix(&prefix) {
            let (k, v) = item?;
            out.push(decode(&self.inner.cipher, &k, &v)?);
        }
        Ok(out)
    }

    /// Forgets every channel of a token (after a disconnect stopped them, or tried to).
    pub fn remove_channels(&self, token: &TokenId) -> Result<(), StoreError> {
        let prefix = keys::token_prefix(token.as_str());
        let mut batch = sled::Batch::default();
        for item in self.inner.push_channels.scan_prefix(&prefix) {
            batch.remove(item?.0);
        }
        self.inner.push_channels.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn channel(id: &str, slot: u32) -> PushChannel {
        PushChannel {
            id: id.into(),
            resource_id: "r1".into(),
            secret: Secret::new(format!("secret-of-{id}")),
            expiration_ms: 1_000,
            slot,
            calendar_id: "primary".into(),
            opened_ms: 10,
        }
    }

    fn channels_are_kept_per_token_and_forgotten(store: &Store) {
        let (a, b) = (TokenId::generate(), TokenId::generate());
        store.put_channel(&a, &channel("c1", 0)).unwrap();
        store.put_channel(&a, &channel("c2", 1)).unwrap();
        store.put_channel(&b, &channel("c3", 0)).unwrap();
        let mut got = store.channels(&a).unwrap();
        got.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(got, vec![channel("c1", 0), channel("c2", 1)]);
        store.remove_channel(&a, "c1").unwrap();
        assert_eq!(store.channels(&a).unwrap(), vec![channel("c2", 1)]);
        store.remove_channels(&a).unwrap();
        assert!(store.channels(&a).unwrap().is_empty());
        assert_eq!(store.channels(&b).unwrap().len(), 1);
    }

    #[test]
    fn channel_secrets_are_sealed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .put_channel(&TokenId::generate(), &channel("c1", 0))
            .unwrap();
        let raw: Vec<u8> = store
            .inner
            .push_channels
            .iter()
            .flat_map(|r| r.unwrap().1.to_vec())
            .collect();
        assert!(!raw.is_empty());
        assert!(!raw.windows(9).any(|w| w == b"secret-of"));
    }

    /// What the sync actors start from, read at once: every connected token's records, a
    /// token without a connection (or deleted) left out, channels in id order.
    fn actor_inputs_read_every_connected_token_at_once(store: &Store) {
        use crate::store::{test_credentials, NewToken};
        let token = |name: &str| {
            let new = NewToken {
                user: "ann".into(),
                name: name.into(),
                capability: crate::token::Capability::Super,
                expires_at: 10_000,
            };
            store.create_token(new, 1).unwrap().0
        };
        let (a, b, unconnected) = (token("a"), token("b"), token("c"));
        for (t, connection) in [(&a, "conn-a"), (&b, "conn-b")] {
            store
                .put_credentials(&t.id, &test_credentials(connection))
                .unwrap();
        }
        store.put_channel(&a.id, &channel("c2", 1)).unwrap();
        store.put_channel(&a.id, &channel("c1", 0)).unwrap();
        let gone = TokenId::generate();
        let ids = [a.id.clone(), b.id.clone(), unconnected.id.clone(), gone];
        let mut got = store.actor_inputs(&ids).unwrap();
        got.sort_by(|x, y| x.token.name.cmp(&y.token.name));
        let summary: Vec<(&str, &str, usize, Vec<&str>)> = got
            .iter()
            .map(|i| {
                (
                    i.token.name.as_str(),
                    i.credentials.connection_id.as_str(),
                    i.selection.calendars.len(),
                    i.channels.iter().map(|c| c.id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "a",
                    "conn-a",
                    store.selection(&a.id).unwrap().calendars.len(),
                    vec!["c1", "c2"]
                ),
                (
                    "b",
                    "conn-b",
                    store.selection(&b.id).unwrap().calendars.len(),
                    vec![]
                ),
            ]
        );
        assert_eq!(got[0].token, a);
        assert_eq!(got[0].channels, vec![channel("c1", 0), channel("c2", 1)]);
        assert!(store.actor_inputs(&[]).unwrap().is_empty());
    }

    crate::store::engine_tests::for_each_engine!(
        channels_are_kept_per_token_and_forgotten,
        actor_inputs_read_every_connected_token_at_once
    );
}
