//! What a failed Google call means. google-calendar3 turns every non-2xx JSON
//! reply into `Error::BadRequest(json)` (the status survives only as
//! `error.code`), so the classification reads `error.code` and
//! `error.errors[].reason`; everything else it returns is mapped here too.

use google_calendar3::common::Error as ApiError;
use serde_json::Value;

use crate::calendar::CalendarError;

/// What the call layer does with a failure.
#[derive(Debug)]
pub enum Failure {
    /// Worth another try after a pause (429, 5xx, rate limits, network, timeouts).
    Transient(String),
    /// The access token was refused: refresh it once, then give up.
    Unauthorized,
    /// Final: the tool reports this.
    Final(CalendarError),
}

/// What the failing call addressed, so errors name it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The calendar.
    pub calendar: &'a str,
    /// The event, when the call addressed one.
    pub event: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A call on a calendar as a whole.
    pub fn calendar(calendar: &'a str) -> Target<'a> {
        Target {
            calendar,
            event: None,
        }
    }

    /// A call on one event of `calendar`.
    pub fn event(calendar: &'a str, event: &'a str) -> Target<'a> {
        Target {
            calendar,
            event: Some(event),
        }
    }

    fn named(&self) -> String {
        match self.event {
            Some(event) => format!("event `{event}`"),
            None => format!("calendar `{}`", self.calendar),
        }
    }
}

/// Classifies an error returned by a google-calendar3 call.
pub fn classify(error: &ApiError, target: Target<'_>) -> Failure {
    match error {
        ApiError::BadRequest(json) => {
            let code = json["error"]["code"].as_u64().unwrap_or(0) as u16;
            from_status(code, json, target)
        }
        ApiError::Failure(response) => {
            from_status(response.status().as_u16(), &Value::Null, target)
        }
        ApiError::HttpError(e) => Failure::Transient(format!("connection failed: {e}")),
        ApiError::Io(e) => Failure::Transient(format!("reading the reply failed: {e}")),
        ApiError::JsonDecodeError(_, e) => Failure::Final(CalendarError::Backend(format!(
            "Google Calendar API replied with malformed JSON: {e}"
        ))),
        other => Failure::Final(CalendarError::Backend(format!(
            "Google Calendar API call failed: {other}"
        ))),
    }
}

fn reasons(json: &Value) -> Vec<&str> {
    json["error"]["errors"]
        .as_array()
        .map(|list| list.iter().filter_map(|e| e["reason"].as_str()).collect())
        .unwrap_or_default()
}

fn from_status(status: u16, json: &Value, target: Target<'_>) -> Failure {
    let reasons = reasons(json);
    let message = json["error"]["message"].as_str().unwrap_or("");
    match status {
        401 => Failure::Unauthorized,
        403 if reasons
            .iter()
            .any(|r| matches!(*r, "rateLimitExceeded" | "userRateLimitExceeded")) =>
        {
            Failure::Transient(format!("403 {}", reasons.join(",")))
        }
        403 => Failure::Final(CalendarError::PermissionDenied(format!(
            "Google refused this account access to calendar `{}` (403 {})",
            target.calendar,
            reasons.first().unwrap_or(&"forbidden")
        ))),
        404 => Failure::Final(match target.event {
            Some(event) => CalendarError::event_not_found(event),
            None => CalendarError::calendar_not_found(target.calendar),
        }),
        409 => Failure::Final(CalendarError::Conflict(format!(
            "{} already exists",
            target.named()
        ))),
        410 => Failure::Final(CalendarError::Gone(format!(
            "{} has been deleted",
            target.named()
        ))),
        412 => Failure::Final(CalendarError::Conflict(format!(
            "{} changed since it was read; read it again and retry",
            target.named()
        ))),
        400 => {
            let field = json["error"]["errors"][0]["location"]
                .as_str()
                .unwrap_or("request");
            Failure::Final(match field {
                // Page tokens are opaque with either backend: one message for both.
                "pageToken" => CalendarError::bad_page_token(),
                _ => {
                    CalendarError::invalid(field, format!("Google Calendar refused it: {message}"))
                }
            })
        }
        429 => Failure::Transient("429 too many requests".into()),
        500..=599 => Failure::Transient(format!("{status} {}", reasons.join(","))),
        _ => Failure::Final(CalendarError::Backend(format!(
            "Google Calendar API answered {status}: {message}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use google_calendar3::common::Error as ApiError;
    use serde_json::json;

    use super::{Failure, Target, classify};
    use crate::calendar::CalendarError;

    const EVENT: Target<'static> = Target {
        calendar: "team",
        event: Some("e1"),
    };

    fn google(code: u16, reason: &str) -> ApiError {
        ApiError::BadRequest(json!({
            "error": { "code": code, "message": "m", "errors": [{ "reason": reason, "domain": "global" }] }
        }))
    }

    #[test]
    fn statuses_and_reasons_map_to_clear_errors() {
        assert!(matches!(
            classify(&google(401, "authError"), EVENT),
            Failure::Unauthorized
        ));
        assert!(matches!(
            classify(&google(403, "rateLimitExceeded"), EVENT),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&google(403, "userRateLimitExceeded"), EVENT),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&google(403, "forbidden"), EVENT),
            Failure::Final(CalendarError::PermissionDenied(_))
        ));
        assert!(matches!(
            classify(&google(404, "notFound"), EVENT),
            Failure::Final(CalendarError::NotFound { kind: "event", .. })
        ));
        let Failure::Final(conflict) = classify(&google(412, "conditionNotMet"), EVENT) else {
            panic!("412 is final")
        };
        assert_eq!(
            conflict.to_string(),
            "event `e1` changed since it was read; read it again and retry"
        );
        assert!(matches!(
            classify(&google(409, "duplicate"), EVENT),
            Failure::Final(CalendarError::Conflict(_))
        ));
        assert!(matches!(
            classify(&google(410, "deleted"), EVENT),
            Failure::Final(CalendarError::Gone(_))
        ));
        assert!(matches!(
            classify(&google(429, "rateLimitExceeded"), EVENT),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&google(503, "backendError"), EVENT),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn a_reply_without_an_error_object_is_not_a_panic() {
        let odd = ApiError::BadRequest(json!(["not", "an", "object"]));
        assert!(matches!(
            classify(&odd, EVENT),
            Failure::Final(CalendarError::Backend(_))
        ));
    }
}
