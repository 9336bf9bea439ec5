//! The error answers of Google's endpoints, byte for byte where a client looks: the Calendar
//! API's `{"error":{"errors":[…],"code","message"}}`, OAuth's `{"error","error_description"}` and
//! the consent screen's HTML error page (GOOGLE_APIS.md, "Errors from the Calendar API").

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Google's usual message for a reason, used when a fault names no message.
pub(crate) fn default_message(reason: &str) -> &'static str {
    match reason {
        "authError" => "Invalid Credentials",
        "insufficientPermissions" => "Request had insufficient authentication scopes.",
        "rateLimitExceeded" => "Rate Limit Exceeded",
        "userRateLimitExceeded" => "User Rate Limit Exceeded",
        "quotaExceeded" => "Calendar usage limits exceeded.",
        "accessNotConfigured" => {
            "Google Calendar API has not been used in this project before or it is disabled."
        }
        "notFound" => "Not Found",
        "fullSyncRequired" => "Sync token is no longer valid, a full sync is required.",
        "syncTokenWithRequestRestrictions" => {
            "Sync token cannot be used with other request restrictions."
        }
        "backendError" => "Backend Error",
        "invalid" => "Invalid Value",
        "required" => "Required",
        "parseError" => "Parse Error",
        "channelIdNotUnique" => "Channel id not unique",
        "push.webhookUrlNotHttps" => "WebHook callback must be HTTPS.",
        "push.webhookUrlUnauthorized" => "Unauthorized WebHook callback channel",
        _ => "Error",
    }
}

/// The Calendar API's error body; rate and quota reasons live in the `usageLimits` domain.
pub(crate) fn calendar_body(code: u16, reason: &str, message: &str) -> serde_json::Value {
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded" | "accessNotConfigured" => {
            "usageLimits"
        }
        _ => "global",
    };
    let mut detail = serde_json::json!({"domain": domain, "reason": reason, "message": message});
    if reason == "authError" {
        detail["locationType"] = "header".into();
        detail["location"] = "Authorization".into();
    }
    serde_json::json!({"error": {"errors": [detail], "code": code, "message": message}})
}

/// A Calendar API error answer; a 401 carries Google's `WWW-Authenticate` challenge.
pub(crate) fn calendar(code: u16, reason: &str, message: &str) -> HttpResponse {
    let mut builder = HttpResponse::build(status(code));
    if code == 401 {
        builder.insert_header((
            "WWW-Authenticate",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ));
    }
    builder.json(calendar_body(code, reason, message))
}

/// An OAuth endpoint error answer (token, revoke, userinfo).
pub(crate) fn oauth(code: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status(code))
        .json(serde_json::json!({"error": error, "error_description": description}))
}

/// The consent screen's error page: Google shows it and never redirects.
pub(crate) fn page(code: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status(code))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!DOCTYPE html><html><head><title>Error 400 ({error})</title></head><body>\
             <h1>Access blocked: authorization error</h1><p>Error 400: {error}</p>\
             <p>{}</p></body></html>",
            description.replace('<', "&lt;")
        ))
}
