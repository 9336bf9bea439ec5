//! Pending OAuth authorizations, keyed by the hash of their `state`.
//!
//! Kept in sled (not in memory) so a flow started before a restart finishes after it. A state is
//! single use (taking it removes it atomically), lives ten minutes, and a token has at most
//! [`MAX_PENDING_PER_TOKEN`]: starting another evicts its oldest.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cipher::{context, Cipher};
use super::{SledStore, StoreError, OAUTH_STATES};
use crate::secret::Secret;
use crate::token::TokenId;

/// Most pending authorizations one data token may have.
pub const MAX_PENDING_PER_TOKEN: usize = 5;
/// How long a started authorization stays valid, in seconds (Google's codes live as long).
pub const STATE_LIFETIME_SECS: i64 = 600;

/// A started authorization waiting for its callback.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The data token that started it.
    pub token_id: TokenId,
    /// The PKCE verifier for the code exchange.
    pub verifier: Secret<String>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

impl PendingAuthorization {
    pub(super) fn is_expired(&self, now: i64) -> bool {
        now >= self.created_at + STATE_LIFETIME_SECS
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    token_id: TokenId,
    verifier: String,
    created_at: i64,
}

pub(super) fn key(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// Seals a pending authorization, bound to its key, so the PKCE verifier never reaches the disk
/// in the clear.
pub(super) fn encode(
    cipher: &Cipher,
    key: &[u8],
    p: &PendingAuthorization,
) -> Result<Vec<u8>, StoreError> {
    let stored = Stored {
        token_id: p.token_id.clone(),
        verifier: p.verifier.expose().clone(),
        created_at: p.created_at,
    };
    let json = serde_json::to_vec(&stored).map_err(|e| StoreError::corrupt(e.to_string()))?;
    cipher
        .seal(&context(OAUTH_STATES, key), &json)
        .map_err(|_| StoreError::corrupt("sealing an oauth state failed"))
}

pub(super) fn decode(
    cipher: &Cipher,
    key: &[u8],
    bytes: &[u8],
) -> Result<PendingAuthorization, StoreError> {
    let json = cipher
        .open(&context(OAUTH_STATES, key), bytes)
        .map_err(|_| StoreError::corrupt("an oauth state record does not open"))?;
    let s: Stored = serde_json::from_slice(&json)
        .map_err(|e| StoreError::corrupt(format!("oauth state: {e}")))?;
    Ok(PendingAuthorization {
        token_id: s.token_id,
        verifier: Secret::new(s.verifier),
        created_at: s.created_at,
    })
}

impl SledStore {
    /// Records a started authorization under its `state`, purging expired ones and evicting the
    /// token's oldest beyond the limit.
    pub fn put_pending_authorization(
        &self,
        state: &str,
        pending: &PendingAuthorization,
        now: i64,
    ) -> Result<(), StoreError> {
        let _guard = self
            .inner
            .oauth_lock
            .lock()
            .map_err(|_| StoreError::corrupt("oauth state lock poisoned"))?;
        let tree = &self.inner.oauth_states;
        let mut mine = Vec::new();
        for item in tree.iter() {
            let (k, v) = item?;
            let p = decode(&self.inner.cipher, &k, &v)?;
            if p.is_expired(now) {
                tree.remove(k)?;
            } else if p.token_id == pending.token_id {
                mine.push((p.created_at, k));
            }
        }
        mine.sort();
        let excess = (mine.len() + 1).saturating_sub(MAX_PENDING_PER_TOKEN);
        for (_, k) in mine.into_iter().take(excess) {
            tree.remove(k)?;
        }
        let k = key(state);
        tree.insert(k, encode(&self.inner.cipher, &k, pending)?)?;
        Ok(())
    }

    /// Takes the authorization started with `state`: removed in the same step, so a replayed
    /// callback finds nothing. `None` when unknown, used or expired.
    pub fn take_pending_authorization(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let k = key(state);
        match self.inner.oauth_states.remove(k)? {
            Some(bytes) => {
                let p = decode(&self.inner.cipher, &k, &bytes)?;
                Ok((!p.is_expired(now)).then_some(p))
            }
            None => Ok(None),
        }
    }

    /// Removes expired authorizations; returns how many.
    pub fn purge_expired_authorizations(&self, now: i64) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.inner.oauth_states.iter() {
            let (k, v) = item?;
            if decode(&self.inner.cipher, &k, &v)?.is_expired(now) {
                self.inner.oauth_states.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn pending(token: &TokenId, at: i64) -> PendingAuthorization {
        PendingAuthorization {
            token_id: token.clone(),
            verifier: Secret::new(format!("v{at}")),
            created_at: at,
        }
    }

    fn states_are_single_use_expire_and_are_capped_per_token(store: &Store) {
        let (a, b) = (TokenId::generate(), TokenId::generate());
        store
            .put_pending_authorization("s0", &pending(&a, 100), 100)
            .unwrap();
        let taken = store
            .take_pending_authorization("s0", 101)
            .unwrap()
            .unwrap();
        assert_eq!(
            (taken.token_id, taken.verifier.expose().as_str()),
            (a.clone(), "v100")
        );
        assert!(
            store
                .take_pending_authorization("s0", 101)
                .unwrap()
                .is_none(),
            "single use"
        );

        store
            .put_pending_authorization("old", &pending(&a, 100), 100)
            .unwrap();
        assert!(
            store
                .take_pending_authorization("old", 100 + STATE_LIFETIME_SECS)
                .unwrap()
                .is_none(),
            "expired"
        );

        for i in 0..7 {
            store
                .put_pending_authorization(&format!("a{i}"), &pending(&a, 200 + i), 200 + i)
                .unwrap();
        }
        store
            .put_pending_authorization("b0", &pending(&b, 300), 300)
            .unwrap();
        assert!(
            store
                .take_pending_authorization("a0", 301)
                .unwrap()
                .is_none(),
            "oldest evicted"
        );
        assert!(
            store
                .take_pending_authorization("a1", 301)
                .unwrap()
                .is_none(),
            "oldest evicted"
        );
        for i in 2..7 {
            assert!(
                store
                    .take_pending_authorization(&format!("a{i}"), 301)
                    .unwrap()
                    .is_some(),
                "a{i} kept"
            );
        }
        assert!(
            store
                .take_pending_authorization("b0", 301)
                .unwrap()
                .is_some(),
            "other tokens unaffected"
        );
    }

    fn expired_states_are_purged(store: &Store) {
        let a = TokenId::generate();
        store
            .put_pending_authorization("x", &pending(&a, 0), 0)
            .unwrap();
        store
            .put_pending_authorization("y", &pending(&a, 500), 500)
            .unwrap();
        assert_eq!(
            store
                .purge_expired_authorizations(STATE_LIFETIME_SECS + 1)
                .unwrap(),
            1
        );
        assert!(store
            .take_pending_authorization("y", 600)
            .unwrap()
            .is_some());
    }

    crate::store::engine_tests::for_each_engine!(
        states_are_single_use_expire_and_are_capped_per_token,
        expired_states_are_purged,
    );
}
