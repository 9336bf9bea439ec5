//! The Impulses data API: every route and every status code.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{wait_for, TestApp, ORIGIN};

/// The timestamps of a `GET /data/{metric}` answer, in its order.
fn timestamps(body: &serde_json::Value) -> Vec<i64> {
    let points = body.as_array().unwrap();
    points
        .iter()
        .map(|p| p["timestamp"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn health_answers_up() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/healthz", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "UP"}));
}

#[actix_web::test]
async fn points_round_trip_sorted_and_upsert_by_timestamp_and_dimensions() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let body = r#"[{"timestamp":300,"dimensions":{"where":"park"},"value":3},
                   {"timestamp":100,"dimensions":{},"value":1},
                   {"timestamp":-50,"value":-1.5}]"#;
    let r = app.data(Method::POST, "/data/weight", &t, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Same timestamp and dimensions replaces; same timestamp, other dimensions adds.
    let body = r#"[{"timestamp":100,"dimensions":{},"value":10},{"timestamp":100,"dimensions":{"a":"b"},"value":11}]"#;
    assert_eq!(
        app.data(Method::POST, "/data/weight", &t, Some(body))
            .await
            .status,
        StatusCode::OK
    );
    let r = app.data(Method::GET, "/data/weight", &t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let points = r.body.as_array().unwrap();
    assert_eq!(timestamps(&r.body), vec![-50, 100, 100, 300]);
    assert!(points.contains(&json!({"timestamp":100,"dimensions":{},"value":10.0})));
    assert!(points.contains(&json!({"timestamp":100,"dimensions":{"a":"b"},"value":11.0})));
    assert!(points.contains(&json!({"timestamp":300,"dimensions":{"where":"park"},"value":3.0})));
    assert!(!points.contains(&json!({"timestamp":100,"dimensions":{},"value":1.0})));
}

#[actix_web::test]
async fn range_reads_are_inclusive_from_and_exclusive_to() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let points: Vec<_> = (0..50)
        .map(|i| json!({"timestamp": i * 10, "value": i}))
        .collect();
    app.data(
        Method::POST,
        "/data/steps",
        &t,
        Some(&json!(points).to_string()),
    )
    .await;
    let r = app
        .data(Method::GET, "/data/steps?from=100&to=200", &t, None)
        .await;
    let ts = timestamps(&r.body);
    assert_eq!(ts, (10..20).map(|i| i * 10).collect::<Vec<_>>());
    let r = app
        .data(Method::GET, "/data/steps?from=485", &t, None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app.data(Method::GET, "/data/steps?to=0", &t, None).await;
    assert_eq!(r.body, json!([]));
    let r = app
        .data(Method::GET, "/data/steps?from=soon", &t, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().contains("query"), "{}", r.body);
    let r = app.data(Method::GET, "/data/never-written", &t, None).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!([])));
}

#[actix_web::test]
async fn users_see_only_their_own_metrics() {
    let app = TestApp::spawn().await;
    let (_, ann) = app.token("ann", "phone", "SUPER").await;
    let (_, ann2) = app.token("ann", "laptop", "API").await;
    let (_, bob) = app.token("bob", "phone", "SUPER").await;
    app.data(
        Method::POST,
        "/data/weight",
        &ann,
        Some(r#"[{"timestamp":1,"value":70}]"#),
    )
    .await;
    app.data(
        Method::POST,
        "/data/mood",
        &ann,
        Some(r#"[{"timestamp":1,"value":5}]"#),
    )
    .await;
    app.data(
        Method::POST,
        "/data/weight",
        &bob,
        Some(r#"[{"timestamp":2,"value":80}]"#),
    )
    .await;
    assert_eq!(
        app.data(Method::GET, "/data", &ann, None).await.body,
        json!(["mood", "weight"])
    );
    assert_eq!(
        app.data(Method::GET, "/data", &ann2, None).await.body,
        json!(["mood", "weight"])
    );
    assert_eq!(
        app.data(Method::GET, "/data", &bob, None).await.body,
        json!(["weight"])
    );
    let r = app.data(Method::GET, "/data/weight", &bob, None).await;
    assert_eq!(
        r.body,
        json!([{"timestamp":2,"dimensions":{},"value":80.0}])
    );
}

#[actix_web::test]
async fn delete_removes_one_metric_only() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    app.data(
        Method::POST,
        "/data/a",
        &t,
        Some(r#"[{"timestamp":1,"value":1},{"timestamp":2,"value":2}]"#),
    )
    .await;
    app.data(
        Method::POST,
        "/data/b",
        &t,
        Some(r#"[{"timestamp":1,"value":1}]"#),
    )
    .await;
    let r = app.data(Method::DELETE, "/data/a", &t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.data(Method::GET, "/data/a", &t, None).await.body,
        json!([])
    );
    assert_eq!(
        app.data(Method::GET, "/data", &t, None).await.body,
        json!(["b"])
    );
}

#[actix_web::test]
async fn capabilities_are_enforced() {
    let app = TestApp::spawn().await;
    let (_, api) = app.token("ann", "reader", "API").await;
    let (_, ingest) = app.token("ann", "writer", "INGEST").await;
    let body = Some(r#"[{"timestamp":1,"value":1}]"#);
    let r = app.data(Method::POST, "/data/x", &api, body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("INGEST"), "{}", r.body);
    assert_eq!(
        app.data(Method::DELETE, "/data/x", &api, None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.data(Method::POST, "/data/x", &ingest, body)
            .await
            .status,
        StatusCode::OK
    );
    for path in ["/data", "/data/x"] {
        let r = app.data(Method::GET, path, &ingest, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.data(Method::GET, "/data/x", &api, None)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn missing_unknown_and_expired_tokens_get_401() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/data", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.detail().contains("X-Data-Token"), "{}", r.body);
    let r = app.data(Method::GET, "/data", "not-a-token", None).await;
    assert_eq!(
        (r.status, r.detail()),
        (StatusCode::UNAUTHORIZED, "unknown data token")
    );

    let soon = impulses_gcal::token::now_secs() + 1;
    let body =
        format!(r#"{{"user":"ann","name":"short","capability":"SUPER","expires_at":{soon}}}"#);
    let r = app.admin(Method::POST, "/admin/tokens", Some(&body)).await;
    assert_eq!(r.body["expires_at"], json!(soon));
    let t = r.body["token_plaintext"].as_str().unwrap().to_string();
    wait_for(Duration::from_secs(5), "the token to expire", || async {
        let r = app.data(Method::GET, "/data", &t, None).await;
        if r.status == StatusCode::UNAUTHORIZED && r.detail() == "data token expired" {
            Ok(())
        } else {
            Err(format!("{} {}", r.status, r.body))
        }
    })
    .await;
}

#[actix_web::test]
async fn reserved_imp_metrics_are_read_only() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let r = app
        .data(
            Method::POST,
            "/data/imp.events.duration",
            &t,
            Some(r#"[{"timestamp":1,"value":1}]"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("reserved"), "{}", r.body);
    assert_eq!(
        app.data(Method::DELETE, "/data/imp.events.duration", &t, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.data(Method::GET, "/data/imp.events.duration", &t, None)
            .await
            .status,
        StatusCode::OK
    );
    // Only the exact prefix is reserved.
    assert_eq!(
        app.data(Method::POST, "/data/impulse", &t, Some("[]"))
            .await
            .status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn invalid_names_get_422_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let long = "m".repeat(100);
    for path in [
        "/data/has%20space",
        &format!("/data/{long}"),
        "/data/quote%22",
    ] {
        let r = app
            .data(
                Method::POST,
                path,
                &t,
                Some(r#"[{"timestamp":1,"value":1}]"#),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert!(r.detail().contains("metric name"), "{}", r.body);
        assert_eq!(
            app.data(Method::GET, path, &t, None).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let ok99 = format!("/data/{}", "m".repeat(99));
    assert_eq!(
        app.data(Method::POST, &ok99, &t, Some("[]")).await.status,
        StatusCode::OK
    );
    let bad_key = r#"[{"timestamp":1,"dimensions":{"bad key":"x"},"value":1}]"#;
    let r = app.data(Method::POST, "/data/m", &t, Some(bad_key)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.detail().contains("dimension key"), "{}", r.body);
    assert_eq!(
        app.data(Method::GET, "/data", &t, None).await.body,
        json!([])
    );
}

#[actix_web::test]
async fn malformed_bodies_get_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let good = r#"[{"timestamp":1,"value":1}]"#;
    app.data(Method::POST, "/data/m", &t, Some(good)).await;
    let cases: &[(&str, StatusCode)] = &[
        ("[{", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        ("not json", StatusCode::BAD_REQUEST),
        (
            r#"{"timestamp":1,"value":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"[{"timestamp":"1","value":1}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"[{"timestamp":1.5,"value":1}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"[{"timestamp":1,"value":"1"}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"[{"timestamp":1}]"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            r#"[{"timestamp":1,"value":1,"dimensions":{"a":1}}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"[{"timestamp":2,"value":2},{"timestamp":1,"value":1e999}]"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"[{"timestamp":99999999999999999999,"value":1}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, want) in cases {
        let r = app.data(Method::POST, "/data/m", &t, Some(body)).await;
        assert!(r.status.is_client_error(), "{body}: {}", r.status);
        assert_eq!(r.status, *want, "{body}: {}", r.body);
        assert!(!r.detail().is_empty(), "{body}");
    }
    let r = app.data(Method::GET, "/data/m", &t, None).await;
    assert_eq!(r.body, json!([{"timestamp":1,"dimensions":{},"value":1.0}]));
}

#[actix_web::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", "1024")]).await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let points: Vec<_> = (0..100)
        .map(|i| json!({"timestamp": i, "value": i}))
        .collect();
    let body = json!(points).to_string();
    assert!(body.len() > 1024);
    let r = app.data(Method::POST, "/data/m", &t, Some(&body)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.detail().contains("1024"), "{}", r.body);
    assert_eq!(
        app.data(Method::GET, "/data", &t, None).await.body,
        json!([])
    );
}

#[actix_web::test]
async fn cors_admits_the_ui_origin_with_the_data_token_header() {
    let app = TestApp::spawn().await;
    let app = &app;
    let preflight = |origin: &'static str| async move {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-data-token"),
        ];
        app.call(Method::OPTIONS, "/data", &headers, None).await
    };
    let r = preflight(ORIGIN).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .contains("x-data-token"));
    let r = preflight("http://evil.test").await;
    assert_ne!(
        r.header("access-control-allow-origin"),
        Some("http://evil.test")
    );
}

#[actix_web::test]
async fn google_routes_answer_503_when_not_configured() {
    let app = TestApp::spawn().await;
    for path in [
        "/oauth2/google/auth",
        "/oauth2/google/callback?code=x&state=y",
        "/oauth2/google/configs",
    ] {
        let r = app.call(Method::GET, path, &[], None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.detail().contains("not configured"), "{}", r.body);
    }
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/nope", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.detail().is_empty());
    let r = app.call(Method::PUT, "/data/x", &[], None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!r.detail().is_empty());
}

#[actix_web::test]
async fn data_and_tokens_survive_a_restart() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    app.data(
        Method::POST,
        "/data/m",
        &t,
        Some(r#"[{"timestamp":7,"dimensions":{"k":"v"},"value":1.25}]"#),
    )
    .await;
    let app = app.restart().await;
    let r = app.data(Method::GET, "/data/m", &t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!([{"timestamp":7,"dimensions":{"k":"v"},"value":1.25}])
    );
}

/// Found by Schemathesis: JSON Schema counts `29412.0` as an integer, and Python clients holding
/// times as floats send it so; a number beyond `i64` must not round into range and be stored as
/// another timestamp.
#[actix_web::test]
async fn whole_float_timestamps_are_accepted_and_out_of_range_ones_refused() {
    let app = TestApp::spawn().await;
    let (_, t) = app.token("ann", "phone", "SUPER").await;
    let body = r#"[{"timestamp":29412.0,"value":1},{"timestamp":1.7e12,"value":2}]"#;
    let r = app.data(Method::POST, "/data/weight", &t, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for bad in [
        r#"[{"timestamp":-9223372036854775809,"value":1}]"#,
        r#"[{"timestamp":9223372036854775808,"value":1}]"#,
        r#"[{"timestamp":1.5,"value":1}]"#,
    ] {
        let r = app.data(Method::POST, "/data/weight", &t, Some(bad)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
    }
    let r = app.data(Method::GET, "/data/weight", &t, None).await;
    let ts = timestamps(&r.body);
    assert_eq!(ts, vec![29412, 1_700_000_000_000]);
}
