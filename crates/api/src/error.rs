//! How a caller treats a failure. Every library error of Ferry says, through [`Classify`],
//! which [`Disposition`] it has, so a controller decides between backing off, waiting and
//! reporting by one rule instead of matching on other crates' variants. Errors that wrap
//! another error take the wrapped one's disposition and return it from
//! [`std::error::Error::source`].
//!
//! [`full_message`] is the one way to turn an error chain into the text a person reads (a
//! CLI error line, a condition message).

use std::error::Error;

/// What a caller should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Transient trouble (a network error, a server answering 5xx or 429, a timeout, a write
    /// that lost a race): try the same call again, backing off.
    Retry,
    /// Nothing is wrong, but a precondition is not met yet: the input names something that
    /// may appear without the input changing (a revision or branch not yet pushed, a chart
    /// version not yet published, a namespace not yet created). Check again on the normal
    /// interval or on an event, without counting a failure.
    Wait,
    /// The input is wrong (a malformed spec, refused credentials, content that does not
    /// render): the same call fails the same way until a person changes the input.
    GiveUp,
}

impl Disposition {
    /// The disposition of an HTTP status answered by a server (a Git host, a registry, a chart
    /// repository, a Kubernetes API). The one place where status codes are classified:
    /// * 404 Not Found: [`Wait`](Self::Wait), the thing may exist later.
    /// * 408 Request Timeout, 409 Conflict (re-read and write again), 410 Gone (an expired
    ///   watch: list again), 425 Too Early, 429 Too Many Requests, and every 5xx but
    ///   501 Not Implemented and 505 HTTP Version Not Supported: [`Retry`](Self::Retry).
    /// * Everything else (400, 401, 403, 422, ... and 501, 505): [`GiveUp`](Self::GiveUp).
    pub fn of_http_status(status: u16) -> Self {
        match status {
            404 => Self::Wait,
            408 | 409 | 410 | 425 | 429 => Self::Retry,
            501 | 505 => Self::GiveUp,
            500..=599 => Self::Retry,
            _ => Self::GiveUp,
        }
    }
}

/// An error that knows its [`Disposition`].
pub trait Classify: Error {
    /// What the caller should do about this error.
    fn disposition(&self) -> Disposition;

    /// Whether the same call may succeed when tried again (the disposition is
    /// [`Disposition::Retry`]).
    fn is_retryable(&self) -> bool {
        self.disposition() == Disposition::Retry
    }
}

/// The error's message followed by each cause in its [`source`](Error::source) chain whose
/// message the text so far does not already hold, joined by `": "`. Ferry's errors spell out
/// the error they wrap, so this mostly adds the causes of foreign errors (I/O, HTTP, TLS).
pub fn full_message(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified_by_one_table() {
        let table = [
            (400, Disposition::GiveUp),
            (401, Disposition::GiveUp),
            (403, Disposition::GiveUp),
            (404, Disposition::Wait),
            (405, Disposition::GiveUp),
            (408, Disposition::Retry),
            (409, Disposition::Retry),
            (410, Disposition::Retry),
            (413, Disposition::GiveUp),
            (415, Disposition::GiveUp),
            (422, Disposition::GiveUp),
            (425, Disposition::Retry),
            (429, Disposition::Retry),
            (500, Disposition::Retry),
            (501, Disposition::GiveUp),
            (502, Disposition::Retry),
            (503, Disposition::Retry),
            (504, Disposition::Retry),
            (505, Disposition::GiveUp),
            (507, Disposition::Retry),
            (599, Disposition::Retry),
        ];
        for (status, expected) in table {
            assert_eq!(Disposition::of_http_status(status), expected, "{status}");
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{context}: {source}")]
    struct Spelled {
        context: &'static str,
        source: Terse,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Terse(&'static str, #[source] Option<std::io::Error>);

    #[test]
    fn full_message_adds_only_causes_the_text_does_not_hold() {
        let io = std::io::Error::other("connection reset");
        let spelled = Spelled {
            context: "fetching index.yaml",
            source: Terse("chart repository down", Some(io)),
        };
        assert_eq!(
            full_message(&spelled),
            "fetching index.yaml: chart repository down: connection reset"
        );
        assert_eq!(full_message(&Terse("alone", None)), "alone");
    }

    #[test]
    fn this_crates_errors_all_ask_for_a_changed_input() {
        use crate::argocd::SourceError;
        use crate::patch::PatchError;
        use crate::selector::SelectorError;
        let field = || "spec.source".to_string();
        let errors: [&dyn Classify; 11] = [
            &SourceError::NoSource,
            &SourceError::NoRepoUrl { field: field() },
            &SourceError::SeveralTools { field: field() },
            &SourceError::ChartWithoutVersion { field: field() },
            &SourceError::ChartAndPath { field: field() },
            &SourceError::TagPrefix { field: field() },
            &SelectorError::Invalid("a=".into()),
            &SelectorError::UnsupportedField("spec.x".into()),
            &PatchError::Invalid("not an object".into()),
            &PatchError::Conflict(Vec::new()),
            &PatchError::StrategicUnsupported,
        ];
        for error in errors {
            assert_eq!(error.disposition(), Disposition::GiveUp, "{error}");
        }
    }
}
