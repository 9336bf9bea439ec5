//! Injected faults: Google's error shapes, counts, latency, dropped connections.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use impulses_gcal::sandbox::{Endpoint, Fault, Times};

use super::support::*;

#[actix_web::test]
async fn a_rate_limit_fault_hits_once_with_googles_body() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox
        .inject_fault(Fault::error(Endpoint::List, 403, "rateLimitExceeded"));
    let answer = list(&w, &access, &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": {"errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}],
            "code": 403, "message": "Rate Limit Exceeded"}})
    );
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_429_fault_carries_retry_after_and_hits_n_times() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox.inject_fault(
        Fault::error(Endpoint::List, 429, "rateLimitExceeded")
            .with_retry_after(7)
            .times(Times::N(2)),
    );
    for _ in 0..2 {
        let answer = list(&w, &access, &[]).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.header("retry-after").as_deref(), Some("7"));
        assert_eq!(google_error(&answer).1, "rateLimitExceeded");
    }
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
    assert_eq!(w.sandbox.counters().status(429), 2);
}

#[actix_web::test]
async fn a_fault_until_cleared_keeps_answering_until_cleared() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox
        .inject_fault(Fault::error(Endpoint::List, 500, "backendError").times(Times::UntilCleared));
    for _ in 0..5 {
        let answer = list(&w, &access, &[]).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            google_error(&answer),
            (500, "backendError".into(), "Backend Error".into())
        );
    }
    w.sandbox.clear_faults();
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
    w.sandbox
        .inject_fault(Fault::error(Endpoint::List, 503, "backendError"));
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    w.sandbox
        .inject_fault(Fault::error(Endpoint::List, 403, "quotaExceeded"));
    assert_eq!(
        google_error(&list(&w, &access, &[]).await).1,
        "quotaExceeded"
    );
}

#[actix_web::test]
async fn oauth_endpoints_fail_with_oauth_shaped_bodies() {
    let w = world();
    let (access, refresh_token) = connect(&w).await;
    w.sandbox.inject_fault(Fault::error(
        Endpoint::Token,
        503,
        "temporarily_unavailable",
    ));
    let answer = refresh(&w, &refresh_token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    assert_eq!(refresh(&w, &refresh_token).await.status, StatusCode::OK);
    w.sandbox
        .inject_fault(Fault::error(Endpoint::Userinfo, 500, "internal_failure"));
    assert_eq!(
        get(&w.client, &w.sandbox.userinfo_uri(), Some(&access))
            .await
            .status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    w.sandbox
        .inject_fault(Fault::error(Endpoint::Revoke, 500, "internal_failure"));
    assert_eq!(
        post_form(&w.client, &w.sandbox.revoke_uri(), &[("token", &access)])
            .await
            .status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    w.sandbox
        .inject_fault(Fault::error(Endpoint::Auth, 500, "server_error"));
    let (_, challenge) = pkce();
    assert_eq!(
        consent(&w, &challenge, SCOPES).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(w.sandbox.counters().token_errors, 1);
}

#[actix_web::test]
async fn a_fault_for_one_account_spares_the_others() {
    let w = world();
    let bob = w.sandbox.create_account("bob@example.com", "UTC").unwrap();
    let (ann_access, _) = connect(&w).await;
    w.sandbox.sign_in(&bob, Default::default()).unwrap();
    let (bob_access, _) = connect(&w).await;
    w.sandbox.inject_fault(
        Fault::error(Endpoint::List, 500, "backendError")
            .for_account(&bob)
            .times(Times::UntilCleared),
    );
    assert_eq!(list(&w, &ann_access, &[]).await.status, StatusCode::OK);
    assert_eq!(
        list(&w, &bob_access, &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let page = list(&w, &bob_access, &[]).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    let counters = w.sandbox.counters();
    assert_eq!(counters.list_calls_by_account[bob.as_str()], 2);
    assert_eq!(counters.list_calls_by_account[w.ann.as_str()], 1);
}

#[actix_web::test]
async fn latency_delays_the_answer_without_blocking_other_requests() {
    let w = world();
    let (access, _) = connect(&w).await;
    w.sandbox
        .inject_fault(Fault::latency(Endpoint::List, Duration::from_millis(2000)));
    let started = Instant::now();
    let slow = list(&w, &access, &[]);
    let fast = async {
        let begun = Instant::now();
        assert_eq!(
            get(&w.client, &w.sandbox.userinfo_uri(), Some(&access))
                .await
                .status,
            StatusCode::OK
        );
        begun.elapsed()
    };
    let (slow, fast_took) = futures_util::future::join(slow, fast).await;
    assert_eq!(
        slow.status,
        StatusCode::OK,
        "latency alone lets the request through"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    assert!(
        fast_took < Duration::from_millis(1500),
        "another request was held up: {fast_took:?}"
    );
}

#[actix_web::test]
async fn a_dropped_connection_gives_the_client_no_answer() {
    let w = world();
    let (access, _) = connect(&w).await;
    let access_for_raw = access.clone();
    w.sandbox
        .inject_fault(Fault::drop_connection(Endpoint::List));
    let url = format!("{}/calendars/primary/events", w.sandbox.calendar_api_base());
    let outcome = match w.client.get(&url).bearer_auth(&access).send().await {
        Err(err) => format!("send error: {err}"),
        Ok(mut res) => match res.body().await {
            Err(err) => format!("payload error after status {}: {err}", res.status()),
            Ok(body) => panic!("got a whole answer {} {body:?}", res.status()),
        },
    };
    println!("dropped connection seen as: {outcome}");
    assert_eq!(w.sandbox.counters().dropped_connections, 1);

    // On the wire: not a single byte comes back before the close.
    w.sandbox
        .inject_fault(Fault::drop_connection(Endpoint::List));
    let addr = w.sandbox.addr();
    let raw = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let request = format!("GET /calendar/v3/calendars/primary/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {access_for_raw}\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        received
    })
    .await
    .unwrap();
    assert!(
        raw.is_empty(),
        "the server answered: {}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(
        list(&w, &access, &[]).await.status,
        StatusCode::OK,
        "the next call works"
    );
}

#[actix_web::test]
async fn the_sandbox_counts_list_calls_of_one_account_answered_at_once() {
    let w = world();
    let (access, _) = connect(&w).await;
    // One after another: never more than one at a time.
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
    assert_eq!(list(&w, &access, &[]).await.status, StatusCode::OK);
    assert_eq!(w.sandbox.counters().most_concurrent_lists_of_one_account, 1);
    // Two at once, held up by latency so they surely overlap.
    w.sandbox
        .inject_fault(Fault::latency(Endpoint::List, Duration::from_millis(300)));
    let (a, b) = futures_util::future::join(list(&w, &access, &[]), list(&w, &access, &[])).await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(w.sandbox.counters().most_concurrent_lists_of_one_account, 2);
    w.sandbox.reset_concurrent_lists();
    assert_eq!(w.sandbox.counters().most_concurrent_lists_of_one_account, 0);
}
