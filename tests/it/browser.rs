//! A real browser for the console's tests: Debian's headless Chromium driven through
//! ChromeDriver (WebDriver, with `fantoccini`). Tests wait on the page's DOM with a deadline,
//! never on time, and save a screenshot of each page under `target/console-screenshots/`.
//!
//! Without `chromium` and `chromedriver` the console tests say loudly that they were skipped,
//! and fail instead when `CONSOLE_TESTS=require` (as `.ci/run` sets, after installing both).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
const DEADLINE: Duration = Duration::from_secs(20);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    downloads: tempfile::TempDir,
}

fn installed() -> bool {
    let driver = Command::new(CHROMEDRIVER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    driver && std::path::Path::new(CHROMIUM).exists()
}

impl Browser {
    /// A headless Chromium with a `width`×`height` window, or `None` (said loudly) when Chromium
    /// or ChromeDriver is not installed here.
    pub async fn start(test: &str, width: u32, height: u32) -> Option<Self> {
        if !installed() {
            let required = std::env::var("CONSOLE_TESTS").is_ok_and(|v| v == "require");
            assert!(
                !required,
                "CONSOLE_TESTS=require but {CHROMIUM} or {CHROMEDRIVER} is missing"
            );
            eprintln!(
                "\n*** SKIPPED {test}: the console's browser tests need Debian's chromium and \
                 chromium-driver (apt-get install chromium chromium-driver; .ci/run installs \
                 them and sets CONSOLE_TESTS=require) ***\n"
            );
            return None;
        }
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // One zone for every run, so the pages' local times and buckets are the same anywhere.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TZ", "Europe/Warsaw")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let downloads = tempfile::tempdir().unwrap();
        let prefs = json!({
            "download.default_directory": downloads.path(),
            "download.prompt_for_download": false,
        });
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args, "prefs": prefs }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if start.elapsed() > DEADLINE => panic!("no WebDriver session: {e}"),
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Some(Self {
            client,
            driver,
            _profile: profile,
            downloads,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Runs `js` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, js: &str, args: Vec<Value>) -> Value {
        self.client.execute(js, args).await.unwrap()
    }

    /// Runs `js`, whose last argument is a callback to call with the result.
    pub async fn js_async(&self, js: &str, args: Vec<Value>) -> Value {
        self.client.execute_async(js, args).await.unwrap()
    }

    /// Waits until `check` (a JS expression) is truthy, and returns its value.
    pub async fn until(&self, what: &str, check: &str) -> Value {
        let start = Instant::now();
        let script = format!("return ({check});");
        loop {
            let v = self
                .client
                .execute(&script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if start.elapsed() > DEADLINE {
                let body = self
                    .client
                    .execute(
                        "return document.body ? document.body.innerText : ''",
                        vec![],
                    )
                    .await
                    .unwrap_or_default();
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!("timed out waiting for {what} ({check}) at {url:?}; page text: {body}");
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of the first element matching `css`, once it exists and contains `part`.
    pub async fn text_with(&self, css: &str, part: &str) -> String {
        let check = format!(
            "(() => {{ const e = document.querySelector({css:?}); \
               return e && e.textContent.includes({part:?}) ? e.textContent : null; }})()"
        );
        self.until(&format!("{css} to contain {part:?}"), &check)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits for `css` to exist (and be visible), then clicks it.
    pub async fn click(&self, css: &str) {
        self.visible(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Waits for `css` to exist and be displayed.
    pub async fn visible(&self, css: &str) {
        let check = format!(
            "(() => {{ const e = document.querySelector({css:?}); \
               return !!e && e.getClientRects().length > 0 && !e.closest('[hidden]'); }})()"
        );
        self.until(&format!("{css} to show"), &check).await;
    }

    /// Types `text` into the input `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        self.visible(css).await;
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Sends keys to whatever has the focus.
    pub async fn keys(&self, keys: &str) {
        let active = self.client.active_element().await.unwrap();
        active.send_keys(keys).await.unwrap();
    }

    /// Clicks the download link `css` and returns the file `name` the browser saved.
    pub async fn download(&self, css: &str, name: &str) -> String {
        self.click(css).await;
        let path = self.downloads.path().join(name);
        let start = Instant::now();
        loop {
            // Chromium writes `<name>.crdownload` and renames it when done.
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            assert!(start.elapsed() < DEADLINE, "no download {name}");
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a screenshot as `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Fails when the page scrolls sideways (a layout wider than the window).
    pub async fn assert_no_horizontal_scroll(&self, page: &str) {
        let widths = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let (scroll, window) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        assert!(
            scroll <= window,
            "{page}: {scroll} px wide in a {window} px window"
        );
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
