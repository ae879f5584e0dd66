//! `ferry health FILE`: the health Ferry assesses for objects read from files, as
//! `argocd admin settings resource-overrides health` prints it, with the built-in checks of
//! the sync engine. No cluster is contacted.

use std::path::PathBuf;

use ferry_sync::health;

use super::{apply, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// YAML or JSON files with the objects (`-` reads standard input; a directory, its files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `json`: one `{status, message}` per object (`null` for a kind without a check).
    #[arg(short = 'o', long)]
    output: Option<Output>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Output {
    Json,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let documents = apply::read_documents(&args.files)?;
    let several = documents.len() > 1;
    for document in documents {
        let verdict = health::assess(&document.value);
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
