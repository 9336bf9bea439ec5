//! The web console: HTML, CSS and ES modules under `src/http/console/`, compiled into the binary
//! and served under `/`. No build step and nothing from another origin: it works offline.
//!
//! Assets live under `/console/<version>/`, where the version is a hash of their contents, so
//! they are cached for a year and a new binary's console is never mixed with an old one's. The
//! page itself (`/`, and `/tokens`, where the OAuth round trip ends) is never cached and carries
//! a strict Content-Security-Policy: no inline script or style, nothing from elsewhere, no
//! framing. Every piece of calendar text reaches the page as text (`textContent`), never HTML.

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{get, web, HttpResponse};
use sha2::{Digest, Sha256};

use super::openapi::{Detail, Routes};
use super::ApiError;

/// One compiled-in file of the console.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, bytes: include_bytes!(concat!("console/", $path)) }),*]
    };
}

/// Every file of the console but `index.html` (a unit test checks the list against the folder).
const ASSETS: &[Asset] = assets![
    "style.css",
    "app.js",
    "api.js",
    "dom.js",
    "session.js",
    "pages/signin.js",
    "pages/connection.js",
    "pages/metrics.js",
    "pages/missing.js",
    "pages/actors.js",
    "pages/tokens.js",
    "lib/range.js",
    "lib/bucket.js",
    "lib/downsample.js",
    "lib/csv.js",
    "lib/format.js",
    "lib/chart.js",
];

const INDEX: &str = include_str!("console/index.html");

/// The policy of every console page: our own scripts, styles and API only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The version in asset paths: the start of a hash of every asset.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update(asset.path.as_bytes());
            hash.update((asset.bytes.len() as u64).to_be_bytes());
            hash.update(asset.bytes);
        }
        hex::encode(&hash.finalize()[..6])
    })
}

/// The page with its asset paths filled in.
fn index() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| INDEX.replace("{{ASSETS}}", &format!("/console/{}", version())))
}

/// Registers the console's page and assets.
pub fn routes(r: &mut Routes) {
    r.add(console_page).add(oauth_landing).add(serve_asset);
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn html_page() -> HttpResponse {
    let mut answer = HttpResponse::Ok();
    answer
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    answer.body(index())
}

/// The console: sign in with a data token (a person) or the admin token (the operator).
#[utoipa::path(
    tag = "console",
    responses((status = 200, description = "The console's page.", content_type = "text/html"))
)]
#[get("/", wrap = "Compress::default()")]
async fn console_page() -> HttpResponse {
    html_page()
}

/// Where the Google OAuth round trip ends when `ORIGIN` is this server: the console, which shows
/// the outcome carried in the query string (`google_oauth2=authorized|error`, `detail`).
#[utoipa::path(
    tag = "console",
    responses((status = 200, description = "The console's page.", content_type = "text/html"))
)]
#[get("/tokens", wrap = "Compress::default()")]
async fn oauth_landing() -> HttpResponse {
    html_page()
}

/// A file of the console. Versioned paths never change, so they are cached for a year.
#[utoipa::path(
    tag = "console",
    params(
        ("version" = String, Path, description = "The console's version, as the page names it."),
        ("file" = String, Path, description = "The file, e.g. `app.js` or `pages/metrics.js`."),
    ),
    responses(
        (status = 200, description = "The file (JavaScript or CSS)."),
        (status = 404, description = "No such file in this version.", body = Detail),
    )
)]
#[get("/console/{version}/{file:.*}", wrap = "Compress::default()")]
async fn serve_asset(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (v, file) = path.into_inner();
    let found = ASSETS
        .iter()
        .find(|a| a.path == file)
        .filter(|_| v == version())
        .ok_or_else(|| ApiError::NotFound("no such console file".into()))?;
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(content_type(found.path))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ));
    Ok(answer.body(found.bytes))
}

/// The path of every file a browser loads for the console: the page, then each asset.
pub fn paths() -> Vec<String> {
    let assets = ASSETS
        .iter()
        .map(|a| format!("/console/{}/{}", version(), a.path));
    std::iter::once("/".to_string()).chain(assets).collect()
}

/// Bytes of the whole console, uncompressed: the page and every asset.
pub fn size() -> usize {
    INDEX.len() + ASSETS.iter().map(|a| a.bytes.len()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_folder_is_served_and_nothing_else() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/console");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .to_string();
                    found.push(rel.replace('\\', "/"));
                }
            }
        }
        found.retain(|f| f != "index.html");
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn the_page_names_its_versioned_assets_and_nothing_inline() {
        let page = index();
        assert!(!page.contains("{{"), "a placeholder is left");
        assert!(page.contains(&format!("/console/{}/app.js", version())));
        assert!(!page.contains("<style"), "inline style");
        assert!(!page.contains("style="), "inline style attribute");
        let handler = page.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        for script in page.split("<script").skip(1) {
            assert!(script.contains("src="), "inline script: {script}");
        }
    }

    #[test]
    fn the_console_stays_small() {
        assert!(size() <= 150 * 1024, "{} bytes", size());
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            assert!(!text.contains("innerHTML"), "{} uses innerHTML", asset.path);
            assert!(!text.contains("insertAdjacentHTML"), "{}", asset.path);
            assert!(!text.contains("eval("), "{}", asset.path);
        }
    }
}
