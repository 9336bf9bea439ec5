//! `/openapi.json` against the server that serves it: every operation it lists reaches a
//! handler, nothing else answers on its paths, and what it says of schemes, errors and links
//! holds. (That every mounted route is in it is kept by construction, `Routes::add`, and by the
//! unit test `only_routes_add_mounts_a_route`.)

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

async fn document(app: &TestApp) -> Value {
    let r = app.call(Method::GET, "/openapi.json", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

/// A concrete path for a template: any value of the right shape, so the route matches.
fn concrete(template: &str) -> String {
    template
        .replace("{metric}", "weight")
        .replace("{token_id}", "0123456789abcdef0123456789abcdef")
        .replace("{id}", "0123456789abcdef0123456789abcdef")
        .replace("{version}", "0")
        .replace("{file}", "app.js")
}

fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((path.clone(), method.to_uppercase()));
        }
    }
    out
}

#[actix_web::test]
async fn every_documented_operation_reaches_its_handler_and_no_other_method_answers() {
    let app = TestApp::spawn_google(&[], Default::default()).await;
    // On PostgreSQL (`IT_STORE=postgres`) the node is ready from its first lease tick, a second
    // after it starts; until then `/readyz` rightly answers 503.
    crate::support::wait_for(
        std::time::Duration::from_secs(30),
        "the node ready",
        || async {
            let r = app.call(Method::GET, "/readyz", &[], None).await;
            if r.status == StatusCode::OK {
                Ok(())
            } else {
                Err(r.body.to_string())
            }
        },
    )
    .await;
    let doc = document(&app).await;
    let operations = documented(&doc);
    assert!(operations.len() >= 24, "{operations:?}");
    for path in doc["paths"].as_object().unwrap().keys() {
        let url = concrete(path);
        let methods: BTreeSet<String> = operations
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .collect();
        for method in METHODS {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = app.call(m, &url, &[], None).await;
            let what = format!("{method} {url}: {} {}", r.status, r.body);
            assert!(
                r.header("content-type").is_some(),
                "{what}: no Content-Type"
            );
            if methods.contains(method) {
                assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                assert_ne!(r.detail(), "no such route", "{what}");
                assert!(!r.status.is_server_error(), "{what}");
            } else {
                assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                let allow: BTreeSet<String> = r
                    .header("allow")
                    .unwrap_or_else(|| panic!("{what}: no Allow"))
                    .split(", ")
                    .map(str::to_string)
                    .collect();
                assert_eq!(allow, methods, "{what}");
            }
        }
    }
    let r = app.call(Method::GET, "/no/such/route", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.detail(), "no such route");
}

#[actix_web::test]
async fn the_document_describes_security_errors_and_links() {
    let app = TestApp::spawn_google(&[], Default::default()).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["data_token"]["type"], "apiKey");
    assert_eq!(schemes["data_token"]["in"], "header");
    assert_eq!(schemes["data_token"]["name"], "X-Data-Token");
    assert_eq!(schemes["admin"]["scheme"], "bearer");

    let mut ids = BTreeSet::new();
    for (path, method) in documented(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let what = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}"));
        assert!(ids.insert(id.to_string()), "{what}: operationId {id} twice");
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{what}"
        );
        assert!(op["summary"].is_string(), "{what}: no summary");
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            assert!(response["description"].is_string(), "{what} {status}");
            if code >= 400 {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Detail",
                    "{what} {status}: errors are {{\"detail\"}}"
                );
            }
        }
        let secured = op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.get("data_token").is_some() || r.get("admin").is_some())
        });
        let errors = op["responses"].as_object().unwrap();
        if secured && path != "/metrics" {
            assert!(errors.contains_key("401"), "{what}: secured without 401");
        }
    }

    // Every link names an operation that exists, so a client (or a fuzzer) can follow it.
    let created = &doc["paths"]["/admin/tokens"]["post"]["responses"]["201"]["links"];
    let links = created.as_object().expect("POST /admin/tokens has links");
    assert!(links.len() >= 10);
    for (name, link) in links {
        let target = link["operationId"].as_str().unwrap();
        assert!(ids.contains(target), "link {name} targets {target}");
    }
    assert_eq!(
        links["WriteMetric"]["parameters"]["header.X-Data-Token"],
        "$response.body#/token_plaintext"
    );
}

#[actix_web::test]
async fn a_created_token_works_where_the_links_say() {
    let app = TestApp::spawn_google(&[], Default::default()).await;
    let doc = document(&app).await;
    let body = r#"{"user":"ann","name":"phone","capability":"SUPER"}"#;
    let created = app.admin(Method::POST, "/admin/tokens", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let links = &doc["paths"]["/admin/tokens"]["post"]["responses"]["201"]["links"];
    // Resolves `$response.body#/field` the way a client following the link does.
    let resolve = |expr: &str| {
        let field = expr.strip_prefix("$response.body#/").unwrap();
        created.body[field].as_str().unwrap().to_string()
    };
    let token = resolve(
        links["ListMetrics"]["parameters"]["header.X-Data-Token"]
            .as_str()
            .unwrap(),
    );
    let r = app.data(Method::GET, "/data", &token, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = resolve(links["DeleteToken"]["parameters"]["id"].as_str().unwrap());
    let r = app
        .admin(Method::DELETE, &format!("/admin/tokens/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.data(Method::GET, "/data", &token, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
