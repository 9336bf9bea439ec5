//! Slow clients are cut off: a head that never completes, and a body that trickles in.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::TestApp;

/// Sends `bytes`, then waits for the server to answer or close; returns what it sent back and
/// how long that took.
async fn stall(addr: std::net::SocketAddr, bytes: &'static [u8]) -> (String, Duration) {
    let handle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let start = Instant::now();
        s.write_all(bytes).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
    });
    // Waits without blocking the test's runtime, which serves the in-process app.
    while !handle.is_finished() {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    handle.join().unwrap()
}

#[actix_web::test]
async fn a_client_that_never_finishes_its_head_is_cut_off() {
    let app = TestApp::spawn().await;
    let (answer, took) = stall(app.addr, b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        took < Duration::from_secs(10),
        "held for {took:?}: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[actix_web::test]
async fn a_body_that_trickles_in_gets_408_within_the_request_timeout() {
    let app = TestApp::spawn_with(&[("SERVER_REQUEST_TIMEOUT_SECS", "1")]).await;
    let (_, token) = app.token("ann", "phone", "SUPER").await;
    let head = format!(
        "POST /data/slow HTTP/1.1\r\nHost: x\r\nX-Data-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"timestamp\":1,"
    );
    let head: &'static [u8] = Box::leak(head.into_bytes().into_boxed_slice());
    let (answer, took) = stall(app.addr, head).await;
    assert!(took < Duration::from_secs(5), "held for {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"detail\""), "{answer}");
}

#[actix_web::test]
async fn the_binary_cuts_off_a_client_that_never_finishes_its_head() {
    let sb = crate::child::sandbox(Default::default());
    let dir = tempfile::tempdir().unwrap();
    let env = crate::child::google_env(&sb, &crate::child::data_dir(&dir));
    let server = crate::child::ChildServer::start(&env);
    let addr = server.base.trim_start_matches("http://").parse().unwrap();
    let (answer, took) = stall(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    server.stop();
    assert!(
        took < Duration::from_secs(10),
        "held for {took:?}: {answer:?}"
    );
}
