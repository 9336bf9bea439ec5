//! `POST /oauth2/google/notifications`: Google's push notifications (`GOOGLE_APIS.md`, "Push
//! notifications"). Each is answered 200 at once, whatever it says: Google retries other answers
//! and eventually gives up on the channel. Only a notification whose channel id, resource id and
//! channel token all match a live channel reaches the calendar's actor, which gathers a burst
//! into one sync; everything else is counted and costs nothing more.

use actix_web::{post, web, HttpRequest, HttpResponse};

use super::google::google;
use super::openapi::{Detail, GoogleOff};
use super::{ApiError, AppState};
use crate::actors::push::{verify_stored, Verdict};
use crate::actors::supervisor::Notified;

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Google's push notification that a watched calendar changed. Always 200 when push is
/// configured: the channel is checked here, and only a live channel's notification causes a sync.
#[utoipa::path(
    tag = "google",
    operation_id = "receive_notification",
    params(
        ("X-Goog-Channel-ID" = Option<String>, Header, description = "The channel's id."),
        ("X-Goog-Resource-ID" = Option<String>, Header, description = "The watched resource's id."),
        ("X-Goog-Channel-Token" = Option<String>, Header, description = "The channel's secret token."),
        ("X-Goog-Resource-State" = Option<String>, Header, description = "`sync`, `exists` or `not_exists`."),
    ),
    responses(
        (status = 200, description = "Received (whatever it said).", body = Detail,
            example = json!({"detail": "received"})),
        GoogleOff,
    )
)]
#[post("/oauth2/google/notifications")]
pub(super) async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, sync) = google(&state)?;
    let now = chrono::Utc::now().timestamp_millis();
    let (channel_id, resource_id, secret) = (
        header(&req, "x-goog-channel-id"),
        header(&req, "x-goog-resource-id"),
        header(&req, "x-goog-channel-token"),
    );
    let (mut verdict, mut target) = sync.channels.verify(channel_id, resource_id, secret, now);
    if verdict == Verdict::UnknownChannel && state.store.fleet().is_some() && !channel_id.is_empty()
    {
        // On a fleet the channel may be another node's: check it as stored.
        let store = state.store.clone();
        let id = channel_id.to_string();
        let stored = web::block(move || store.fleet().map(|f| f.channel(&id)))
            .await?
            .transpose()?
            .flatten();
        if let Some((owner, channel)) = stored {
            (verdict, target) = verify_stored(owner, &channel, resource_id, secret, now);
        }
    }
    let resource_state = header(&req, "x-goog-resource-state");
    let outcome = match (target, resource_state) {
        // The handshake after `events.watch`: nothing changed yet.
        (Some(_), "sync") => "sync",
        (Some((token, slot)), "exists" | "not_exists") => {
            sync.supervisor.do_send(Notified { token, slot });
            "changed"
        }
        (Some(_), _) => "unknown_state",
        (None, _) => verdict.label(),
    };
    if verdict != Verdict::Trusted {
        log::debug!("push: notification ignored: {outcome}");
    }
    sync.telemetry.notification(outcome);
    Ok(HttpResponse::Ok().json(Detail {
        detail: "received".into(),
    }))
}
