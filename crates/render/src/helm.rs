//! Helm charts rendered by the real `helm template`, with Argo CD's `helm` source parameters.
//!
//! The chart directory is copied out of the [`Tree`] into a private work directory (so Helm
//! reads only what the tree allows: no symlink or path leaves the repository), value files are
//! resolved like Argo CD's (relative to the chart; a leading `/` means the repository root),
//! and each unique (chart content, parameters) pair runs Helm once: later calls are served
//! from memory.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::manifest::{Manifest, ParseError, parse_documents};
use crate::tree::{Tree, TreeError, join};

/// Argo CD `spec.source.helm`, plus the release's name and namespace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmOptions {
    /// Defaults to the Application's name.
    pub release_name: String,
    pub namespace: Option<String>,
    pub value_files: Vec<String>,
    pub ignore_missing_value_files: bool,
    /// A YAML document (`values`); `values_object` wins when both are set.
    pub values: Option<String>,
    pub values_object: Option<serde_json::Value>,
    pub parameters: Vec<HelmParameter>,
    pub file_parameters: Vec<HelmFileParameter>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub skip_crds: bool,
    pub skip_tests: bool,
    /// `--no-hooks` (Kustomize's `skipHooks`).
    pub skip_hooks: bool,
    /// `--name-template`: the release is named by it and `release_name` is not passed.
    pub name_template: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
    pub force_string: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct HelmFileParameter {
    pub name: String,
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("value file {0}: path leaves the repository")]
    ValueFileEscapes(String),
    #[error("value file {0} does not exist (set ignoreMissingValueFiles to skip it)")]
    MissingValueFile(String),
    #[error("cannot run {binary}: {source} (install Helm or set its path)")]
    NotFound {
        binary: String,
        source: std::io::Error,
    },
    #[error("helm template failed: {0}")]
    Failed(String),
    #[error("helm template ran longer than {0:?}")]
    Timeout(Duration),
    #[error("helm template output exceeds {0} bytes")]
    OutputTooLarge(usize),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("work directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `helm template`, caching results by chart content and parameters.
pub struct HelmRenderer {
    binary: PathBuf,
    timeout: Duration,
    max_output: usize,
    cache: Mutex<HashMap<String, Arc<Vec<Manifest>>>>,
}

/// Results kept in memory; the oldest half is dropped past this.
const CACHE_ENTRIES: usize = 512;

impl HelmRenderer {
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            timeout: Duration::from_secs(90),
            max_output: 32 << 20,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_limits(mut self, timeout: Duration, max_output: usize) -> Self {
        self.timeout = timeout;
        self.max_output = max_output;
        self
    }

    /// Renders the chart at `chart_path` of `tree`.
    pub fn render(
        &self,
        tree: &dyn Tree,
        chart_path: &str,
        options: &HelmOptions,
    ) -> Result<Arc<Vec<Manifest>>, HelmError> {
        let chart_files = collect_files(tree, chart_path)?;
        let value_files = self.value_files(tree, chart_path, options)?;
        let file_parameters = options
            .file_parameters
            .iter()
            .map(|p| {
                let path = join(chart_path, &p.path)
                    .ok_or_else(|| HelmError::ValueFileEscapes(p.path.clone()))?;
                Ok((p.name.clone(), tree.read(&path)?))
            })
            .collect::<Result<Vec<_>, HelmError>>()?;

        let key = cache_key(&chart_files, &value_files, &file_parameters, options);
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }

        let work = tempfile::tempdir()?;
        let chart_dir = work.path().join("chart");
        for (rel, bytes) in &chart_files {
            let target = chart_dir.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(target, bytes)?;
        }
        let mut command = Command::new(&self.binary);
        command.arg("template");
        match &options.name_template {
            Some(template) => {
                command.args(["--name-template", template]);
            }
            None => {
                command.arg(if options.release_name.is_empty() {
                    "release"
                } else {
                    &options.release_name
                });
            }
        }
        command
            .arg(&chart_dir)
            .env("HELM_CONFIG_HOME", work.path().join("helm-config"))
            .env("HELM_CACHE_HOME", work.path().join("helm-cache"))
            .env("HELM_DATA_HOME", work.path().join("helm-data"));
        if let Some(ns) = &options.namespace {
            command.args(["--namespace", ns]);
        }
        for (i, bytes) in value_files.iter().enumerate() {
            let file = work.path().join(format!("values-{i}.yaml"));
            std::fs::write(&file, bytes)?;
            command.arg("--values").arg(file);
        }
        // Precedence: parameters > valuesObject > values > valueFiles (later flags win).
        let inline = match (&options.values_object, &options.values) {
            (Some(object), _) => Some(serde_json::to_string(object).unwrap_or_default()),
            (None, Some(values)) if !values.trim().is_empty() => Some(values.clone()),
            _ => None,
        };
        if let Some(inline) = inline {
            let file = work.path().join("values-inline.yaml");
            std::fs::write(&file, inline)?;
            command.arg("--values").arg(file);
        }
        for p in &options.parameters {
            let flag = if p.force_string {
                "--set-string"
            } else {
                "--set"
            };
            command.arg(flag).arg(format!("{}={}", p.name, p.value));
        }
        for (i, (name, bytes)) in file_parameters.iter().enumerate() {
            let file = work.path().join(format!("file-parameter-{i}"));
            std::fs::write(&file, bytes)?;
            command
                .arg("--set-file")
                .arg(format!("{name}={}", file.display()));
        }
        if let Some(v) = &options.kube_version {
            command.args(["--kube-version", v]);
        }
        for v in &options.api_versions {
            command.args(["--api-versions", v]);
        }
        if !options.skip_crds {
            command.arg("--include-crds");
        }
        if options.skip_tests {
            command.arg("--skip-tests");
        }
        if options.skip_hooks {
            command.arg("--no-hooks");
        }
        let stdout = self.run(command).map_err(|e| match e {
            HelmError::Failed(stderr) => {
                HelmError::Failed(clean_stderr(&stderr, &chart_dir, chart_path))
            }
            other => other,
        })?;
        let manifests = Arc::new(parse_documents(
            &format!("helm template {chart_path}"),
            &stdout,
        )?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            let drop: Vec<String> = cache.keys().take(CACHE_ENTRIES / 2).cloned().collect();
            for k in drop {
                cache.remove(&k);
            }
        }
        cache.insert(key, manifests.clone());
        Ok(manifests)
    }

    /// Value files in order, read through the tree (never from outside the repository).
    fn value_files(
        &self,
        tree: &dyn Tree,
        chart_path: &str,
        options: &HelmOptions,
    ) -> Result<Vec<Vec<u8>>, HelmError> {
        let mut out = Vec::new();
        for file in &options.value_files {
            let path =
                join(chart_path, file).ok_or_else(|| HelmError::ValueFileEscapes(file.clone()))?;
            match tree.read(&path) {
                Ok(bytes) => out.push(bytes),
                Err(TreeError::NotFound(_)) if options.ignore_missing_value_files => {}
                Err(TreeError::NotFound(_)) => {
                    return Err(HelmError::MissingValueFile(file.clone()));
                }
                Err(TreeError::Escapes(_)) => {
                    return Err(HelmError::ValueFileEscapes(file.clone()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Runs Helm with a deadline, reading at most `max_output` bytes of its output.
    fn run(&self, mut command: Command) -> Result<Vec<u8>, HelmError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HelmError::NotFound {
                binary: self.binary.display().to_string(),
                source,
            })?;
        let limit = self.max_output;
        let stdout = child.stdout.take();
        let over_limit = Arc::new(AtomicBool::new(false));
        let over = over_limit.clone();
        let reader = std::thread::spawn(move || -> Vec<u8> {
            let mut out = Vec::new();
            if let Some(stdout) = stdout {
                let _ = stdout.take(limit as u64 + 1).read_to_end(&mut out);
            }
            if out.len() > limit {
                over.store(true, Ordering::SeqCst);
            }
            out
        });
        let stderr = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut err = String::new();
            if let Some(s) = stderr {
                let _ = s.take(64 << 10).read_to_string(&mut err);
            }
            err
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if over_limit.load(Ordering::SeqCst) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelmError::OutputTooLarge(limit));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelmError::Timeout(self.timeout));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        if over_limit.load(Ordering::SeqCst) {
            return Err(HelmError::OutputTooLarge(limit));
        }
        if !status.success() {
            return Err(HelmError::Failed(stderr));
        }
        Ok(stdout)
    }
}

/// Helm's error lines, without its hint lines and with the work directory shown as the
/// chart's repository path.
fn clean_stderr(stderr: &str, work_chart: &std::path::Path, chart_path: &str) -> String {
    let work_chart = work_chart.display().to_string();
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Use --debug"))
        .map(|l| {
            l.trim_start_matches("Error: ")
                .replace(&work_chart, chart_path)
        })
        .collect();
    if lines.is_empty() {
        "helm printed no error".into()
    } else {
        lines.join("; ")
    }
}

/// Every file under `dir` of the tree, as (path relative to `dir`, contents).
fn collect_files(tree: &dyn Tree, dir: &str) -> Result<Vec<(String, Vec<u8>)>, HelmError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(d) = pending.pop() {
        for entry in tree.list(&d)? {
            if entry.is_dir {
                pending.push(entry.path);
            } else {
                let rel = entry
                    .path
                    .strip_prefix(dir)
                    .unwrap_or(&entry.path)
                    .trim_start_matches('/')
                    .to_string();
                out.push((rel, tree.read(&entry.path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn cache_key(
    chart: &[(String, Vec<u8>)],
    value_files: &[Vec<u8>],
    file_parameters: &[(String, Vec<u8>)],
    options: &HelmOptions,
) -> String {
    let mut h = Sha256::new();
    for (path, bytes) in chart {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    for bytes in value_files {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    for (name, bytes) in file_parameters {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.update(serde_json::to_vec(options).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `helm` binary: `$FERRY_HELM`, else `helm` on PATH.
pub fn default_binary() -> PathBuf {
    std::env::var_os("FERRY_HELM").map_or_else(|| PathBuf::from("helm"), PathBuf::from)
}
