//! Sorted maps kept as blocks of entries in one sled tree: the layout of datapoint series and
//! event indexes.
//!
//! A *series* is a sorted map from entry keys to values, stored under a sled key prefix that no
//! other series' prefix starts with. Its entries live in blocks of up to [`MAX_BLOCK_BYTES`]; a
//! block's sled key is the prefix followed by its *start*, and a block holds exactly the entries
//! from its start up to the next block's start. The first block starts at the empty key, so every
//! entry key has a block it belongs to.
//!
//! Why blocks: sled spends a few microseconds on every record it writes or iterates, whatever its
//! size. One record per datapoint made a 50,000-event sync write 150,000 records and a
//! 1,000-point read step its iterator 1,000 times; in blocks the same sync writes about a
//! thousand and the read a dozen (issue #8 has the figures).
//!
//! Writes are read-modify-write of whole blocks, so callers serialize them (the store's write
//! lock) and apply each change as one sled batch or transaction. Blocks that outgrow
//! [`MAX_BLOCK_BYTES`] split into blocks of about [`TARGET_BLOCK_BYTES`]; blocks that shrink below
//! [`MIN_BLOCK_BYTES`] absorb their right neighbour; empty blocks are removed.
//!
//! Block encoding: `count: u32 | (key_len: u16, key, value_len: u32, value)*`, entries sorted by
//! key.

use std::borrow::Cow;
use std::cmp::Ordering;

use sled::{Batch, IVec, Tree};

use super::{keys, StoreError};

/// A block is written whole while its encoding stays within this size; a bigger one is split.
///
/// sled writes a tree node bigger than a quarter of its 512 KiB segment as a file of its own,
/// and a leaf node holds up to 17 records: blocks stay small enough that a node of them never
/// becomes such a file.
pub const MAX_BLOCK_BYTES: usize = 6 * 1024;
/// The size a split fills blocks to, so that a split block can grow a while before it splits
/// again.
pub const TARGET_BLOCK_BYTES: usize = 4 * 1024;
/// A rewritten block smaller than this absorbs its right neighbour, so deletions cannot leave a
/// series as a long run of nearly empty blocks.
pub const MIN_BLOCK_BYTES: usize = TARGET_BLOCK_BYTES / 4;

const HEADER: usize = 4;

/// Changes to one series: puts (insert or replace an entry) and removals, in any order. For a
/// key with several changes, a put beats a removal and the last put wins: a sync removes an
/// event's old points and puts its new ones without checking which of them are the same.
///
/// Keys and values are borrowed where the caller keeps them anyway: a sync commit's points
/// are placed from the commit itself, not from a second copy of every key and value (a
/// 50,000-event commit copied 100,000 of each, 15 MB of fresh memory).
#[derive(Debug, Default)]
pub struct Ops<'a> {
    changes: Vec<Change<'a>>,
}

/// A key and its new value (`None` removes it).
type Change<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

impl<'a> Ops<'a> {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// No changes, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            changes: Vec::with_capacity(n),
        }
    }

    /// Inserts or replaces the entry `key`.
    pub fn put(&mut self, key: impl Into<Cow<'a, [u8]>>, value: impl Into<Cow<'a, [u8]>>) {
        self.changes.push((key.into(), Some(value.into())));
    }

    /// Removes the entry `key`, unless this change set also puts it.
    pub fn remove(&mut self, key: impl Into<Cow<'a, [u8]>>) {
        self.changes.push((key.into(), None));
    }

    /// How many changes were added.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether no change was added.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds every change of `other`, after this set's own.
    pub fn extend(&mut self, other: Ops<'a>) {
        self.changes.extend(other.changes);
    }

    /// How many keys these changes remove (a key also put is not removed).
    pub fn removals(&self) -> u64 {
        self.resolve().iter().filter(|(_, v)| v.is_none()).count() as u64
    }

    /// The changes sorted by key, one per key: `Some(value)` puts, `None` removes.
    pub(crate) fn resolve(&self) -> Vec<(&[u8], Option<&[u8]>)> {
        // Each key's first 16 bytes ride along in the order being sorted, so most comparisons
        // need no trip to the key itself (100,000 of them, each its own allocation, missed the
        // cache at nearly every step). Zero padding keeps the order of the keys: a shorter key
        // ties with its zero-extended self and the whole keys then decide.
        let mut order: Vec<(u128, usize)> = self
            .changes
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (key_head(k), i))
            .collect();
        order.sort_by(|&(ha, a), &(hb, b)| {
            ha.cmp(&hb)
                .then_with(|| self.changes[a].0.cmp(&self.changes[b].0))
        });
        let mut out: Vec<(&[u8], Option<&[u8]>)> = Vec::with_capacity(order.len());
        let mut last_head = None;
        for (head, i) in order {
            let (k, v) = &self.changes[i];
            // Keys of different heads differ: only equal heads need the keys compared.
            let same_head = last_head.replace(head) == Some(head);
            match out.last_mut() {
                Some(last) if same_head && last.0 == k.as_ref() => {
                    // Same key, later in insertion order (the sort is stable).
                    if v.is_some() || last.1.is_none() {
                        last.1 = v.as_deref();
                    }
                }
                _ => out.push((k, v.as_deref())),
            }
        }
        out
    }
}

impl FromIterator<(Vec<u8>, Option<Vec<u8>>)> for Ops<'_> {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>>(iter: I) -> Self {
        Self {
            changes: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.map(Cow::Owned)))
                .collect(),
        }
    }
}

/// A key's first 16 bytes as a big-endian number, zero-padded.
fn key_head(key: &[u8]) -> u128 {
    let mut head = [0u8; 16];
    let n = key.len().min(16);
    head[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(head)
}

/// What applying [`Ops`] did, counted in entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries that did not exist before.
    pub inserted: u64,
    /// Entries whose value was replaced.
    pub replaced: u64,
    /// Entries removed.
    pub removed: u64,
}

fn entry_size(key: &[u8], value: &[u8]) -> usize {
    2 + key.len() + 4 + value.len()
}

/// Encodes entries (sorted by key, keys shorter than 64 KiB) as one block.
pub fn encode_block<'a>(entries: &[(&'a [u8], &'a [u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_block_into(entries, &mut out);
    out
}

/// [`encode_block`] into `out`, replacing what it held: a commit writing thousands of blocks
/// encodes each into the same buffer, which sled copies anyway, instead of fresh memory each.
fn encode_block_into<'a>(entries: &[(&'a [u8], &'a [u8])], out: &mut Vec<u8>) {
    let size = HEADER + entries.iter().map(|(k, v)| entry_size(k, v)).sum::<usize>();
    out.clear();
    out.reserve(size);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (k, v) in entries {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
}

/// The number of entries a block holds, read from its header.
pub fn block_len(block: &[u8]) -> Result<u32, StoreError> {
    let head: [u8; HEADER] = block
        .get(..HEADER)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| StoreError::corrupt("block header"))?;
    Ok(u32::from_be_bytes(head))
}

/// The entries of an encoded block, in key order.
pub fn entries(block: &[u8]) -> Result<Entries<'_>, StoreError> {
    Ok(Entries {
        left: block_len(block)?,
        rest: &block[HEADER..],
    })
}

/// Iterator over a block's `(key, value)` entries; yields an error (once) on a malformed block.
pub struct Entries<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Entries<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn entry(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let klen = u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize;
        let key = self.take(klen)?;
        let vlen = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
        Some((key, self.take(vlen)?))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return (!self.rest.is_empty()).then(|| {
                self.rest = &[];
                Err(StoreError::corrupt("trailing bytes after a block"))
            });
        }
        self.left -= 1;
        Some(match self.entry() {
            Some(e) => Ok(e),
            None => {
                self.left = 0;
                self.rest = &[];
                Err(StoreError::corrupt("truncated block"))
            }
        })
    }
}

fn join(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(key);
    k
}

/// The block `key` belongs to: the last block of the series starting at or before it.
fn containing_block(
    tree: &Tree,
    prefix: &[u8],
    key: &[u8],
) -> Result<Option<(IVec, IVec)>, StoreError> {
    Ok(tree
        .range(prefix.to_vec()..=join(prefix, key))
        .next_back()
        .transpose()?)
}

/// The first block of the series after the block whose sled key is `block_key`.
fn next_block(
    tree: &Tree,
    prefix: &[u8],
    block_key: &[u8],
) -> Result<Option<(IVec, IVec)>, StoreError> {
    let mut after = block_key.to_vec();
    after.push(0);
    let next = match keys::prefix_end(prefix) {
        Some(end) => tree.range(after..end).next(),
        None => tree.range(after..).next(),
    };
    Ok(next.transpose()?)
}

/// The value of one entry of a series.
pub fn get(tree: &Tree, prefix: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((_, block)) = containing_block(tree, prefix, key)? else {
        return Ok(None);
    };
    for entry in entries(&block)? {
        let (k, v) = entry?;
        match k.cmp(key) {
            Ordering::Less => continue,
            Ordering::Equal => return Ok(Some(v.to_vec())),
            Ordering::Greater => break,
        }
    }
    Ok(None)
}

/// Calls `each` with every entry of the series whose key is in `[from, to)` (an open end when
/// `None`), in key order.
pub fn scan(
    tree: &Tree,
    prefix: &[u8],
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let start = match from {
        Some(from) => containing_block(tree, prefix, from)?
            .map(|(k, _)| k.to_vec())
            .unwrap_or_else(|| prefix.to_vec()),
        None => prefix.to_vec(),
    };
    let end = match to {
        Some(to) => Some(join(prefix, to)),
        None => keys::prefix_end(prefix),
    };
    if end.as_ref().is_some_and(|e| *e <= start) {
        return Ok(());
    }
    let blocks = match end {
        Some(end) => tree.range(start..end),
        None => tree.range(start..),
    };
    for block in blocks {
        let (_, block) = block?;
        for entry in entries(&block)? {
            let (k, v) = entry?;
            if from.is_some_and(|f| k < f) {
                continue;
            }
            if to.is_some_and(|t| k >= t) {
                return Ok(());
            }
            each(k, v)?;
        }
    }
    Ok(())
}

/// Calls `each` with every entry of the series, in key order.
pub fn scan_all(
    tree: &Tree,
    prefix: &[u8],
    each: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    scan(tree, prefix, None, None, each)
}

/// Adds the removal of every block of the series to `batch`; returns how many entries it held.
pub fn remove_series(tree: &Tree, prefix: &[u8], batch: &mut Batch) -> Result<u64, StoreError> {
    let mut count = 0;
    for block in tree.scan_prefix(prefix) {
        let (key, block) = block?;
        count += u64::from(block_len(&block)?);
        batch.remove(key);
    }
    Ok(count)
}

/// Merges the entries of `blocks` (consecutive blocks, in order) with `ops` (sorted), calling
/// `keep` with every resulting entry in key order.
fn merge<'a>(
    blocks: &'a [IVec],
    ops: &[(&'a [u8], Option<&'a [u8]>)],
    mut keep: impl FnMut(&'a [u8], &'a [u8]),
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    let mut ops = ops.iter().peekable();
    for block in blocks {
        for entry in entries(block)? {
            let (k, v) = entry?;
            while let Some((ok, ov)) = ops.next_if(|(ok, _)| *ok < k) {
                if let Some(ov) = ov {
                    applied.inserted += 1;
                    keep(ok, ov);
                }
            }
            match ops.next_if(|(ok, _)| *ok == k) {
                Some((_, Some(ov))) => {
                    applied.replaced += 1;
                    keep(k, ov);
                }
                Some((_, None)) => applied.removed += 1,
                None => keep(k, v),
            }
        }
    }
    for (ok, ov) in ops {
        if let Some(ov) = ov {
            applied.inserted += 1;
            keep(ok, ov);
        }
    }
    Ok(applied)
}

/// Splits sorted entries into the runs written as blocks: one run while they fit in
/// [`MAX_BLOCK_BYTES`], otherwise runs of about [`TARGET_BLOCK_BYTES`] (a short tail joins the
/// run before it), never over [`MAX_BLOCK_BYTES`] unless one entry alone is. Returns the index
/// each run starts at.
pub fn chunk_starts(sizes: &[usize]) -> Vec<usize> {
    let total = HEADER + sizes.iter().sum::<usize>();
    if total <= MAX_BLOCK_BYTES {
        return vec![0];
    }
    let mut starts = vec![0];
    let mut run = HEADER;
    let mut rest = total - HEADER;
    for (i, &size) in sizes.iter().enumerate() {
        let full = run >= TARGET_BLOCK_BYTES && rest >= MIN_BLOCK_BYTES;
        if run > HEADER && (full || run + size > MAX_BLOCK_BYTES) {
            starts.push(i);
            run = HEADER;
        }
        run += size;
        rest -= size;
    }
    starts
}

/// Adds to `batch` the block writes that apply `ops` to the series under `prefix`. Reads the
/// blocks the changes fall in (and, for a block left underfull, its right neighbour); the caller
/// holds the store's write lock from this read until the batch is applied.
pub fn apply(
    tree: &Tree,
    prefix: &[u8],
    ops: &Ops<'_>,
    batch: &mut Batch,
) -> Result<Applied, StoreError> {
    let ops = ops.resolve();
    let mut applied = Applied::default();
    let mut block = Vec::new();
    let mut at = 0;
    while let Some(&(first, _)) = ops.get(at) {
        let (start, mut blocks) = match containing_block(tree, prefix, first)? {
            Some((k, v)) => (k.to_vec(), vec![v]),
            None => (prefix.to_vec(), Vec::new()),
        };
        let mut absorbed: Vec<IVec> = Vec::new();
        let mut next = next_block(tree, prefix, &start)?;
        let mut end = at;
        loop {
            while let Some(&(k, _)) = ops.get(end) {
                match &next {
                    Some((nk, _)) if k >= &nk[prefix.len()..] => break,
                    _ => end += 1,
                }
            }
            let Some((nk, nv)) = next.take() else { break };
            let mut size = HEADER;
            merge(&blocks, &ops[at..end], |k, v| size += entry_size(k, v))?;
            if size >= MIN_BLOCK_BYTES {
                break;
            }
            // Underfull: take in the right neighbour and the changes that fall in it.
            next = next_block(tree, prefix, &nk)?;
            absorbed.push(nk);
            blocks.push(nv);
        }
        let mut kept: Vec<(&[u8], &[u8])> = Vec::new();
        let done = merge(&blocks, &ops[at..end], |k, v| kept.push((k, v)))?;
        applied.inserted += done.inserted;
        applied.replaced += done.replaced;
        applied.removed += done.removed;
        for key in absorbed {
            batch.remove(key);
        }
        if kept.is_empty() {
            batch.remove(start);
        } else {
            let sizes: Vec<usize> = kept.iter().map(|(k, v)| entry_size(k, v)).collect();
            let starts = chunk_starts(&sizes);
            for (n, &from) in starts.iter().enumerate() {
                let to = starts.get(n + 1).copied().unwrap_or(kept.len());
                let key = if n == 0 {
                    start.clone()
                } else {
                    join(prefix, kept[from].0)
                };
                encode_block_into(&kept[from..to], &mut block);
                batch.insert(key, block.as_slice());
            }
        }
        at = end;
    }
    Ok(applied)
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
