//! The sync commit: one calendar's share of a token's event index, its datapoints and its new
//! sync token, written as blocks ([`blocks`]) in one sled transaction, so a crash at any instant
//! leaves the store before or after the whole sync, and a sync token is never saved ahead of the
//! data it covers.
//!
//! A token's calendars share its event index ([`calendars`](super::calendars)): an event that
//! another selected calendar also holds keeps its datapoints when this calendar drops it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{Batch, Transactional};

use super::blocks::{self, Ops};
use super::calendars::{encode_selection, IndexEntry, Selection};
use super::cipher::Cipher;
use super::google::{decode_credentials, SyncState};
use super::skip_notices::{self, SkipNotice};
use super::{codec, keys, SledStore, StoreError};
use crate::convert::MetricPoint;
use crate::metric::Datapoint;
use crate::token::TokenId;

/// The changed events of one sync (all events of a full sync), each once, with their datapoints
/// encoded as the store keeps them: each point's series, entry key and stored bytes, and the
/// event index's refs to them.
///
/// Encoding is the costly part of storing a sync (a SHA-256 of each point's dimensions, its JSON,
/// its keys), and it needs nothing stored, so the sync does it as it converts each page, while
/// the next page is on its way; the metric writer only places the bytes (issue #18: a
/// 50,000-event sync's commit lost about 40 % of its time). An event added again replaces its
/// earlier entry.
#[derive(Debug, Clone)]
pub struct Changes {
    user: String,
    owner: TokenId,
    /// The series prefixes the points go to (a sync touches a handful of metrics).
    series: Vec<(String, Vec<u8>)>,
    events: Vec<EncodedEvent>,
    /// Each event's id hash and position in `events`. The ids live in `events` only: a second
    /// copy of each as a map's key was a tenth of converting a page.
    at: HashTable<(u64, usize)>,
    /// Seeded per process, as std's maps are: event ids come from calendars.
    hasher: RandomState,
}

/// One changed event.
#[derive(Debug, Clone)]
pub(super) struct EncodedEvent {
    pub(super) event_id: String,
    /// The event index's refs to its points ([`IndexEntry::refs`]); empty when it has none.
    pub(super) refs: Vec<u8>,
    puts: Vec<EncodedPoint>,
}

#[derive(Debug, Clone)]
struct EncodedPoint {
    /// Index into [`Changes::series`].
    series: usize,
    entry: [u8; keys::ENTRY_KEY_LEN],
    value: Vec<u8>,
}

impl Changes {
    /// No changes yet, for the sync of data token `owner` of `user` (whose metric space the
    /// points go to, and whose id the derived points' keys include).
    pub fn new(user: &str, owner: &TokenId) -> Self {
        Self {
            user: user.to_string(),
            owner: owner.clone(),
            series: Vec::new(),
            events: Vec::new(),
            at: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    /// The changes `events` (id and datapoints now) make, in order.
    pub fn of(
        user: &str,
        owner: &TokenId,
        events: impl IntoIterator<Item = (String, Vec<MetricPoint>)>,
    ) -> Self {
        let mut changes = Self::new(user, owner);
        for (id, points) in events {
            changes.push(id, &points);
        }
        changes
    }

    /// Records event `event_id` with its datapoints now: none when it was deleted or is no
    /// longer a measurement.
    pub fn push(&mut self, event_id: String, points: &[MetricPoint]) {
        let mut refs = Vec::new();
        let mut puts = Vec::with_capacity(points.len());
        if !points.is_empty() {
            refs.reserve(4 + points.len() * 64);
            refs.extend_from_slice(&(points.len() as u32).to_be_bytes());
        }
        // An event's points (its duration and each custom metric) share their timestamp and
        // dimensions, so their entry key (a SHA-256 of the dimensions) and the JSON of the
        // dimensions are made once for all of them.
        let mut shared: Option<(&Datapoint, [u8; keys::ENTRY_KEY_LEN], codec::Head)> = None;
        for p in points {
            let series = self.series_of(p.metric.as_str());
            let (_, entry, head) = match &mut shared {
                Some(s)
                    if s.0.timestamp == p.point.timestamp
                        && s.0.dimensions == p.point.dimensions =>
                {
                    s
                }
                slot => slot.insert((
                    &p.point,
                    keys::derived_entry_key(
                        p.point.timestamp,
                        &p.point.dimensions,
                        self.owner.as_str(),
                    ),
                    codec::Head::new(&p.point.dimensions),
                )),
            };
            push_ref(&mut refs, &self.series[series].1, entry);
            puts.push(EncodedPoint {
                series,
                entry: *entry,
                value: head.with_value(p.point.value),
            });
        }
        let event = EncodedEvent {
            event_id,
            refs,
            puts,
        };
        match self.lookup(&event.event_id) {
            (_, Some(i)) => self.events[i] = event,
            (hash, None) => {
                self.at
                    .insert_unique(hash, (hash, self.events.len()), |&(h, _)| h);
                self.events.push(event);
            }
        }
    }

    /// The hash of `event_id`, and where the event is in `events` if it is there.
    fn lookup(&self, event_id: &str) -> (u64, Option<usize>) {
        let hash = self.hasher.hash_one(event_id);
        let found = self
            .at
            .find(hash, |&(h, i)| {
                h == hash && self.events[i].event_id == event_id
            })
            .map(|&(_, i)| i);
        (hash, found)
    }

    /// Where event `event_id` is in `events`.
    fn position(&self, event_id: &str) -> Option<usize> {
        self.lookup(event_id).1
    }

    /// Forgets event `event_id` (a full sync needs no entry for an event without points).
    pub fn remove(&mut self, event_id: &str) {
        let (hash, Some(i)) = self.lookup(event_id) else {
            return;
        };
        if let Ok(found) = self.at.find_entry(hash, |&(_, j)| j == i) {
            found.remove();
        }
        self.events.swap_remove(i);
        // The last event took its place.
        if let Some(moved) = self.events.get(i) {
            let last = self.events.len();
            let hash = self.hasher.hash_one(moved.event_id.as_str());
            if let Some(at) = self.at.find_mut(hash, |&(_, j)| j == last) {
                at.1 = i;
            }
        }
    }

    fn series_of(&mut self, metric: &str) -> usize {
        match self.series.iter().position(|(m, _)| m == metric) {
            Some(i) => i,
            None => {
                let mut prefix = Vec::new();
                keys::metric_prefix_into(&self.user, metric, &mut prefix);
                self.series.push((metric.to_string(), prefix));
                self.series.len() - 1
            }
        }
    }

    /// How many events changed.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event changed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many datapoints the changed events have now.
    pub fn points(&self) -> usize {
        self.events.iter().map(|e| e.puts.len()).sum()
    }

    /// The changed events' ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|e| e.event_id.as_str())
    }

    /// Whether event `event_id` changed.
    pub fn contains(&self, event_id: &str) -> bool {
        self.position(event_id).is_some()
    }
}

/// Everything one sync produced, committed as one unit.
#[derive(Debug, Clone)]
pub struct SyncCommit {
    /// The connection the sync ran for; the commit is refused if it was replaced meanwhile.
    pub connection_id: String,
    /// A full sync replaces everything the calendar gave; an incremental one only the changed
    /// events'.
    pub full: bool,
    /// The changed events (all events for a full sync), encoded for the token synced and its
    /// user ([`Changes::new`]), which are the commit's.
    pub changes: Changes,
    /// The calendar's state to save with the data, including the new sync token; its `slot`
    /// and `calendar_id` name the calendar synced. Its `skip_notices` are ignored: the stored
    /// ones are merged with `notices`.
    pub state: SyncState,
    /// The `#!` events of this sync that gave no datapoint.
    pub notices: Vec<SkipNotice>,
    /// The epoch of the lease the sync ran under, on a fleet ([`super::fleet`]): the commit is
    /// refused ([`StoreError::LeaseLost`]) unless the token's lease still has it. `None` on a
    /// single node, which syncs every token.
    pub fence: Option<super::fleet::Epoch>,
}

impl SyncCommit {
    /// The data token synced: the one its changes were encoded for, so the two cannot differ.
    pub fn token_id(&self) -> &TokenId {
        &self.changes.owner
    }
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCommitStats {
    /// Datapoints written.
    pub written: u64,
    /// Datapoints removed.
    pub removed: u64,
    /// Events of the calendar holding datapoints after the commit.
    pub events: u64,
    /// Datapoints the calendar's events hold after the commit.
    pub datapoints: u64,
}

/// Changes per series (a sync touches a handful of metrics, so a list is the fastest map).
pub(super) type SeriesOps<'a> = Vec<(Vec<u8>, Ops<'a>)>;

/// The changes to the series under `prefix`.
fn series<'s, 'a>(points: &'s mut SeriesOps<'a>, prefix: &[u8]) -> &'s mut Ops<'a> {
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
pub(super) fn remove_points(
    points: &mut SeriesOps<'_>,
    refs: &[Vec<u8>],
) -> Result<(), StoreError> {
    for k in refs {
        let (prefix, entry) =
            keys::split_datapoint_key(k).ok_or_else(|| StoreError::corrupt("event index"))?;
        series(points, prefix).remove(entry.to_vec());
    }
    Ok(())
}

/// Appends one datapoint key to the refs of an index entry ([`IndexEntry::refs`]).
fn push_ref(refs: &mut Vec<u8>, prefix: &[u8], entry: &[u8]) {
    refs.extend_from_slice(&((prefix.len() + entry.len()) as u16).to_be_bytes());
    refs.extend_from_slice(prefix);
    refs.extend_from_slice(entry);
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// Refuses as stale unless `stored` (the token's credentials record) is the connection
/// `connection_id`.
pub(super) fn same_connection(
    cipher: &Cipher,
    token: &TokenId,
    stored: Option<&[u8]>,
    connection_id: &str,
) -> Result<(), StoreError> {
    match stored
        .map(|b| decode_credentials(cipher, token, b))
        .transpose()?
    {
        Some(c) if c.connection_id == connection_id => Ok(()),
        _ => Err(StoreError::Stale),
    }
}

fn check_connection(
    cipher: &Cipher,
    creds: &TransactionalTree,
    token: &TokenId,
    connection_id: &str,
) -> Tx<()> {
    let stored = creds.get(token.as_str())?;
    same_connection(cipher, token, stored.as_deref(), connection_id)
        .map_err(ConflictableTransactionError::Abort)
}

/// An event id with its index entry.
pub(super) type Indexed = (Vec<u8>, IndexEntry);

/// Drops the calendars in `slots` from an event's holders: the event loses its entry and its
/// datapoints when no calendar holds it any more.
pub(super) fn release(
    event_id: Vec<u8>,
    mut entry: IndexEntry,
    slots: &[u32],
    points: &mut SeriesOps,
    index: &mut Ops,
) -> Result<(), StoreError> {
    entry.release(slots);
    if entry.holders.is_empty() {
        remove_points(points, &entry.keys()?)?;
        index.remove(event_id);
    } else {
        index.put(event_id, entry.encode());
    }
    Ok(())
}

/// A commit's new points placed in their series, before the block write lock is taken (they
/// need nothing stored), so data API writes wait only for the reads and writes of blocks.
pub(super) struct Encoded<'a> {
    pub(super) changes: &'a Changes,
    /// The puts of the new points, by series, borrowed from the commit.
    points: SeriesOps<'a>,
}

impl<'a> Encoded<'a> {
    pub(super) fn new(commit: &'a SyncCommit) -> Self {
        let changes = &commit.changes;
        let mut sizes = vec![0; changes.series.len()];
        for p in changes.events.iter().flat_map(|e| &e.puts) {
            sizes[p.series] += 1;
        }
        let mut points: SeriesOps = changes
            .series
            .iter()
            .zip(sizes)
            .map(|((_, prefix), n)| (prefix.clone(), Ops::with_capacity(n)))
            .collect();
        for event in &changes.events {
            for p in &event.puts {
                points[p.series].1.put(&p.entry[..], p.value.as_slice());
            }
        }
        Self { changes, points }
    }
}

/// A commit made ready under the block write lock, not applied yet.
pub(super) struct Prepared<'a> {
    pub(super) points: SeriesOps<'a>,
    pub(super) index: Ops<'a>,
    pub(super) selection: Selection,
    pub(super) stats: SyncCommitStats,
}

impl SledStore {
    /// Every entry of this token's index.
    pub(super) fn indexed_events(&self, token: &TokenId) -> Result<Vec<Indexed>, StoreError> {
        let mut out = Vec::new();
        blocks::scan_all(
            &self.inner.event_index,
            &keys::token_prefix(token.as_str()),
            |event, entry| {
                out.push((event.to_vec(), IndexEntry::decode(entry)?));
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
    ) -> Result<Vec<Indexed>, StoreError> {
        let prefix = keys::token_prefix(token.as_str());
        let mut out = Vec::new();
        for id in event_ids {
            if let Some(entry) = blocks::get(&self.inner.event_index, &prefix, id.as_bytes())? {
                out.push((id.as_bytes().to_vec(), IndexEntry::decode(&entry)?));
            }
        }
        Ok(out)
    }

    /// Commits one calendar's sync. The old index is read and the new blocks are made before
    /// the transaction, under the store's block write lock, so nobody changes them meanwhile; the
    /// new points are encoded before the lock is taken.
    ///
    /// An event this calendar gives points replaces whatever points another calendar's copy of
    /// it gave (the copy synced last wins; copies of one event normally agree). An event this
    /// calendar no longer holds loses its points only when no other selected calendar holds it.
    ///
    /// Fails with [`StoreError::Stale`] when the connection was replaced or removed meanwhile,
    /// and with [`StoreError::Deselected`] when the calendar was deselected.
    pub fn commit_sync(&self, commit: &SyncCommit) -> Result<SyncCommitStats, StoreError> {
        let encoded = Encoded::new(commit);
        let _writing = self.writing_blocks();
        let prepared = self.prepare(commit, encoded)?;
        self.apply_prepared(commit, prepared)
    }

    /// Applies one prepared commit on its own (a transaction, or a single record when only its
    /// selection changes). Called under the block write lock.
    fn apply_prepared(
        &self,
        commit: &SyncCommit,
        prepared: Prepared,
    ) -> Result<SyncCommitStats, StoreError> {
        let removed = self.commit_selection(
            commit.token_id(),
            &commit.connection_id,
            &prepared.points,
            &prepared.index,
            &prepared.selection,
        )?;
        Ok(SyncCommitStats {
            removed,
            ..prepared.stats
        })
    }

    /// Commits several tokens' syncs, as [`Self::commit_sync`] each would, in one transaction
    /// when they have data to write (a sled transaction writes out and syncs the log buffer
    /// twice, whatever its size, so a group costs what one commit does). Should the group be
    /// refused (a connection replaced meanwhile), each commit is applied alone, so only that one
    /// fails. A token appears at most once: its commits depend on each other. For commits in a
    /// group, `removed` counts the removals they asked for (with a consistent event index, the
    /// points that went).
    pub fn commit_syncs(&self, commits: &[SyncCommit]) -> Vec<Result<SyncCommitStats, StoreError>> {
        let mut tokens = std::collections::HashSet::new();
        if commits.len() < 2 || !commits.iter().all(|c| tokens.insert(c.token_id())) {
            return commits.iter().map(|c| self.commit_sync(c)).collect();
        }
        let encoded: Vec<Encoded<'_>> = commits.iter().map(Encoded::new).collect();
        let mut results: Vec<Option<Result<SyncCommitStats, StoreError>>> =
            commits.iter().map(|_| None).collect();
        let alone = {
            let _writing = self.writing_blocks();
            let mut group = Vec::new();
            for (i, (commit, enc)) in commits.iter().zip(encoded).enumerate() {
                match self.prepare(commit, enc) {
                    Err(e) => results[i] = Some(Err(e)),
                    // Nothing but its selection record to write: no transaction at all.
                    Ok(p) if p.points.is_empty() && p.index.is_empty() => {
                        results[i] = Some(self.apply_prepared(commit, p));
                    }
                    Ok(p) => group.push((i, p)),
                }
            }
            let members: Vec<usize> = group.iter().map(|(i, _)| *i).collect();
            match self.apply_group(commits, group) {
                Ok(done) => {
                    for (i, stats) in done {
                        results[i] = Some(Ok(stats));
                    }
                    Vec::new()
                }
                Err(e) => {
                    log::debug!("a group commit was refused ({e}); its commits are applied alone");
                    members
                }
            }
        };
        for i in alone {
            results[i] = Some(self.commit_sync(&commits[i]));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(StoreError::corrupt("a commit of a group was lost"))))
            .collect()
    }

    /// Applies prepared commits with data in one transaction; answers each one's stats.
    fn apply_group(
        &self,
        commits: &[SyncCommit],
        group: Vec<(usize, Prepared)>,
    ) -> Result<Vec<(usize, SyncCommitStats)>, StoreError> {
        let mut points = SeriesOps::new();
        let mut index_blocks = Batch::default();
        let mut records = Vec::with_capacity(group.len());
        let mut done = Vec::with_capacity(group.len());
        for (i, p) in group {
            let commit = &commits[i];
            let mut removed = 0;
            // Different tokens' entry keys differ (the token is part of them), so merging the
            // changes of one series changes none of them.
            for (prefix, ops) in p.points {
                removed += ops.removals();
                series(&mut points, &prefix).extend(ops);
            }
            blocks::apply(
                &self.inner.event_index,
                &keys::token_prefix(commit.token_id().as_str()),
                &p.index,
                &mut index_blocks,
            )?;
            records.push((
                commit.token_id(),
                commit.connection_id.as_str(),
                encode_selection(&p.selection)?,
            ));
            done.push((i, SyncCommitStats { removed, ..p.stats }));
        }
        let (point_blocks, _) = self.point_blocks(&points)?;
        self.apply_calendar(&point_blocks, &index_blocks, |s, g| {
            for (token, connection_id, bytes) in &records {
                check_connection(&self.inner.cipher, g, token, connection_id)?;
                s.insert(token.as_str(), bytes.as_slice())?;
            }
            Ok(())
        })?;
        Ok(done)
    }

    /// Reads what `commit` changes (its token's selection and index entries) and plans its
    /// changes ([`plan`]). Called under the block write lock.
    fn prepare<'a>(
        &self,
        commit: &SyncCommit,
        encoded: Encoded<'a>,
    ) -> Result<Prepared<'a>, StoreError> {
        let token = commit.token_id();
        let selection = self.selection(token)?;
        let old = if commit.full {
            self.indexed_events(token)?
        } else {
            self.changed_entries(token, encoded.changes.ids())?
        };
        plan(commit, encoded, selection, old)
    }

    /// Applies a token's point and index changes and writes its selection in one transaction,
    /// refused as stale when `connection_id` is no longer the token's connection. Called under
    /// the block write lock; answers how many datapoints went.
    fn commit_selection(
        &self,
        token: &TokenId,
        connection_id: &str,
        points: &SeriesOps,
        index: &Ops,
        selection: &Selection,
    ) -> Result<u64, StoreError> {
        let bytes = encode_selection(selection)?;
        if index.is_empty() && points.iter().all(|(_, ops)| ops.is_empty()) {
            // A sync that changed nothing (most polls): one record, no transaction. A sled
            // transaction writes out and syncs the log buffer twice (its recovery peg), which
            // was 70 % of a no-change sync's CPU. Safe without one: every other writer of
            // `sync_state`, and every removal of credentials, runs on the metric writer's thread
            // as this does, so nothing changes the selection between the read and this write; a
            // reconnection that replaces the credentials meanwhile either keeps the account (its
            // sync tokens stay valid) or queues a `ForgetCalendar` behind this commit. The record
            // is durable at sled's next flush (`flush_every_ms`); a crash before it loses only
            // this sync token, and the one before it still lists the same (no) changes.
            let stored = self.inner.google_credentials.get(token.as_str())?;
            same_connection(&self.inner.cipher, token, stored.as_deref(), connection_id)?;
            self.inner.sync_state.insert(token.as_str(), bytes)?;
            return Ok(0);
        }
        let (point_blocks, removed) = self.point_blocks(points)?;
        let mut index_blocks = Batch::default();
        blocks::apply(
            &self.inner.event_index,
            &keys::token_prefix(token.as_str()),
            index,
            &mut index_blocks,
        )?;
        self.apply_calendar(&point_blocks, &index_blocks, |s, g| {
            check_connection(&self.inner.cipher, g, token, connection_id)?;
            s.insert(token.as_str(), bytes.as_slice())?;
            Ok(())
        })?;
        Ok(removed)
    }

    /// Forgets a token's calendars: its selection and event index, and with `purge` the
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
            for (_, entry) in self.indexed_events(token)? {
                remove_points(&mut points, &entry.keys()?)?;
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

    /// Selects exactly `ids` (`primary` for the primary calendar) for the token's connection
    /// `connection_id`: calendars kept keep their state, new ones start unsynced, and the events
    /// only the dropped calendars held lose their datapoints, in the transaction that drops the
    /// calendars' sync state. Answers the new selection.
    pub fn select_calendars(
        &self,
        token: &TokenId,
        connection_id: &str,
        ids: &[String],
    ) -> Result<Selection, StoreError> {
        let _writing = self.writing_blocks();
        let (selection, dropped) = self.selection(token)?.reselect(ids);
        let mut points = SeriesOps::new();
        let mut index = Ops::new();
        if !dropped.is_empty() {
            for (event_id, entry) in self.indexed_events(token)? {
                if entry.holders.iter().any(|h| dropped.contains(h)) {
                    release(event_id, entry, &dropped, &mut points, &mut index)?;
                }
            }
        }
        self.commit_selection(token, connection_id, &points, &index, &selection)?;
        Ok(selection)
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

/// Plans a commit from what it changes, as stored before it: the token's selection and the
/// index entries of the events it synced (all of the token's for a full sync). Answers the point
/// and index operations, the new selection and the counts (`removed` is left for whoever
/// applies them). Pure, so every engine commits a sync the same way.
pub(super) fn plan<'a>(
    commit: &SyncCommit,
    encoded: Encoded<'a>,
    mut selection: Selection,
    old: Vec<Indexed>,
) -> Result<Prepared<'a>, StoreError> {
    let slot = commit.state.slot;
    let Encoded {
        changes,
        mut points,
    } = encoded;
    // The changed events with points, whose index entry is written below: those stored already
    // are taken out as they are met.
    let mut fresh: Vec<bool> = changes.events.iter().map(|e| !e.puts.is_empty()).collect();
    let (new_events, new_points) = (
        fresh.iter().filter(|&&f| f).count() as u64,
        changes.points() as u64,
    );
    let previous = selection
        .get(slot)
        .filter(|c| c.calendar_id == commit.state.calendar_id)
        .ok_or(StoreError::Deselected)?
        .clone();
    let mut index = Ops::new();
    // What this calendar held of the events it synced, before the commit.
    let (mut old_events, mut old_points) = (0u64, 0u64);
    for (event_id, mut entry) in old {
        let held = entry.is_held_by(slot);
        if held {
            old_events += 1;
            old_points += entry.ref_count();
        }
        let changed = std::str::from_utf8(&event_id)
            .ok()
            .and_then(|id| changes.position(id))
            .filter(|&i| fresh[i]);
        if let Some(i) = changed {
            // This calendar's copy replaces the stored points; the puts win over removals.
            fresh[i] = false;
            remove_points(&mut points, &entry.keys()?)?;
            entry.hold(slot);
            index.put(
                event_id,
                IndexEntry::encode_parts(&entry.holders, &changes.events[i].refs),
            );
        } else if held {
            release(event_id, entry, &[slot], &mut points, &mut index)?;
        }
    }
    for (event, _) in changes.events.iter().zip(fresh).filter(|(_, f)| *f) {
        index.put(
            event.event_id.as_bytes(),
            IndexEntry::encode_parts(&[slot], &event.refs),
        );
    }
    let mut stats = SyncCommitStats {
        written: new_points,
        ..SyncCommitStats::default()
    };
    if commit.full {
        stats.events = new_events;
        stats.datapoints = new_points;
    } else {
        stats.events = (previous.events + new_events).saturating_sub(old_events);
        stats.datapoints = (previous.datapoints + new_points).saturating_sub(old_points);
    }
    let skip_notices =
        skip_notices::merge(&previous.skip_notices, &commit.notices, commit.full, |id| {
            changes.contains(id)
        });
    selection.update(SyncState {
        events: stats.events,
        datapoints: stats.datapoints,
        skip_notices,
        ..commit.state.clone()
    });
    Ok(Prepared {
        points,
        index,
        selection,
        stats,
    })
}

#[cfg(test)]
#[path = "sync_commit_tests.rs"]
pub(crate) mod tests;
