//! The sync commit: a token's event index, its datapoints and its new sync token, written as
//! blocks ([`blocks`]) in one sled transaction, so a crash at any instant leaves the store before
//! or after the whole sync, and a sync token is never saved ahead of the data it covers.

use std::collections::HashMap;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{Batch, Transactional};

use super::blocks::{self, Ops};
use super::cipher::Cipher;
use super::google::{decode_credentials, SyncState};
use super::{codec, keys, Store, StoreError};
use crate::convert::MetricPoint;
use crate::token::TokenId;

/// One event's new datapoints; empty when the event was deleted or is no longer a measurement.
#[derive(Debug, Clone)]
pub struct EventChange {
    /// Google's event (or instance) id.
    pub event_id: String,
    /// Its datapoints now.
    pub points: Vec<MetricPoint>,
}

/// Everything one sync produced, committed as one unit.
#[derive(Debug, Clone)]
pub struct SyncCommit {
    /// The data token synced.
    pub token_id: TokenId,
    /// Its user, whose metric space the datapoints go to.
    pub user: String,
    /// The connection the sync ran for; the commit is refused if it was replaced meanwhile.
    pub connection_id: String,
    /// A full sync replaces all of the token's derived datapoints; an incremental one only the
    /// changed events'.
    pub full: bool,
    /// The changed events (all events for a full sync), each once.
    pub changes: Vec<EventChange>,
    /// The state to save with the data, including the new sync token.
    pub state: SyncState,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCommitStats {
    /// Datapoints written.
    pub written: u64,
    /// Datapoints removed.
    pub removed: u64,
    /// Events holding datapoints after the commit.
    pub events: u64,
    /// Datapoints held after the commit.
    pub datapoints: u64,
}

/// Changes per series (a sync touches a handful of metrics, so a list is the fastest map).
type SeriesOps = Vec<(Vec<u8>, Ops)>;

/// The changes to the series under `prefix`.
fn series<'a>(points: &'a mut SeriesOps, prefix: &[u8]) -> &'a mut Ops {
    let at = match points.iter().position(|(p, _)| p == prefix) {
        Some(at) => at,
        None => {
            points.push((prefix.to_vec(), Ops::new()));
            points.len() - 1
        }
    };
    &mut points[at].1
}

/// Adds the removal of every datapoint key in `refs` to the changes of its series.
fn remove_points(points: &mut SeriesOps, refs: &[Vec<u8>]) -> Result<(), StoreError> {
    for k in refs {
        let (prefix, entry) =
            keys::split_datapoint_key(k).ok_or_else(|| StoreError::corrupt("event index"))?;
        series(points, prefix).remove(entry.to_vec());
    }
    Ok(())
}

/// Appends one datapoint key, as [`encode_keys`] writes it, to an index entry.
fn push_ref(refs: &mut Vec<u8>, prefix: &[u8], entry: &[u8]) {
    refs.extend_from_slice(&((prefix.len() + entry.len()) as u16).to_be_bytes());
    refs.extend_from_slice(prefix);
    refs.extend_from_slice(entry);
}

#[cfg(test)]
fn encode_keys(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + keys.iter().map(|k| 2 + k.len()).sum::<usize>());
    out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
    for k in keys {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
    }
    out
}

fn decode_keys(bytes: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let bad = || StoreError::corrupt("event index entry");
    let count = u32::from_be_bytes(
        bytes
            .get(..4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ) as usize;
    let mut out = Vec::with_capacity(count.min(1024));
    let mut rest = &bytes[4..];
    for _ in 0..count {
        let len = u16::from_be_bytes(
            rest.get(..2)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        ) as usize;
        out.push(rest.get(2..2 + len).ok_or_else(bad)?.to_vec());
        rest = &rest[2 + len..];
    }
    Ok(out)
}

/// An event id with the datapoint keys it produced.
type IndexEntry = (Vec<u8>, Vec<Vec<u8>>);

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn check_connection(
    cipher: &Cipher,
    creds: &TransactionalTree,
    token: &TokenId,
    connection_id: &str,
) -> Tx<()> {
    let current = creds
        .get(token.as_str())?
        .map(|b| decode_credentials(cipher, token, &b))
        .transpose()
        .map_err(ConflictableTransactionError::Abort)?;
    match current {
        Some(c) if c.connection_id == connection_id => Ok(()),
        _ => Err(ConflictableTransactionError::Abort(StoreError::Stale)),
    }
}

impl Store {
    /// The event ids this token's index holds, with their datapoint keys.
    fn indexed_events(&self, token: &TokenId) -> Result<Vec<IndexEntry>, StoreError> {
        let mut out = Vec::new();
        blocks::scan_all(
            &self.inner.event_index,
            &keys::token_prefix(token.as_str()),
            |event, refs| {
                out.push((event.to_vec(), decode_keys(refs)?));
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The index entries of the given events that exist.
    fn changed_entries<'a>(
        &self,
        token: &TokenId,
        event_ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let prefix = keys::token_prefix(token.as_str());
        let mut out = Vec::new();
        for id in event_ids {
            if let Some(refs) = blocks::get(&self.inner.event_index, &prefix, id.as_bytes())? {
                out.push((id.as_bytes().to_vec(), decode_keys(&refs)?));
            }
        }
        Ok(out)
    }

    /// Commits one sync. The old index is read and the new blocks are made before the
    /// transaction, under the store's block write lock, so nobody changes them meanwhile; the
    /// new points are encoded before the lock is taken.
    /// Fails with [`StoreError::Stale`] when the connection was replaced or removed meanwhile.
    pub fn commit_sync(&self, commit: &SyncCommit) -> Result<SyncCommitStats, StoreError> {
        let token = &commit.token_id;
        // Google lists each changed event once; should an id repeat anyway, the last one wins.
        let mut last: HashMap<&str, &EventChange> = HashMap::with_capacity(commit.changes.len());
        for c in &commit.changes {
            last.insert(c.event_id.as_str(), c);
        }
        // The new points need nothing stored: they are encoded before the lock is taken, so data
        // API writes wait only for the reads and writes of blocks.
        let mut points = SeriesOps::new();
        let mut index = Ops::new();
        let mut stats = SyncCommitStats::default();
        let (mut new_events, mut new_points) = (0u64, 0u64);
        let mut prefix = Vec::new();
        for c in last.values() {
            if c.points.is_empty() {
                continue;
            }
            let mut refs = Vec::with_capacity(4 + c.points.len() * 64);
            refs.extend_from_slice(&(c.points.len() as u32).to_be_bytes());
            for p in &c.points {
                keys::metric_prefix_into(&commit.user, p.metric.as_str(), &mut prefix);
                let entry =
                    keys::derived_entry_key(p.point.timestamp, &p.point.dimensions, token.as_str());
                push_ref(&mut refs, &prefix, &entry);
                series(&mut points, &prefix).put(entry.to_vec(), codec::encode(&p.point));
            }
            new_events += 1;
            new_points += c.points.len() as u64;
            index.put(c.event_id.as_bytes().to_vec(), refs);
        }
        stats.written = new_points;
        let _writing = self.writing_blocks();
        let old = if commit.full {
            self.indexed_events(token)?
        } else {
            self.changed_entries(token, last.keys().copied())?
        };
        // Removals: every old point of a changed (on a full sync: of any) event; the puts above
        // win over those the event still has. Index entries of events without points go too.
        let (old_events, mut old_points) = (old.len() as u64, 0u64);
        for (event_id, old_keys) in old {
            old_points += old_keys.len() as u64;
            remove_points(&mut points, &old_keys)?;
            index.remove(event_id);
        }
        if commit.full {
            stats.events = new_events;
            stats.datapoints = new_points;
        } else {
            let previous = self.sync_state(token)?;
            stats.events = (previous.events + new_events).saturating_sub(old_events);
            stats.datapoints = (previous.datapoints + new_points).saturating_sub(old_points);
        }
        let state = SyncState {
            events: stats.events,
            datapoints: stats.datapoints,
            ..commit.state.clone()
        };
        let state_bytes =
            serde_json::to_vec(&state).map_err(|e| StoreError::corrupt(e.to_string()))?;
        let (point_blocks, removed) = self.point_blocks(&points)?;
        stats.removed = removed;
        let mut index_blocks = Batch::default();
        blocks::apply(
            &self.inner.event_index,
            &keys::token_prefix(token.as_str()),
            &index,
            &mut index_blocks,
        )?;
        self.apply_calendar(&point_blocks, &index_blocks, |s, g| {
            check_connection(&self.inner.cipher, g, token, &commit.connection_id)?;
            s.insert(token.as_str(), state_bytes.as_slice())?;
            Ok(())
        })?;
        Ok(stats)
    }

    /// Forgets a token's calendar: its sync state and event index, and with `purge` the
    /// datapoints the index points at; with `credentials` its Google credentials too. One
    /// transaction, so a concurrent commit lands wholly before (and is then undone) or is
    /// refused as stale.
    pub fn forget_calendar(
        &self,
        token: &TokenId,
        purge: bool,
        credentials: bool,
    ) -> Result<(), StoreError> {
        let _writing = self.writing_blocks();
        let mut points = SeriesOps::new();
        if purge {
            for (_, refs) in self.indexed_events(token)? {
                remove_points(&mut points, &refs)?;
            }
        }
        let (point_blocks, _) = self.point_blocks(&points)?;
        let mut index_blocks = Batch::default();
        blocks::remove_series(
            &self.inner.event_index,
            &keys::token_prefix(token.as_str()),
            &mut index_blocks,
        )?;
        self.apply_calendar(&point_blocks, &index_blocks, |s, g| {
            s.remove(token.as_str())?;
            if credentials {
                g.remove(token.as_str())?;
            }
            Ok(())
        })
    }

    /// The block writes of `points`, and how many entries they remove. Called under the block
    /// write lock.
    fn point_blocks(&self, points: &SeriesOps) -> Result<(Batch, u64), StoreError> {
        let mut batch = Batch::default();
        let mut removed = 0;
        for (prefix, ops) in points {
            removed += blocks::apply(&self.inner.datapoints, prefix, ops, &mut batch)?.removed;
        }
        Ok((batch, removed))
    }

    /// Applies a calendar's datapoint and event-index block writes and `rest` (given the
    /// `sync_state` and `google_credentials` trees) in one transaction, while readers wait.
    /// Called under the block write lock.
    fn apply_calendar(
        &self,
        points: &Batch,
        index: &Batch,
        rest: impl Fn(&TransactionalTree, &TransactionalTree) -> Tx<()>,
    ) -> Result<(), StoreError> {
        let i = &self.inner;
        let _applying = self.applying_blocks();
        (
            &i.datapoints,
            &i.event_index,
            &i.sync_state,
            &i.google_credentials,
        )
            .transaction(|(d, idx, s, g)| -> Tx<()> {
                d.apply_batch(points)?;
                idx.apply_batch(index)?;
                rest(s, g)
            })?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "sync_commit_tests.rs"]
mod tests;
