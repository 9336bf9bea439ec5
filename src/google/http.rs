//! The one outbound HTTP client: every request to Google goes through it.
//!
//! It enforces what a production client owes Google and itself: a connect and a total timeout,
//! a response size cap, no redirects (a token endpoint that redirects is misconfigured, and a
//! redirect could leak credentials), pooled connections, and a global cap on requests in flight
//! shared by every token, so ten thousand tokens syncing at start-up neither open ten thousand
//! sockets nor trip Google's quotas.
//!
//! `awc::Client` is `!Send`: build one per arbiter with [`GoogleHttp::new`]; the permit pool
//! ([`InFlight`]) is `Send` and shared by all of them.

use std::sync::Arc;
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, CONTENT_LENGTH};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{Bytes, BytesMut};
use actix_web::HttpMessage;
use futures_util::{Stream, StreamExt};

use super::error::{api_error, GoogleError};
use crate::secret::Secret;
use crate::settings::GoogleHttpSettings;
use crate::telemetry::Telemetry;

/// The shared cap on Google requests in flight.
#[derive(Clone)]
pub struct InFlight(Arc<tokio::sync::Semaphore>);

impl InFlight {
    /// A pool of `n` permits.
    pub fn new(n: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(n.max(1))))
    }
}

/// A complete answer: status, headers and the whole body (within the cap).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The outbound client of one arbiter.
#[derive(Clone)]
pub struct GoogleHttp {
    client: awc::Client,
    in_flight: InFlight,
    telemetry: Telemetry,
    request_timeout: Duration,
    max_body: usize,
}

impl GoogleHttp {
    /// Builds the client for the current arbiter.
    pub fn new(settings: &GoogleHttpSettings, in_flight: InFlight, telemetry: Telemetry) -> Self {
        let connector = awc::Connector::new()
            .timeout(settings.connect_timeout)
            .limit(settings.max_in_flight.max(1))
            .conn_keep_alive(Duration::from_secs(60));
        // No timeout of awc's own: `exchange` bounds the whole exchange, body included, and a
        // second timer per request is work at every poll.
        let client = awc::Client::builder()
            .connector(connector)
            .disable_timeout()
            .disable_redirects()
            .add_default_header((
                actix_web::http::header::USER_AGENT,
                concat!("impulses-gcal/", env!("CARGO_PKG_VERSION")),
            ))
            .finish();
        Self {
            client,
            in_flight,
            telemetry,
            request_timeout: settings.request_timeout,
            max_body: settings.max_response_bytes,
        }
    }

    /// Sends one request and reads the whole answer, within the in-flight cap, the total timeout
    /// and the size cap. Only transport failures are errors here; any HTTP status is an answer.
    /// `endpoint` labels the request in the metrics.
    pub async fn send(
        &self,
        endpoint: &'static str,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, GoogleError> {
        let result = self.exchange(method, url, headers, body).await;
        let status = result.as_ref().map(|a| a.status.as_u16()).unwrap_or(0);
        self.telemetry.google_request(endpoint, status);
        result
    }

    /// Sends a Calendar API request with the bearer `access_token` (and a JSON `body`, if any)
    /// and reads a successful answer; any other status is the classified error of its body.
    pub async fn api(
        &self,
        endpoint: &'static str,
        method: Method,
        url: &str,
        access_token: &Secret<String>,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, GoogleError> {
        let bearer = format!("Bearer {}", access_token.expose());
        let mut headers = vec![
            ("Authorization", bearer.as_str()),
            ("Accept", "application/json"),
        ];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let answer = self.send(endpoint, method, url, &headers, body).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(api_error(
                answer.status.as_u16(),
                answer.header("retry-after"),
                &answer.body,
            ))
        }
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, GoogleError> {
        let _permit = self
            .in_flight
            .0
            .acquire()
            .await
            .map_err(|_| GoogleError::Transport("client is shutting down".into()))?;
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let exchange = async {
            let resp = match body {
                Some(b) => req.send_body(b).await,
                None => req.send().await,
            }
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
            // The headers are taken, not copied (a dozen allocations per answer).
            let mut headers = HeaderMap::new();
            let mut resp = resp.map_body(|head, payload| {
                headers = std::mem::replace(&mut head.headers, HeaderMap::new());
                payload
            });
            let body = read_body(resp.take_payload(), &headers, self.max_body)
                .await
                .map_err(|e| GoogleError::Transport(format!("reading the answer: {e}")))?;
            Ok(Answer {
                status: resp.status(),
                headers,
                body,
            })
        };
        actix_web::rt::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| {
                GoogleError::Transport(format!(
                    "no complete answer within {:?}",
                    self.request_timeout
                ))
            })?
    }

    /// The adapter the `oauth2` crate calls for token, refresh and revocation requests.
    pub async fn oauth2_call(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let method = Method::from_bytes(parts.method.as_str().as_bytes())
            .map_err(|e| TransportError(e.to_string()))?;
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), v.to_string()))
            })
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = self
            .send(
                "token",
                method,
                &parts.uri.to_string(),
                &header_refs,
                Some(body),
            )
            .await
            .map_err(|e| TransportError(e.to_string()))?;
        // A 5xx from the token endpoint is transient (GOOGLE_APIS.md); the oauth2 crate would
        // report its HTML body as a parse error, so call it what it is.
        if answer.status.is_server_error() {
            return Err(TransportError(format!(
                "token endpoint answered {}",
                answer.status
            )));
        }
        let mut builder = oauth2::http::Response::builder().status(answer.status.as_u16());
        for (k, v) in answer.headers.iter() {
            builder = builder.header(k.as_str(), v.as_bytes());
        }
        builder
            .body(answer.body.to_vec())
            .map_err(|e| TransportError(e.to_string()))
    }
}

/// A transport failure seen by the `oauth2` crate.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// The most room made up front for an answer, whatever its `Content-Length` says: a page of
/// 2,500 events is 2–3 MB, and a length that promises more than what comes only grows the buffer
/// as awc's reader would.
const MAX_PRESIZE: usize = 8 << 20;

/// Reads a whole body of at most `max` bytes. awc's own reader starts from an empty buffer and
/// grows it chunk by chunk: a 2 MB page of events was copied a dozen times over into fresh
/// memory, most of receiving it. Here the buffer is sized once from `Content-Length` (within
/// [`MAX_PRESIZE`] and `max`: the length is the server's word), and a body that came in one
/// chunk is that chunk.
async fn read_body<S>(
    mut payload: S,
    headers: &HeaderMap,
    max: usize,
) -> Result<Bytes, PayloadError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let Some(first) = payload.next().await.transpose()? else {
        return Ok(Bytes::new());
    };
    if first.len() > max {
        return Err(PayloadError::Overflow);
    }
    let Some(second) = payload.next().await.transpose()? else {
        return Ok(first);
    };
    // At least what came already (in memory anyway); the loop refuses it if it is over `max`.
    let at_least = first.len() + second.len();
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = BytesMut::with_capacity(announced.min(max).min(MAX_PRESIZE).max(at_least));
    body.extend_from_slice(&first);
    let mut chunk = Some(second);
    while let Some(c) = chunk {
        if body.len() + c.len() > max {
            return Err(PayloadError::Overflow);
        }
        body.extend_from_slice(&c);
        chunk = payload.next().await.transpose()?;
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&'static [u8]], length: Option<&str>, max: usize) -> Result<Bytes, String> {
        let stream = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, PayloadError>(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        );
        let mut headers = HeaderMap::new();
        if let Some(l) = length {
            headers.insert(CONTENT_LENGTH, l.parse().unwrap());
        }
        futures_executor::block_on(read_body(stream, &headers, max)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_body_is_read_whole_whatever_its_length_says() {
        assert_eq!(read(&[], None, 10).unwrap(), Bytes::new());
        assert_eq!(read(&[b"abc"], Some("3"), 10).unwrap(), "abc");
        // A length too small, too big, absent, far over the cap or not a number changes only
        // how much room is made up front.
        for length in [
            None,
            Some("0"),
            Some("2"),
            Some("6"),
            Some("9999999999"),
            Some("18446744073709551615"),
            Some("x"),
        ] {
            assert_eq!(
                read(&[b"ab", b"", b"cd", b"ef"], length, 10).unwrap(),
                "abcdef",
                "{length:?}"
            );
        }
        assert_eq!(
            read(&[b"abcde", b"fghij"], Some("10"), 10).unwrap(),
            "abcdefghij"
        );
    }

    #[test]
    fn a_one_chunk_body_is_that_chunk() {
        static PAGE: &[u8] = b"{\"items\":[]}";
        let body = read(&[PAGE], None, 100).unwrap();
        assert_eq!(body.as_ptr(), PAGE.as_ptr(), "not copied");
    }

    #[test]
    fn a_body_over_the_cap_is_refused_wherever_it_crosses_it() {
        let over = PayloadError::Overflow.to_string();
        assert_eq!(read(&[b"abcdefghijk"], None, 10).unwrap_err(), over);
        assert_eq!(
            read(&[b"abcdef", b"ghijk"], Some("11"), 10).unwrap_err(),
            over
        );
        assert_eq!(
            read(&[b"ab", b"cd", b"efghijk"], Some("3"), 10).unwrap_err(),
            over
        );
        assert_eq!(
            read(&[b"ab", b"cd", b"ef", b"ghijk"], None, 10).unwrap_err(),
            over
        );
    }
}
