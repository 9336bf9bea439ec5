//! The schema-3 record formats that schema 4 changed, written the way schema 3 wrote them, for
//! the tests that build a schema-3 store and migrate it: `tests/it/selection_migration.rs`
//! (SIGKILL during the migration). It names no crate type, so a unit test of `src/store` could
//! include it by path, as `migrate_tests.rs` does with `schema2.rs`.
//!
//! What schema 4 reads differently:
//! - `sync_state` (key: token id): schema 3 kept the state of the token's one calendar
//!   ([`State::encode`]); schema 4 keeps a selection of calendars, each with its slot.
//! - `event_index_blocks` entries (series prefix: the length-prefixed token id, entry key: the
//!   event id): schema 3 wrote only the datapoint keys ([`encode_refs`]); schema 4 entries may
//!   start with a tag and the slots of the calendars holding the event.
//!
//! Unchanged, so tests write them with the crate's own helpers: the block layout of both block
//! trees (`store::blocks`), the datapoint keys (`store::keys`) and values (`store::codec`), the
//! credentials, tokens and `meta` records.

/// The schema version a schema-3 store holds in `meta` / [`SCHEMA_KEY`] (u32 big-endian).
pub const SCHEMA: u32 = 3;
/// The tree of store-wide records.
pub const META: &str = "meta";
/// The key of the schema version in [`META`].
pub const SCHEMA_KEY: &[u8] = b"schema_version";
/// The tree of sync states, one record per data token, keyed by its id.
pub const SYNC_STATE: &str = "sync_state";
/// The tree of event index blocks, one series per data token.
pub const EVENT_INDEX: &str = "event_index_blocks";
/// The tree of datapoint blocks, one series per user and metric.
pub const DATAPOINTS: &str = "datapoint_blocks";

/// Where the sync of a token's one calendar stood, as schema 3 kept it.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Always `primary` in schema 3.
    pub calendar_id: String,
    /// Google's sync token; `None` until the first successful sync.
    pub sync_token: Option<String>,
    /// The calendar's time zone as of the last sync.
    pub time_zone: Option<String>,
    /// Events that produced datapoints.
    pub events: u64,
    /// Datapoints held for the token.
    pub datapoints: u64,
    /// Unix seconds of the last successful sync.
    pub last_success_at: Option<i64>,
    /// Events skipped as malformed in the last sync.
    pub skipped: u64,
    /// Unix seconds of the last full sync.
    pub last_full_sync_at: Option<i64>,
}

impl State {
    /// The `sync_state` record: the JSON serde wrote for schema 3's `SyncState`, fields in
    /// declaration order, absent values as `null`:
    ///
    /// `{"calendar_id":"primary","sync_token":…,"time_zone":…,"events":…,"datapoints":…,
    /// "last_success_at":…,"skipped":…,"last_full_sync_at":…}`
    ///
    /// `last_full_sync_at` came with the sync actors, before schema 3, as an optional field
    /// (`#[serde(default)]`); a record last written by an older build has no such field, and
    /// schema 3 read it as `None`. With `older_writer` the record is written that way (the state's
    /// `last_full_sync_at` must then be `None`).
    pub fn encode(&self, older_writer: bool) -> Vec<u8> {
        let text = |s: &Option<String>| serde_json::to_string(s).unwrap();
        let number = |n: Option<i64>| n.map_or_else(|| "null".to_string(), |n| n.to_string());
        let mut out = format!(
            r#"{{"calendar_id":{},"sync_token":{},"time_zone":{},"events":{},"datapoints":{},"last_success_at":{},"skipped":{}"#,
            serde_json::to_string(&self.calendar_id).unwrap(),
            text(&self.sync_token),
            text(&self.time_zone),
            self.events,
            self.datapoints,
            number(self.last_success_at),
            self.skipped,
        );
        if older_writer {
            assert!(self.last_full_sync_at.is_none(), "an older writer had none");
        } else {
            out.push_str(&format!(
                r#","last_full_sync_at":{}"#,
                number(self.last_full_sync_at)
            ));
        }
        out.push('}');
        out.into_bytes()
    }
}

/// An event index entry: `count: u32 BE | (len: u16 BE, datapoint key)*`, the full keys (series
/// prefix and entry key) of the datapoints the event produced. The same bytes as schema 2's
/// records; schema 4 reads an entry without its holders tag as held by the calendar in slot 0.
pub fn encode_refs(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (keys.len() as u32).to_be_bytes().to_vec();
    for k in keys {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
    }
    out
}
