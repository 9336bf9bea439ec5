use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn tree() -> (sled::Db, Tree) {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = db.open_tree("t").unwrap();
    (db, tree)
}

fn apply_ops(tree: &Tree, prefix: &[u8], ops: &Ops) -> Applied {
    let mut batch = Batch::default();
    let applied = apply(tree, prefix, ops, &mut batch).unwrap();
    tree.apply_batch(batch).unwrap();
    applied
}

fn all(tree: &Tree, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    scan_all(tree, prefix, |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        Ok(())
    })
    .unwrap();
    out
}

/// Every block of the series is non-empty, sorted, within its start and the next start, and no
/// bigger than `MAX_BLOCK_BYTES` unless it holds a single entry.
fn check_blocks(tree: &Tree, prefix: &[u8]) {
    let blocks: Vec<(IVec, IVec)> = tree.scan_prefix(prefix).map(Result::unwrap).collect();
    for (i, (key, block)) in blocks.iter().enumerate() {
        let start = &key[prefix.len()..];
        let items: Vec<(&[u8], &[u8])> = entries(block).unwrap().map(Result::unwrap).collect();
        assert!(!items.is_empty(), "empty block at {start:?}");
        assert!(
            block.len() <= MAX_BLOCK_BYTES || items.len() == 1,
            "block of {} bytes",
            block.len()
        );
        assert!(items.windows(2).all(|w| w[0].0 < w[1].0), "unsorted block");
        assert!(items[0].0 >= start, "entry before its block's start");
        if let Some((next, _)) = blocks.get(i + 1) {
            assert!(items.last().unwrap().0 < &next[prefix.len()..]);
        }
    }
}

#[test]
fn blocks_round_trip_and_reject_damage() {
    let e: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"bc", b""), (b"", b"xyz")];
    let block = encode_block(&e);
    let back: Vec<_> = entries(&block).unwrap().map(Result::unwrap).collect();
    assert_eq!(back, e);
    assert_eq!(block_len(&block).unwrap(), 3);
    let mut cut = block.clone();
    cut.pop();
    assert!(entries(&cut).unwrap().any(|r| r.is_err()));
    let mut long = block.clone();
    long.push(0);
    assert!(entries(&long).unwrap().any(|r| r.is_err()));
    assert!(entries(&[0, 0]).is_err());
}

#[test]
fn chunks_fill_to_the_target_and_never_leave_a_short_tail() {
    assert_eq!(chunk_starts(&[100; 10]), vec![0]);
    let sizes = vec![100; 1000];
    let starts = chunk_starts(&sizes);
    assert!(starts.len() > 1);
    for (n, &s) in starts.iter().enumerate() {
        let e = starts.get(n + 1).copied().unwrap_or(sizes.len());
        let bytes: usize = HEADER + sizes[s..e].iter().sum::<usize>();
        assert!(bytes <= MAX_BLOCK_BYTES, "run {n}: {bytes}");
        assert!(bytes >= MIN_BLOCK_BYTES, "run {n}: {bytes}");
    }
    // A single huge entry is a block of its own.
    assert_eq!(chunk_starts(&[10, MAX_BLOCK_BYTES * 2, 10]), vec![0, 1, 2]);
}

#[test]
fn a_put_beats_a_removal_and_the_last_put_wins() {
    let mut ops = Ops::new();
    ops.put(b"a".to_vec(), b"1".to_vec());
    ops.remove(b"a".to_vec());
    ops.remove(b"b".to_vec());
    ops.put(b"c".to_vec(), b"1".to_vec());
    ops.put(b"c".to_vec(), b"2".to_vec());
    ops.remove(b"c".to_vec());
    ops.remove(b"d".to_vec());
    ops.remove(b"d".to_vec());
    let resolved = ops.resolve();
    let expect: Vec<(&[u8], Option<&[u8]>)> = vec![
        (b"a", Some(b"1")),
        (b"b", None),
        (b"c", Some(b"2")),
        (b"d", None),
    ];
    assert_eq!(resolved, expect);
}

#[test]
fn a_big_series_splits_shrinks_back_and_vanishes() {
    let (_db, t) = tree();
    let p = keys::user_prefix("series");
    let value = vec![7u8; 200];
    let ops: Ops = (0u32..2_000)
        .map(|i| (i.to_be_bytes().to_vec(), Some(value.clone())))
        .collect();
    let applied = apply_ops(&t, &p, &ops);
    assert_eq!(applied.inserted, 2_000);
    let blocks = t.scan_prefix(&p).count();
    assert!(blocks > 10, "{blocks} blocks");
    check_blocks(&t, &p);
    // Remove most entries: underfull blocks absorb their neighbours.
    let ops: Ops = (0u32..2_000)
        .filter(|i| i % 50 != 0)
        .map(|i| (i.to_be_bytes().to_vec(), None))
        .collect();
    assert_eq!(apply_ops(&t, &p, &ops).removed, 1_960);
    check_blocks(&t, &p);
    assert_eq!(all(&t, &p).len(), 40);
    // Underfull blocks absorbed their neighbours until at least MIN_BLOCK_BYTES.
    let bytes = HEADER + 40 * (2 + 4 + 4 + 200);
    let blocks = t.scan_prefix(&p).count();
    assert!(
        blocks <= bytes / MIN_BLOCK_BYTES + 1,
        "{blocks} blocks were not merged"
    );
    let ops: Ops = (0u32..2_000)
        .map(|i| (i.to_be_bytes().to_vec(), None))
        .collect();
    assert_eq!(apply_ops(&t, &p, &ops).removed, 40);
    assert_eq!(t.scan_prefix(&p).count(), 0);
}

#[test]
fn series_under_other_prefixes_are_untouched() {
    let (_db, t) = tree();
    let (a, b) = (keys::user_prefix("a"), keys::user_prefix("ab"));
    let one = |k: &[u8]| -> Ops { [(k.to_vec(), Some(b"v".to_vec()))].into_iter().collect() };
    apply_ops(&t, &a, &one(b"k"));
    apply_ops(&t, &b, &one(b""));
    apply_ops(&t, &b, &one(b"zz"));
    assert_eq!(all(&t, &a), vec![(b"k".to_vec(), b"v".to_vec())]);
    assert_eq!(all(&t, &b).len(), 2);
    let mut batch = Batch::default();
    assert_eq!(remove_series(&t, &a, &mut batch).unwrap(), 1);
    t.apply_batch(batch).unwrap();
    assert!(all(&t, &a).is_empty());
    assert_eq!(all(&t, &b).len(), 2);
    assert_eq!(get(&t, &b, b"zz").unwrap(), Some(b"v".to_vec()));
    assert_eq!(get(&t, &b, b"z").unwrap(), None);
}

fn op_strategy() -> impl Strategy<Value = (u16, Option<usize>)> {
    (0u16..400, prop::option::weighted(0.7, 0usize..3_000))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any sequence of change sets leaves each series equal to a `BTreeMap` given the same
    /// changes, with well-formed blocks, and range scans and lookups agreeing with the model.
    #[test]
    fn series_behave_like_a_sorted_map(
        rounds in prop::collection::vec(
            (any::<bool>(), prop::collection::vec(op_strategy(), 0..120)), 1..8),
        from in 0u16..400, to in 0u16..400,
    ) {
        let (_db, t) = tree();
        let prefixes = [keys::user_prefix("x"), keys::user_prefix("y")];
        let mut models: [BTreeMap<Vec<u8>, Vec<u8>>; 2] = Default::default();
        for (which, ops) in rounds {
            let s = usize::from(which);
            let ops: BTreeMap<Vec<u8>, Option<Vec<u8>>> = ops
                .into_iter()
                .map(|(k, v)| (k.to_be_bytes().to_vec(), v.map(|n| vec![(k % 251) as u8; n])))
                .collect();
            let mut expect = Applied::default();
            for (k, v) in &ops {
                match (v, models[s].contains_key(k)) {
                    (Some(v), had) => {
                        if had { expect.replaced += 1 } else { expect.inserted += 1 }
                        models[s].insert(k.clone(), v.clone());
                    }
                    (None, true) => {
                        expect.removed += 1;
                        models[s].remove(k);
                    }
                    (None, false) => {}
                }
            }
            prop_assert_eq!(apply_ops(&t, &prefixes[s], &ops.into_iter().collect()), expect);
            for (p, m) in prefixes.iter().zip(&models) {
                check_blocks(&t, p);
                let stored = all(&t, p);
                let model: Vec<(Vec<u8>, Vec<u8>)> =
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                prop_assert_eq!(stored, model);
            }
        }
        let (f, e) = (from.to_be_bytes(), to.to_be_bytes());
        for (p, m) in prefixes.iter().zip(&models) {
            let mut got = Vec::new();
            scan(&t, p, Some(&f), Some(&e), |k, _| { got.push(k.to_vec()); Ok(()) }).unwrap();
            let want: Vec<Vec<u8>> = m
                .keys()
                .filter(|k| k.as_slice() >= &f[..] && k.as_slice() < &e[..])
                .cloned()
                .collect();
            prop_assert_eq!(got, want);
            for k in [f, e] {
                prop_assert_eq!(get(&t, p, &k).unwrap(), m.get(&k[..]).cloned());
            }
        }
    }
}

proptest! {
    /// Keys of any length and bytes (zeros and shared 16-byte heads included) resolve to one
    /// change each, in key order, the last put winning over everything and a removal over
    /// nothing else.
    #[test]
    fn resolve_orders_any_keys_as_a_sorted_map_would(
        changes in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(vec![0u8, 1, 7, 255]), 0..40),
             prop::option::of(any::<u8>())),
            0..200),
    ) {
        let mut ops = Ops::new();
        let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for (key, value) in &changes {
            // A long shared head makes many keys tie on their first 16 bytes.
            let key: Vec<u8> = if key.len() > 20 { [&[9u8; 16][..], key].concat() } else { key.clone() };
            match value {
                Some(v) => {
                    ops.put(key.clone(), vec![*v]);
                    model.insert(key, Some(vec![*v]));
                }
                None => {
                    ops.remove(key.clone());
                    model.entry(key).or_insert(None);
                }
            }
        }
        let resolved: Vec<(Vec<u8>, Option<Vec<u8>>)> = ops
            .resolve()
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        let expect: Vec<(Vec<u8>, Option<Vec<u8>>)> = model.into_iter().collect();
        prop_assert_eq!(resolved, expect);
    }
}
