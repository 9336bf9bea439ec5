//! Data tokens, Google credentials, selections, started OAuth flows and push channels in
//! PostgreSQL: one row each, sealed where the sled engine seals.

use tokio_postgres::Row;

use super::pool::query_error;
use super::PgStore;
use crate::secret::Secret;
use crate::store::google::{decode_credentials, encode_credentials};
use crate::store::oauth_states::{self, STATE_LIFETIME_SECS};
use crate::store::{
    push_channels, GoogleCredentials, NewToken, PendingAuthorization, PushChannel, Selection,
    StoreError, MAX_PENDING_PER_TOKEN,
};
use crate::token::{Capability, DataToken, TokenHash, TokenId};

const TOKEN_COLUMNS: &str = "id, user_name, name, capability, expires_at, created_at";

pub(super) fn capability_text(c: Capability) -> Result<String, StoreError> {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::corrupt("capability")),
    }
}

pub(super) fn token_of(row: &Row) -> Result<DataToken, StoreError> {
    let id: String = row.get(0);
    let capability: String = row.get(3);
    Ok(DataToken {
        id: TokenId::parse(&id).ok_or_else(|| StoreError::corrupt("token id"))?,
        user: row.get(1),
        name: row.get(2),
        capability: serde_json::from_value(serde_json::Value::String(capability))
            .map_err(|_| StoreError::corrupt("token capability"))?,
        expires_at: row.get(4),
        created_at: row.get(5),
    })
}

fn token_id(id: &str) -> Result<TokenId, StoreError> {
    TokenId::parse(id).ok_or_else(|| StoreError::corrupt("token id"))
}

impl PgStore {
    pub(crate) fn create_token(
        &self,
        new: NewToken,
        now: i64,
    ) -> Result<(DataToken, Secret<String>), StoreError> {
        let (token, plaintext, hash) = new.mint(now);
        let capability = capability_text(token.capability)?;
        let inserted = self.pool.execute(
            "INSERT INTO tokens (id, user_name, name, capability, expires_at, created_at, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_name, name) DO NOTHING",
            &[
                &token.id.as_str(),
                &token.user,
                &token.name,
                &capability,
                &token.expires_at,
                &token.created_at,
                &&hash.as_bytes()[..],
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "user {:?} already has a token named {:?}",
                token.user, token.name
            )));
        }
        Ok((token, plaintext))
    }

    pub(crate) fn find_token_by_plaintext(
        &self,
        plaintext: &str,
    ) -> Result<Option<DataToken>, StoreError> {
        let hash = TokenHash::of(plaintext);
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1");
        self.pool
            .query_opt(&sql, &[&&hash.as_bytes()[..]])?
            .as_ref()
            .map(token_of)
            .transpose()
    }

    pub(crate) fn get_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
        self.pool
            .query_opt(&sql, &[&id.as_str()])?
            .as_ref()
            .map(token_of)
            .transpose()
    }

    pub(crate) fn list_tokens(&self, user: Option<&str>) -> Result<Vec<DataToken>, StoreError> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE $1::text IS NULL OR user_name = $1");
        let rows = self.pool.query(&sql, &[&user])?;
        let mut out = rows.iter().map(token_of).collect::<Result<Vec<_>, _>>()?;
        // Byte order, as the sled engine lists them, whatever the database's collation.
        out.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
        Ok(out)
    }

    pub(crate) fn delete_token(&self, id: &TokenId) -> Result<Option<DataToken>, StoreError> {
        let sql = format!("DELETE FROM tokens WHERE id = $1 RETURNING {TOKEN_COLUMNS}");
        self.pool
            .query_opt(&sql, &[&id.as_str()])?
            .as_ref()
            .map(token_of)
            .transpose()
    }

    pub(crate) fn put_credentials(
        &self,
        token: &TokenId,
        creds: &GoogleCredentials,
    ) -> Result<(), StoreError> {
        let sealed = encode_credentials(&self.cipher, token, creds)?;
        self.pool.execute(
            "INSERT INTO google_credentials (token_id, sealed) VALUES ($1, $2)
                 ON CONFLICT (token_id) DO UPDATE SET sealed = EXCLUDED.sealed",
            &[&token.as_str(), &sealed],
        )?;
        Ok(())
    }

    pub(crate) fn credentials(
        &self,
        token: &TokenId,
    ) -> Result<Option<GoogleCredentials>, StoreError> {
        let row = self.pool.query_opt(
            "SELECT sealed FROM google_credentials WHERE token_id = $1",
            &[&token.as_str()],
        )?;
        row.map(|r| decode_credentials(&self.cipher, token, r.get(0)))
            .transpose()
    }

    pub(crate) fn connected_tokens(&self) -> Result<Vec<TokenId>, StoreError> {
        let rows = self
            .pool
            .query("SELECT token_id FROM google_credentials", &[])?;
        let mut out = rows
            .iter()
            .map(|r| token_id(r.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(out)
    }

    pub(crate) fn update_credentials(
        &self,
        token: &TokenId,
        connection_id: &str,
        change: impl Fn(&mut GoogleCredentials),
    ) -> Result<bool, StoreError> {
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            let Some(row) = tx
                .query_opt(
                    "SELECT sealed FROM google_credentials WHERE token_id = $1 FOR UPDATE",
                    &[&token.as_str()],
                )
                .await
                .map_err(query_error)?
            else {
                return Ok(false);
            };
            let mut creds = decode_credentials(&self.cipher, token, row.get(0))?;
            if creds.connection_id != connection_id {
                return Ok(false);
            }
            change(&mut creds);
            let sealed = encode_credentials(&self.cipher, token, &creds)?;
            tx.execute(
                "UPDATE google_credentials SET sealed = $2 WHERE token_id = $1",
                &[&token.as_str(), &sealed],
            )
            .await
            .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok(true)
        })
    }

    pub(crate) fn selection(&self, token: &TokenId) -> Result<Selection, StoreError> {
        self.pool
            .with(async |c| super::sync::selection(&*c, token).await)
    }

    pub(crate) fn put_pending_authorization(
        &self,
        state: &str,
        pending: &PendingAuthorization,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = oauth_states::key(state);
        let sealed = oauth_states::encode(&self.cipher, &key, pending)?;
        let token = pending.token_id.as_str();
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            tx.execute(
                "DELETE FROM oauth_states WHERE created_at <= $1",
                &[&(now - STATE_LIFETIME_SECS)],
            )
            .await
            .map_err(query_error)?;
            // The token's row serializes its flows, so two starts cannot both keep the limit.
            tx.execute("SELECT id FROM tokens WHERE id = $1 FOR UPDATE", &[&token])
                .await
                .map_err(query_error)?;
            tx.execute(
                "DELETE FROM oauth_states WHERE state_hash IN (
                     SELECT state_hash FROM oauth_states WHERE token_id = $1
                     ORDER BY created_at DESC, state_hash DESC OFFSET $2)",
                &[&token, &(MAX_PENDING_PER_TOKEN as i64 - 1)],
            )
            .await
            .map_err(query_error)?;
            tx.execute(
                "INSERT INTO oauth_states (state_hash, token_id, created_at, sealed)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (state_hash) DO UPDATE
                 SET token_id = EXCLUDED.token_id, created_at = EXCLUDED.created_at,
                     sealed = EXCLUDED.sealed",
                &[&&key[..], &token, &pending.created_at, &sealed],
            )
            .await
            .map_err(query_error)?;
            tx.commit().await.map_err(query_error)
        })
    }

    pub(crate) fn take_pending_authorization(
        &self,
        state: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let key = oauth_states::key(state);
        let row = self.pool.query_opt(
            "DELETE FROM oauth_states WHERE state_hash = $1 RETURNING sealed",
            &[&&key[..]],
        )?;
        match row {
            Some(r) => {
                let p = oauth_states::decode(&self.cipher, &key, r.get(0))?;
                Ok((!p.is_expired(now)).then_some(p))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn purge_expired_authorizations(&self, now: i64) -> Result<usize, StoreError> {
        let n = self.pool.execute(
            "DELETE FROM oauth_states WHERE created_at <= $1",
            &[&(now - STATE_LIFETIME_SECS)],
        )?;
        Ok(n as usize)
    }

    pub(crate) fn put_channel(
        &self,
        token: &TokenId,
        channel: &PushChannel,
    ) -> Result<(), StoreError> {
        let key = push_channels::key(token.as_str(), &channel.id);
        let sealed = push_channels::encode(&self.cipher, &key, channel)?;
        self.pool.execute(
            "INSERT INTO push_channels (token_id, channel_id, sealed) VALUES ($1, $2, $3)
                 ON CONFLICT (token_id, channel_id) DO UPDATE SET sealed = EXCLUDED.sealed",
            &[&token.as_str(), &channel.id, &sealed],
        )?;
        Ok(())
    }

    pub(crate) fn remove_channel(
        &self,
        token: &TokenId,
        channel_id: &str,
    ) -> Result<(), StoreError> {
        self.pool.execute(
            "DELETE FROM push_channels WHERE token_id = $1 AND channel_id = $2",
            &[&token.as_str(), &channel_id],
        )?;
        Ok(())
    }

    pub(crate) fn channels(&self, token: &TokenId) -> Result<Vec<PushChannel>, StoreError> {
        let rows = self.pool.query(
            "SELECT channel_id, sealed FROM push_channels WHERE token_id = $1",
            &[&token.as_str()],
        )?;
        let mut out = rows
            .iter()
            .map(|r| {
                let key = push_channels::key(token.as_str(), r.get(0));
                push_channels::decode(&self.cipher, &key, r.get(1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub(crate) fn remove_channels(&self, token: &TokenId) -> Result<(), StoreError> {
        self.pool.execute(
            "DELETE FROM push_channels WHERE token_id = $1",
            &[&token.as_str()],
        )?;
        Ok(())
    }
}

impl PgStore {
    /// [`Engine::actor_inputs`](crate::store::Engine::actor_inputs) in four statements, one per
    /// kind of record, as of one snapshot (a repeatable-read transaction).
    pub(crate) fn actor_inputs(
        &self,
        ids: &[TokenId],
    ) -> Result<Vec<crate::store::ActorInputs>, StoreError> {
        use std::collections::HashMap;
        let keys: Vec<&str> = ids.iter().map(TokenId::as_str).collect();
        let (tokens, creds, selections, channels) = self.pool.with(async |c| {
            let tx = super::pool::snapshot(c).await?;
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ANY($1)");
            let tokens = tx.query(&sql, &[&keys]).await.map_err(query_error)?;
            let creds = tx
                .query(
                    "SELECT token_id, sealed FROM google_credentials WHERE token_id = ANY($1)",
                    &[&keys],
                )
                .await
                .map_err(query_error)?;
            let selections = tx
                .query(
                    "SELECT token_id, record FROM selections WHERE token_id = ANY($1)",
                    &[&keys],
                )
                .await
                .map_err(query_error)?;
            let channels = tx
                .query(
                    "SELECT token_id, channel_id, sealed FROM push_channels
                     WHERE token_id = ANY($1) ORDER BY token_id, channel_id",
                    &[&keys],
                )
                .await
                .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok((tokens, creds, selections, channels))
        })?;
        // A record that does not decode costs its own token only (logged), not the batch.
        let mut tokens: HashMap<String, Result<DataToken, StoreError>> = tokens
            .iter()
            .map(|r| (r.get::<_, String>(0), token_of(r)))
            .collect();
        let mut selections: HashMap<&str, Result<Selection, StoreError>> = selections
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    crate::store::calendars::decode_selection(r.get(1)),
                )
            })
            .collect();
        let mut by_token: HashMap<&str, Vec<Result<PushChannel, StoreError>>> = HashMap::new();
        for r in &channels {
            let (token, channel): (&str, &str) = (r.get(0), r.get(1));
            let key = push_channels::key(token, channel);
            by_token
                .entry(token)
                .or_default()
                .push(push_channels::decode(&self.cipher, &key, r.get(2)));
        }
        let mut out = Vec::with_capacity(creds.len());
        for r in &creds {
            let id: &str = r.get(0);
            let Some(token) = tokens.remove(id) else {
                continue;
            };
            let inputs = (|| {
                let token = token?;
                let credentials = decode_credentials(&self.cipher, &token.id, r.get(1))?;
                let mut channels = by_token
                    .remove(id)
                    .unwrap_or_default()
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?;
                channels.sort_by(|a, b| a.id.cmp(&b.id));
                Ok::<_, StoreError>(crate::store::ActorInputs {
                    selection: selections.remove(id).transpose()?.unwrap_or_default(),
                    credentials,
                    channels,
                    token,
                })
            })();
            match inputs {
                Ok(inputs) => out.push(inputs),
                Err(e) => log::warn!("token {id}: not synced: {e}"),
            }
        }
        Ok(out)
    }
}
