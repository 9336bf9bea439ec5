//! Migrations of older stores, run at open, each crash-safe.
//!
//! - Schema 1 or 2 kept one record per datapoint (`datapoints`) and per event (`event_index`);
//!   [`to_blocks`] moves them into the blocks of schema 3 ([`blocks`](super::blocks)). Crash-safe
//!   by order: the new trees are rebuilt from scratch, flushed, and only then is the schema version
//!   raised; the old trees are dropped after that, at this open or the next. A crash before the
//!   version is raised leaves the old trees whole, and the next open starts over.
//! - Schema 3 synced one calendar per token; [`to_selections`] turns each token's sync state into
//!   a selection of that one calendar, in one transaction with the version change. Its event
//!   index entries stay as they are: an entry without holders belongs to that calendar's slot
//!   ([`calendars`](super::calendars)).

use sled::Batch;

use super::blocks::{self, Ops};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::calendars::{decode_selection, encode_selection, Selection};
use super::google::decode_legacy_state;
use super::{
    codec, keys, StoreError, DATAPOINTS, EVENT_INDEX, META, SCHEMA_KEY, SCHEMA_VERSION, SYNC_STATE,
};
use crate::metric::{Datapoint, DimensionKey, Dimensions};

/// The schema-2 tree of datapoints: key `user | metric | timestamp | dimensions hash`.
pub(super) const LEGACY_DATAPOINTS: &str = "datapoints";
/// The schema-2 event index: key `token id / event id`, value the datapoint keys.
pub(super) const LEGACY_EVENT_INDEX: &str = "event_index";

/// The schema that introduced blocks.
pub(super) const BLOCKS_SCHEMA: u32 = 3;

/// Entries written per batch, so a huge series never has to fit in memory at once.
const CHUNK: usize = 20_000;

/// Rebuilds the datapoint and event-index blocks from the legacy trees and raises the schema
/// version.
pub(super) fn to_blocks(db: &sled::Db) -> Result<(), StoreError> {
    db.drop_tree(DATAPOINTS)?;
    db.drop_tree(EVENT_INDEX)?;
    let (points, index) = (db.open_tree(DATAPOINTS)?, db.open_tree(EVENT_INDEX)?);
    let mut moved = (0usize, 0usize);
    if has_tree(db, LEGACY_DATAPOINTS)? {
        moved.0 = copy(&db.open_tree(LEGACY_DATAPOINTS)?, &points, |key, value| {
            let (prefix, entry) = keys::split_datapoint_key(key)?;
            let ts = keys::timestamp_of_entry(entry)?;
            let point = decode_v2(ts, value).ok()?;
            Some((prefix.to_vec(), entry.to_vec(), codec::encode(&point)))
        })?;
    }
    if has_tree(db, LEGACY_EVENT_INDEX)? {
        moved.1 = copy(&db.open_tree(LEGACY_EVENT_INDEX)?, &index, |key, value| {
            let slash = key.iter().position(|&b| b == b'/')?;
            let token = std::str::from_utf8(&key[..slash]).ok()?;
            let event = &key[slash + 1..];
            Some((keys::token_prefix(token), event.to_vec(), value.to_vec()))
        })?;
    }
    db.flush()?;
    db.open_tree(META)?
        .insert(SCHEMA_KEY, &BLOCKS_SCHEMA.to_be_bytes())?;
    db.flush()?;
    if moved != (0, 0) {
        log::info!(
            "store: moved {} datapoints and {} event index entries into blocks (schema {BLOCKS_SCHEMA})",
            moved.0,
            moved.1
        );
    }
    Ok(())
}

/// Turns every token's schema-3 sync state into a selection of its one calendar, and raises the
/// schema version in the same transaction.
pub(super) fn to_selections(db: &sled::Db) -> Result<(), StoreError> {
    let (states, meta) = (db.open_tree(SYNC_STATE)?, db.open_tree(META)?);
    let mut records = Vec::new();
    for record in states.iter() {
        let (token, bytes) = record?;
        let selection = match decode_legacy_state(&bytes) {
            Ok(state) => Selection::from_legacy(state),
            // Already a selection: nothing to change.
            Err(e) => decode_selection(&bytes).map_err(|_| e)?,
        };
        records.push((token, encode_selection(&selection)?));
    }
    (&states, &meta).transaction(|(s, m)| {
        for (token, bytes) in &records {
            s.insert(token, bytes.as_slice())?;
        }
        m.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
        Ok::<_, ConflictableTransactionError<StoreError>>(())
    })?;
    db.flush()?;
    log::info!(
        "store: {} connections now keep a selection of calendars (schema {SCHEMA_VERSION})",
        records.len()
    );
    Ok(())
}

/// Drops the legacy trees of a migrated store.
pub(super) fn drop_legacy_trees(db: &sled::Db) -> Result<(), StoreError> {
    for name in [LEGACY_DATAPOINTS, LEGACY_EVENT_INDEX] {
        if has_tree(db, name)? {
            db.drop_tree(name)?;
        }
    }
    Ok(())
}

fn has_tree(db: &sled::Db, name: &str) -> Result<bool, StoreError> {
    Ok(db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == name.as_bytes()))
}

/// Copies every record of `from` into series of `to`; `split` turns a record into its series
/// prefix, entry key and entry value. Records are in key order, so a series' entries arrive
/// together and in order. Returns how many records were copied.
fn copy(
    from: &sled::Tree,
    to: &sled::Tree,
    split: impl Fn(&[u8], &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
) -> Result<usize, StoreError> {
    let mut prefix: Vec<u8> = Vec::new();
    let mut ops = Ops::new();
    let mut count = 0;
    let flush = |prefix: &[u8], ops: &mut Ops| -> Result<(), StoreError> {
        let mut batch = Batch::default();
        blocks::apply(to, prefix, ops, &mut batch)?;
        to.apply_batch(batch)?;
        *ops = Ops::new();
        Ok(())
    };
    for record in from.iter() {
        let (key, value) = record?;
        let (p, entry, value) = split(&key, &value)
            .ok_or_else(|| StoreError::corrupt("a record of the schema-2 layout"))?;
        if p != prefix || ops.len() >= CHUNK {
            flush(&prefix, &mut ops)?;
            prefix = p;
        }
        ops.put(entry, value);
        count += 1;
    }
    flush(&prefix, &mut ops)?;
    Ok(count)
}

/// Decodes a schema-2 datapoint value: `value: f64 BE | count: u16 | (key_len: u16, key,
/// value_len: u32, value)*`.
fn decode_v2(timestamp: i64, bytes: &[u8]) -> Result<Datapoint, StoreError> {
    let bad = || StoreError::corrupt("schema-2 datapoint");
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], StoreError> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let value = f64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?);
    let count = u16::from_be_bytes(take(2)?.try_into().map_err(|_| bad())?);
    let mut dimensions = Dimensions::new();
    for _ in 0..count {
        let klen = u16::from_be_bytes(take(2)?.try_into().map_err(|_| bad())?) as usize;
        let key = std::str::from_utf8(take(klen)?).map_err(|_| bad())?;
        let key = DimensionKey::new(key).map_err(|_| bad())?;
        let vlen = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
        let value = std::str::from_utf8(take(vlen)?).map_err(|_| bad())?;
        dimensions.insert(key, value.to_string());
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(Datapoint {
        timestamp,
        dimensions,
        value,
    })
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
