//! Data tokens in the store: records by id, plus two indexes (plaintext hash, user+name).

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::{SledStore, StoreError};
use crate::secret::Secret;
use crate::token::{generate_plaintext, Capability, DataToken, TokenHash, TokenId};

/// What the admin asks for when creating a token; validated by the HTTP layer.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The owning user.
    pub user: String,
    /// A name unique for the user.
    pub name: String,
    /// What the token may do.
    pub capability: Capability,
    /// Unix seconds of expiry (already capped by the caller).
    pub expires_at: i64,
}

impl NewToken {
    /// The token record with a fresh id, its plaintext (which exists only now) and the hash the
    /// store keeps instead.
    pub(super) fn mint(self, now: i64) -> (DataToken, Secret<String>, TokenHash) {
        let token = DataToken {
            id: TokenId::generate(),
            user: self.user,
            name: self.name,
            capability: self.capability,
            expires_at: self.expires_at,
            created_at: now,
        };
        let plaintext = generate_plaintext();
        let hash = TokenHash::of(plaintext.expose());
        (token, plaintext, hash)
    }
}

fn name_key(user: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.len() + name.len() + 1);
    k.extend_from_slice(user.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The stored form: the public record plus the hash of its plaintext, so deleting a token can
/// remove its hash index entry without the plaintext.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct StoredToken {
    #[serde(flatten)]
    pub(super) token: DataToken,
    pub(super) hash: String,
}

pub(super) fn decode_stored(bytes: &[u8]) -> Result<StoredToken, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::corrupt(format!("token record: {e}")))
}

fn decode(bytes: &[u8]) -> Result<DataToken, StoreError> {
    decode_stored(bytes).map(|s| s.token)
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

impl SledStore {
    /// Creates a token and returns it with its plaintext, the only time the plaintext exists.
    /// The record and both indexes are written in one transaction: a name taken meanwhile by a
    /// concurrent request is a conflict, never a duplicate.
    pub fn create_token(
        &self,
        new: NewToken,
        now: i64,
    ) -> Result<(DataToken, Secret<String>), StoreError> {
        let (token, plaintext, hash) = new.mint(now);
        let stored = StoredToken {
            token,
            hash: hex::encode(hash.as_bytes()),
        };
        let record = serde_json::to_vec(&stored).map_err(|e| StoreError::corrupt(e.to_string()))?;
        let token = stored.token;
        let names_key = name_key(&token.user, &token.name);
        let i = &self.inner;
        (&i.tokens, &i.token_hashes, &i.token_names).transaction(
            |(tokens, hashes, names)| -> Tx<()> {
                if names.get(&names_key)?.is_some() {
                    return Err(abort(StoreError::Conflict(format!(
                        "user {:?} already has a token named {:?}",
                        token.user, token.name
                    ))));
                }
                names.insert(names_key.as_slice(), token.id.as_str())?;
                hashes.insert(hash.as_bytes(), token.id.as_str())?;
                tokens.insert(token.id.as_str(), record.as_slice())?;
                Ok(())
            },
        )?;
        Ok((token, plaintext))
    }

    /// Finds the token whose plaintext is `plaintext`, by its hash.
    pub fn find_token_by_plaintext(
        &self,
        plaintext: &str,
    ) -> Result<Option<DataToken>, StoreError> {
        match self
            .inner
            .token_hashes
            .get(TokenHash::of(plaintext).as_bytes())?
        {
            Some(id) => match self.inner.tokens.get(id)? {
                Some(bytes) => decode(&bytes).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The token with this id, if any.
    pub fn get_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        self.inner
            .tokens
            .get(id.as_str())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Every token, or those of one user, ordered by user then name.
    pub fn list_tokens(&self, user: Option<&str>) -> Result<Vec<DataToken>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.tokens.iter() {
            let (_, bytes) = item?;
            let token = decode(&bytes)?;
            if user.is_none_or(|u| u == token.user) {
                out.push(token);
            }
        }
        out.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
        Ok(out)
    }

    /// Deletes a token and its indexes in one transaction, so it stops working at once.
    /// Returns the deleted record, or `None` when there was none.
    pub fn delete_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        let i = &self.inner;
        let deleted = (&i.tokens, &i.token_hashes, &i.token_names).transaction(
            |(tokens, hashes, names)| {
                let Some(bytes) = tokens.remove(id.as_str())? else {
                    return Ok(None);
                };
                let stored = decode_stored(&bytes).map_err(abort)?;
                let hash = hex::decode(&stored.hash)
                    .map_err(|_| abort(StoreError::corrupt("token hash")))?;
                names.remove(name_key(&stored.token.user, &stored.token.name))?;
                hashes.remove(hash)?;
                Ok(Some(stored.token))
            },
        )?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn new(user: &str, name: &str) -> NewToken {
        NewToken {
            user: user.into(),
            name: name.into(),
            capability: Capability::Super,
            expires_at: 2_000,
        }
    }

    fn tokens_are_found_by_plaintext_listed_unique_per_user_and_deleted(store: &Store) {
        let (ann, plain) = store.create_token(new("ann", "phone"), 7).unwrap();
        assert_eq!(
            (ann.user.as_str(), ann.name.as_str(), ann.created_at),
            ("ann", "phone", 7)
        );
        assert_eq!(
            store.find_token_by_plaintext(plain.expose()).unwrap(),
            Some(ann.clone())
        );
        assert_eq!(store.find_token_by_plaintext("nope").unwrap(), None);
        assert_eq!(store.get_token(&ann.id).unwrap(), Some(ann.clone()));
        let err = store.create_token(new("ann", "phone"), 8).err();
        assert!(matches!(err, Some(StoreError::Conflict(_))), "{err:?}");
        let (bob, _) = store.create_token(new("bob", "phone"), 9).unwrap();
        let (ann2, _) = store.create_token(new("ann", "google"), 10).unwrap();
        let names = |user| -> Vec<(String, String)> {
            store
                .list_tokens(user)
                .unwrap()
                .into_iter()
                .map(|t| (t.user, t.name))
                .collect()
        };
        assert_eq!(
            names(None),
            [("ann", "google"), ("ann", "phone"), ("bob", "phone")]
                .map(|(u, n)| (u.to_string(), n.to_string()))
        );
        assert_eq!(names(Some("bob")).len(), 1);
        assert_eq!(store.delete_token(&ann.id).unwrap(), Some(ann.clone()));
        assert_eq!(store.delete_token(&ann.id).unwrap(), None);
        assert_eq!(store.find_token_by_plaintext(plain.expose()).unwrap(), None);
        // The name is free again; the others are untouched.
        store.create_token(new("ann", "phone"), 11).unwrap();
        assert!(store.get_token(&bob.id).unwrap().is_some());
        assert!(store.get_token(&ann2.id).unwrap().is_some());
    }

    crate::store::engine_tests::for_each_engine!(
        tokens_are_found_by_plaintext_listed_unique_per_user_and_deleted
    );
}
