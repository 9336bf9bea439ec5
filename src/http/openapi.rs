//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, made from the routes themselves.
//!
//! Each handler carries its own description (`#[utoipa::path]` above its actix route macro), and
//! [`Routes`] is the only way a module mounts a handler: mounting adds the handler's operation to
//! the document. So the document lists exactly what is mounted, and a route cannot be served
//! without being described.

use std::collections::HashMap;

use actix_web::dev::HttpServiceFactory;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Schema};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_actix_web::OpenApiFactory;

/// The name of the data token security scheme (`X-Data-Token` header).
pub const DATA_TOKEN: &str = "data_token";
/// The name of the admin security scheme (`Authorization: Bearer <ADMIN_TOKEN>`).
pub const ADMIN: &str = "admin";

/// A sentence for people, never a secret: every error answer is one, and so are a few
/// acknowledgements ("sync started").
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "missing X-Data-Token header"}))]
pub struct Detail {
    /// What went wrong (or what was done), in words.
    pub detail: String,
}

/// The answers of a route that takes a data token, before it does anything (the `DataCaller`
/// extractor and `require_read`). Listed with `responses(...)` so their wording lives here once.
#[derive(utoipa::IntoResponses)]
pub enum DataTokenRefused {
    /// No, an unknown or an expired data token.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// The token may not read (capability INGEST).
    #[response(status = 403)]
    Forbidden(Detail),
}

/// The answers of an admin route before it does anything (the `Admin` extractor).
#[derive(utoipa::IntoResponses)]
pub enum AdminRefused {
    /// No or a wrong admin token.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// The admin API is disabled (no ADMIN_TOKEN).
    #[response(status = 403)]
    Forbidden(Detail),
}

/// The answer of a route that needs Google when the server has none.
#[derive(utoipa::IntoResponses)]
pub enum GoogleOff {
    /// The Google integration is not configured.
    #[response(status = 503)]
    Unavailable(Detail),
}

/// The answer of a node that cannot do its work now (readiness).
#[derive(utoipa::IntoResponses)]
pub enum NotReady {
    /// Not ready: no valid lease yet, or the database cannot be reached.
    #[response(status = 503)]
    Unavailable(Detail),
}

/// The answers to a JSON body that cannot be read, whatever the route.
#[derive(utoipa::IntoResponses)]
pub enum BodyRefused {
    /// The body is not JSON.
    #[response(status = 400)]
    Malformed(Detail),
    /// The body took too long to arrive.
    #[response(status = 408)]
    Slow(Detail),
    /// The body is larger than MAX_BODY_BYTES.
    #[response(status = 413)]
    TooLarge(Detail),
}

/// The data token header, declared as a parameter too (besides the `data_token` security
/// scheme) so that links can carry a token created by `POST /admin/tokens` into the operations
/// that use it.
#[derive(utoipa::IntoParams)]
#[into_params(names("X-Data-Token"), parameter_in = Header)]
pub struct DataTokenHeader(
    /// A data token's plaintext, as `POST /admin/tokens` answered it.
    #[allow(dead_code)]
    String,
);

/// What the document holds besides the operations: who wrote it, the security schemes, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "impulses-gcal",
        description = "Turns Google Calendar events into Impulses time-series metrics. \
            The data API is compatible with the Impulses server and its SDKs. \
            Every error answers `{\"detail\": \"...\"}` with a 4xx or 5xx status.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Detail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "data", description = "The Impulses data API: a user's metrics and datapoints."),
        (name = "google", description = "Connecting a Google Calendar (OAuth2 with PKCE), \
            choosing its calendars, seeing and removing the connection, Google's push notifications."),
        (name = "admin", description = "Data tokens and the sync actors, for the operator."),
        (name = "operations", description = "Liveness, Prometheus metrics and this document."),
    )
)]
struct Base;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            DATA_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Data-Token",
                "A data token, created by the admin with `POST /admin/tokens`. Its capability \
                 decides what it may do: API reads, INGEST writes, SUPER both.",
            ))),
        );
        components.add_security_scheme(
            ADMIN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The server's ADMIN_TOKEN."))
                    .build(),
            ),
        );
    }
}

/// Mounts documented handlers, and writes each one's operation into the document as it goes.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    doc: Document,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl<'a> Routes<'a> {
    /// Starts mounting into `cfg`, with the document's fixed parts.
    pub fn new(cfg: &'a mut web::ServiceConfig) -> Self {
        Self {
            cfg,
            doc: Base::openapi(),
            schemas: Vec::new(),
        }
    }

    /// Mounts one handler (an actix route macro under `#[utoipa::path]`) and documents it.
    pub fn add<F>(&mut self, handler: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        self.doc.paths.merge(handler.paths());
        handler.schemas(&mut self.schemas);
        self.cfg.service(handler);
        self
    }

    /// Mounts `/openapi.json` itself, serving the finished document, and registers each path's
    /// methods for the `Allow` header of a 405.
    pub fn finish(mut self) {
        self.add(document);
        let allowed = self
            .doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| (path.clone(), methods(item)))
            .collect();
        self.cfg.app_data(web::Data::new(Allowed(allowed)));
        let components = self.doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(std::mem::take(&mut self.schemas));
        let json = match self.doc.to_json() {
            Ok(json) => json,
            Err(e) => {
                // Unreachable for a document of strings and maps; a served error beats a panic.
                log::error!("openapi: the document does not serialize: {e}");
                String::from("{}")
            }
        };
        self.cfg
            .app_data(web::Data::new(Served(web::Bytes::from(json))));
    }
}

/// The document as served, built once per worker when the routes are mounted.
struct Served(web::Bytes);

/// Each mounted path template's methods, as an `Allow` header value (`GET, POST`).
pub struct Allowed(HashMap<String, String>);

impl Allowed {
    /// The methods of the route `pattern` (as actix names it: `/console/{version}/{file:.*}`),
    /// if it is mounted.
    pub fn of(&self, pattern: &str) -> Option<&str> {
        self.0.get(&template(pattern)).map(String::as_str)
    }
}

/// The document's path for an actix pattern: `{name:regex}` segments become `{name}`.
fn template(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    // Braces open inside a `{name...}` segment, and whether its regex part has begun.
    let (mut depth, mut regex) = (0usize, false);
    for c in pattern.chars() {
        match (c, depth) {
            ('{', 0) => {
                depth = 1;
                out.push(c);
            }
            ('{', _) => depth += 1,
            ('}', 1) => {
                (depth, regex) = (0, false);
                out.push(c);
            }
            ('}', 0) => out.push(c),
            ('}', _) => depth -= 1,
            (':', 1) => regex = true,
            (_, 0) => out.push(c),
            _ if !regex => out.push(c),
            _ => {}
        }
    }
    out
}

fn methods(item: &PathItem) -> String {
    let all = [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
    ];
    let names: Vec<&str> = all
        .iter()
        .filter(|(_, op)| op.is_some())
        .map(|(name, _)| *name)
        .collect();
    names.join(", ")
}

/// The OpenAPI document of this server.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json"))
)]
#[get("/openapi.json")]
async fn document(served: web::Data<Served>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(served.0.clone()) // a reference count, not a copy
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn actix_patterns_become_document_paths() {
        assert_eq!(super::template("/data/{metric}"), "/data/{metric}");
        assert_eq!(
            super::template("/console/{version}/{file:.*}"),
            "/console/{version}/{file}"
        );
        assert_eq!(super::template("/a/{id:[0-9]{2}}/b"), "/a/{id}/b");
        assert_eq!(super::template("/healthz"), "/healthz");
    }

    /// The document lists what is mounted because [`super::Routes::add`] is the only way the
    /// front door mounts a route: any other (`cfg.route`, `web::resource`, a scope) would serve
    /// a route the document does not know.
    #[test]
    fn only_routes_add_mounts_a_route() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let forbidden = [
            "web::resource(",
            "web::scope(",
            ".route(",
            ".service(",
            "web::get()",
            "web::post()",
            "web::put()",
            "web::delete()",
        ];
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may build apps of their own.
            let served = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in served.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let mounts = forbidden.iter().any(|f| code.contains(f));
                let own =
                    path.ends_with("openapi.rs") && code.contains("self.cfg.service(handler)");
                assert!(
                    !mounts || own,
                    "{}:{}: mounts a route outside Routes::add: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
        assert!(files >= 10, "read {files} files of {}", dir.display());
    }
}
