//! AppProject sync windows, as Argo CD applies them: a window matches an app by
//! `applications` (app name), `namespaces` (destination namespace) or `clusters`
//! (destination server or name), globs, any of them — all of the given ones with
//! `andOperator`; it is active from each `schedule` fire time (cron, [`cron`], in `timeZone`,
//! UTC by default) for `duration`. With no matching window a sync may run; an active deny
//! window stops it; otherwise, if any allow window matches, only an active one lets it run.
//! `manualSync: true` lets a manual sync (not an automated one) through a window that would
//! stop it.

pub mod cron;

use ferry_api::argocd::{Application, SyncWindow};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::operation::settings::glob;

/// A window that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The schedule is not cron.
    #[error(transparent)]
    Schedule(#[from] cron::CronError),
    /// The duration is not Go's format.
    #[error("invalid sync window duration {0:?}")]
    Duration(String),
    /// The time zone is unknown.
    #[error("invalid sync window time zone {0:?}")]
    TimeZone(String),
}

/// Whether a sync of `app` may run at `now` under `windows`; `manual` for a sync a person
/// started.
pub fn can_sync(
    windows: &[SyncWindow],
    app: &Application,
    manual: bool,
    now: Timestamp,
) -> Result<bool, WindowError> {
    let matching: Vec<&SyncWindow> = windows.iter().filter(|w| matches(w, app)).collect();
    if matching.is_empty() {
        return Ok(true);
    }
    let mut active = Vec::new();
    let mut inactive = Vec::new();
    for window in matching {
        if is_active(window, now)? {
            active.push(window);
        } else {
            inactive.push(window);
        }
    }
    let denies: Vec<&&SyncWindow> = active.iter().filter(|w| is_deny(w)).collect();
    if !denies.is_empty() {
        return Ok(manual && denies.iter().all(|w| w.manual_sync));
    }
    if active.iter().any(|w| !is_deny(w)) {
        return Ok(true);
    }
    let inactive_allows: Vec<&&SyncWindow> = inactive.iter().filter(|w| !is_deny(w)).collect();
    if inactive_allows.is_empty() {
        return Ok(true);
    }
    Ok(manual && inactive_allows.iter().any(|w| w.manual_sync))
}

fn is_deny(window: &SyncWindow) -> bool {
    window.kind.as_deref() == Some("deny")
}

/// Whether `window` applies to `app`.
pub fn matches(window: &SyncWindow, app: &Application) -> bool {
    let destination = &app.spec.destination;
    let glob = |patterns: &[String], values: &[Option<&str>]| {
        patterns
            .iter()
            .any(|p| values.iter().flatten().any(|v| glob(p, v)))
    };
    let checks = [
        (!window.applications.is_empty()).then(|| glob(&window.applications, &[Some(app.name())])),
        (!window.namespaces.is_empty())
            .then(|| glob(&window.namespaces, &[destination.namespace.as_deref()])),
        (!window.clusters.is_empty()).then(|| {
            glob(
                &window.clusters,
                &[destination.server.as_deref(), destination.name.as_deref()],
            )
        }),
    ];
    let given: Vec<bool> = checks.into_iter().flatten().collect();
    if window.and_operator {
        !given.is_empty() && given.iter().all(|m| *m)
    } else {
        given.iter().any(|m| *m)
    }
}

/// Whether `window` is open at `now`: a fire time lies within the last `duration`.
pub fn is_active(window: &SyncWindow, now: Timestamp) -> Result<bool, WindowError> {
    let schedule = cron::Schedule::parse(window.schedule.as_deref().unwrap_or_default())?;
    let text = window.duration.as_deref().unwrap_or_default();
    let duration =
        ferry_api::duration::parse_go(text).map_err(|_| WindowError::Duration(text.to_string()))?;
    let tz = match window.time_zone.as_deref().filter(|z| !z.is_empty()) {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| WindowError::TimeZone(name.to_string()))?,
    };
    let span = jiff::SignedDuration::try_from(duration)
        .map_err(|_| WindowError::Duration(text.to_string()))?;
    let Ok(opened_after) = now.checked_sub(span) else {
        return Ok(false);
    };
    Ok(schedule
        .next(opened_after, &tz)
        .is_some_and(|fire| fire < now))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(name: &str, namespace: &str) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                "source": {"repoURL": "https://example.com/r.git", "path": "."}}
        }))
        .unwrap()
    }

    fn window(
        kind: &str,
        schedule: &str,
        duration: &str,
        applications: &[&str],
        manual: bool,
    ) -> SyncWindow {
        SyncWindow {
            kind: Some(kind.into()),
            schedule: Some(schedule.into()),
            duration: Some(duration.into()),
            applications: applications.iter().map(|a| a.to_string()).collect(),
            manual_sync: manual,
            ..SyncWindow::default()
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn windows_open_for_their_duration() {
        let nightly = window("deny", "0 22 * * *", "8h", &["*"], false);
        assert!(is_active(&nightly, at("2026-12-04T23:30:00Z")).unwrap());
        assert!(is_active(&nightly, at("2026-12-05T05:59:00Z")).unwrap());
        assert!(!is_active(&nightly, at("2026-12-05T06:00:00Z")).unwrap());
        assert!(!is_active(&nightly, at("2026-12-04T21:59:00Z")).unwrap());
        let mut local = nightly.clone();
        local.time_zone = Some("America/New_York".into());
        // 22:00 in New York is 03:00 UTC.
        assert!(!is_active(&local, at("2026-12-04T23:30:00Z")).unwrap());
        assert!(is_active(&local, at("2026-12-05T04:00:00Z")).unwrap());
    }

    #[test]
    fn deny_beats_allow_and_manual_sync_gets_through() {
        let web = app("web-prod", "prod");
        let now = at("2026-12-04T23:30:00Z"); // inside 22:00 + 8h
        let deny = window("deny", "0 22 * * *", "8h", &["*-prod"], false);
        let deny_manual = window("deny", "0 22 * * *", "8h", &["*-prod"], true);
        let allow_now = window("allow", "0 22 * * *", "8h", &["web-*"], false);
        let allow_later = window("allow", "0 9 * * *", "1h", &["web-*"], false);
        let allow_later_manual = window("allow", "0 9 * * *", "1h", &["web-*"], true);
        let other = window("deny", "0 22 * * *", "8h", &["api"], false);
        // (windows, manual, may sync)
        let table = [
            (vec![], false, true),
            (vec![other.clone()], false, true),
            (vec![deny.clone()], true, false),
            (vec![deny_manual.clone()], true, true),
            (vec![deny_manual.clone()], false, false),
            (vec![deny.clone(), allow_now.clone()], false, false),
            (vec![allow_now.clone()], false, true),
            (vec![allow_later.clone()], false, false),
            (vec![allow_later_manual.clone()], true, true),
            (vec![allow_later, allow_now], false, true),
        ];
        for (windows, manual, want) in table {
            assert_eq!(
                can_sync(&windows, &web, manual, now).unwrap(),
                want,
                "{windows:?} manual={manual}"
            );
        }
    }

    #[test]
    fn windows_match_by_name_namespace_or_cluster() {
        let web = app("web", "prod");
        let mut w = window("deny", "* * * * *", "1h", &[], false);
        assert!(
            !matches(&w, &web),
            "a window naming nothing matches nothing"
        );
        w.namespaces = vec!["prod".into()];
        assert!(matches(&w, &web));
        w.applications = vec!["api".into()];
        assert!(matches(&w, &web), "either suffices");
        w.and_operator = true;
        assert!(!matches(&w, &web), "with andOperator, all must");
        w.applications = vec!["w*".into()];
        w.clusters = vec!["https://kubernetes.default.svc".into()];
        assert!(matches(&w, &web));
    }

    #[test]
    fn a_broken_window_is_an_error() {
        let web = app("web", "prod");
        let bad = [
            window("deny", "every night", "1h", &["*"], false),
            window("deny", "0 22 * * *", "eight hours", &["*"], false),
        ];
        for w in bad {
            assert!(can_sync(std::slice::from_ref(&w), &web, false, Timestamp::now()).is_err());
        }
    }
}
