//! Writing a [`Snapshot`] into an empty PostgreSQL store, and reading one back, for
//! `migrate-store`: the copy is one transaction, so a failure leaves the database empty.

use tokio_postgres::Transaction;

use super::pool::query_error;
use super::records::{capability_text, token_of};
use super::PgStore;
use crate::store::google::{decode_credentials, encode_credentials};
use crate::store::snapshot::{split_entry, Snapshot, StoredPoint};
use crate::store::{keys, oauth_states, push_channels, StoreError};
use crate::token::TokenId;

/// Rows per statement when copying many.
const CHUNK: usize = 10_000;

fn token_id(id: &str) -> Result<TokenId, StoreError> {
    TokenId::parse(id).ok_or_else(|| StoreError::corrupt("token id"))
}

async fn count(tx: &Transaction<'_>, table: &str) -> Result<i64, StoreError> {
    let row = tx
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .map_err(query_error)?;
    Ok(row.get(0))
}

impl PgStore {
    /// Copies `snap` into this store, which must hold no record yet, in one transaction.
    pub fn import(&self, snap: &Snapshot) -> Result<(), StoreError> {
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            for table in super::schema::RECORD_TABLES {
                if count(&tx, table).await? > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the target database is not empty ({table} has rows): migrate-store \
                         copies into an empty database only"
                    )));
                }
            }
            for (t, hash) in &snap.tokens {
                let capability = capability_text(t.capability)?;
                tx.execute(
                    "INSERT INTO tokens (id, user_name, name, capability, expires_at, created_at, hash)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &t.id.as_str(),
                        &t.user,
                        &t.name,
                        &capability,
                        &t.expires_at,
                        &t.created_at,
                        &&hash[..],
                    ],
                )
                .await
                .map_err(query_error)?;
            }
            for (t, creds) in &snap.credentials {
                let sealed = encode_credentials(&self.cipher, t, creds)?;
                tx.execute(
                    "INSERT INTO google_credentials (token_id, sealed) VALUES ($1, $2)",
                    &[&t.as_str(), &sealed],
                )
                .await
                .map_err(query_error)?;
            }
            for (t, record) in &snap.selections {
                tx.execute(
                    "INSERT INTO selections (token_id, record) VALUES ($1, $2)",
                    &[&t.as_str(), record],
                )
                .await
                .map_err(query_error)?;
            }
            for chunk in snap.index.chunks(CHUNK) {
                let tokens: Vec<&str> = chunk.iter().map(|(t, _, _)| t.as_str()).collect();
                let events: Vec<&str> = chunk.iter().map(|(_, e, _)| e.as_str()).collect();
                let entries: Vec<&[u8]> = chunk.iter().map(|(_, _, v)| v.as_slice()).collect();
                tx.execute(
                    "INSERT INTO event_index (token_id, event_id, entry)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])",
                    &[&tokens, &events, &entries],
                )
                .await
                .map_err(query_error)?;
            }
            for chunk in snap.datapoints.chunks(CHUNK) {
                let mut ts = Vec::with_capacity(chunk.len());
                let mut hashes = Vec::with_capacity(chunk.len());
                for p in chunk {
                    let (t, h) =
                        split_entry(&p.entry).ok_or_else(|| StoreError::corrupt("entry key"))?;
                    ts.push(t);
                    hashes.push(h);
                }
                let users: Vec<&str> = chunk.iter().map(|p| p.user.as_str()).collect();
                let metrics: Vec<&str> = chunk.iter().map(|p| p.metric.as_str()).collect();
                let points: Vec<&[u8]> = chunk.iter().map(|p| p.point.as_slice()).collect();
                tx.execute(
                    "INSERT INTO datapoints (user_name, metric, ts, dims_hash, point)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[],
                                          $5::bytea[])",
                    &[&users, &metrics, &ts, &hashes, &points],
                )
                .await
                .map_err(query_error)?;
            }
            for (hash, pending) in &snap.oauth_states {
                let sealed = oauth_states::encode(&self.cipher, hash, pending)?;
                tx.execute(
                    "INSERT INTO oauth_states (state_hash, token_id, created_at, sealed)
                     VALUES ($1, $2, $3, $4)",
                    &[
                        &&hash[..],
                        &pending.token_id.as_str(),
                        &pending.created_at,
                        &sealed,
                    ],
                )
                .await
                .map_err(query_error)?;
            }
            for (t, channel) in &snap.channels {
                let key = push_channels::key(t.as_str(), &channel.id);
                let sealed = push_channels::encode(&self.cipher, &key, channel)?;
                tx.execute(
                    "INSERT INTO push_channels (token_id, channel_id, sealed) VALUES ($1, $2, $3)",
                    &[&t.as_str(), &channel.id, &sealed],
                )
                .await
                .map_err(query_error)?;
            }
            tx.commit().await.map_err(query_error)
        })
    }

    /// Every record, secrets opened, in canonical order, as of one snapshot of the database.
    pub fn export(&self) -> Result<Snapshot, StoreError> {
        let mut snap = Snapshot::default();
        self.pool.with(async |c| {
            let tx = super::pool::snapshot(c).await?;
            let q = async |sql: &str| tx.query(sql, &[]).await.map_err(query_error);
            for r in q(
                "SELECT id, user_name, name, capability, expires_at, created_at, hash FROM tokens",
            )
            .await?
            {
                let hash: Vec<u8> = r.get(6);
                let hash = hash
                    .try_into()
                    .map_err(|_| StoreError::corrupt("token hash"))?;
                snap.tokens.push((token_of(&r)?, hash));
            }
            for r in q("SELECT token_id, sealed FROM google_credentials").await? {
                let t = token_id(r.get(0))?;
                let creds = decode_credentials(&self.cipher, &t, r.get(1))?;
                snap.credentials.push((t, creds));
            }
            for r in q("SELECT token_id, record FROM selections").await? {
                snap.selections.push((token_id(r.get(0))?, r.get(1)));
            }
            for r in q("SELECT token_id, event_id, entry FROM event_index").await? {
                snap.index.push((token_id(r.get(0))?, r.get(1), r.get(2)));
            }
            for r in q("SELECT user_name, metric, ts, dims_hash, point FROM datapoints").await? {
                let hash: &[u8] = r.get(3);
                let mut entry = keys::encode_timestamp(r.get(2)).to_vec();
                entry.extend_from_slice(hash);
                snap.datapoints.push(StoredPoint {
                    user: r.get(0),
                    metric: r.get(1),
                    entry,
                    point: r.get(4),
                });
            }
            for r in q("SELECT state_hash, sealed FROM oauth_states").await? {
                let hash: Vec<u8> = r.get(0);
                let pending = oauth_states::decode(&self.cipher, &hash, r.get(1))?;
                let hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| StoreError::corrupt("oauth state key"))?;
                snap.oauth_states.push((hash, pending));
            }
            for r in q("SELECT token_id, channel_id, sealed FROM push_channels").await? {
                let t = token_id(r.get(0))?;
                let key = push_channels::key(t.as_str(), r.get(1));
                snap.channels
                    .push((t, push_channels::decode(&self.cipher, &key, r.get(2))?));
            }
            tx.commit().await.map_err(query_error)
        })?;
        snap.sort();
        Ok(snap)
    }
}
