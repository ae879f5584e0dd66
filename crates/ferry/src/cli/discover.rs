//! `ferry discover image|chart|git`: what a Warehouse subscription with these settings would
//! select right now, newest first. Flags are the subscription's fields in kebab case (older
//! names accepted with a warning), with Kargo's defaults, so a table here is a dry run of
//! the Warehouse.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_source::credentials::Credentials;
use ferry_source::git::CommitSelection;
use ferry_source::helm::HelmRepos;
use ferry_source::oci::{
    DockerConfig, ImageMetadataCache, ImageRepo, ImageSelection, RegistryClient, RegistryOptions,
};
use serde_json::{Map, Value, json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Tags of an image repository, as an `image` subscription selects them.
    Image(ImageArgs),
    /// Versions of a Helm chart, as a `chart` subscription selects them.
    Chart(ChartArgs),
    /// Commits of a Git repository, as a `git` subscription selects them.
    Git(GitArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Table,
    Json,
}

/// The tag filters image and git subscriptions share.
#[derive(clap::Args, Debug)]
struct TagFlags {
    /// Only tags that are strict semvers (major.minor.patch) count for SemVer.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    strict_semvers: bool,
    /// Keep only tags matching one of these regexes (repeatable).
    #[arg(long)]
    allow_tags_regexes: Vec<String>,
    /// Deprecated form of --allow-tags-regexes: one regex.
    #[arg(long)]
    allow_tags: Option<String>,
    /// Drop tags matching any of these regexes (repeatable).
    #[arg(long)]
    ignore_tags_regexes: Vec<String>,
    /// Deprecated form of --ignore-tags-regexes: exact tags to drop (repeatable).
    #[arg(long)]
    ignore_tags: Vec<String>,
}

impl TagFlags {
    /// Writes these flags into a subscription under Kargo's field names.
    fn insert_into(&self, sub: &mut Map<String, Value>) {
        sub.insert("strictSemvers".into(), json!(self.strict_semvers));
        sub.insert("allowTagsRegexes".into(), json!(self.allow_tags_regexes));
        if let Some(a) = &self.allow_tags {
            sub.insert("allowTags".into(), json!(a));
        }
        sub.insert("ignoreTagsRegexes".into(), json!(self.ignore_tags_regexes));
        if !self.ignore_tags.is_empty() {
            sub.insert("ignoreTags".into(), json!(self.ignore_tags));
        }
    }
}

#[derive(clap::Args, Debug)]
struct ImageArgs {
    /// Image repository without a tag, e.g. `ghcr.io/akuity/guestbook` or `localhost:5000/app`.
    repo_url: String,
    /// SemVer, Lexical, NewestBuild or Digest.
    #[arg(long, default_value = "SemVer")]
    image_selection_strategy: String,
    /// Semver range for SemVer; the tag to follow for Digest.
    #[arg(long, visible_alias = "semver-constraint")]
    constraint: Option<String>,
    #[command(flatten)]
    tags: TagFlags,
    /// os/arch[/variant] to select from multi-platform images.
    #[arg(long)]
    platform: Option<String>,
    /// How many images to report (1..100).
    #[arg(long, default_value_t = 20)]
    discovery_limit: u64,
    /// Take tags as immutable (Kargo's cacheByTag); matters for repeated discovery.
    #[arg(long)]
    cache_by_tag: bool,
    /// Use plain HTTP for this registry (loopback registries always do).
    #[arg(long)]
    insecure: bool,
    /// Docker config JSON with registry credentials (default: ~/.docker/config.json if any).
    #[arg(long)]
    docker_config: Option<PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(clap::Args, Debug)]
struct ChartArgs {
    /// `https://` chart repository, or `oci://registry/path`.
    repo_url: String,
    /// Chart name (required for https:// repositories; for oci:// it may be part of the URL).
    name: Option<String>,
    /// Semver range the versions must satisfy.
    #[arg(long)]
    semver_constraint: Option<String>,
    /// How many versions to report (1..100).
    #[arg(long, default_value_t = 20)]
    discovery_limit: usize,
    /// Docker config JSON with credentials for oci:// repositories.
    #[arg(long)]
    docker_config: Option<PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(clap::Args, Debug)]
struct GitArgs {
    /// Repository URL (https://, http://; file:// with --allow-file-urls).
    repo_url: String,
    /// NewestFromBranch, SemVer, Lexical or NewestTag.
    #[arg(long, default_value = "NewestFromBranch")]
    commit_selection_strategy: String,
    /// Branch for NewestFromBranch (default: the remote's default branch).
    #[arg(long)]
    branch: Option<String>,
    /// Semver range the tags must satisfy (SemVer).
    #[arg(long)]
    semver_constraint: Option<String>,
    #[command(flatten)]
    tags: TagFlags,
    /// Only commits touching these paths (prefix, `glob:` or `regex:`; repeatable).
    #[arg(long)]
    include_paths: Vec<String>,
    /// Ignore commits touching only these paths (repeatable).
    #[arg(long)]
    exclude_paths: Vec<String>,
    /// Only commits or tags created at or after this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// How many commits to report (1..100).
    #[arg(long, default_value_t = 20)]
    discovery_limit: usize,
    #[command(flatten)]
    access: super::git_access::GitAccess,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Image(a) => image(a).await,
        What::Chart(a) => chart(a).await,
        What::Git(a) => git(a).await,
    }
}

async fn git(args: GitArgs) -> anyhow::Result<()> {
    // The flags become a subscription so they are read exactly as a Warehouse's would be.
    let mut sub = Map::new();
    sub.insert("repoURL".into(), json!(args.repo_url));
    sub.insert(
        "commitSelectionStrategy".into(),
        json!(args.commit_selection_strategy),
    );
    for (field, value) in [
        ("branch", &args.branch),
        ("semverConstraint", &args.semver_constraint),
        ("since", &args.since),
    ] {
        if let Some(v) = value {
            sub.insert(field.into(), json!(v));
        }
    }
    args.tags.insert_into(&mut sub);
    sub.insert("includePaths".into(), json!(args.include_paths));
    sub.insert("excludePaths".into(), json!(args.exclude_paths));
    sub.insert("discoveryLimit".into(), json!(args.discovery_limit));
    let (selection, warnings) = CommitSelection::from_subscription(&Value::Object(sub))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let creds = args.access.credentials()?;
    let cache = args.access.cache()?;
    let mirror = cache.repo(&args.repo_url)?;
    mirror.fetch(creds.as_ref()).await?;
    let commits = mirror.discover_commits(&selection).await?;
    match args.output {
        Output::Json => super::stdout::line(serde_json::to_string_pretty(&commits)?),
        Output::Table => {
            let rows = commits.into_iter().map(|c| {
                vec![
                    c.tag.unwrap_or_else(|| "-".into()),
                    c.id.chars().take(12).collect(),
                    c.creator_date,
                    c.subject,
                ]
            });
            print_table(&["TAG", "COMMIT", "DATE", "SUBJECT"], rows);
        }
    }
    Ok(())
}

async fn image(args: ImageArgs) -> anyhow::Result<()> {
    let repo = ImageRepo::parse(&args.repo_url).map_err(anyhow::Error::msg)?;
    // The flags become a subscription so they are read exactly as a Warehouse's would be.
    let mut sub = Map::new();
    sub.insert("repoURL".into(), json!(args.repo_url));
    sub.insert(
        "imageSelectionStrategy".into(),
        json!(args.image_selection_strategy),
    );
    if let Some(c) = &args.constraint {
        sub.insert("constraint".into(), json!(c));
    }
    args.tags.insert_into(&mut sub);
    if let Some(p) = &args.platform {
        sub.insert("platform".into(), json!(p));
    }
    sub.insert("discoveryLimit".into(), json!(args.discovery_limit));
    sub.insert("cacheByTag".into(), json!(args.cache_by_tag));
    let (selection, warnings) = ImageSelection::from_subscription(&Value::Object(sub))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }

    let docker_config = docker_config(args.docker_config.as_ref())?;
    let creds = docker_config
        .as_ref()
        .and_then(|c| c.lookup(&repo.registry))
        .cloned();
    let mut options = RegistryOptions::default();
    if args.insecure {
        options.insecure_hosts.push(repo.api_host().to_string());
    }
    let client = RegistryClient::new(options)?;
    let images = client
        .discover_images(
            &repo,
            &selection,
            creds.as_ref(),
            &ImageMetadataCache::default(),
        )
        .await
        .with_context(|| format!("discovering images in {repo}"))?;
    match args.output {
        Output::Json => super::stdout::line(serde_json::to_string_pretty(&images)?),
        Output::Table => {
            let rows = images.iter().map(|i| {
                vec![
                    i.tag.clone(),
                    i.digest.clone(),
                    i.created_at.clone().unwrap_or_else(|| "-".into()),
                ]
            });
            print_table(&["TAG", "DIGEST", "CREATED"], rows);
        }
    }
    Ok(())
}

async fn chart(args: ChartArgs) -> anyhow::Result<()> {
    let name = args.name.as_deref().unwrap_or_default();
    if name.is_empty() && !args.repo_url.starts_with("oci://") {
        anyhow::bail!(
            "a chart name is required for an https:// repository: ferry discover chart URL NAME"
        );
    }
    if !(1..=100).contains(&args.discovery_limit) {
        anyhow::bail!(
            "--discovery-limit {} is outside 1..100",
            args.discovery_limit
        );
    }
    let creds: Option<Credentials> = match args.repo_url.strip_prefix("oci://") {
        Some(rest) => {
            let registry = rest.split('/').next().unwrap_or_default();
            docker_config(args.docker_config.as_ref())?.and_then(|c| c.lookup(registry).cloned())
        }
        None => None,
    };
    let cache = crate::datadir::default_dir().join("cache");
    let repos = HelmRepos::new(
        cache,
        Arc::new(RegistryClient::new(RegistryOptions::default())?),
    )?;
    let versions = repos
        .discover_versions(
            &args.repo_url,
            name,
            args.semver_constraint.as_deref(),
            args.discovery_limit,
            creds.as_ref(),
        )
        .await?;
    match args.output {
        Output::Json => super::stdout::line(serde_json::to_string_pretty(&versions)?),
        Output::Table => print_table(&["VERSION"], versions.into_iter().map(|v| vec![v])),
    }
    Ok(())
}

/// The Docker config to read credentials from: the flag's file, else ~/.docker/config.json
/// when it exists.
fn docker_config(path: Option<&PathBuf>) -> anyhow::Result<Option<DockerConfig>> {
    let path = match path {
        Some(p) => p.clone(),
        None => match std::env::var_os("HOME") {
            Some(home) => {
                let default = PathBuf::from(home).join(".docker/config.json");
                if !default.exists() {
                    return Ok(None);
                }
                default
            }
            None => return Ok(None),
        },
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let config =
        DockerConfig::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(config))
}

fn print_table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let mut lines = vec![headers.iter().map(|h| h.to_string()).collect()];
    lines.extend(rows);
    super::table::print_columns(&lines);
}
