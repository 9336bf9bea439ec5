//! The schema-2 record formats, written the way schema 2 wrote them, for the tests that build a
//! legacy store and migrate it: `tests/it/migration.rs` (SIGKILL during the migration) and the
//! unit tests of `src/store/migrate.rs`, which include this file by path. It names no crate type,
//! so both can.

use std::collections::BTreeMap;

/// A datapoint value: `value: f64 BE | count: u16 | (key_len: u16, key, value_len: u32, value)*`
/// over the sorted dimensions.
pub fn encode_point<K: AsRef<str>>(value: f64, dimensions: &BTreeMap<K, String>) -> Vec<u8> {
    let mut out = value.to_be_bytes().to_vec();
    out.extend_from_slice(&(dimensions.len() as u16).to_be_bytes());
    for (k, v) in dimensions {
        out.extend_from_slice(&(k.as_ref().len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_ref().as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// An event index value: `count: u32 | (len: u16, datapoint key)*`.
pub fn encode_refs(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (keys.len() as u32).to_be_bytes().to_vec();
    for k in keys {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
    }
    out
}
