//! `ferry app refresh|wait|set|delete`: the parts of `argocd app` that change an
//! Application's spec or wait for the controller, over the Kubernetes API only.

use std::time::Duration;

use anyhow::{Context as _, bail};
use ferry_api::argocd::Application;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cli::stdout;

/// Argo CD's cascade-delete finalizer (`/background` for background propagation).
const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// What `ferry app wait` waits for; all of sync, health and operation when none is asked.
#[derive(clap::Args, Debug, Default)]
pub struct WaitFor {
    /// Until Synced.
    #[arg(long)]
    pub sync: bool,
    /// Until Healthy.
    #[arg(long)]
    pub health: bool,
    /// Until no operation runs.
    #[arg(long)]
    pub operation: bool,
    /// Until Suspended (with `--health`: Healthy or Suspended).
    #[arg(long)]
    pub suspended: bool,
    /// Until Degraded (with `--health`: Healthy or Degraded).
    #[arg(long)]
    pub degraded: bool,
    /// Give up after this many seconds (0: wait forever).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
}

/// The fields `ferry app set` changes (`argocd app set`'s names).
#[derive(clap::Args, Debug, Default)]
pub struct SetFields {
    /// The source's `targetRevision`.
    #[arg(long)]
    pub revision: Option<String>,
    /// The source's `path`.
    #[arg(long)]
    pub path: Option<String>,
    /// The source's `repoURL`.
    #[arg(long)]
    pub repo: Option<String>,
    /// `destination.server`.
    #[arg(long)]
    pub dest_server: Option<String>,
    /// `destination.name`.
    #[arg(long)]
    pub dest_name: Option<String>,
    /// `destination.namespace`.
    #[arg(long)]
    pub dest_namespace: Option<String>,
    /// `spec.project`.
    #[arg(long)]
    pub project: Option<String>,
    /// `automated` (or `auto`) turns automated sync on, `none` off.
    #[arg(long)]
    pub sync_policy: Option<String>,
    /// With automated sync: self-heal (`--self-heal=false` to stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub self_heal: Option<bool>,
    /// With automated sync: prune (`--auto-prune=false` to stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub auto_prune: Option<bool>,
    /// Add a sync option (`CreateNamespace=true`); repeatable.
    #[arg(long = "sync-option")]
    pub sync_options: Vec<String>,
}

/// Asks for a refresh (`hard`: render again too) and waits until the controller served it.
pub async fn refresh(
    apps: &Api<Application>,
    name: &str,
    hard: bool,
) -> anyhow::Result<Application> {
    let kind = if hard { "hard" } else { "normal" };
    let patch =
        json!({"metadata": {"annotations": {ferry_sync::application::REFRESH_ANNOTATION: kind}}});
    apps.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("cannot refresh application {name}"))?;
    poll(apps, name, Duration::from_secs(120), |app| {
        let annotations = app.metadata.annotations.as_ref();
        !annotations.is_some_and(|a| a.contains_key(ferry_sync::application::REFRESH_ANNOTATION))
    })
    .await
    .with_context(|| {
        format!("application {name} was not refreshed within 120 s: is the controller running?")
    })
}

/// Waits until `app` is as `wait` asks.
pub async fn wait(
    apps: &Api<Application>,
    name: &str,
    wait: &WaitFor,
) -> anyhow::Result<Application> {
    let all = !(wait.sync || wait.health || wait.operation || wait.suspended || wait.degraded);
    let timeout = if wait.timeout == 0 {
        Duration::from_secs(u64::MAX / 4)
    } else {
        Duration::from_secs(wait.timeout)
    };
    let mut wanted_health = Vec::new();
    if all || wait.health {
        wanted_health.push("Healthy");
    }
    if wait.suspended {
        wanted_health.push("Suspended");
    }
    if wait.degraded {
        wanted_health.push("Degraded");
    }
    poll(apps, name, timeout, |app| {
        let synced = !(all || wait.sync) || app.status.sync.status == "Synced";
        let healthy =
            wanted_health.is_empty() || wanted_health.contains(&app.status.health.status.as_str());
        let idle = !(all || wait.operation)
            || (app.operation.is_none()
                && app
                    .status
                    .operation_state
                    .as_ref()
                    .is_none_or(|s| !matches!(s.phase.as_str(), "Running" | "Terminating")));
        synced && healthy && idle
    })
    .await
    .with_context(|| {
        format!(
            "timed out after {} s waiting for application {name}",
            wait.timeout
        )
    })
}

/// Changes the fields `set` names, in one merge patch.
pub async fn set(
    apps: &Api<Application>,
    name: &str,
    set: &SetFields,
) -> anyhow::Result<Application> {
    let app = apps
        .get_opt(name)
        .await?
        .with_context(|| format!("application {name} not found"))?;
    let mut spec = serde_json::to_value(&app.spec)?;
    let source_fields = [
        ("targetRevision", &set.revision),
        ("path", &set.path),
        ("repoURL", &set.repo),
    ];
    if source_fields.iter().any(|(_, v)| v.is_some()) {
        if spec["source"].is_null() {
            bail!("application {name} has `sources`: set a source's fields with kubectl edit");
        }
        for (field, value) in source_fields {
            if let Some(value) = value {
                spec["source"][field] = json!(value);
            }
        }
    }
    for (field, value) in [
        ("server", &set.dest_server),
        ("name", &set.dest_name),
        ("namespace", &set.dest_namespace),
    ] {
        if let Some(value) = value {
            spec["destination"][field] = json!(value);
        }
    }
    if let Some(project) = &set.project {
        spec["project"] = json!(project);
    }
    match set.sync_policy.as_deref() {
        None => {}
        Some("automated" | "automatic" | "auto") if spec["syncPolicy"]["automated"].is_null() => {
            spec["syncPolicy"]["automated"] = json!({});
        }
        Some("automated" | "automatic" | "auto") => {}
        Some("none") => {
            if let Some(policy) = spec["syncPolicy"].as_object_mut() {
                policy.remove("automated");
            }
        }
        Some(other) => bail!("--sync-policy {other:?}: use automated or none"),
    }
    for (field, value) in [("selfHeal", set.self_heal), ("prune", set.auto_prune)] {
        if let Some(value) = value {
            if spec["syncPolicy"]["automated"].is_null() {
                bail!("--self-heal and --auto-prune need automated sync (--sync-policy automated)");
            }
            spec["syncPolicy"]["automated"][field] = json!(value);
        }
    }
    if !set.sync_options.is_empty() {
        let mut options: Vec<Value> = spec["syncPolicy"]["syncOptions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for option in &set.sync_options {
            let key = option.split('=').next().unwrap_or_default();
            options.retain(|o| o.as_str().and_then(|o| o.split('=').next()) != Some(key));
            options.push(json!(option));
        }
        spec["syncPolicy"]["syncOptions"] = Value::Array(options);
    }
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": app.metadata.resource_version},
        {"op": "replace", "path": "/spec", "value": spec},
    ]))?;
    apps.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .with_context(|| format!("cannot set application {name} (changed meanwhile? try again)"))
}

/// Deletes the app: with `cascade`, its resources too (the resources finalizer, foreground
/// or `background`), without, only the Application; `wait` until it is gone.
pub async fn delete(
    apps: &Api<Application>,
    name: &str,
    cascade: bool,
    background: bool,
    wait: bool,
) -> anyhow::Result<()> {
    let app = apps
        .get_opt(name)
        .await?
        .with_context(|| format!("application {name} not found"))?;
    let mut finalizers: Vec<String> = app
        .metadata
        .finalizers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| !f.starts_with(RESOURCES_FINALIZER))
        .collect();
    if cascade {
        finalizers.push(if background {
            format!("{RESOURCES_FINALIZER}/background")
        } else {
            RESOURCES_FINALIZER.to_string()
        });
    }
    let patch = json!({"metadata": {"finalizers": finalizers}});
    apps.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("cannot set the finalizers of application {name}"))?;
    apps.delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("cannot delete application {name}"))?;
    stdout::line(format!("application '{name}' deleted"));
    if wait {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        while apps.get_opt(name).await?.is_some() {
            if tokio::time::Instant::now() > deadline {
                bail!("application {name} is still there after 600 s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

/// Reads the app every half second until `done` says so or `timeout` passes.
async fn poll(
    apps: &Api<Application>,
    name: &str,
    timeout: Duration,
    done: impl Fn(&Application) -> bool,
) -> anyhow::Result<Application> {
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    loop {
        let app = apps
            .get_opt(name)
            .await?
            .with_context(|| format!("application {name} not found"))?;
        if done(&app) {
            return Ok(app);
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() > d) {
            bail!("gave up");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
