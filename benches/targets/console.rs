//! Figure 9: the web console. Its transfer size (the page and every asset, as the real server
//! sends them gzipped), and the time from navigation to a drawn chart of a 100,000-point metric
//! in headless Chromium (Debian's, through ChromeDriver; the row is left out, said loudly, when
//! they are not installed).

use impulses_gcal::metric::{Datapoint, MetricName};
use impulses_gcal::store::Store;

use crate::rig::{self, Server};
use crate::table::{Goal, Row};

#[path = "../../tests/it/browser.rs"]
#[allow(dead_code)]
mod browser;

const METRIC: &str = "weight";
const POINTS: usize = 100_000;
const DAY_MS: i64 = 86_400_000;

pub async fn run(runs: usize) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = rig::env_vars(None, &dir.path().join("store"));
    let store = rig::open_store(&rig::settings(&vars));
    let token = fill(&store);
    let server = Server::start(rig::settings(&vars), store);
    let mut rows = transfer_size(&server).await;
    match browser::Browser::start("figure 9 (console chart)", 1280, 800).await {
        Some(b) => {
            rows.push(chart_time(&server, &b, &token, runs).await);
            b.close().await;
        }
        None => eprintln!("figure 9: the chart row is left out (no chromium/chromedriver)"),
    }
    server.stop().await;
    rows
}

/// 100,000 points over the last 300 days, and a token that may read them.
fn fill(store: &Store) -> String {
    let metric = MetricName::new(METRIC).expect("metric");
    let first = chrono::Utc::now().timestamp_millis() - 300 * DAY_MS;
    let step = 300 * DAY_MS / POINTS as i64;
    let points: Vec<Datapoint> = (0..POINTS)
        .map(|i| Datapoint {
            timestamp: first + i as i64 * step,
            dimensions: Default::default(),
            value: 60.0 + (i as f64 / 500.0).sin() * 10.0,
        })
        .collect();
    for batch in points.chunks(1_000) {
        store
            .upsert_datapoints("console", &metric, batch)
            .expect("points");
    }
    rig::reader(store, "console")
}

async fn transfer_size(server: &Server) -> Vec<Row> {
    let client = awc::Client::default();
    let mut total = 0usize;
    for path in impulses_gcal::http::console::paths() {
        let mut answer = client
            .get(server.url(&path))
            .insert_header(("Accept-Encoding", "gzip"))
            .no_decompress()
            .send()
            .await
            .expect("console file");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        total += answer.body().limit(1 << 20).await.expect("body").len();
    }
    let raw = impulses_gcal::http::console::size();
    vec![
        Row::new(
            "9. console size, page + assets, before gzip",
            "KB",
            Goal::AtMost(150.0),
            vec![raw as f64 / 1024.0],
        ),
        Row::new(
            "9. (what a first visit transfers, gzipped)",
            "KB",
            Goal::Info,
            vec![total as f64 / 1024.0],
        ),
    ]
}

async fn chart_time(server: &Server, b: &browser::Browser, token: &str, runs: usize) -> Row {
    b.goto(&server.url(&format!("/#token={token}"))).await;
    b.until("signed in", "!location.href.includes('token=')")
        .await;
    let mut times = Vec::new();
    for _ in 0..runs {
        b.goto("about:blank").await;
        b.goto(&server.url(&format!("/#/metrics?metric={METRIC}&range=365")))
            .await;
        let drawn = b
            .until(
                "the chart of 100,000 points",
                &format!(
                    "(() => {{ const c = document.querySelector('#chart[data-point-count=\"{POINTS}\"][data-drawn-at]'); \
                       return c && Number(c.getAttribute('data-drawn-at')); }})()"
                ),
            )
            .await;
        times.push(drawn.as_f64().expect("ms") / 1000.0);
    }
    Row::new(
        "9. console: navigation to a drawn chart of 100,000 points, headless Chromium",
        "s",
        Goal::AtMost(1.0),
        times,
    )
}
