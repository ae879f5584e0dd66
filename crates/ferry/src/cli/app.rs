//! `ferry app list|get|history|sync|rollback|refresh|wait|set|delete`: Argo CD's `argocd app`
//! for Applications on the cluster, without an API server in between (the spec-changing and
//! waiting commands are in `app_lifecycle`). `sync` and `rollback` write the Application's
//! `operation` (the field `argocd app sync` writes, so the controller runs it as Argo CD
//! would), then wait for it to end and print what happened; `--async` returns at once.

use std::time::Duration;

use anyhow::{Context as _, bail};
use ferry_api::argocd::{
    Application, Operation, OperationInitiator, ResourceResult, SyncOperation,
    SyncOperationResource, SyncStrategy, SyncStrategyApply,
};
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::app_lifecycle;
use super::{Target, stdout, table};
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: AppCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Subcommand, Debug)]
enum AppCommand {
    /// List Applications.
    List {
        /// `wide` (the table), `name`, `yaml` or `json`.
        #[arg(short = 'o', long, default_value = "wide")]
        output: Output,
    },
    /// Show an Application: source, sync and health status, conditions, resources.
    Get {
        /// The Application.
        name: String,
        /// `wide` (the summary), `name`, `yaml` or `json`.
        #[arg(short = 'o', long, default_value = "wide")]
        output: Output,
        /// Refresh first and show the result (`--hard-refresh` renders again too).
        #[arg(long)]
        refresh: bool,
        /// Refresh, rendering again even when the commit is unchanged.
        #[arg(long)]
        hard_refresh: bool,
    },
    /// Ask the controller to look at an Application now and wait until it has.
    Refresh {
        /// The Application.
        name: String,
        /// Render again even when the commit is unchanged.
        #[arg(long)]
        hard: bool,
    },
    /// Wait until an Application is synced, healthy and idle (or as the flags say).
    Wait {
        /// The Application.
        name: String,
        #[command(flatten)]
        wait: app_lifecycle::WaitFor,
    },
    /// Change an Application's source, destination, project or sync policy.
    Set {
        /// The Application.
        name: String,
        #[command(flatten)]
        fields: app_lifecycle::SetFields,
    },
    /// Delete an Application, with its resources unless `--cascade=false`.
    Delete {
        /// The Application.
        name: String,
        /// Delete the Application's resources too.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        cascade: bool,
        /// `foreground` (the default) or `background` deletion of the resources.
        #[arg(long, default_value = "foreground")]
        propagation_policy: String,
        /// Wait until the Application is gone.
        #[arg(long)]
        wait: bool,
    },
    /// Show the deployment history (ids for `rollback`).
    History {
        /// The Application.
        name: String,
    },
    /// Sync an Application and wait until the sync ends.
    Sync {
        /// The Application.
        name: String,
        /// Sync to this revision instead of the target revision.
        #[arg(long)]
        revision: Option<String>,
        /// Delete what Git no longer has.
        #[arg(long)]
        prune: bool,
        /// Check every write with the API server, persist none.
        #[arg(long)]
        dry_run: bool,
        /// Only this resource, as GROUP:KIND:NAME (or GROUP:KIND:NAMESPACE/NAME); repeatable.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Return once the sync is requested.
        #[arg(long = "async")]
        no_wait: bool,
    },
    /// Sync an Application back to a revision of its history (the previous one by default).
    Rollback {
        /// The Application.
        name: String,
        /// The history id (`ferry app history`).
        id: Option<i64>,
        /// Delete what the earlier revision does not have.
        #[arg(long)]
        prune: bool,
        /// Check every write with the API server, persist none.
        #[arg(long)]
        dry_run: bool,
        /// Return once the rollback is requested.
        #[arg(long = "async")]
        no_wait: bool,
    },
}

/// How long `sync` and `rollback` wait for the operation to end.
const WAIT: Duration = Duration::from_secs(600);

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (client, _) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    let apps: Api<Application> = Api::namespaced(client, &args.target.control_plane_namespace());
    match args.command {
        AppCommand::List { output } => list(&apps, output).await,
        AppCommand::Get {
            name,
            output,
            refresh,
            hard_refresh,
        } => {
            let app = if refresh || hard_refresh {
                app_lifecycle::refresh(&apps, &name, hard_refresh).await?
            } else {
                fetch(&apps, &name).await?
            };
            show(&app, output)
        }
        AppCommand::Refresh { name, hard } => {
            print_app(&app_lifecycle::refresh(&apps, &name, hard).await?);
            Ok(())
        }
        AppCommand::Wait { name, wait } => {
            print_app(&app_lifecycle::wait(&apps, &name, &wait).await?);
            Ok(())
        }
        AppCommand::Set { name, fields } => {
            app_lifecycle::set(&apps, &name, &fields).await?;
            Ok(())
        }
        AppCommand::Delete {
            name,
            cascade,
            propagation_policy,
            wait,
        } => {
            let background = match propagation_policy.as_str() {
                "foreground" => false,
                "background" => true,
                other => bail!("--propagation-policy {other:?}: use foreground or background"),
            };
            app_lifecycle::delete(&apps, &name, cascade, background, wait).await
        }
        AppCommand::History { name } => history(&fetch(&apps, &name).await?),
        AppCommand::Sync {
            name,
            revision,
            prune,
            dry_run,
            resources,
            no_wait,
        } => {
            let resources = resources
                .iter()
                .map(|r| parse_resource(r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let app = fetch(&apps, &name).await?;
            let sync = SyncOperation {
                revision,
                prune,
                dry_run,
                resources,
                sync_options: spec_sync_options(&app),
                ..SyncOperation::default()
            };
            let retry = app
                .spec
                .sync_policy
                .as_ref()
                .and_then(|p| p.retry.clone())
                .unwrap_or_default();
            operate(&apps, &app, sync, retry, no_wait).await
        }
        AppCommand::Rollback {
            name,
            id,
            prune,
            dry_run,
            no_wait,
        } => {
            let app = fetch(&apps, &name).await?;
            if app
                .spec
                .sync_policy
                .as_ref()
                .and_then(|p| p.automated.as_ref())
                .is_some_and(|a| a.enabled != Some(false))
            {
                bail!("rollback cannot be initiated when auto-sync is enabled");
            }
            let history = &app.status.history;
            let entry = match id {
                Some(id) => history.iter().find(|h| h.id == id).with_context(|| {
                    format!("application {name} does not have deployment with id {id}")
                })?,
                None => history
                    .iter()
                    .rev()
                    .nth(1)
                    .with_context(|| format!("application {name} has no earlier deployment"))?,
            };
            let sync = SyncOperation {
                revision: entry.revision.clone(),
                revisions: entry.revisions.clone(),
                prune,
                dry_run,
                sync_strategy: Some(SyncStrategy {
                    apply: Some(SyncStrategyApply::default()),
                    hook: None,
                }),
                source: entry.source.clone(),
                sources: entry.sources.clone(),
                sync_options: spec_sync_options(&app),
                ..SyncOperation::default()
            };
            operate(&apps, &app, sync, Default::default(), no_wait).await
        }
    }
}

/// The app's own `syncPolicy.syncOptions`, which `argocd app sync` sends with a sync.
fn spec_sync_options(app: &Application) -> Vec<String> {
    app.spec
        .sync_policy
        .as_ref()
        .map(|p| p.sync_options.clone())
        .unwrap_or_default()
}

async fn fetch(apps: &Api<Application>, name: &str) -> anyhow::Result<Application> {
    apps.get_opt(name)
        .await
        .with_context(|| format!("cannot read application {name}"))?
        .with_context(|| format!("application {name} not found"))
}

/// `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME`, as `argocd app sync --resource` takes it.
fn parse_resource(text: &str) -> anyhow::Result<SyncOperationResource> {
    let parts: Vec<&str> = text.splitn(3, ':').collect();
    let [group, kind, name] = parts[..] else {
        bail!("--resource {text:?}: expected GROUP:KIND:NAME");
    };
    if kind.is_empty() || name.is_empty() {
        bail!("--resource {text:?}: expected GROUP:KIND:NAME");
    }
    let (namespace, name) = match name.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name),
        None => (None, name),
    };
    Ok(SyncOperationResource {
        group: Some(group.to_string()),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace,
    })
}

/// Writes the operation (refused while another runs), then waits for its end unless
/// `no_wait`; fails when the operation did.
async fn operate(
    apps: &Api<Application>,
    app: &Application,
    sync: SyncOperation,
    retry: ferry_api::argocd::RetryStrategy,
    no_wait: bool,
) -> anyhow::Result<()> {
    if app.operation.is_some() {
        bail!("another operation is already in progress");
    }
    let operation = Operation {
        sync: Some(sync),
        initiated_by: OperationInitiator {
            username: Some(whoami()),
            ..OperationInitiator::default()
        },
        retry,
        ..Operation::default()
    };
    // The resourceVersion makes the write fail if the app changed since it was read.
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": app.metadata.resource_version},
        "operation": operation,
    });
    apps.patch(app.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .context(
            "another operation is already in progress, or the application changed: try again",
        )?;
    if no_wait {
        stdout::line(format!("operation requested for {}", app.name()));
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = fetch(apps, app.name()).await?;
        let state = now.status.operation_state.as_ref();
        let ours = state.is_some_and(|s| s.operation.sync == operation.sync);
        let ended =
            state.is_some_and(|s| matches!(s.phase.as_str(), "Succeeded" | "Failed" | "Error"));
        if now.operation.is_none() && ours && ended {
            print_app(&now);
            let phase = state.map(|s| s.phase.as_str()).unwrap_or_default();
            if phase != "Succeeded" {
                bail!(
                    "the operation {}: {}",
                    phase.to_ascii_lowercase(),
                    state.and_then(|s| s.message.clone()).unwrap_or_default()
                );
            }
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the operation did not end within {} s", WAIT.as_secs());
        }
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "ferry".into())
}

/// How `list` and `get` print.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Wide,
    Name,
    Yaml,
    Json,
}

/// One app as `get -o` asks.
fn show(app: &Application, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Wide => print_app(app),
        Output::Name => stdout::line(app.name()),
        Output::Yaml => stdout::write(&yaml_serde::to_string(app)?),
        Output::Json => stdout::line(serde_json::to_string_pretty(app)?),
    }
    Ok(())
}

async fn list(apps: &Api<Application>, output: Output) -> anyhow::Result<()> {
    let listed = apps.list(&ListParams::default()).await?;
    match output {
        Output::Wide => {}
        Output::Name => {
            for app in &listed.items {
                stdout::line(app.name());
            }
            return Ok(());
        }
        Output::Yaml => {
            stdout::write(&yaml_serde::to_string(&listed.items)?);
            return Ok(());
        }
        Output::Json => {
            stdout::line(serde_json::to_string_pretty(&listed.items)?);
            return Ok(());
        }
    }
    let mut lines = vec![
        [
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "PROJECT",
            "STATUS",
            "HEALTH",
            "SYNCPOLICY",
            "CONDITIONS",
            "REPO",
            "PATH",
            "TARGET",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for app in &listed.items {
        let source = app
            .spec
            .source
            .clone()
            .or_else(|| app.spec.sources.first().cloned());
        let destination = &app.spec.destination;
        let conditions: Vec<&str> = app
            .status
            .conditions
            .iter()
            .map(|c| c.condition_type.as_str())
            .collect();
        lines.push(vec![
            format!(
                "{}/{}",
                app.metadata.namespace.as_deref().unwrap_or_default(),
                app.name()
            ),
            destination
                .server
                .clone()
                .or_else(|| destination.name.clone())
                .unwrap_or_default(),
            destination.namespace.clone().unwrap_or_default(),
            app.spec.project.clone(),
            app.status.sync.status.clone(),
            app.status.health.status.clone(),
            sync_policy(app).to_string(),
            if conditions.is_empty() {
                "<none>".into()
            } else {
                conditions.join(",")
            },
            source
                .as_ref()
                .map(|s| s.repo_url.clone())
                .unwrap_or_default(),
            source
                .as_ref()
                .and_then(|s| s.path.clone())
                .unwrap_or_default(),
            source
                .as_ref()
                .and_then(|s| s.target_revision.clone())
                .unwrap_or_default(),
        ]);
    }
    table::print_columns(&lines);
    Ok(())
}

fn sync_policy(app: &Application) -> &'static str {
    match app
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.automated.as_ref())
    {
        Some(a) if a.enabled != Some(false) && a.prune == Some(true) => "Auto-Prune",
        Some(a) if a.enabled != Some(false) => "Auto",
        _ => "Manual",
    }
}

fn history(app: &Application) -> anyhow::Result<()> {
    let mut lines = vec![["ID", "DATE", "REVISION"].map(String::from).to_vec()];
    for entry in &app.status.history {
        let revision = entry
            .revision
            .clone()
            .unwrap_or_else(|| entry.revisions.join(","));
        let target = entry
            .source
            .as_ref()
            .and_then(|s| s.target_revision.clone())
            .unwrap_or_default();
        lines.push(vec![
            entry.id.to_string(),
            entry.deployed_at.clone(),
            format!("{target} ({revision})"),
        ]);
    }
    table::print_columns(&lines);
    Ok(())
}

/// The summary `argocd app get` prints, then conditions and resources.
fn print_app(app: &Application) {
    let field =
        |label: &str, value: &str| stdout::line(format!("{:<20}{value}", format!("{label}:")));
    let destination = &app.spec.destination;
    field(
        "Name",
        &format!(
            "{}/{}",
            app.metadata.namespace.as_deref().unwrap_or_default(),
            app.name()
        ),
    );
    field("Project", &app.spec.project);
    field(
        "Server",
        destination
            .server
            .as_deref()
            .or(destination.name.as_deref())
            .unwrap_or_default(),
    );
    field(
        "Namespace",
        destination.namespace.as_deref().unwrap_or_default(),
    );
    let sources: Vec<_> = app.spec.source.iter().chain(&app.spec.sources).collect();
    stdout::line("Source:");
    for source in sources {
        stdout::line(format!("{:<20}{}", "- Repo:", source.repo_url));
        stdout::line(format!(
            "{:<20}{}",
            "  Target:",
            source.target_revision.as_deref().unwrap_or_default()
        ));
        if let Some(path) = &source.path {
            stdout::line(format!("{:<20}{path}", "  Path:"));
        }
        if let Some(chart) = &source.chart {
            stdout::line(format!("{:<20}{chart}", "  Chart:"));
        }
    }
    field("Sync Policy", sync_policy(app));
    let revision = app
        .status
        .sync
        .revision
        .clone()
        .unwrap_or_else(|| app.status.sync.revisions.join(","));
    let short: String = revision.chars().take(7).collect();
    let target = app.spec.source.as_ref().map(|s| {
        s.target_revision
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("HEAD")
    });
    let status = &app.status.sync.status;
    match target {
        Some(target) => field("Sync Status", &format!("{status} to {target} ({short})")),
        None => field("Sync Status", &format!("{status} ({short})")),
    }
    let health = &app.status.health;
    match health.message.as_deref().filter(|m| !m.is_empty()) {
        Some(message) => field("Health Status", &format!("{} ({message})", health.status)),
        None => field("Health Status", &health.status),
    }
    if let Some(state) = &app.status.operation_state {
        stdout::line("");
        field("Operation", "Sync");
        if let Some(result) = &state.sync_result {
            field("Sync Revision", &result.revision);
        }
        field("Phase", &state.phase);
        field("Start", &state.started_at);
        field("Finished", state.finished_at.as_deref().unwrap_or_default());
        field("Message", state.message.as_deref().unwrap_or_default());
    }
    if !app.status.conditions.is_empty() {
        stdout::line("");
        let mut lines = vec![
            ["CONDITION", "MESSAGE", "LAST TRANSITION"]
                .map(String::from)
                .to_vec(),
        ];
        for c in &app.status.conditions {
            lines.push(vec![
                c.condition_type.clone(),
                c.message.clone(),
                c.last_transition_time.clone().unwrap_or_default(),
            ]);
        }
        table::print_columns(&lines);
    }
    stdout::line("");
    let results: &[ResourceResult] = app
        .status
        .operation_state
        .as_ref()
        .and_then(|s| s.sync_result.as_ref())
        .map(|r| r.resources.as_slice())
        .unwrap_or_default();
    let mut lines = vec![
        [
            "GROUP",
            "KIND",
            "NAMESPACE",
            "NAME",
            "STATUS",
            "HEALTH",
            "HOOK",
            "MESSAGE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &app.status.resources {
        let message = results
            .iter()
            .find(|x| {
                x.group == r.group
                    && x.kind == r.kind
                    && x.namespace == r.namespace
                    && x.name == r.name
            })
            .and_then(|x| x.message.clone())
            .unwrap_or_default();
        let health = r
            .health
            .as_ref()
            .map(|h| h.status.clone())
            .unwrap_or_default();
        lines.push(vec![
            r.group.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
            r.status.clone(),
            health,
            String::new(),
            message,
        ]);
    }
    for r in results.iter().filter(|r| r.hook_type.is_some()) {
        lines.push(vec![
            r.group.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
            r.hook_phase.clone().unwrap_or_default(),
            String::new(),
            r.hook_type.clone().unwrap_or_default(),
            r.message.clone().unwrap_or_default(),
        ]);
    }
    table::print_columns(&lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_group_kind_name() {
        let r = parse_resource("apps:Deployment:web").unwrap();
        assert_eq!(
            (
                r.group.as_deref(),
                r.kind.as_str(),
                r.name.as_str(),
                r.namespace
            ),
            (Some("apps"), "Deployment", "web", None)
        );
        let r = parse_resource(":ConfigMap:shop/settings").unwrap();
        assert_eq!(
            (r.group.as_deref(), r.namespace.as_deref(), r.name.as_str()),
            (Some(""), Some("shop"), "settings")
        );
        assert!(parse_resource("Deployment/web").is_err());
        assert!(parse_resource("apps::web").is_err());
    }
}
