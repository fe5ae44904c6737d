//! What a failed exchange with the CalDAV server becomes for the tool
//! caller: an error that names the problem in words a person can act on
//! (the password, the server's storage, a concurrent change), and never
//! holds a credential — no variant of [`DavError`] carries one, and the
//! account is named by its configured name only.

use http::StatusCode;

use crate::calendar::CalendarError;
use crate::calendar::caldav::dav::DavError;
use crate::calendar::caldav::discovery::DiscoveryError;

/// The error for an exchange that failed before any answer could be used.
pub fn from_dav(account: &str, error: DavError) -> CalendarError {
    match error {
        DavError::Unreachable(_) | DavError::Timeout => CalendarError::Unavailable(format!(
            "the CalDAV server of account `{account}` did not answer ({error}); try again later"
        )),
        DavError::TooLarge | DavError::Garbage(_) => CalendarError::Unavailable(format!(
            "the CalDAV server of account `{account}` sent an answer the gateway cannot use ({error})"
        )),
    }
}

/// The error for an answer with `status` to a request about `what` (`event
/// x`, `calendar y`): what the status means for the caller.
pub fn from_status(account: &str, what: &str, status: StatusCode) -> CalendarError {
    match status.as_u16() {
        401 => CalendarError::Reauthorize(format!(
            "the CalDAV server refused the credentials of account `{account}`: check its username and (app) password"
        )),
        403 => CalendarError::PermissionDenied(format!(
            "the CalDAV server does not let account `{account}` reach {what}"
        )),
        404 | 410 => CalendarError::Gone(format!("{what} is no longer on the CalDAV server")),
        412 => CalendarError::Conflict(format!(
            "{what} changed on the CalDAV server since it was read; read it again"
        )),
        507 => CalendarError::Unavailable(format!(
            "the CalDAV server of account `{account}` is out of storage; nothing was written"
        )),
        _ => CalendarError::Unavailable(format!(
            "the CalDAV server of account `{account}` answered {status} about {what}"
        )),
    }
}

/// The error for a discovery that failed.
pub fn from_discovery(account: &str, error: DiscoveryError) -> CalendarError {
    match error {
        DiscoveryError::Dav(error) => from_dav(account, error),
        DiscoveryError::Refused { status, what, .. } => from_status(account, what, status),
        DiscoveryError::Missing(what) => CalendarError::Unavailable(format!(
            "the CalDAV server of account `{account}` did not say {what}: is its URL a CalDAV server?"
        )),
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::{from_dav, from_discovery, from_status};
    use crate::calendar::CalendarError;
    use crate::calendar::caldav::dav::DavError;
    use crate::calendar::caldav::discovery::DiscoveryError;

    #[test]
    fn each_status_says_what_to_do_about_it() {
        let cases = [
            (
                401,
                "reauthorization",
                "check its username and (app) password",
            ),
            (
                403,
                "permission",
                "does not let account `work` reach event e1",
            ),
            (404, "gone", "event e1 is no longer on the CalDAV server"),
            (
                412,
                "conflict",
                "changed on the CalDAV server since it was read; read it again",
            ),
            (507, "unavailable", "out of storage; nothing was written"),
            (
                500,
                "unavailable",
                "answered 500 Internal Server Error about event e1",
            ),
        ];
        for (status, kind, words) in cases {
            let error = from_status("work", "event e1", StatusCode::from_u16(status).unwrap());
            let found_kind = match &error {
                CalendarError::Reauthorize(_) => "reauthorization",
                CalendarError::PermissionDenied(_) => "permission",
                CalendarError::Gone(_) => "gone",
                CalendarError::Conflict(_) => "conflict",
                CalendarError::Unavailable(_) => "unavailable",
                other => panic!("{status}: {other:?}"),
            };
            assert_eq!(found_kind, kind, "{status}");
            assert!(error.to_string().contains(words), "{status}: {error}");
        }
    }

    #[test]
    fn failed_exchanges_and_discoveries_are_named() {
        let down = from_dav(
            "work",
            DavError::Unreachable("connection refused".to_owned()),
        );
        assert!(
            down.to_string().contains(
                "did not answer (the CalDAV server cannot be reached: connection refused)"
            ),
            "{down}"
        );
        let garbage = from_dav(
            "work",
            DavError::Garbage("the answer is not XML".to_owned()),
        );
        assert!(garbage.to_string().contains("cannot use"), "{garbage}");
        let missing = from_discovery(
            "work",
            DiscoveryError::Missing("the principal's calendar home"),
        );
        assert!(
            missing.to_string().contains("is its URL a CalDAV server?"),
            "{missing}"
        );
        let refused = from_discovery(
            "work",
            DiscoveryError::Refused {
                status: StatusCode::UNAUTHORIZED,
                what: "the current user's principal",
                hint: "",
            },
        );
        assert!(
            matches!(refused, CalendarError::Reauthorize(_)),
            "{refused:?}"
        );
    }
}
