//! Chart dependencies that are not vendored in `charts/`: what `helm dependency build` would
//! put there (Argo CD runs it when `helm template` reports missing dependencies), worked out
//! by Ferry without running it.
//!
//! A dependency counts as vendored when `charts/` holds a chart of that name (a directory whose
//! `Chart.yaml` names it, or a `<name>-<version>.tgz`), as Helm's own check does. For the
//! others, following Helm's `pkg/downloader` semantics:
//!
//! - `file://<path>`: the directory is read through the [`Tree`] (so it must lie inside the
//!   repository; `file://../../outside` is refused), its version checked against the
//!   constraint, and it is copied into `charts/<name>/`, after its own missing dependencies were
//!   planned the same way (depth and count are bounded).
//! - `https://…`, `oci://…`, and `@name` / `alias:name` (a repository known by name, resolved
//!   through [`ChartRepositories`]): listed as `RemoteDependency`s for the caller to fetch;
//!   the version is the lock file's when one exists (after checking its digest, as Helm does),
//!   else the constraint, resolved later against the repository.
//! - no repository: Helm expects it in `charts/` already; its absence is an error.
//!
//! `condition`, `tags` and `alias` are left to Helm: every listed dependency is vendored.

use ferry_source::credentials::Credentials;
use ferry_source::semver::{Constraint, Version};

use super::HelmError;
use super::metadata::{self, ChartMetadata, Dependency, LoadError};
use crate::tree::{Tree, TreeError, join};

/// Most dependencies vendored for one render, over all levels.
pub const MAX_DEPENDENCIES: usize = 64;
/// Deepest chain of `file://` dependencies followed (a chart's own are depth 1).
pub const MAX_DEPTH: usize = 5;

/// How dependency downloads find repositories: credentials by URL, and the URL behind a
/// repository name (`@name` / `alias:name` in `Chart.yaml`; in Argo CD, the `name` of a
/// repository Secret, which Argo CD registers with `helm repo add`).
pub trait ChartRepositories: Send + Sync {
    /// The credentials for the repository at `repo_url`, if any.
    fn credentials(&self, repo_url: &str) -> Option<Credentials>;
    /// The URL of the repository called `name`, if known.
    fn url_of(&self, name: &str) -> Option<String>;
}

/// No credentials and no named repositories.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRepositories;

impl ChartRepositories for NoRepositories {
    fn credentials(&self, _: &str) -> Option<Credentials> {
        None
    }

    fn url_of(&self, _: &str) -> Option<String> {
        None
    }
}

/// A known chart repository.
#[derive(Clone, Debug, Default)]
pub struct ChartRepository {
    /// The name charts refer to it by (`@name`).
    pub name: Option<String>,
    /// Its URL.
    pub url: String,
    /// Its credentials.
    pub credentials: Option<Credentials>,
}

/// A fixed list of repositories; URLs match after [`normalize_repo_url`].
#[derive(Clone, Debug, Default)]
pub struct RepositoryList(pub Vec<ChartRepository>);

impl ChartRepositories for RepositoryList {
    fn credentials(&self, repo_url: &str) -> Option<Credentials> {
        let wanted = normalize_repo_url(repo_url);
        self.0
            .iter()
            .find(|r| normalize_repo_url(&r.url) == wanted)
            .and_then(|r| r.credentials.clone())
    }

    fn url_of(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|r| r.name.as_deref() == Some(name))
            .map(|r| r.url.clone())
    }
}

/// A repository URL as Ferry keys it: no trailing `/`; a URL without a scheme is an OCI
/// registry path, as Argo CD treats Helm repositories without one.
pub fn normalize_repo_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_string()
    } else {
        format!("oci://{url}")
    }
}

/// A dependency to download from a chart repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteDependency {
    /// The chart's name in its repository (not its alias).
    pub name: String,
    /// Normalized repository URL (`https://…` or `oci://…`).
    pub repository: String,
    /// An exact version (from the lock file) or a constraint.
    pub version: String,
    /// Directory of the work copy, relative to the chart root, that receives the `.tgz`.
    pub target: String,
    /// The declaring chart, for errors.
    pub declared_in: String,
}

/// Files to add to the work copy and downloads still to make.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub files: Vec<(String, Vec<u8>)>,
    pub remote: Vec<RemoteDependency>,
}

/// Plans the dependencies of the chart at `chart_path`, whose files (relative to it) are
/// `files`. Without `repositories` (offline), a chart with missing remote dependencies gets
/// them listed as declared (repository names unresolved, lock unchecked), for the caller to
/// report.
pub(crate) fn plan(
    tree: &dyn Tree,
    chart_path: &str,
    files: &[(String, Vec<u8>)],
    repositories: Option<&dyn ChartRepositories>,
) -> Result<Plan, HelmError> {
    let mut planner = Planner {
        tree,
        repositories,
        count: 0,
        plan: Plan::default(),
    };
    planner.chart(chart_path, files, "", 0)?;
    Ok(planner.plan)
}

/// The chart whose dependency is being vendored.
#[derive(Clone, Copy)]
struct Parent<'p> {
    /// `chart_path`, or `.` for the root, for errors.
    shown: &'p str,
    chart_path: &'p str,
    files: &'p [(String, Vec<u8>)],
    /// Its place in the work copy.
    prefix: &'p str,
    depth: usize,
}

struct Planner<'a> {
    tree: &'a dyn Tree,
    repositories: Option<&'a dyn ChartRepositories>,
    count: usize,
    plan: Plan,
}

impl Planner<'_> {
    /// Plans one chart: `chart_path` in the tree, `prefix` its place in the work copy.
    fn chart(
        &mut self,
        chart_path: &str,
        files: &[(String, Vec<u8>)],
        prefix: &str,
        depth: usize,
    ) -> Result<(), HelmError> {
        let shown = if chart_path.is_empty() {
            "."
        } else {
            chart_path
        };
        let Some(meta) = load_metadata(chart_path, files)? else {
            // Not a chart: Helm says so better than we would.
            return Ok(());
        };
        let mut vendored = vendored_names(files, &meta.dependencies);
        let missing: Vec<usize> = (0..meta.dependencies.len())
            .filter(|&i| !vendored.contains(&meta.dependencies[i].name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(HelmError::DependenciesTooDeep {
                chart: shown.to_string(),
                limit: MAX_DEPTH,
            });
        }
        if self.repositories.is_none() {
            let remote: Vec<&Dependency> = missing
                .iter()
                .map(|&i| &meta.dependencies[i])
                .filter(|d| !d.repository.is_empty() && !d.repository.starts_with("file://"))
                .collect();
            if !remote.is_empty() {
                self.plan
                    .remote
                    .extend(remote.into_iter().map(|d| RemoteDependency {
                        name: d.name.clone(),
                        repository: d.repository.clone(),
                        version: d.version.clone(),
                        target: format!("{prefix}charts"),
                        declared_in: shown.to_string(),
                    }));
                return Ok(());
            }
        }
        let requirements = self.resolve_repository_names(shown, &meta)?;
        let locked = self.check_lock(shown, &meta, &requirements)?;
        for i in missing {
            let dependency = &requirements[i];
            if vendored.contains(&dependency.name) {
                // Another entry (an alias of the same chart) vendored it already.
                continue;
            }
            self.count += 1;
            if self.count > MAX_DEPENDENCIES {
                return Err(HelmError::TooManyDependencies(MAX_DEPENDENCIES));
            }
            let version = locked
                .map(|l| l[i].version.clone())
                .unwrap_or_else(|| dependency.version.clone());
            let repository = dependency.repository.as_str();
            if repository.is_empty() {
                return Err(HelmError::DependencyNotVendored {
                    chart: shown.to_string(),
                    name: dependency.name.clone(),
                });
            }
            if let Some(path) = repository.strip_prefix("file://") {
                let parent = Parent {
                    shown,
                    chart_path,
                    files,
                    prefix,
                    depth,
                };
                self.local(&parent, dependency, path, &version)?;
            } else {
                self.plan.remote.push(RemoteDependency {
                    name: dependency.name.clone(),
                    repository: normalize_repo_url(repository),
                    version,
                    target: format!("{prefix}charts"),
                    declared_in: shown.to_string(),
                });
            }
            vendored.push(dependency.name.clone());
        }
        Ok(())
    }

    /// `@name` and `alias:name` repositories become the URL the name stands for; other
    /// repositories must be URLs. Helm hashes the lock over the rewritten list.
    fn resolve_repository_names(
        &self,
        chart: &str,
        meta: &ChartMetadata,
    ) -> Result<Vec<Dependency>, HelmError> {
        let mut out = meta.dependencies.clone();
        for dependency in &mut out {
            let repository = dependency.repository.as_str();
            let name = repository
                .strip_prefix('@')
                .or_else(|| repository.strip_prefix("alias:"));
            if let Some(name) = name {
                dependency.repository =
                    self.repositories
                        .and_then(|r| r.url_of(name))
                        .ok_or_else(|| HelmError::UnknownRepository {
                            chart: chart.to_string(),
                            dependency: dependency.name.clone(),
                            repository: repository.to_string(),
                        })?;
            } else if !repository.is_empty()
                && !repository.starts_with("file://")
                && !repository.starts_with("https://")
                && !repository.starts_with("http://")
                && !repository.starts_with("oci://")
            {
                return Err(HelmError::UnknownRepository {
                    chart: chart.to_string(),
                    dependency: dependency.name.clone(),
                    repository: repository.to_string(),
                });
            }
        }
        Ok(out)
    }

    /// The locked entries, one per requirement, when a lock file exists and matches
    /// `Chart.yaml` (Helm refuses a stale lock; so does Ferry).
    fn check_lock<'m>(
        &self,
        chart: &str,
        meta: &'m ChartMetadata,
        requirements: &[Dependency],
    ) -> Result<Option<&'m [Dependency]>, HelmError> {
        let Some(lock) = &meta.lock else {
            return Ok(None);
        };
        let digest = metadata::hash_requirements(requirements, &lock.dependencies);
        let v2_digest =
            (meta.api_version == "v1").then(|| metadata::hash_requirements_v2(&meta.dependencies));
        let in_sync = digest == lock.digest || v2_digest.is_some_and(|d| d == lock.digest);
        let aligned = lock.dependencies.len() == requirements.len()
            && lock
                .dependencies
                .iter()
                .zip(requirements)
                .all(|(l, r)| l.name == r.name);
        if !in_sync || !aligned {
            return Err(HelmError::LockOutOfSync {
                chart: chart.to_string(),
                lock_file: meta.lock_file,
            });
        }
        Ok(Some(&lock.dependencies))
    }

    /// A `file://` dependency of `parent`: read from the tree, checked, copied to
    /// `charts/<name>/`.
    fn local(
        &mut self,
        parent: &Parent<'_>,
        dependency: &Dependency,
        path: &str,
        version: &str,
    ) -> Result<(), HelmError> {
        let Parent {
            shown,
            chart_path,
            files,
            prefix,
            depth,
        } = *parent;
        let escapes = || HelmError::DependencyEscapes {
            chart: shown.to_string(),
            dependency: dependency.name.clone(),
            repository: dependency.repository.clone(),
        };
        if path.starts_with('/') {
            return Err(escapes());
        }
        let dir = join(chart_path, path).ok_or_else(escapes)?;
        let dep_files = super::collect_files(self.tree, &dir).map_err(|e| match e {
            HelmError::Tree(TreeError::Escapes(_)) => escapes(),
            HelmError::Tree(TreeError::NotFound(_)) => HelmError::InvalidDependency {
                chart: shown.to_string(),
                dependency: dependency.name.clone(),
                detail: format!("{} does not exist", dependency.repository),
            },
            other => other,
        })?;
        let meta =
            load_metadata(&dir, &dep_files)?.ok_or_else(|| HelmError::InvalidDependency {
                chart: shown.to_string(),
                dependency: dependency.name.clone(),
                detail: format!("{} holds no Chart.yaml", dependency.repository),
            })?;
        check_version(shown, dependency, version, &meta.version)?;
        let target = format!("charts/{}/", dependency.name);
        if files.iter().any(|(rel, _)| rel.starts_with(&target)) {
            return Err(HelmError::InvalidDependency {
                chart: shown.to_string(),
                dependency: dependency.name.clone(),
                detail: format!("{target} already holds another chart"),
            });
        }
        let nested_prefix = format!("{prefix}{target}");
        self.chart(&dir, &dep_files, &nested_prefix, depth + 1)?;
        self.plan.files.extend(
            dep_files
                .into_iter()
                .map(|(rel, bytes)| (format!("{nested_prefix}{rel}"), bytes)),
        );
        Ok(())
    }
}

/// The local chart's version must satisfy the dependency's (as `helm dependency build` checks).
fn check_version(
    chart: &str,
    dependency: &Dependency,
    wanted: &str,
    actual: &str,
) -> Result<(), HelmError> {
    let error = |detail: String| HelmError::InvalidDependency {
        chart: chart.to_string(),
        dependency: dependency.name.clone(),
        detail,
    };
    if wanted.trim().is_empty() {
        return Err(error("no version given".into()));
    }
    let constraint = Constraint::parse(wanted).map_err(|e| error(e.to_string()))?;
    let version = Version::parse(actual).map_err(|e| error(e.to_string()))?;
    if constraint.matches(&version) {
        Ok(())
    } else {
        Err(error(format!(
            "the chart at {} is version {actual}, which does not satisfy {wanted:?}",
            dependency.repository
        )))
    }
}

fn load_metadata(
    chart_path: &str,
    files: &[(String, Vec<u8>)],
) -> Result<Option<ChartMetadata>, HelmError> {
    metadata::load(|name| {
        Ok::<_, HelmError>(
            files
                .iter()
                .find(|(rel, _)| rel == name)
                .map(|(_, bytes)| bytes.clone()),
        )
    })
    .map_err(|e| match e {
        LoadError::Read(e) => e,
        LoadError::Malformed { file, detail } => HelmError::ChartFile {
            path: join(chart_path, file).unwrap_or_else(|| file.to_string()),
            detail,
        },
    })
}

/// Names of the charts `charts/` holds: directories by their `Chart.yaml` name, archives by
/// file name (`<name>-<version>.tgz`, matched against the names `dependencies` lists).
fn vendored_names(files: &[(String, Vec<u8>)], dependencies: &[Dependency]) -> Vec<String> {
    let mut names = Vec::new();
    for (rel, bytes) in files {
        let Some(rest) = rel.strip_prefix("charts/") else {
            continue;
        };
        match rest.split_once('/') {
            Some((_, "Chart.yaml")) => {
                #[derive(serde::Deserialize)]
                struct Named {
                    #[serde(default)]
                    name: String,
                }
                if let Ok(named) = yaml_serde::from_slice::<Named>(bytes) {
                    names.push(named.name);
                }
            }
            Some(_) => {}
            None => {
                let Some(stem) = rest.strip_suffix(".tgz") else {
                    continue;
                };
                for dependency in dependencies {
                    let archived = stem
                        .strip_prefix(dependency.name.as_str())
                        .and_then(|v| v.strip_prefix('-'))
                        .is_some_and(|v| Version::parse(v).is_ok());
                    if archived {
                        names.push(dependency.name.clone());
                    }
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_archives_and_directories() {
        let deps: Vec<Dependency> = ["redis", "redis-ha", "db"]
            .iter()
            .map(|n| Dependency {
                name: n.to_string(),
                ..Dependency::default()
            })
            .collect();
        let files = vec![
            ("charts/redis-ha-1.2.3.tgz".to_string(), vec![]),
            ("charts/x/Chart.yaml".to_string(), b"name: db\n".to_vec()),
            ("charts/x/templates/a.yaml".to_string(), vec![]),
            ("templates/redis-1.0.0.tgz".to_string(), vec![]),
        ];
        assert_eq!(vendored_names(&files, &deps), ["redis-ha", "db"]);
    }

    #[test]
    fn repository_urls_normalize() {
        assert_eq!(
            normalize_repo_url("ghcr.io/org/charts/"),
            "oci://ghcr.io/org/charts"
        );
        assert_eq!(normalize_repo_url("https://c.io/x/"), "https://c.io/x");
        let list = RepositoryList(vec![ChartRepository {
            name: Some("stable".into()),
            url: "https://c.io/x/".into(),
            credentials: Some(Credentials::basic("u", "p")),
        }]);
        assert!(list.credentials("https://c.io/x").is_some());
        assert!(list.credentials("https://c.io/y").is_none());
        assert_eq!(list.url_of("stable").as_deref(), Some("https://c.io/x/"));
    }
}
