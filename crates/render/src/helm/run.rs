//! One `helm template` run: the chart's files (with its vendored dependencies) written into a
//! private work directory, Argo CD's parameters turned into flags, and the child bounded in
//! time and output. Helm's configuration, cache and data homes point into the work
//! directory, so a run never reads the user's repositories or registry logins.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{HelmError, HelmOptions};

/// Everything one run needs, owned, so it can move to a blocking thread.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    /// How errors name the chart (its repository path, or `chart@version`).
    pub label: String,
    /// (path relative to the chart root, contents), sorted; vendored dependencies included.
    pub files: Vec<(String, Vec<u8>)>,
    pub value_files: Vec<Vec<u8>>,
    pub file_parameters: Vec<(String, Vec<u8>)>,
    pub options: HelmOptions,
}

/// The `helm` binary with its limits.
#[derive(Clone, Debug)]
pub(crate) struct Runner {
    pub binary: PathBuf,
    pub timeout: Duration,
    pub max_output: usize,
    /// Where work directories are made; the system's temporary directory when `None`.
    pub work_root: Option<PathBuf>,
}

impl Runner {
    /// Writes the work directory and runs `helm template`, returning its standard output.
    pub fn template(&self, job: &Job) -> Result<Vec<u8>, HelmError> {
        let work = match &self.work_root {
            Some(root) => tempfile::tempdir_in(root)?,
            None => tempfile::tempdir()?,
        };
        let chart_dir = work.path().join("chart");
        for (rel, bytes) in &job.files {
            let target = chart_dir.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(target, bytes)?;
        }
        let options = &job.options;
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
        for (i, bytes) in job.value_files.iter().enumerate() {
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
        for (i, (name, bytes)) in job.file_parameters.iter().enumerate() {
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
        if options.skip_schema_validation {
            command.arg("--skip-schema-validation");
        }
        self.run(command).map_err(|e| match e {
            HelmError::Failed(stderr) => {
                HelmError::Failed(clean_stderr(&stderr, &chart_dir, &job.label))
            }
            other => other,
        })
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
        // The reader reports when Helm's output ends (it exited) or passed the limit, so the
        // wait below wakes at once instead of polling.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || -> Vec<u8> {
            let mut out = Vec::new();
            if let Some(stdout) = stdout {
                let _ = stdout.take(limit as u64 + 1).read_to_end(&mut out);
            }
            if out.len() > limit {
                over.store(true, Ordering::SeqCst);
            }
            let _ = done_tx.send(());
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
        let ended = done_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        let status = loop {
            if ended && over_limit.load(Ordering::SeqCst) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelmError::OutputTooLarge(limit));
            }
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelmError::Timeout(self.timeout));
            }
            // Output closed but the process is still exiting (or the deadline is near).
            std::thread::sleep(Duration::from_micros(200));
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
/// chart's label.
fn clean_stderr(stderr: &str, work_chart: &Path, label: &str) -> String {
    let work_chart = work_chart.display().to_string();
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Use --debug"))
        .map(|l| l.trim_start_matches("Error: ").replace(&work_chart, label))
        .collect();
    if lines.is_empty() {
        "helm printed no error".into()
    } else {
        lines.join("; ")
    }
}
