//! Order-preserving key encodings for the sled trees.
//!
//! A metric of a user is one series ([`blocks`](super::blocks)) under the prefix
//! `user | metric`, both length-prefixed, so no series' prefix starts another's. A datapoint's
//! entry key in its series is `timestamp | dimensions-hash`, the timestamp big-endian with its sign
//! bit flipped (so byte order is numeric order, negatives included). Hence a series is sorted by
//! timestamp, and `from`/`to` queries are range scans. An event index is one series per data
//! token, under the length-prefixed token id, keyed by event id.

use sha2::{Digest, Sha256};

use crate::metric::Dimensions;

/// Bytes of the dimensions hash that ends a datapoint key: 128 bits, collision-free in practice.
pub const DIMENSIONS_HASH_LEN: usize = 16;
/// Bytes of an encoded timestamp.
pub const TIMESTAMP_LEN: usize = 8;

/// Encodes a millisecond timestamp so that byte order equals numeric order.
pub fn encode_timestamp(ts: i64) -> [u8; TIMESTAMP_LEN] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_timestamp`].
pub fn decode_timestamp(bytes: [u8; TIMESTAMP_LEN]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Names are bounded far below u16::MAX by validation (users and metric names), so the cast
    // cannot truncate; `min` keeps the encoding well-formed even if a caller forgot.
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

/// The prefix shared by every key of one user.
pub fn user_prefix(user: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + user.len());
    push_str(&mut out, user);
    out
}

/// The prefix shared by every datapoint of one metric of one user.
pub fn metric_prefix(user: &str, metric: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + user.len() + metric.len() + ENTRY_KEY_LEN);
    metric_prefix_into(user, metric, &mut out);
    out
}

/// [`metric_prefix`] into a buffer the caller reuses.
pub fn metric_prefix_into(user: &str, metric: &str, out: &mut Vec<u8>) {
    out.clear();
    push_str(out, user);
    push_str(out, metric);
}

/// Bytes of a datapoint's entry key.
pub const ENTRY_KEY_LEN: usize = TIMESTAMP_LEN + DIMENSIONS_HASH_LEN;

/// The prefix of a data token's event index.
pub fn token_prefix(token: &str) -> Vec<u8> {
    user_prefix(token)
}

/// The entry key of a datapoint written through the data API.
pub fn entry_key(timestamp: i64, dimensions: &Dimensions) -> [u8; ENTRY_KEY_LEN] {
    join_entry(timestamp, hash_with(dimensions, None))
}

/// The entry key of a datapoint a calendar sync derived for data token `owner`. The owner goes
/// into the hash, so two tokens of one user that produce equal datapoints (the same calendar
/// connected twice) hold separate entries, and one token's sync or purge never touches the
/// other's. Derived metrics (`imp.`) are never written through the data API, so no entry of it
/// can collide.
pub fn derived_entry_key(
    timestamp: i64,
    dimensions: &Dimensions,
    owner: &str,
) -> [u8; ENTRY_KEY_LEN] {
    join_entry(timestamp, hash_with(dimensions, Some(owner)))
}

fn join_entry(timestamp: i64, hash: [u8; DIMENSIONS_HASH_LEN]) -> [u8; ENTRY_KEY_LEN] {
    let mut key = [0u8; ENTRY_KEY_LEN];
    key[..TIMESTAMP_LEN].copy_from_slice(&encode_timestamp(timestamp));
    key[TIMESTAMP_LEN..].copy_from_slice(&hash);
    key
}

/// The timestamp of a datapoint's entry key, or `None` for a malformed key.
pub fn timestamp_of_entry(entry: &[u8]) -> Option<i64> {
    let bytes: [u8; TIMESTAMP_LEN] = entry.get(..TIMESTAMP_LEN)?.try_into().ok()?;
    (entry.len() == ENTRY_KEY_LEN).then(|| decode_timestamp(bytes))
}

/// A datapoint's full key: its series prefix followed by its entry key (how the event index
/// names the points an event produced).
pub fn datapoint_key(prefix: &[u8], entry: &[u8; ENTRY_KEY_LEN]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + ENTRY_KEY_LEN);
    key.extend_from_slice(prefix);
    key.extend_from_slice(entry);
    key
}

/// Splits a full datapoint key into its series prefix and entry key.
pub fn split_datapoint_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    key.len()
        .checked_sub(ENTRY_KEY_LEN)
        .filter(|&n| n > 0)
        .map(|n| key.split_at(n))
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no such key
/// exists (a prefix of only 0xff bytes).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Splits a datapoint key of `user` into its metric name, or `None` for a malformed key.
pub fn metric_of_key<'k>(user_prefix: &[u8], key: &'k [u8]) -> Option<&'k str> {
    let rest = key.strip_prefix(user_prefix)?;
    let len = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
    std::str::from_utf8(rest.get(2..2 + len)?).ok()
}

/// Splits a series prefix ([`metric_prefix`]) into its user and metric name, or `None` for a
/// malformed prefix.
pub fn split_metric_prefix(prefix: &[u8]) -> Option<(&str, &str)> {
    let (user, rest) = take_str(prefix)?;
    let (metric, rest) = take_str(rest)?;
    rest.is_empty().then_some((user, metric))
}

/// Splits a block key of a datapoint series into its user, its metric and the block's start.
pub fn split_series_key(key: &[u8]) -> Option<(&str, &str, &[u8])> {
    let (user, rest) = take_str(key)?;
    let (metric, start) = take_str(rest)?;
    Some((user, metric, start))
}

/// Splits a length-prefixed string off the front of `bytes` (a token's event-index prefix):
/// the string and what follows.
pub fn take_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let len = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]) as usize;
    let s = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?;
    Some((s, &bytes[2 + len..]))
}

/// A stable hash of a dimension set. The set is a sorted map and every key and value is
/// length-prefixed, so equal sets (and only equal sets) hash equally.
pub fn dimensions_hash(dimensions: &Dimensions) -> [u8; DIMENSIONS_HASH_LEN] {
    hash_with(dimensions, None)
}

fn hash_with(dimensions: &Dimensions, owner: Option<&str>) -> [u8; DIMENSIONS_HASH_LEN] {
    // One buffer hashed at once: the same bytes as feeding them piece by piece, at a fraction
    // of the cost for the small inputs this sees (a sync hashes every datapoint it writes).
    let mut buf = Vec::with_capacity(
        owner.map_or(0, |o| 8 + o.len())
            + dimensions
                .iter()
                .map(|(k, v)| 8 + k.as_str().len() + v.len())
                .sum::<usize>(),
    );
    if let Some(owner) = owner {
        // A marker no dimension encoding starts with (a key length of u32::MAX).
        buf.extend_from_slice(&u32::MAX.to_be_bytes());
        buf.extend_from_slice(&(owner.len() as u32).to_be_bytes());
        buf.extend_from_slice(owner.as_bytes());
    }
    for (k, v) in dimensions {
        buf.extend_from_slice(&(k.as_str().len() as u32).to_be_bytes());
        buf.extend_from_slice(k.as_str().as_bytes());
        buf.extend_from_slice(&(v.len() as u32).to_be_bytes());
        buf.extend_from_slice(v.as_bytes());
    }
    let digest = Sha256::digest(&buf);
    let mut out = [0u8; DIMENSIONS_HASH_LEN];
    out.copy_from_slice(&digest[..DIMENSIONS_HASH_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::DimensionKey;
    use proptest::prelude::*;

    fn dims(pairs: &[(&str, &str)]) -> Dimensions {
        pairs
            .iter()
            .map(|(k, v)| (DimensionKey::new(*k).unwrap(), v.to_string()))
            .collect()
    }

    proptest! {
        #[test]
        fn timestamp_encoding_preserves_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(a.cmp(&b), encode_timestamp(a).cmp(&encode_timestamp(b)));
            prop_assert_eq!(decode_timestamp(encode_timestamp(a)), a);
        }

        #[test]
        fn a_metric_is_one_contiguous_range(
            user in "[a-z]{0,6}", m1 in "[a-z.]{1,6}", m2 in "[a-z.]{1,6}", t1 in any::<i64>(), t2 in any::<i64>()
        ) {
            let p1 = metric_prefix(&user, &m1);
            let p2 = metric_prefix(&user, &m2);
            let k1 = datapoint_key(&p1, &entry_key(t1, &Dimensions::new()));
            let k2 = datapoint_key(&p2, &entry_key(t2, &Dimensions::new()));
            // A key of m2 never falls inside m1's range unless the metrics are equal.
            let end1 = prefix_end(&p1).unwrap();
            prop_assert_eq!(k2 >= p1 && k2 < end1, m1 == m2);
            prop_assert!(k1 >= p1 && k1 < end1);
            prop_assert_eq!(metric_of_key(&user_prefix(&user), &k2), Some(m2.as_str()));
            prop_assert_eq!(split_metric_prefix(&p2), Some((user.as_str(), m2.as_str())));
            prop_assert_eq!(split_metric_prefix(&k2), None);
            let (prefix, entry) = split_datapoint_key(&k2).unwrap();
            prop_assert_eq!(prefix, p2.as_slice());
            prop_assert_eq!(timestamp_of_entry(entry), Some(t2));
        }

        #[test]
        fn users_never_share_a_range(u1 in "[a-z]{0,6}", u2 in "[a-z]{0,6}", m in "[a-z]{1,4}") {
            let k = datapoint_key(&metric_prefix(&u2, &m), &entry_key(0, &Dimensions::new()));
            let p = user_prefix(&u1);
            prop_assert_eq!(k.starts_with(&p), u1 == u2);
        }
    }

    #[test]
    fn entries_order_by_timestamp_first() {
        let early = entry_key(100, &dims(&[("z", "9")]));
        let late = entry_key(101, &dims(&[("a", "1")]));
        assert!(early < late);
        assert!(encode_timestamp(100)[..] <= early[..]);
        assert!(encode_timestamp(101)[..] > early[..]);
        assert_eq!(timestamp_of_entry(&early), Some(100));
        assert_eq!(timestamp_of_entry(&early[..10]), None);
        assert_eq!(split_datapoint_key(&early), None);
    }

    #[test]
    fn dimension_hash_distinguishes_sets() {
        let a = dimensions_hash(&dims(&[("a", "bc")]));
        let b = dimensions_hash(&dims(&[("ab", "c")]));
        let c = dimensions_hash(&dims(&[("a", "b"), ("c", "")]));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, dimensions_hash(&dims(&[("a", "bc")])));
        assert_ne!(dimensions_hash(&Dimensions::new()), a);
    }

    #[test]
    fn the_dimensions_hash_is_pinned() {
        // Keys on disk depend on these bytes: a change here needs a store migration.
        let d = dims(&[("activity", "Running"), ("src", "e1")]);
        assert_eq!(
            hex::encode(dimensions_hash(&d)),
            "ff9bbe49318c8a53da1915d326c03dcd"
        );
        assert_eq!(
            hex::encode(derived_entry_key(0, &d, "t")),
            "8000000000000000ce159b358dc67f7867faa3c1644bc8cc"
        );
    }

    #[test]
    fn derived_keys_belong_to_their_token() {
        let p = metric_prefix("u", "imp.events.duration");
        let d = dims(&[("src", "e1")]);
        let a = derived_entry_key(5, &d, "token-a");
        let b = derived_entry_key(5, &d, "token-b");
        assert_ne!(a, b);
        assert_ne!(a, entry_key(5, &d));
        assert_eq!(a, derived_entry_key(5, &d, "token-a"));
        assert_eq!(timestamp_of_entry(&a), Some(5));
        let full = datapoint_key(&p, &a);
        assert_eq!(split_datapoint_key(&full), Some((&p[..], &a[..])));
    }

    #[test]
    fn prefix_end_carries() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
    }
}
