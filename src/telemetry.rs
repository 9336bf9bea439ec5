//! Prometheus metrics of the sync system, served at `GET /metrics` in the text format.
//!
//! One registry per system (no globals), so tests and embedded hosts each count their own.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::actors::status::StatusBoard;

/// The counters and histograms the system updates as it works.
#[derive(Clone)]
pub struct Telemetry {
    registry: Registry,
    syncs: IntCounterVec,
    sync_seconds: HistogramVec,
    commit_seconds: HistogramVec,
    google_requests: IntCounterVec,
    refreshes: IntCounterVec,
    datapoints_written: IntCounter,
    actors: IntGaugeVec,
    notifications: IntCounterVec,
    channels: IntCounterVec,
    lease_takeovers: IntCounter,
}

/// Every state an actor can be in, so each has a gauge even at zero.
const STATES: [&str; 7] = [
    "idle",
    "syncing",
    "backoff",
    "needs_reauth",
    "error",
    "expired",
    "stopped",
];

impl Telemetry {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("impulses_gcal".into()), None)?;
        let syncs = IntCounterVec::new(
            Opts::new("syncs_total", "Calendar syncs by outcome and kind"),
            &["outcome", "kind"],
        )?;
        let sync_seconds = HistogramVec::new(
            HistogramOpts::new("sync_duration_seconds", "Duration of calendar syncs").buckets(
                vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            ),
            &["kind"],
        )?;
        let commit_seconds = HistogramVec::new(
            HistogramOpts::new(
                "store_commit_duration_seconds",
                "Time the metric writer spends storing one sync (the store's share of a sync)",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["kind"],
        )?;
        let google_requests = IntCounterVec::new(
            Opts::new(
                "google_requests_total",
                "Requests to Google by endpoint and HTTP status (0: no answer)",
            ),
            &["endpoint", "status"],
        )?;
        let refreshes = IntCounterVec::new(
            Opts::new("token_refreshes_total", "Access token refreshes by outcome"),
            &["outcome"],
        )?;
        let datapoints_written = IntCounter::new(
            "datapoints_written_total",
            "Datapoints written by calendar syncs",
        )?;
        let actors = IntGaugeVec::new(Opts::new("actors", "Sync actors by state"), &["state"])?;
        registry.register(Box::new(syncs.clone()))?;
        registry.register(Box::new(sync_seconds.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        registry.register(Box::new(google_requests.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        registry.register(Box::new(datapoints_written.clone()))?;
        registry.register(Box::new(actors.clone()))?;
        let notifications = IntCounterVec::new(
            Opts::new(
                "push_notifications_total",
                "Push notifications received, by outcome (trusted ones by resource state)",
            ),
            &["outcome"],
        )?;
        let channels = IntCounterVec::new(
            Opts::new(
                "push_channel_changes_total",
                "Push channels opened (watch), refused, stopped and forgotten, by outcome",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(notifications.clone()))?;
        registry.register(Box::new(channels.clone()))?;
        let lease_takeovers = IntCounter::new(
            "lease_takeovers_total",
            "Tokens this node took over from another node's expired lease",
        )?;
        registry.register(Box::new(lease_takeovers.clone()))?;
        Ok(Self {
            registry,
            syncs,
            sync_seconds,
            commit_seconds,
            google_requests,
            refreshes,
            datapoints_written,
            actors,
            notifications,
            channels,
            lease_takeovers,
        })
    }

    /// Counts one finished sync.
    pub fn sync_done(&self, outcome: &str, full: bool, took: Duration, written: u64) {
        let kind = if full { "full" } else { "incremental" };
        self.syncs.with_label_values(&[outcome, kind]).inc();
        self.sync_seconds
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
        self.datapoints_written.inc_by(written);
    }

    /// Syncs finished so far, whatever their outcome: a counter a watcher can poll far more
    /// cheaply than the statuses of a whole fleet. Reads the sync histogram's series as they are
    /// (asking for a kind by label would add its series to `/metrics`).
    pub fn syncs_finished(&self) -> u64 {
        prometheus::core::Collector::collect(&self.sync_seconds)
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|m| m.get_histogram().get_sample_count())
            .sum()
    }

    /// Adds a metric kept elsewhere (the database's latency) to what `/metrics` serves.
    pub fn register(
        &self,
        metric: Box<dyn prometheus::core::Collector>,
    ) -> Result<(), prometheus::Error> {
        self.registry.register(metric)
    }

    /// Counts tokens taken over from other nodes' expired leases.
    pub fn lease_takeovers(&self, n: u64) {
        self.lease_takeovers.inc_by(n);
    }

    /// Records how long the metric writer took to store one sync, whatever the outcome.
    pub fn commit_done(&self, full: bool, took: Duration) {
        let kind = if full { "full" } else { "incremental" };
        self.commit_seconds
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
    }

    /// Counts one request to Google (`status` 0 when no answer came).
    pub fn google_request(&self, endpoint: &str, status: u16) {
        self.google_requests
            .with_label_values(&[endpoint, &status.to_string()])
            .inc();
    }

    /// Counts one push notification by its outcome.
    pub fn notification(&self, outcome: &str) {
        self.notifications.with_label_values(&[outcome]).inc();
    }

    /// Counts one change of a push channel (`opened`, `watch_failed`, `stopped`,
    /// `stop_failed`, `expired`).
    pub fn channel(&self, outcome: &str) {
        self.channels.with_label_values(&[outcome]).inc();
    }

    /// Counts one refresh attempt.
    pub fn refresh(&self, ok: bool) {
        self.refreshes
            .with_label_values(&[if ok { "ok" } else { "failed" }])
            .inc();
    }

    /// Renders the text exposition, with the actor gauges taken from `board` now.
    pub fn render(&self, board: &StatusBoard) -> Result<String, prometheus::Error> {
        let counts = board.count_by_state();
        for state in STATES {
            self.actors
                .with_label_values(&[state])
                .set(counts.get(state).copied().unwrap_or(0) as i64);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_finished_counts_every_finished_sync_and_adds_no_series() {
        let telemetry = Telemetry::new().unwrap();
        let board = StatusBoard::default();
        let rendered = telemetry.render(&board).unwrap();
        assert_eq!(telemetry.syncs_finished(), 0);
        assert_eq!(telemetry.render(&board).unwrap(), rendered);
        telemetry.sync_done("ok", true, Duration::from_millis(5), 10);
        telemetry.sync_done("ok", false, Duration::from_millis(1), 0);
        telemetry.sync_done("failed", false, Duration::from_millis(1), 0);
        assert_eq!(telemetry.syncs_finished(), 3);
    }
}
