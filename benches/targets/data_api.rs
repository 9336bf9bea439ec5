//! Figures 6 and 7: the data API of the real HTTP server over loopback, on a store filled by
//! batched upserts (figure 7 is measured while filling it).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use impulses_gcal::metric::MetricName;
use rand::{Rng, SeedableRng};

use crate::rig::{self, Server};
use crate::store_writes::{self, FIRST_MS, STEP_MS};
use crate::table::{number, Goal, Row};

/// Sizes of this part of the run.
pub struct Plan {
    /// Points of the metric read whole.
    pub whole: usize,
    /// Whole reads measured.
    pub whole_runs: usize,
    /// Points of the metric range reads go to.
    pub big: usize,
    /// Points per range read.
    pub range: usize,
    /// Sequential range reads measured.
    pub range_runs: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Length of one concurrent run.
    pub window: Duration,
    /// Concurrent runs measured.
    pub concurrent_runs: usize,
}

const METRIC: &str = "imp.events.duration";

pub async fn run(plan: &Plan) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = rig::env_vars(None, &dir.path().join("store"));
    let settings = rig::settings(&vars);
    let store = rig::open_store(&settings);
    let metric = MetricName::new(METRIC).expect("metric name");
    let writes = store_writes::run(&store, "big", &metric, plan.big, plan.big / 10);
    store_writes::run(&store, "whole", &metric, plan.whole, plan.whole);
    let whole_token = rig::reader(&store, "whole");
    let big_token = rig::reader(&store, "big");
    let server = Server::start(settings, store.clone());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let base = server.url(&format!("/data/{METRIC}"));

    assert_eq!(
        rig::count_points(&client, &base, &whole_token).await,
        plan.whole
    );
    let mut whole = Vec::new();
    for _ in 0..plan.whole_runs {
        let start = Instant::now();
        receive(&client, &base, &whole_token).await;
        whole.push(ms(start.elapsed()));
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let range_url = |rng: &mut rand::rngs::StdRng| {
        let first = rng.gen_range(0..plan.big - plan.range) as i64;
        let from = FIRST_MS + first * STEP_MS;
        let to = from + plan.range as i64 * STEP_MS;
        format!("{base}?from={from}&to={to}")
    };
    let probe = range_url(&mut rng);
    assert_eq!(
        rig::count_points(&client, &probe, &big_token).await,
        plan.range
    );
    let mut ranges = Vec::new();
    for _ in 0..plan.range_runs {
        let url = range_url(&mut rng);
        let start = Instant::now();
        receive(&client, &url, &big_token).await;
        ranges.push(ms(start.elapsed()));
    }

    let mut rates = Vec::new();
    for run in 0..plan.concurrent_runs {
        let done = Rc::new(Cell::new(0u64));
        let start = Instant::now();
        let tasks = (0..plan.clients).map(|c| {
            let (client, token, done) = (client.clone(), big_token.clone(), done.clone());
            let mut rng = rand::rngs::StdRng::seed_from_u64((run * 1000 + c) as u64);
            let urls: Vec<String> = (0..4096).map(|_| range_url(&mut rng)).collect();
            async move {
                let mut i = 0;
                while start.elapsed() < plan.window {
                    receive(&client, &urls[i % urls.len()], &token).await;
                    done.set(done.get() + 1);
                    i += 1;
                }
            }
        });
        futures_util::future::join_all(tasks).await;
        rates.push(done.get() as f64 / start.elapsed().as_secs_f64());
    }
    server.stop().await;

    vec![
        Row::new(
            format!(
                "6. GET /data/{METRIC}, {} points",
                number(plan.whole as f64)
            ),
            "ms",
            Goal::AtMost(150.0),
            whole,
        ),
        Row::new(
            format!(
                "6. {}-point from/to read of a {}-point metric",
                number(plan.range as f64),
                number(plan.big as f64)
            ),
            "ms",
            Goal::AtMost(5.0),
            ranges,
        ),
        Row::new(
            format!(
                "6. {} concurrent clients, {}-point reads",
                plan.clients,
                number(plan.range as f64)
            ),
            "req/s",
            Goal::AtLeast(5_000.0),
            rates,
        ),
        writes,
    ]
}

/// One timed read: the whole body is received, chunk by chunk, but not assembled (a client
/// that parses as it reads does not copy it either), so the client's share of the two cores
/// stays small.
async fn receive(client: &awc::Client, url: &str, token: &str) -> usize {
    let mut resp = client
        .get(url)
        .insert_header(("X-Data-Token", token))
        .send()
        .await
        .expect("an answer");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    let mut bytes = 0;
    while let Some(chunk) = resp.next().await {
        bytes += chunk.expect("a chunk").len();
    }
    assert!(bytes > 2, "{url}: empty answer");
    bytes
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
