//! The stand-alone HTTP server around the library's routes, shared by `main` and the tests so
//! the tests start the server exactly the way the binary does.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};

use crate::http::{self, AppState};

/// How long a client may take to send a request's head (line and headers) before a 408.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a graceful shutdown waits for in-flight requests.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(8);

/// Builds the HTTP server on an already bound listener (port 0 in tests). It ignores signals:
/// the caller decides when to stop it through its handle (`main` on SIGTERM/SIGINT), and a stop
/// is graceful: no new connections, in-flight requests finish within [`SHUTDOWN_TIMEOUT`].
pub fn http_server(
    state: AppState,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let timeout = state.settings.server_request_timeout;
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(move |req, srv| {
                // The whole request, body reading included, within the timeout: actix's own
                // `client_request_timeout` covers only the head, not a body that trickles in.
                let call = srv.call(req);
                async move {
                    match actix_web::rt::time::timeout(timeout, call).await {
                        Ok(answer) => answer,
                        Err(_) => Err(http::ApiError::RequestTimeout(
                            "the request took too long".into(),
                        )
                        .into()),
                    }
                }
            })
            .wrap(http::cors(&state.settings))
            .wrap(http::access_log())
            .configure(|cfg| http::configure(cfg, &state))
            .default_service(web::to(http::not_found))
    })
    .workers(workers)
    .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
    .client_request_timeout(HEAD_TIMEOUT)
    .client_disconnect_timeout(Duration::from_secs(2))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
