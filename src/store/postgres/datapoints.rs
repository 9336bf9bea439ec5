//! Datapoints in PostgreSQL: one row per point, keyed as the sled engine's entry keys are
//! (timestamp, then the dimensions hash), so both engines order and identify points alike.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::pool::query_error;
use super::PgStore;
use crate::metric::{Datapoint, MetricName};
use crate::store::blocks::Ops;
use crate::store::{codec, keys, StoreError, TimeRange};

/// Puts (insert or replace) points of one series; `entries` are entry keys
/// ([`keys::ENTRY_KEY_LEN`] bytes) with their encoded points.
pub(super) async fn put_points(
    c: &impl GenericClient,
    user: &str,
    metric: &str,
    entries: &[(&[u8], &[u8])],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let (ts, hashes) = split_entries(entries.iter().map(|(k, _)| *k))?;
    let points: Vec<&[u8]> = entries.iter().map(|(_, v)| *v).collect();
    c.execute(
        "INSERT INTO datapoints (user_name, metric, ts, dims_hash, point)
         SELECT $1, $2, t, h, p FROM unnest($3::bigint[], $4::bytea[], $5::bytea[]) AS u(t, h, p)
         ON CONFLICT (user_name, metric, ts, dims_hash) DO UPDATE SET point = EXCLUDED.point",
        &[&user, &metric, &ts, &hashes, &points],
    )
    .await
    .map_err(query_error)?;
    Ok(())
}

/// Removes points of one series by entry key; answers how many existed.
pub(super) async fn remove_points(
    c: &impl GenericClient,
    user: &str,
    metric: &str,
    entries: &[&[u8]],
) -> Result<u64, StoreError> {
    if entries.is_empty() {
        return Ok(0);
    }
    let (ts, hashes) = split_entries(entries.iter().copied())?;
    c.execute(
        "DELETE FROM datapoints d USING unnest($3::bigint[], $4::bytea[]) AS u(t, h)
         WHERE d.user_name = $1 AND d.metric = $2 AND d.ts = u.t AND d.dims_hash = u.h",
        &[&user, &metric, &ts, &hashes],
    )
    .await
    .map_err(query_error)
}

/// Applies one series' changes (its prefix names the user and metric); answers the points
/// removed.
pub(super) async fn apply_series(
    c: &impl GenericClient,
    prefix: &[u8],
    ops: &Ops<'_>,
) -> Result<u64, StoreError> {
    let (user, metric) =
        keys::split_metric_prefix(prefix).ok_or_else(|| StoreError::corrupt("series prefix"))?;
    let resolved = ops.resolve();
    let removals: Vec<&[u8]> = resolved
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    let puts: Vec<(&[u8], &[u8])> = resolved
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    let removed = remove_points(c, user, metric, &removals).await?;
    put_points(c, user, metric, &puts).await?;
    Ok(removed)
}

fn split_entries<'a>(
    entries: impl Iterator<Item = &'a [u8]>,
) -> Result<(Vec<i64>, Vec<&'a [u8]>), StoreError> {
    let mut ts = Vec::new();
    let mut hashes = Vec::new();
    for e in entries {
        ts.push(keys::timestamp_of_entry(e).ok_or_else(|| StoreError::corrupt("datapoint key"))?);
        hashes.push(&e[keys::TIMESTAMP_LEN..]);
    }
    Ok((ts, hashes))
}

impl PgStore {
    pub(crate) fn upsert_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        points: &[Datapoint],
    ) -> Result<(), StoreError> {
        // One statement may not touch a row twice: of points with one identity, the last wins.
        let mut last: HashMap<[u8; keys::ENTRY_KEY_LEN], Vec<u8>> =
            HashMap::with_capacity(points.len());
        for p in points {
            last.insert(
                keys::entry_key(p.timestamp, &p.dimensions),
                codec::encode(p),
            );
        }
        let entries: Vec<(&[u8], &[u8])> =
            last.iter().map(|(k, v)| (&k[..], v.as_slice())).collect();
        self.pool
            .with(async |c| put_points(&*c, user, metric.as_str(), &entries).await)
    }

    pub(crate) fn read_datapoints(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<Datapoint>, StoreError> {
        codec::collect(|each| self.scan(user, metric, range, each))
    }

    pub(crate) fn read_datapoints_json(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
    ) -> Result<Vec<u8>, StoreError> {
        codec::json_array(|each| self.scan(user, metric, range, each))
    }

    /// Calls `each` with every point of one metric within `range`, in key order, as of one
    /// snapshot (one statement).
    fn scan(
        &self,
        user: &str,
        metric: &MetricName,
        range: TimeRange,
        each: codec::Each<'_>,
    ) -> Result<(), StoreError> {
        let rows = self.pool.query(
            "SELECT ts, point FROM datapoints
                 WHERE user_name = $1 AND metric = $2
                   AND ($3::bigint IS NULL OR ts >= $3) AND ($4::bigint IS NULL OR ts < $4)
                 ORDER BY ts, dims_hash",
            &[&user, &metric.as_str(), &range.from, &range.to],
        )?;
        for row in &rows {
            each(row.get(0), row.get(1))?;
        }
        Ok(())
    }

    pub(crate) fn list_metrics(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.pool.query(
            "SELECT DISTINCT metric FROM datapoints WHERE user_name = $1",
            &[&user],
        )?;
        let mut names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        names.sort();
        Ok(names)
    }

    pub(crate) fn delete_metric(
        &self,
        user: &str,
        metric: &MetricName,
    ) -> Result<usize, StoreError> {
        let n = self.pool.execute(
            "DELETE FROM datapoints WHERE user_name = $1 AND metric = $2",
            &[&user, &metric.as_str()],
        )?;
        Ok(n as usize)
    }
}
