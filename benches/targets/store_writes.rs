//! Figure 7: batched datapoint upserts straight into the store (`Store::upsert_datapoints`, the
//! call behind `POST /data/{metric}`), 1,000 points a batch, shaped like the sync's points
//! (three dimensions: activity, where, src). The points stay: the data API figures read them.

use std::time::Instant;

use impulses_gcal::metric::{Datapoint, DimensionKey, Dimensions, MetricName};
use impulses_gcal::store::Store;

use crate::table::{number, Goal, Row};

/// Points a batch.
pub const BATCH: usize = 1_000;
/// Milliseconds between two points of a written metric (one a minute).
pub const STEP_MS: i64 = 60_000;
/// Timestamp of the first point.
pub const FIRST_MS: i64 = 1_600_000_000_000;

/// The `i`-th point of a metric written by this module.
pub fn point(i: usize) -> Datapoint {
    let dims: Dimensions = [
        ("activity", "Running".to_string()),
        ("where", ["park", "lake", "track"][i % 3].to_string()),
        ("src", format!("{i:026x}")),
    ]
    .into_iter()
    .map(|(k, v)| (DimensionKey::new(k).expect("valid key"), v))
    .collect();
    Datapoint {
        timestamp: FIRST_MS + i as i64 * STEP_MS,
        dimensions: dims,
        value: 2_700_000.0 + (i % 600) as f64,
    }
}

/// Writes `count` points of `metric` for `user` in batches; each run is `per_run` points.
/// Returns the row (points per second of each run).
pub fn run(store: &Store, user: &str, metric: &MetricName, count: usize, per_run: usize) -> Row {
    let mut rates = Vec::new();
    let mut written = 0;
    while written < count {
        let end = (written + per_run).min(count);
        let batches: Vec<Vec<Datapoint>> = (written..end)
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(|c| c.iter().map(|&i| point(i)).collect())
            .collect();
        let start = Instant::now();
        for batch in &batches {
            store
                .upsert_datapoints(user, metric, batch)
                .expect("upsert");
        }
        rates.push((end - written) as f64 / start.elapsed().as_secs_f64());
        written = end;
    }
    Row::new(
        format!(
            "7. store upserts, batches of {}, {} points",
            number(BATCH as f64),
            number(count as f64)
        ),
        "points/s",
        Goal::AtLeast(200_000.0),
        rates,
    )
}
