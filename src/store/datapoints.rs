//! Metric datapoints: upserts, range reads, metric listing and deletion, all as key-range work.

use sled::Batch;

use super::blocks::{self, Ops};
use super::{codec, keys, SledStore, StoreError};
use crate::metric::{Datapoint, MetricName};

/// A half-open time range `[from, to)` in epoch milliseconds; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<i64>,
    /// Exclusive upper bound.
    pub to: Option<i64>,
}

impl SledStore {
    /// Inserts or replaces points by `(timestamp, dimensions)`, atomically: one batch, so a
    /// request is stored whole or not at all. Of points with the same identity in one request,
    /// the last wins. Only the blocks these points fall in are rewritten.
    pub fn upsert_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        points: &[Datapoint],
    ) -> Result<(), StoreError> {
        let prefix = keys::metric_prefix(user, metric.as_str());
        let mut ops = Ops::new();
        for p in points {
            let entry = keys::entry_key(p.timestamp, &p.dimensions);
            ops.put(entry.to_vec(), codec::encode(p));
        }
        self.rewrite_datapoints(|tree, batch| blocks::apply(tree, &prefix, &ops, batch))?;
        Ok(())
    }

    /// Plans block writes of the datapoints tree (`plan` reads the blocks and fills the batch)
    /// and applies them: under the block write lock from the read on, while readers wait.
    fn rewrite_datapoints<T>(
        &self,
        plan: impl FnOnce(&sled::Tree, &mut Batch) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _writing = self.writing_blocks();
        let mut batch = Batch::default();
        let planned = plan(&self.inner.datapoints, &mut batch)?;
        let _applying = self.applying_blocks();
        self.inner.datapoints.apply_batch(batch)?;
        Ok(planned)
    }

    /// The points of one metric within `range`, sorted by timestamp (then by dimensions hash,
    /// which is stable), read by one range scan.
    pub fn read_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<Datapoint>, StoreError> {
        codec::collect(|each| self.scan_datapoints(user, metric, range, each))
    }

    /// [`Self::read_datapoints`] as the JSON array the data API answers, copied from the stored
    /// bytes ([`codec`]).
    pub fn read_datapoints_json(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<u8>, StoreError> {
        codec::json_array(|each| self.scan_datapoints(user, metric, range, each))
    }

    /// Calls `each` with the timestamp and stored value of every point of one metric within
    /// `range`, in key order. Sees every commit whole: block writes wait for it.
    fn scan_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
        each: codec::Each<'_>,
    ) -> Result<(), StoreError> {
        let prefix = keys::metric_prefix(user, metric.as_str());
        let from = range.from.map(keys::encode_timestamp);
        let to = range.to.map(keys::encode_timestamp);
        let _reading = self.reading_blocks();
        blocks::scan(
            &self.inner.datapoints,
            &prefix,
            from.as_ref().map(|f| &f[..]),
            to.as_ref().map(|t| &t[..]),
            |entry, value| {
                let ts = keys::timestamp_of_entry(entry)
                    .ok_or_else(|| StoreError::corrupt("datapoint key"))?;
                each(ts, value)
            },
        )
    }

    /// The names of the user's metrics, sorted. Each metric costs one seek: after finding a
    /// metric the scan jumps past its whole range. Sees block changes whole, so a metric whose
    /// blocks are being rewritten is never missing.
    pub fn list_metrics(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let user_prefix = keys::user_prefix(user);
        let user_end = keys::prefix_end(&user_prefix);
        let mut names = Vec::new();
        let _reading = self.reading_blocks();
        let mut cursor = user_prefix.clone();
        loop {
            let next = match &user_end {
                Some(end) => self
                    .inner
                    .datapoints
                    .range(cursor.clone()..end.clone())
                    .next(),
                None => self.inner.datapoints.range(cursor.clone()..).next(),
            };
            let Some(item) = next else { break };
            let (key, _) = item?;
            let name = keys::metric_of_key(&user_prefix, &key)
                .ok_or_else(|| StoreError::corrupt("datapoint key"))?;
            let Some(after) = keys::prefix_end(&keys::metric_prefix(user, name)) else {
                break;
            };
            names.push(name.to_string());
            cursor = after;
        }
        names.sort();
        Ok(names)
    }

    /// Removes every point of one metric of one user; returns how many were removed.
    pub fn delete_metric(&self, user: &str, metric: &MetricName) -> Result<usize, StoreError> {
        let prefix = keys::metric_prefix(user, metric.as_str());
        let count =
            self.rewrite_datapoints(|tree, batch| blocks::remove_series(tree, &prefix, batch))?;
        Ok(count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{DimensionKey, Dimensions};
    use crate::store::Store;

    fn point(ts: i64, value: f64, dims: &[(&str, &str)]) -> Datapoint {
        let dimensions: Dimensions = dims
            .iter()
            .map(|(k, v)| (DimensionKey::new(*k).unwrap(), v.to_string()))
            .collect();
        Datapoint {
            timestamp: ts,
            dimensions,
            value,
        }
    }

    fn metric(name: &str) -> MetricName {
        MetricName::new(name).unwrap()
    }

    fn upsert_replaces_by_timestamp_and_dimensions(store: &Store) {
        let m = metric("weight");
        store
            .upsert_datapoints(
                "ann",
                &m,
                &[
                    point(2, 1.0, &[]),
                    point(1, 5.0, &[("a", "x")]),
                    point(-7, 3.0, &[]),
                ],
            )
            .unwrap();
        store
            .upsert_datapoints(
                "ann",
                &m,
                &[point(2, 9.0, &[]), point(2, 4.0, &[("a", "y")])],
            )
            .unwrap();
        let all = store
            .read_datapoints("ann", &m, TimeRange::default())
            .unwrap();
        let ts: Vec<i64> = all.iter().map(|p| p.timestamp).collect();
        assert_eq!(ts, vec![-7, 1, 2, 2]);
        let json = store
            .read_datapoints_json("ann", &m, TimeRange::default())
            .unwrap();
        assert_eq!(json, serde_json::to_vec(&all).unwrap());
        let none = store
            .read_datapoints_json("bob", &m, TimeRange::default())
            .unwrap();
        assert_eq!(none, b"[]");
        assert!(all.contains(&point(2, 9.0, &[])));
        assert!(all.contains(&point(2, 4.0, &[("a", "y")])));
        assert!(!all.contains(&point(2, 1.0, &[])));
    }

    fn ranges_are_inclusive_exclusive_and_users_are_separate(store: &Store) {
        let m = metric("m");
        let pts: Vec<Datapoint> = (0..100).map(|i| point(i * 10, i as f64, &[])).collect();
        store.upsert_datapoints("ann", &m, &pts).unwrap();
        store
            .upsert_datapoints("bob", &m, &[point(15, 1.0, &[])])
            .unwrap();
        store
            .upsert_datapoints("ann", &metric("m2"), &[point(15, 1.0, &[])])
            .unwrap();
        let r = store
            .read_datapoints(
                "ann",
                &m,
                TimeRange {
                    from: Some(100),
                    to: Some(200),
                },
            )
            .unwrap();
        assert_eq!(
            r.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            (10..20).map(|i| i * 10).collect::<Vec<_>>()
        );
        assert!(store
            .read_datapoints(
                "ann",
                &m,
                TimeRange {
                    from: Some(200),
                    to: Some(100)
                }
            )
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .read_datapoints(
                    "ann",
                    &m,
                    TimeRange {
                        from: Some(985),
                        to: None
                    }
                )
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .read_datapoints("bob", &m, TimeRange::default())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.list_metrics("ann").unwrap(), vec!["m", "m2"]);
        assert_eq!(store.list_metrics("bob").unwrap(), vec!["m"]);
        assert!(store.list_metrics("an").unwrap().is_empty());
        assert_eq!(store.delete_metric("ann", &m).unwrap(), 100);
        assert_eq!(store.list_metrics("ann").unwrap(), vec!["m2"]);
        assert_eq!(
            store
                .read_datapoints("bob", &m, TimeRange::default())
                .unwrap()
                .len(),
            1
        );
    }

    crate::store::engine_tests::for_each_engine!(
        upsert_replaces_by_timestamp_and_dimensions,
        ranges_are_inclusive_exclusive_and_users_are_separate,
    );
}
