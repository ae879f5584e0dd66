//! `ferry apply -f FILE|DIR|-`: server-side apply of every document, in file order.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ferry_api::meta;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::Target;
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A YAML file, a directory of them, or `-` for standard input. Repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Take ownership of fields other managers own instead of failing with a conflict.
    #[arg(long)]
    force_conflicts: bool,
    /// Field manager name recorded in managedFields.
    #[arg(long, default_value = "ferry")]
    field_manager: String,
    #[command(flatten)]
    target: Target,
}

/// One document and where it came from, for error messages.
pub struct Document {
    pub source: String,
    pub value: Value,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let documents = read_documents(&args.files)?;
    let (client, default_ns) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    let resources = kubeclient::discover(&client).await?;
    let params = PatchParams {
        force: args.force_conflicts,
        ..PatchParams::apply(&args.field_manager)
    };
    for doc in documents {
        let api_version = doc.value["apiVersion"].as_str().unwrap_or_default();
        let kind = doc.value["kind"].as_str().unwrap_or_default();
        let name = meta::name(&doc.value).unwrap_or_default();
        let r = kubeclient::for_manifest(&resources, api_version, kind)
            .with_context(|| doc.source.clone())?;
        let api: Api<DynamicObject> = if r.namespaced {
            let ns = meta::namespace(&doc.value)
                .map(str::to_string)
                .or_else(|| args.target.namespace.clone())
                .unwrap_or_else(|| default_ns.clone());
            Api::namespaced_with(client.clone(), &ns, &r.api)
        } else {
            Api::all_with(client.clone(), &r.api)
        };
        api.patch(name, &params, &Patch::Apply(&doc.value))
            .await
            .with_context(|| format!("{}: applying {kind} {name:?}", doc.source))?;
        super::stdout::line(format!(
            "{}/{} serverside-applied",
            r.singular_or_kind(),
            name
        ));
    }
    Ok(())
}

impl kubeclient::Resource {
    fn singular_or_kind(&self) -> String {
        let base = if self.singular.is_empty() {
            self.api.kind.to_lowercase()
        } else {
            self.singular.clone()
        };
        if self.api.group.is_empty() {
            base
        } else {
            format!("{base}.{}", self.api.group)
        }
    }
}

/// Reads every YAML document of the given files (directories: their `.yaml`, `.yml` and
/// `.json` files, sorted), skipping empty documents and unwrapping `List` objects.
pub fn read_documents(paths: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    read_objects(paths, Names::Required)
}

/// Whether the objects read must be named (what is applied or deleted) or not (what is
/// only judged, such as `ferry health`'s input).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// `metadata.name` is required.
    Required,
    /// Only `apiVersion` and `kind` are.
    Optional,
}

/// As [`read_documents`], with `names` saying whether `metadata.name` is required.
pub fn read_objects(paths: &[PathBuf], names: Names) -> anyhow::Result<Vec<Document>> {
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            parse_into(&text, "<stdin>", names, &mut out)?;
        } else if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                parse_into(&text, &f.display().to_string(), names, &mut out)?;
            }
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            parse_into(&text, &path.display().to_string(), names, &mut out)?;
        }
    }
    if out.is_empty() {
        bail!(
            "no objects found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(out)
}

fn parse_into(
    text: &str,
    source: &str,
    names: Names,
    out: &mut Vec<Document>,
) -> anyhow::Result<()> {
    for (i, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value: Value = serde::Deserialize::deserialize(doc)
            .with_context(|| format!("{source}: document {} is not valid YAML", i + 1))?;
        let source = format!("{source} (document {})", i + 1);
        match value {
            Value::Null => {}
            Value::Object(ref o)
                if o.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && o.contains_key("items") =>
            {
                for item in o["items"].as_array().into_iter().flatten() {
                    push_checked(item.clone(), &source, names, out)?;
                }
            }
            v => push_checked(v, &source, names, out)?,
        }
    }
    Ok(())
}

fn push_checked(
    value: Value,
    source: &str,
    names: Names,
    out: &mut Vec<Document>,
) -> anyhow::Result<()> {
    if !value.is_object() {
        bail!(
            "{source}: expected a Kubernetes object, found {}",
            type_name(&value)
        );
    }
    for field in ["apiVersion", "kind"] {
        if value[field].as_str().is_none_or(str::is_empty) {
            bail!("{source}: {field} is required");
        }
    }
    if names == Names::Required && meta::name(&value).is_none_or(str::is_empty) {
        bail!("{source}: metadata.name is required");
    }
    out.push(Document {
        source: source.to_string(),
        value,
    });
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
