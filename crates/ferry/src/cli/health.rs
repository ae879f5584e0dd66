//! `ferry health FILE`: the health Ferry assesses for objects read from files, as
//! `argocd admin settings resource-overrides health` prints it: Lua scripts from an
//! `argocd-cm` file and a `resource_customizations` directory, then the built-in checks of
//! the sync engine. No cluster is contacted.

use std::path::PathBuf;

use anyhow::Context as _;
use ferry_sync::argocd_cm::ArgoCdSettings;
use ferry_sync::health::Checks;
use ferry_sync::health::custom::Customizations;

use super::{apply, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// YAML or JSON files with the objects (`-` reads standard input; a directory, its files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `json`: one `{status, message}` per object (`null` for a kind without a check).
    #[arg(short = 'o', long)]
    output: Option<Output>,
    /// Lua health scripts in Argo CD's `resource_customizations/<group>/<Kind>/health.lua`
    /// layout (default: `resource_customizations` in Ferry's data directory, when it exists).
    #[arg(long)]
    customizations: Option<PathBuf>,
    /// An `argocd-cm` ConfigMap (YAML) whose `resource.customizations.health.*` scripts
    /// come first, as Argo CD's `--argocd-cm-path`.
    #[arg(long = "argocd-cm")]
    argocd_cm: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Output {
    Json,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let checks = checks(&args)?;
    let documents = apply::read_objects(&args.files, apply::Names::Optional)?;
    let several = documents.len() > 1;
    for document in documents {
        let verdict = checks.assess(&document.value);
        match args.output {
            Some(Output::Json) => stdout::line(serde_json::to_string(&verdict)?),
            None => {
                if several {
                    stdout::line(format!("{}:", describe(&document.value)));
                }
                match verdict {
                    Some(h) => {
                        stdout::line(format!("STATUS: {}", h.status));
                        stdout::line(format!("MESSAGE: {}", h.message));
                    }
                    None => stdout::line(format!(
                        "STATUS: none ({} has no health check; it does not count toward an application's health)",
                        kind_of(&document.value)
                    )),
                }
            }
        }
    }
    Ok(())
}

/// The scripts of `--argocd-cm` and `--customizations`, over the built-in checks.
fn checks(args: &Args) -> anyhow::Result<Checks> {
    let settings = match &args.argocd_cm {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let map: k8s_openapi::api::core::v1::ConfigMap = yaml_serde::from_str(&text)
                .with_context(|| format!("{} is not a ConfigMap", path.display()))?;
            ArgoCdSettings::new(map.data.unwrap_or_default())
        }
        None => ArgoCdSettings::default(),
    };
    let dir = args
        .customizations
        .clone()
        .unwrap_or_else(|| crate::datadir::default_dir().join(super::controller::CUSTOMIZATIONS));
    if args.customizations.is_some() && !dir.is_dir() {
        anyhow::bail!("--customizations {}: not a directory", dir.display());
    }
    let custom = Customizations::from_settings(&settings).with_directory(&dir)?;
    Ok(Checks::new(custom))
}

/// `Kind/name`, as kubectl names an object.
fn describe(obj: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        kind_of(obj),
        ferry_api::meta::name(obj).unwrap_or_default()
    )
}

fn kind_of(obj: &serde_json::Value) -> &str {
    obj.get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("an object without a kind")
}
