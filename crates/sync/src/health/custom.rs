//! Where health scripts come from, and which one judges a kind, as Argo CD decides:
//!
//! 1. `argocd-cm`: `resource.customizations.health.<group>_<Kind>` (`<Kind>` alone for the
//!    core group, `all` for every kind; globs such as `*.crossplane.io_*`), with
//!    `resource.customizations.useOpenLibs.<group>_<Kind>`, over the older
//!    `resource.customizations` YAML (`<group>/<Kind>: {health.lua, health.lua.useOpenLibs}`).
//!    An exact key first, then the first glob (in key order) that matches.
//! 2. A directory in Argo CD's `resource_customizations/<group>/<Kind>/health.lua` layout
//!    (`--customizations DIR`, else `resource_customizations` in the data directory), whose
//!    scripts get the open libraries, as Argo CD's built-in ones do: the exact directory
//!    first, then directories with `_` in their path, `_` matching any one segment's text
//!    (`_.crossplane.io/_`), in path order.
//! 3. The built-in checks ([`super::assess_builtin`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::lua::Script;
use crate::argocd_cm::ArgoCdSettings;

/// The health scripts of one controller.
#[derive(Clone, Debug, Default)]
pub struct Customizations {
    /// From `argocd-cm`, by key (`group/Kind`, `Kind`, or a glob of those).
    overrides: BTreeMap<String, Script>,
    /// Every override key as a glob (`*` spans `/`), in key order.
    override_globs: Vec<(globset::GlobMatcher, String)>,
    /// From the directory, by path (`group/Kind`, `_` as written).
    directory: BTreeMap<String, Script>,
    /// The directory paths with `_`, each segment a glob (`_` any text), in path order.
    directory_globs: Vec<(Vec<globset::GlobMatcher>, String)>,
}

/// A customizations directory that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("reading health scripts under {path}: {source}")]
pub struct CustomizationsError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl Customizations {
    /// The health scripts of `argocd-cm`. A legacy `resource.customizations` that does not
    /// parse is skipped with a warning, as a bad setting is in Argo CD's log.
    pub fn from_settings(settings: &ArgoCdSettings) -> Self {
        let mut overrides: BTreeMap<String, Script> = BTreeMap::new();
        if let Some(legacy) = settings.get("resource.customizations") {
            match yaml_serde::from_str::<BTreeMap<String, LegacyOverride>>(legacy) {
                Ok(entries) => {
                    for (key, entry) in entries {
                        if let Some(source) = entry.health.filter(|s| !s.trim().is_empty()) {
                            overrides.insert(
                                key,
                                Script {
                                    source,
                                    open_libs: entry.open_libs.unwrap_or(false),
                                },
                            );
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "argocd-cm: resource.customizations is not YAML of overrides; skipped")
                }
            }
        }
        for (kind, source) in settings.with_prefix("resource.customizations.health.") {
            let Some(key) = override_key(kind) else {
                continue;
            };
            let open_libs = overrides.get(&key).is_some_and(|s| s.open_libs);
            overrides.insert(
                key,
                Script {
                    source: source.to_string(),
                    open_libs,
                },
            );
        }
        for (kind, value) in settings.with_prefix("resource.customizations.useOpenLibs.") {
            let Some(script) = override_key(kind).and_then(|key| overrides.get_mut(&key)) else {
                continue;
            };
            script.open_libs = parse_bool(value).unwrap_or_else(|| {
                tracing::warn!(key = %kind, %value, "argocd-cm: useOpenLibs is not a boolean; false applies");
                false
            });
        }
        overrides.retain(|_, script| !script.source.trim().is_empty());
        let override_globs = overrides
            .keys()
            .filter_map(|key| Some((matcher(key)?, key.clone())))
            .collect();
        Customizations {
            overrides,
            override_globs,
            ..Customizations::default()
        }
    }

    /// These scripts and those of a `resource_customizations` directory. A missing
    /// directory adds nothing.
    pub fn with_directory(mut self, dir: &Path) -> Result<Self, CustomizationsError> {
        if !dir.is_dir() {
            return Ok(self);
        }
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            let entries = std::fs::read_dir(&current).map_err(|source| CustomizationsError {
                path: current.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.file_name().is_some_and(|n| n == "health.lua") {
                    let source =
                        std::fs::read_to_string(&path).map_err(|source| CustomizationsError {
                            path: path.clone(),
                            source,
                        })?;
                    let key = current
                        .strip_prefix(dir)
                        .unwrap_or(&current)
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/");
                    self.directory.insert(
                        key,
                        Script {
                            source,
                            open_libs: true,
                        },
                    );
                }
            }
        }
        self.directory_globs = self
            .directory
            .keys()
            .filter(|path| path.contains('_'))
            .filter_map(|path| {
                let segments = path
                    .split('/')
                    .map(|segment| matcher(&segment.replace('_', "*")))
                    .collect::<Option<Vec<_>>>()?;
                Some((segments, path.clone()))
            })
            .collect();
        Ok(self)
    }

    /// Whether there is no script at all.
    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty() && self.directory.is_empty()
    }

    /// How many scripts there are.
    pub fn len(&self) -> usize {
        self.overrides.len() + self.directory.len()
    }

    /// The script that judges `group`/`kind`, if any.
    pub fn script_for(&self, group: &str, kind: &str) -> Option<&Script> {
        let key = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{group}/{kind}")
        };
        if let Some(script) = self.overrides.get(&key) {
            return Some(script);
        }
        let glob = self
            .override_globs
            .iter()
            .find(|(glob, _)| glob.is_match(&key))
            .and_then(|(_, pattern)| self.overrides.get(pattern));
        if glob.is_some() {
            return glob;
        }
        if let Some(script) = self.directory.get(&key) {
            return Some(script);
        }
        let parts: Vec<&str> = key.split('/').collect();
        self.directory_globs
            .iter()
            .find(|(segments, _)| {
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(glob, part)| glob.is_match(part))
            })
            .and_then(|(_, path)| self.directory.get(path))
    }
}

/// A compiled glob; `None` (with a warning) when it does not parse.
fn matcher(pattern: &str) -> Option<globset::GlobMatcher> {
    match globset::Glob::new(pattern) {
        Ok(glob) => Some(glob.compile_matcher()),
        Err(e) => {
            tracing::warn!(%pattern, error = %e, "health customization key is not a glob; matched exactly only");
            None
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `group_Kind` of a split key as Argo CD's `convertToOverrideKey` reads it; `None`, with a
/// warning, for a key with more than one `_` (Argo CD refuses it).
fn override_key(kind: &str) -> Option<String> {
    if kind == "all" {
        return Some("*/*".to_string());
    }
    let parts: Vec<&str> = kind.split('_').collect();
    match parts.as_slice() {
        [kind] => Some(kind.to_string()),
        [group, kind] => Some(format!("{group}/{kind}")),
        _ => {
            tracing::warn!(key = %kind, "argocd-cm: a health customization key has more than one `_`; skipped");
            None
        }
    }
}

/// One entry of the legacy `resource.customizations` YAML.
#[derive(serde::Deserialize)]
struct LegacyOverride {
    #[serde(rename = "health.lua")]
    health: Option<String>,
    #[serde(rename = "health.lua.useOpenLibs")]
    open_libs: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entries: &[(&str, &str)]) -> ArgoCdSettings {
        ArgoCdSettings::new(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn argocd_cm_keys_as_argo_cd_reads_them() {
        let custom = Customizations::from_settings(&settings(&[
            (
                "resource.customizations.health.cert-manager.io_Certificate",
                "return {status='Healthy'}",
            ),
            (
                "resource.customizations.useOpenLibs.cert-manager.io_Certificate",
                "true",
            ),
            (
                "resource.customizations.health.ConfigMap",
                "return {status='Degraded'}",
            ),
            (
                "resource.customizations.health.*.crossplane.io_*",
                "return {status='Suspended'}",
            ),
            (
                "resource.customizations",
                "apps/Deployment:\n  health.lua: return {status='Progressing'}\nbatch/Job:\n  ignoreDifferences: x\n",
            ),
        ]));
        let cert = custom.script_for("cert-manager.io", "Certificate").unwrap();
        assert!(cert.open_libs);
        assert!(
            custom
                .script_for("", "ConfigMap")
                .unwrap()
                .source
                .contains("Degraded")
        );
        assert!(
            custom
                .script_for("apps", "Deployment")
                .unwrap()
                .source
                .contains("Progressing")
        );
        assert!(
            custom
                .script_for("pkg.crossplane.io", "Provider")
                .unwrap()
                .source
                .contains("Suspended")
        );
        assert!(custom.script_for("batch", "Job").is_none());
        assert!(custom.script_for("", "Secret").is_none());
    }

    #[test]
    fn a_directory_in_argo_cd_s_layout_and_its_wildcards() {
        let dir = tempfile::tempdir().unwrap();
        for (path, status) in [
            ("argoproj.io/Rollout", "Healthy"),
            ("_.crossplane.io/_", "Suspended"),
            ("Namespace", "Degraded"),
        ] {
            let at = dir.path().join(path);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(
                at.join("health.lua"),
                format!("return {{status='{status}'}}"),
            )
            .unwrap();
        }
        let custom = Customizations::default()
            .with_directory(dir.path())
            .unwrap();
        assert_eq!(custom.len(), 3);
        assert!(
            custom
                .script_for("argoproj.io", "Rollout")
                .unwrap()
                .open_libs
        );
        assert!(
            custom
                .script_for("pkg.crossplane.io", "Provider")
                .unwrap()
                .source
                .contains("Suspended")
        );
        assert!(
            custom.script_for("crossplane.io", "Provider").is_none(),
            "`*.crossplane.io` needs the dot"
        );
        assert!(
            custom
                .script_for("", "Namespace")
                .unwrap()
                .source
                .contains("Degraded")
        );
        let missing = Customizations::default()
            .with_directory(&dir.path().join("none"))
            .unwrap();
        assert!(missing.is_empty());
    }

    #[test]
    fn every_key_is_a_glob_and_booleans_are_go_s() {
        let custom = Customizations::from_settings(&settings(&[
            (
                "resource.customizations.health.{apps,batch}_Job",
                "return {status='Healthy'}",
            ),
            ("resource.customizations.useOpenLibs.{apps,batch}_Job", "1"),
            (
                "resource.customizations.health.a_b_c",
                "return {status='Degraded'}",
            ),
        ]));
        let job = custom.script_for("batch", "Job").unwrap();
        assert!(job.open_libs);
        assert_eq!(custom.len(), 1, "a key with two `_` is skipped");
    }

    #[test]
    fn wildcard_directories_are_tried_in_the_order_of_their_names() {
        let dir = tempfile::tempdir().unwrap();
        for (path, status) in [("example.com/_", "Degraded"), ("example.com/F_", "Healthy")] {
            let at = dir.path().join(path);
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(
                at.join("health.lua"),
                format!("return {{status='{status}'}}"),
            )
            .unwrap();
        }
        let custom = Customizations::default()
            .with_directory(dir.path())
            .unwrap();
        assert!(
            custom
                .script_for("example.com", "Foo")
                .unwrap()
                .source
                .contains("Healthy")
        );
        assert!(
            custom
                .script_for("example.com", "Bar")
                .unwrap()
                .source
                .contains("Degraded")
        );
    }
}
