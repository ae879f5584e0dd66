//! `ferry get KIND [NAME] [-o yaml|json]`: a table by default, like kubectl.

use ferry_api::meta;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::Target;
use crate::kubeclient;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Resource type: plural, singular, short name or kind (`deploy`, `deployments.apps`).
    kind: String,
    /// Object name; all objects when omitted.
    name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Label selector (`app=web,tier!=db`).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Table,
    Yaml,
    Json,
    Name,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (client, default_ns) = kubeclient::connect(args.target.kubeconfig.as_deref()).await?;
    let resources = kubeclient::discover(&client).await?;
    let r = kubeclient::resolve(&resources, &args.kind)?;
    let ns = args.target.namespace.clone().unwrap_or(default_ns);
    let cluster_wide = !r.namespaced || (args.all_namespaces && args.name.is_none());
    let scope = (!cluster_wide).then_some(ns.as_str());
    if args.output == Output::Table {
        return print_table(&client, r, scope, &args).await;
    }
    let api: Api<DynamicObject> = match scope {
        None => Api::all_with(client, &r.api),
        Some(ns) => Api::namespaced_with(client, ns, &r.api),
    };
    // One object when named, else a `List` of them, as kubectl prints.
    let (objects, document) = match &args.name {
        Some(name) => {
            let obj = api
                .get(name)
                .await
                .map_err(not_found(&r.api.plural, name))?;
            let obj = serde_json::to_value(obj)?;
            (vec![obj.clone()], obj)
        }
        None => {
            let mut lp = ListParams::default();
            if let Some(s) = &args.selector {
                lp = lp.labels(s);
            }
            let items: Vec<Value> = api
                .list(&lp)
                .await?
                .items
                .into_iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?;
            (
                items.clone(),
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
            )
        }
    };
    match args.output {
        Output::Json => super::stdout::line(serde_json::to_string_pretty(&document)?),
        Output::Yaml => super::stdout::write(&ferry_api::yaml::to_string(&document)),
        Output::Name | Output::Table => {
            for o in &objects {
                let name = meta::name(o).unwrap_or("");
                super::stdout::line(format!("{}/{name}", r.api.kind.to_lowercase()));
            }
        }
    }
    Ok(())
}

fn not_found(plural: &str, name: &str) -> impl FnOnce(kube::Error) -> anyhow::Error {
    let what = format!("{plural} \"{name}\" not found");
    move |e| match e {
        kube::Error::Api(s) if s.code == 404 => anyhow::anyhow!(what),
        other => other.into(),
    }
}

/// Prints the server's own table (the columns kubectl would show).
async fn print_table(
    client: &kube::Client,
    r: &kubeclient::Resource,
    ns: Option<&str>,
    args: &Args,
) -> anyhow::Result<()> {
    let mut path = if r.api.group.is_empty() {
        format!("/api/{}", r.api.version)
    } else {
        format!("/apis/{}/{}", r.api.group, r.api.version)
    };
    if let Some(ns) = ns {
        path.push_str(&format!("/namespaces/{ns}"));
    }
    path.push_str(&format!("/{}", r.api.plural));
    if let Some(name) = &args.name {
        path.push_str(&format!("/{name}"));
    } else if let Some(s) = &args.selector {
        path.push_str(&format!("?labelSelector={}", percent_encode(s)));
    }
    let request = http::Request::get(&path)
        .header(
            http::header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .body(Vec::new())?;
    let table: Value = client.request(request).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 404 => anyhow::anyhow!("{}", s.message),
        other => other.into(),
    })?;
    let rows = table["rows"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        match ns {
            Some(ns) => eprintln!("No resources found in {ns} namespace."),
            None => eprintln!("No resources found"),
        }
        return Ok(());
    }
    let with_namespace = r.namespaced && ns.is_none();
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = table["columnDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or("").to_uppercase())
        .collect();
    if with_namespace {
        header.insert(0, "NAMESPACE".into());
    }
    lines.push(header);
    for row in rows {
        let mut cells: Vec<String> = row["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| match c {
                Value::String(s) => s.clone(),
                Value::Null => "<none>".into(),
                other => other.to_string(),
            })
            .collect();
        if with_namespace {
            cells.insert(
                0,
                row.pointer("/object/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            );
        }
        lines.push(cells);
    }
    super::table::print_columns(&lines);
    Ok(())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
