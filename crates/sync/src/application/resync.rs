//! How often every app is looked at with nothing having changed: Argo CD's
//! `timeout.reconciliation` (default 120 s; `0` turns the periodic look off) plus up to
//! `timeout.reconciliation.jitter` (default 60 s), read from `argocd-cm` when the controller
//! starts, as Argo CD's controller reads them (a change takes a restart). The jitter is
//! fixed per app, so apps spread out over the window.

use std::time::Duration;

use crate::argocd_cm::ArgoCdSettings;

/// How long "never" is: the periodic look is off.
const OFF: Duration = Duration::from_secs(365 * 24 * 3600);

/// The periodic look's timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resync {
    /// `timeout.reconciliation`; zero turns it off.
    pub period: Duration,
    /// `timeout.reconciliation.jitter`.
    pub jitter: Duration,
}

impl Default for Resync {
    fn default() -> Self {
        Resync {
            period: Duration::from_secs(120),
            jitter: Duration::from_secs(60),
        }
    }
}

impl Resync {
    /// The settings in `argocd-cm`; the defaults when a key is missing and, with a warning,
    /// when a value is not a duration.
    pub fn of(settings: &ArgoCdSettings) -> Resync {
        Resync::from_settings(
            settings.get("timeout.reconciliation"),
            settings.get("timeout.reconciliation.jitter"),
        )
    }

    fn from_settings(period: Option<&str>, jitter: Option<&str>) -> Resync {
        let defaults = Resync::default();
        let parse = |key: &str, value: Option<&str>, default: Duration| {
            match value {
            None => default,
            Some(text) => ferry_api::duration::parse_seconds_or_go(text.trim()).unwrap_or_else(|e| {
                tracing::warn!(%key, error = %e, "argocd-cm: not a duration; the default applies");
                default
            }),
        }
        };
        Resync {
            period: parse("timeout.reconciliation", period, defaults.period),
            jitter: parse("timeout.reconciliation.jitter", jitter, defaults.jitter),
        }
    }

    /// When the app `name` is looked at next with nothing having changed.
    pub fn after(&self, name: &str) -> Duration {
        if self.period.is_zero() {
            return OFF;
        }
        let spread = self.jitter.as_secs().max(1);
        let hash = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        self.period
            + Duration::from_secs(if self.jitter.is_zero() {
                0
            } else {
                hash % spread
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_as_argo_cd_reads_them() {
        // (timeout.reconciliation, jitter, period, jitter)
        let table = [
            (None, None, 120, 60),
            (Some("180s"), Some("0"), 180, 0),
            (Some("3m"), None, 180, 60),
            (Some("300"), Some("30s"), 300, 30),
            (Some("soon"), None, 120, 60),
        ];
        for (period, jitter, want_period, want_jitter) in table {
            let resync = Resync::from_settings(period, jitter);
            assert_eq!(
                (resync.period.as_secs(), resync.jitter.as_secs()),
                (want_period, want_jitter),
                "{period:?} {jitter:?}"
            );
        }
    }

    #[test]
    fn each_app_gets_its_own_place_in_the_window() {
        let resync = Resync::default();
        let a = resync.after("web");
        assert!(a >= Duration::from_secs(120) && a < Duration::from_secs(180));
        assert_eq!(a, resync.after("web"), "fixed per app");
        let exact = Resync::from_settings(Some("90s"), Some("0"));
        assert_eq!(exact.after("web"), Duration::from_secs(90));
        assert_eq!(Resync::from_settings(Some("0"), None).after("web"), OFF);
    }
}
