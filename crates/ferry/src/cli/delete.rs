//! `ferry delete KIND NAME...` or `ferry delete -f FILE`.

use std::path::PathBuf;

use anyhow::bail;
use ferry_api::meta;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};

use super::Target;
use crate::cli::apply::read_documents;
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Resource type followed by names (omit with -f).
    args: Vec<String>,
    /// Delete the objects described in these files.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// What happens to dependents: background, foreground or orphan.
    #[arg(long, value_enum, default_value_t = Cascade::Background)]
    cascade: Cascade,
    /// Succeed when an object does not exist.
    #[arg(long)]
    ignore_not_found: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Cascade {
    Background,
    Foreground,
    Orphan,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (client, default_ns) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    let resources = kubeclient::discover(&client).await?;
    let ns = args.target.namespace.clone().unwrap_or(default_ns);
    let mut targets = Vec::new();
    if !args.files.is_empty() {
        if !args.args.is_empty() {
            bail!("give either -f or KIND NAME..., not both");
        }
        for doc in read_documents(&args.files)? {
            let r = kubeclient::for_manifest(
                &resources,
                doc.value["apiVersion"].as_str().unwrap_or_default(),
                doc.value["kind"].as_str().unwrap_or_default(),
            )?;
            let obj_ns = meta::namespace(&doc.value).unwrap_or(&ns).to_string();
            let name = meta::name(&doc.value).unwrap_or_default().to_string();
            targets.push((r.clone(), obj_ns, name));
        }
    } else {
        let Some((kind, names)) = args.args.split_first() else {
            bail!("say what to delete: `ferry delete KIND NAME...` or `ferry delete -f FILE`");
        };
        if names.is_empty() {
            bail!("name the {kind} objects to delete");
        }
        let r = kubeclient::resolve(&resources, kind)?;
        targets.extend(names.iter().map(|n| (r.clone(), ns.clone(), n.clone())));
    }
    let params = DeleteParams {
        propagation_policy: Some(match args.cascade {
            Cascade::Background => PropagationPolicy::Background,
            Cascade::Foreground => PropagationPolicy::Foreground,
            Cascade::Orphan => PropagationPolicy::Orphan,
        }),
        ..DeleteParams::default()
    };
    for (r, ns, name) in targets {
        let api: Api<DynamicObject> = if r.namespaced {
            Api::namespaced_with(client.clone(), &ns, &r.api)
        } else {
            Api::all_with(client.clone(), &r.api)
        };
        match api.delete(&name, &params).await {
            Ok(_) => {
                super::stdout::line(format!("{} \"{name}\" deleted", r.api.kind.to_lowercase()))
            }
            Err(kube::Error::Api(s)) if s.code == 404 && args.ignore_not_found => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {
                bail!("{} \"{name}\" not found", r.api.plural)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
