//! `ferry appset list|get`: Argo CD's `argocd appset` for ApplicationSets on the cluster.

use anyhow::Context as _;
use ferry_api::argocd::ApplicationSet;
use kube::api::{Api, ListParams};

use super::{Target, stdout, table};
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: AppSetCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Subcommand, Debug)]
enum AppSetCommand {
    /// List ApplicationSets.
    List,
    /// Show an ApplicationSet: its template, conditions and the Applications it generated.
    Get {
        /// The ApplicationSet.
        name: String,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (client, _) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    let sets: Api<ApplicationSet> = Api::namespaced(client, &args.target.control_plane_namespace());
    match args.command {
        AppSetCommand::List => {
            let listed = sets.list(&ListParams::default()).await?;
            let mut lines = vec![
                [
                    "NAME",
                    "PROJECT",
                    "SYNCPOLICY",
                    "CONDITIONS",
                    "REPO",
                    "PATH",
                    "TARGET",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for set in &listed.items {
                let spec = &set.spec.template.spec;
                let source = spec.source.as_ref().or(spec.sources.first());
                let conditions: Vec<String> = set
                    .status
                    .conditions
                    .iter()
                    .filter(|c| c.status == "True")
                    .map(|c| c.condition_type.clone())
                    .collect();
                lines.push(vec![
                    qualified(set),
                    spec.project.clone(),
                    sync_policy(set).to_string(),
                    if conditions.is_empty() {
                        "<none>".to_string()
                    } else {
                        conditions.join(",")
                    },
                    source.map(|s| s.repo_url.clone()).unwrap_or_default(),
                    source.and_then(|s| s.path.clone()).unwrap_or_default(),
                    source
                        .and_then(|s| s.target_revision.clone())
                        .unwrap_or_default(),
                ]);
            }
            table::print_columns(&lines);
        }
        AppSetCommand::Get { name } => {
            let set = sets
                .get_opt(&name)
                .await
                .with_context(|| format!("cannot read applicationset {name}"))?
                .with_context(|| format!("applicationset {name} not found"))?;
            print_set(&set);
        }
    }
    Ok(())
}

fn qualified(set: &ApplicationSet) -> String {
    format!(
        "{}/{}",
        set.metadata.namespace.as_deref().unwrap_or_default(),
        set.metadata.name.as_deref().unwrap_or_default()
    )
}

/// `applicationsSync`, `sync` when unset.
fn sync_policy(set: &ApplicationSet) -> &str {
    set.spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync.as_deref())
        .unwrap_or("sync")
}

/// The summary `argocd appset get` prints, then conditions and Applications.
fn print_set(set: &ApplicationSet) {
    let field =
        |label: &str, value: &str| stdout::line(format!("{:<20}{value}", format!("{label}:")));
    let spec = &set.spec.template.spec;
    let destination = &spec.destination;
    field("Name", &qualified(set));
    field("Project", &spec.project);
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
    for source in spec.source.iter().chain(&spec.sources) {
        field("Repo", &source.repo_url);
        field(
            "Target",
            source.target_revision.as_deref().unwrap_or_default(),
        );
        field("Path", source.path.as_deref().unwrap_or_default());
    }
    field("SyncPolicy", sync_policy(set));
    field(
        "Templating",
        if set.spec.go_template {
            "Go templates"
        } else {
            "fasttemplate"
        },
    );
    stdout::line("");
    let mut conditions = vec![
        [
            "CONDITION",
            "STATUS",
            "REASON",
            "MESSAGE",
            "LAST TRANSITION",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in &set.status.conditions {
        conditions.push(vec![
            c.condition_type.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
            c.last_transition_time.clone().unwrap_or_default(),
        ]);
    }
    table::print_columns(&conditions);
    stdout::line("");
    let mut apps = vec![
        ["APPLICATION", "STATUS", "HEALTH"]
            .map(String::from)
            .to_vec(),
    ];
    for r in &set.status.resources {
        apps.push(vec![
            r.name.clone(),
            r.status.clone(),
            r.health
                .as_ref()
                .map(|h| h.status.clone())
                .unwrap_or_default(),
        ]);
    }
    table::print_columns(&apps);
}
