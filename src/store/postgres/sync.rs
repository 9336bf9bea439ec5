//! Sync commits in PostgreSQL: each one transaction that locks its token's credentials row
//! (refusing a replaced connection), reads what it changes, plans the change with the same code
//! as the sled engine ([`plan`]) and writes points, index rows and selection.

use tokio_postgres::{GenericClient, Transaction};

use super::datapoints::apply_series;
use super::pool::query_error;
use super::PgStore;
use crate::store::blocks::Ops;
use crate::store::calendars::{decode_selection, encode_selection, IndexEntry, Selection};
use crate::store::sync_commit::{
    plan, release, remove_points, same_connection, Encoded, Indexed, SeriesOps,
};
use crate::store::{StoreError, SyncCommit, SyncCommitStats};
use crate::token::TokenId;

/// Locks the token's credentials row for the transaction; `Some(connection)` also refuses
/// the change as [`StoreError::Stale`] unless that is still the token's connection.
async fn lock_token(
    store: &PgStore,
    tx: &Transaction<'_>,
    token: &TokenId,
    connection: Option<&str>,
) -> Result<(), StoreError> {
    let row = tx
        .query_opt(
            "SELECT sealed FROM google_credentials WHERE token_id = $1 FOR UPDATE",
            &[&token.as_str()],
        )
        .await
        .map_err(query_error)?;
    match connection {
        Some(id) => same_connection(&store.cipher, token, row.as_ref().map(|r| r.get(0)), id),
        None => Ok(()),
    }
}

/// Refuses the commit unless the token's lease still has `epoch`; holds the lease row until
/// the commit, so a takeover waits for it and then sees what it wrote.
async fn check_lease(tx: &Transaction<'_>, token: &TokenId, epoch: i64) -> Result<(), StoreError> {
    let held = tx
        .query_opt(
            "SELECT 1 FROM leases WHERE token_id = $1 AND epoch = $2 FOR SHARE",
            &[&token.as_str(), &epoch],
        )
        .await
        .map_err(query_error)?;
    held.map(|_| ()).ok_or(StoreError::LeaseLost)
}

/// The token's selection (default: the primary, never synced), in a transaction or not.
pub(super) async fn selection(
    c: &impl GenericClient,
    token: &TokenId,
) -> Result<Selection, StoreError> {
    let row = c
        .query_opt(
            "SELECT record FROM selections WHERE token_id = $1",
            &[&token.as_str()],
        )
        .await
        .map_err(query_error)?;
    Ok(row
        .map(|r| decode_selection(r.get(0)))
        .transpose()?
        .unwrap_or_default())
}

/// The token's index entries: all of them, or those of `events`.
async fn indexed(
    tx: &Transaction<'_>,
    token: &TokenId,
    events: Option<&[&str]>,
) -> Result<Vec<Indexed>, StoreError> {
    let rows = match events {
        None => {
            tx.query(
                "SELECT event_id, entry FROM event_index WHERE token_id = $1",
                &[&token.as_str()],
            )
            .await
        }
        Some(ids) => {
            tx.query(
                "SELECT event_id, entry FROM event_index
                 WHERE token_id = $1 AND event_id = ANY($2)",
                &[&token.as_str(), &ids],
            )
            .await
        }
    }
    .map_err(query_error)?;
    rows.iter()
        .map(|r| {
            let id: String = r.get(0);
            Ok((id.into_bytes(), IndexEntry::decode(r.get(1))?))
        })
        .collect()
}

/// Writes the token's point changes, index changes and selection; answers the points removed.
async fn write(
    tx: &Transaction<'_>,
    token: &TokenId,
    points: &SeriesOps<'_>,
    index: &Ops<'_>,
    selection: &Selection,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for (prefix, ops) in points {
        removed += apply_series(tx, prefix, ops).await?;
    }
    let mut gone: Vec<&str> = Vec::new();
    let (mut ids, mut entries): (Vec<&str>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    for (id, entry) in index.resolve() {
        let id = std::str::from_utf8(id).map_err(|_| StoreError::corrupt("event id"))?;
        match entry {
            Some(e) => {
                ids.push(id);
                entries.push(e);
            }
            None => gone.push(id),
        }
    }
    if !gone.is_empty() {
        tx.execute(
            "DELETE FROM event_index WHERE token_id = $1 AND event_id = ANY($2)",
            &[&token.as_str(), &gone],
        )
        .await
        .map_err(query_error)?;
    }
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO event_index (token_id, event_id, entry)
             SELECT $1, e, v FROM unnest($2::text[], $3::bytea[]) AS u(e, v)
             ON CONFLICT (token_id, event_id) DO UPDATE SET entry = EXCLUDED.entry",
            &[&token.as_str(), &ids, &entries],
        )
        .await
        .map_err(query_error)?;
    }
    tx.execute(
        "INSERT INTO selections (token_id, record) VALUES ($1, $2)
         ON CONFLICT (token_id) DO UPDATE SET record = EXCLUDED.record",
        &[&token.as_str(), &encode_selection(selection)?],
    )
    .await
    .map_err(query_error)?;
    Ok(removed)
}

impl PgStore {
    pub(crate) fn commit_sync(&self, commit: &SyncCommit) -> Result<SyncCommitStats, StoreError> {
        let encoded = Encoded::new(commit);
        let token = commit.token_id();
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            lock_token(self, &tx, token, Some(&commit.connection_id)).await?;
            if let Some(epoch) = commit.fence {
                check_lease(&tx, token, epoch).await?;
            }
            let selection = selection(&tx, token).await?;
            let events: Vec<&str> = commit.changes.ids().collect();
            let old = indexed(&tx, token, (!commit.full).then_some(&events[..])).await?;
            let prepared = plan(commit, encoded, selection, old)?;
            let removed = write(
                &tx,
                token,
                &prepared.points,
                &prepared.index,
                &prepared.selection,
            )
            .await?;
            tx.commit().await.map_err(query_error)?;
            Ok(SyncCommitStats {
                removed,
                ..prepared.stats
            })
        })
    }

    /// One transaction per commit: PostgreSQL's cost per transaction is small next to sled's
    /// (which syncs its log twice each), and a refused commit then refuses nothing else.
    pub(crate) fn commit_syncs(
        &self,
        commits: &[SyncCommit],
    ) -> Vec<Result<SyncCommitStats, StoreError>> {
        commits.iter().map(|c| self.commit_sync(c)).collect()
    }

    pub(crate) fn forget_calendar(
        &self,
        token: &TokenId,
        purge: bool,
        credentials: bool,
    ) -> Result<(), StoreError> {
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            lock_token(self, &tx, token, None).await?;
            if purge {
                let mut points = SeriesOps::new();
                for (_, entry) in indexed(&tx, token, None).await? {
                    remove_points(&mut points, &entry.keys()?)?;
                }
                for (prefix, ops) in &points {
                    apply_series(&tx, prefix, ops).await?;
                }
            }
            for sql in [
                "DELETE FROM event_index WHERE token_id = $1",
                "DELETE FROM selections WHERE token_id = $1",
            ] {
                tx.execute(sql, &[&token.as_str()])
                    .await
                    .map_err(query_error)?;
            }
            if credentials {
                tx.execute(
                    "DELETE FROM google_credentials WHERE token_id = $1",
                    &[&token.as_str()],
                )
                .await
                .map_err(query_error)?;
            }
            tx.commit().await.map_err(query_error)
        })
    }

    pub(crate) fn select_calendars(
        &self,
        token: &TokenId,
        connection_id: &str,
        ids: &[String],
    ) -> Result<Selection, StoreError> {
        self.pool.with(async |c| {
            let tx = c.transaction().await.map_err(query_error)?;
            lock_token(self, &tx, token, Some(connection_id)).await?;
            let (selection, dropped) = selection(&tx, token).await?.reselect(ids);
            let mut points = SeriesOps::new();
            let mut index = Ops::new();
            if !dropped.is_empty() {
                for (event_id, entry) in indexed(&tx, token, None).await? {
                    if entry.holders.iter().any(|h| dropped.contains(h)) {
                        release(event_id, entry, &dropped, &mut points, &mut index)?;
                    }
                }
            }
            write(&tx, token, &points, &index, &selection).await?;
            tx.commit().await.map_err(query_error)?;
            Ok(selection)
        })
    }
}
