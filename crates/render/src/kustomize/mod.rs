//! Native Kustomize: a kustomization directory of a [`Tree`] rendered to the objects
//! `kubectl kustomize` prints, in the same order.
//!
//! The build follows Kustomize's: a kustomization accumulates its `resources` (files, and
//! directories built recursively) with their transformer configuration, adds its own
//! (`configurations`, `crds`), runs its generators, applies its `components`, then its
//! transformers in Kustomize's fixed order (strategic-merge patches, `patches`, namespace,
//! prefix/suffix, labels, annotations, JSON 6902 patches, replicas, images, replacements),
//! then those its `transformers` configure. Only the top level then adds generators' content
//! hashes to names, fixes name references, substitutes `vars` and sorts. Everything is read
//! through the tree, so nothing outside the repository is reachable; remote resources and
//! plugins that are not built in are refused.
//!
//! [`render_with`] adds what Argo CD does around `kustomize build`: its `source.kustomize`
//! overrides edit the root kustomization first (`overrides`), and `helmCharts` are inflated
//! by the real Helm (`helm_charts`) when a [`HelmRenderer`] is given. Bad input is bounded:
//! a build whose objects exceed [`KustomizeOptions::max_output`] bytes (as JSON) stops with an
//! error as soon as it gets there, and YAML alias bombs are refused by the parser.
//!
//! One file per concern: `file` (the kustomization file), `resource`, `fieldspec`,
//! `config` (which fields each transformer touches), `plugins` (transformers and
//! generators as configured instances), `generators`, `helm_charts`, `patches`,
//! `openapi`, `names` (namespace, prefix/suffix), `labels`, `images`, `replicas`,
//! `replacements`, `vars`, `namereference`, `order`, `overrides`,
//! `build_metadata`.

mod build_metadata;
mod config;
mod fieldspec;
mod file;
mod generators;
mod helm_charts;
mod images;
mod labels;
mod namereference;
mod names;
mod openapi;
mod order;
mod overrides;
mod patches;
mod plugins;
mod replacements;
mod replicas;
mod resource;
mod vars;

use crate::helm::{HelmError, HelmRenderer};
use crate::manifest::{Manifest, ParseError, parse_documents, parse_documents_strict};
use crate::tree::{Tree, TreeError, join};
use ferry_api::argocd::ApplicationSourceKustomize;
use ferry_api::{Classify, Disposition};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use build_metadata::BuildMetadata;
use config::TransformerConfig;
use file::Kustomization;
use openapi::OpenApi;
use plugins::PluginConfig;
use resource::Resource;

/// Why a kustomization cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    /// Reading the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A kustomization or resource file does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A field's value is wrong.
    #[error("{file}: {message}")]
    Invalid {
        /// The kustomization file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A field Kustomize does not know.
    #[error("{file}: unknown field `{field}`")]
    UnknownField {
        /// The kustomization file.
        file: String,
        /// The field.
        field: String,
    },
    /// A Kustomize field Ferry does not build yet.
    #[error("{file}: field `{field}` is not supported by Ferry's Kustomize yet")]
    UnsupportedField {
        /// The kustomization file.
        file: String,
        /// The field.
        field: String,
    },
    /// `helmCharts` without a Helm renderer.
    #[error("{file}: helmCharts: Helm is not enabled for this build")]
    HelmNotEnabled {
        /// The kustomization file.
        file: String,
    },
    /// A `helmCharts` chart that is not vendored in the repository.
    #[error(
        "{file}: helmCharts: chart `{chart}` is not in the repository at {path}{}; only charts \
         vendored in the repository are rendered, Ferry does not pull them",
        if repo.is_empty() { String::new() } else { format!(" (Kustomize would pull it from {repo})") }
    )]
    ChartNotVendored {
        /// The kustomization file.
        file: String,
        /// The chart's name.
        chart: String,
        /// Where it was looked for.
        path: String,
        /// The `repo` Kustomize would pull it from, or empty.
        repo: String,
    },
    /// A `helmCharts` chart does not render.
    #[error("{file}: helmCharts: chart `{chart}`: {error}")]
    Helm {
        /// The kustomization file.
        file: String,
        /// The chart's name.
        chart: String,
        /// Why.
        #[source]
        error: Box<HelmError>,
    },
    /// An Argo CD `source.kustomize` override is wrong.
    #[error("source.kustomize.{field}: {message}")]
    Override {
        /// The override's field (`images`, `replicas`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The build's objects are larger than the limit.
    #[error(
        "{file}: the build's objects exceed {limit} bytes; refusing to build more \
         (a limit against runaway kustomizations)"
    )]
    TooLarge {
        /// The kustomization file.
        file: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A remote resource or base (a URL), which Ferry does not fetch.
    #[error(
        "{file}: {reference}: remote resources are not supported, only paths in the repository"
    )]
    Remote {
        /// The kustomization file.
        file: String,
        /// The reference.
        reference: String,
    },
    /// A path that climbs out of the repository or the kustomization's directory.
    #[error("{file}: {reference}: path leaves the {scope}")]
    Escapes {
        /// The kustomization file.
        file: String,
        /// The reference.
        reference: String,
        /// `repository` or the kustomization's directory, per the load restrictor.
        scope: &'static str,
    },
    /// A directory without a kustomization file.
    #[error("{dir}: no kustomization.yaml, kustomization.yml or Kustomization found")]
    Missing {
        /// The directory.
        dir: String,
    },
    /// Kustomizations that include each other; the chain.
    #[error("kustomization cycle: {0}")]
    Cycle(String),
}

impl Classify for KustomizeError {
    /// Reading the tree and rendering a chart decide for themselves; every other refusal is
    /// the kustomization's and stays until it changes.
    fn disposition(&self) -> Disposition {
        match self {
            Self::Tree(e) => e.disposition(),
            Self::Helm { error, .. } => error.disposition(),
            Self::Parse(_)
            | Self::Invalid { .. }
            | Self::UnknownField { .. }
            | Self::UnsupportedField { .. }
            | Self::HelmNotEnabled { .. }
            | Self::ChartNotVendored { .. }
            | Self::Override { .. }
            | Self::TooLarge { .. }
            | Self::Remote { .. }
            | Self::Escapes { .. }
            | Self::Missing { .. }
            | Self::Cycle(_) => Disposition::GiveUp,
        }
    }
}

impl KustomizeError {
    fn invalid(file: &str, message: impl Into<String>) -> Self {
        KustomizeError::Invalid {
            file: file.to_string(),
            message: message.into(),
        }
    }
}

/// Whether `dir` of the tree holds a kustomization file.
pub fn is_kustomization(tree: &dyn Tree, dir: &str) -> bool {
    matches!(file::find(tree, dir), Ok(Some(_)) | Err(_))
}

/// The largest build by default: 32 MiB of objects (as JSON), as the Helm renderer's output.
pub const DEFAULT_MAX_OUTPUT: usize = 32 << 20;

/// What a build may use beyond the tree.
#[derive(Default, Clone, Copy)]
pub struct KustomizeOptions<'a> {
    /// Argo CD's `source.kustomize`, applied to the root kustomization as `kustomize edit`
    /// would.
    pub overrides: Option<&'a ApplicationSourceKustomize>,
    /// Runs `helmCharts`; None → a kustomization with helmCharts is an error saying Helm is not enabled.
    pub helm: Option<&'a HelmRenderer>,
    /// Build environment for commonAnnotationsEnvsubst (ARGOCD_APP_NAME, ARGOCD_APP_NAMESPACE, ...).
    pub env: Option<&'a BTreeMap<String, String>>,
    /// Largest build in bytes of JSON; `None` is [`DEFAULT_MAX_OUTPUT`].
    pub max_output: Option<usize>,
    /// Where a kustomization's files may be (`kubectl kustomize --load-restrictor`).
    pub load_restrictor: LoadRestrictor,
}

/// Kustomize's load restrictor: where the files a kustomization names (resource files,
/// patches, generator sources) may be. Directories (`../base`) may be anywhere in the tree
/// either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Inside the kustomization's own directory (`LoadRestrictionsRootOnly`, the default).
    #[default]
    RootOnly,
    /// Anywhere in the tree (`LoadRestrictionsNone`).
    None,
}

/// Builds the kustomization in `dir` (repository-relative), as `kubectl kustomize dir` would.
pub fn render(tree: &dyn Tree, dir: &str) -> Result<Vec<Manifest>, KustomizeError> {
    render_with(tree, dir, &KustomizeOptions::default())
}

/// Builds the kustomization in `dir` with Argo CD's overrides and Helm, as Argo CD's
/// repo-server does with `kustomize edit` and `kustomize build --enable-helm`.
pub fn render_with(
    tree: &dyn Tree,
    dir: &str,
    options: &KustomizeOptions<'_>,
) -> Result<Vec<Manifest>, KustomizeError> {
    let no_env = BTreeMap::new();
    let mut builder = Builder {
        tree,
        stack: Vec::new(),
        vars: Vec::new(),
        root: dir.to_string(),
        options,
        env: options.env.unwrap_or(&no_env),
        max_output: options.max_output.unwrap_or(DEFAULT_MAX_OUTPUT),
        build_metadata: BuildMetadata::default(),
        openapi: None,
    };
    let (built, k) = builder.target(dir, Accumulated::default(), false)?;
    let mut resources = built.resources;
    generators::add_hashes(&mut resources);
    let file = file::find(tree, dir)?.unwrap_or_default();
    namereference::fix(&mut resources, &built.config.name_reference, &file)?;
    vars::resolve(
        &file,
        &builder.vars,
        &built.config.var_reference,
        &mut resources,
    )?;
    resources.retain(|r| r.annotation("config.kubernetes.io/local-config") != Some("true"));
    order::sort(&mut resources, k.sort_options.as_ref(), &file)?;
    builder.build_metadata.finish(&mut resources);
    Ok(resources.into_iter().map(|r| r.obj).collect())
}

/// A kustomization being built: where its files are read from.
pub(crate) struct Location<'a> {
    pub tree: &'a dyn Tree,
    /// The kustomization's directory.
    pub dir: String,
    /// Its kustomization file (for messages).
    pub file: String,
    /// The build's size limit in bytes (see [`OutputSize`]).
    pub max_output: usize,
    /// Bytes transformers have added to this kustomization's objects so far.
    pub grown: std::cell::Cell<usize>,
    /// Whether files must be inside [`Location::dir`].
    pub load_restrictor: LoadRestrictor,
    /// The build's `openapi` schema, once one is in force.
    pub openapi: Option<Rc<OpenApi>>,
}

impl Location<'_> {
    /// A path a field of the kustomization names, checked: not remote, not absolute, inside
    /// the repository, and for files (`within_dir`) inside the kustomization's directory
    /// unless the build's [`LoadRestrictor`] is `None`.
    pub fn resolve(&self, reference: &str, within_dir: bool) -> Result<String, KustomizeError> {
        let remote = reference.contains("://")
            || reference.starts_with("git@")
            || reference.starts_with("github.com/")
            || reference.contains("?ref=");
        if remote {
            return Err(KustomizeError::Remote {
                file: self.file.clone(),
                reference: reference.to_string(),
            });
        }
        let escapes = |scope| KustomizeError::Escapes {
            file: self.file.clone(),
            reference: reference.to_string(),
            scope,
        };
        if reference.starts_with('/') {
            return Err(escapes("repository (absolute paths are refused)"));
        }
        let path = join(&self.dir, reference).ok_or_else(|| escapes("repository"))?;
        let inside_dir =
            self.dir.is_empty() || path == self.dir || path.starts_with(&format!("{}/", self.dir));
        if within_dir && self.load_restrictor == LoadRestrictor::RootOnly && !inside_dir {
            return Err(escapes("kustomization directory"));
        }
        Ok(path)
    }

    /// Reads a file the kustomization names (inside its directory).
    pub fn read(&self, reference: &str) -> Result<(String, Vec<u8>), KustomizeError> {
        let path = self.resolve(reference, true)?;
        let bytes = self.tree.read(&path)?;
        Ok((path, bytes))
    }

    pub fn invalid(&self, message: impl Into<String>) -> KustomizeError {
        KustomizeError::invalid(&self.file, message)
    }

    pub fn too_large(&self) -> KustomizeError {
        KustomizeError::TooLarge {
            file: self.file.clone(),
            limit: self.max_output,
        }
    }

    /// Records that a transformer changed an object from `before` to `after` (its JSON
    /// sizes): an error once the growth alone exceeds the limit, so a patch applied to many
    /// objects cannot build gigabytes before the end-of-kustomization check.
    pub fn grow(&self, before: &Value, after: &Value) -> Result<(), KustomizeError> {
        let grown = self
            .grown
            .get()
            .saturating_add(json_size(after).saturating_sub(json_size(before)));
        self.grown.set(grown);
        if grown > self.max_output {
            return Err(self.too_large());
        }
        Ok(())
    }
}

/// About the size of an object as compact JSON, from its structure: strings and keys count
/// their length (escapes are not), numbers 8 bytes. One walk over the nodes, whatever the
/// size of their strings, so a large build costs little to measure.
pub(crate) fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(|v| json_size(v) + 1).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + json_size(v))
                .sum::<usize>()
                + 2
        }
    }
}

/// The running size of a kustomization's objects, checked against the build's limit.
pub(crate) struct OutputSize {
    total: usize,
    limit: usize,
}

impl OutputSize {
    pub fn new(limit: usize) -> Self {
        Self { total: 0, limit }
    }

    /// Counts objects; an error once the total exceeds the limit.
    pub fn add<'r>(
        &mut self,
        loc: &Location,
        objects: impl IntoIterator<Item = &'r Value>,
    ) -> Result<(), KustomizeError> {
        for obj in objects {
            self.total = self.total.saturating_add(json_size(obj));
            if self.total > self.limit {
                return Err(loc.too_large());
            }
        }
        Ok(())
    }
}

struct Builder<'a> {
    tree: &'a dyn Tree,
    /// Directories being built, outermost first (cycle detection).
    stack: Vec<String>,
    /// The `vars` of every kustomization built so far (names are unique).
    vars: Vec<vars::Var>,
    /// The directory built first: Argo CD's overrides apply to its kustomization only.
    root: String,
    options: &'a KustomizeOptions<'a>,
    env: &'a BTreeMap<String, String>,
    max_output: usize,
    /// The built kustomization's `buildMetadata`, in force everywhere under it.
    build_metadata: BuildMetadata,
    /// The `openapi` schema in force: the first one met, the built kustomization's first.
    openapi: Option<Rc<OpenApi>>,
}

/// What a kustomization has built so far: its objects, and the transformer configuration in
/// force (its own and that of every kustomization it was built on).
#[derive(Default)]
struct Accumulated {
    resources: Vec<Resource>,
    /// Nothing at first; then the defaults, shared (borrowed) while no kustomization adds
    /// to them.
    config: Cow<'static, TransformerConfig>,
}

impl Accumulated {
    fn merge_config(
        &mut self,
        loc: &Location,
        other: &TransformerConfig,
    ) -> Result<(), KustomizeError> {
        let defaults = TransformerConfig::defaults();
        let merged_into = &*self.config;
        if std::ptr::eq(other, defaults)
            && (merged_into.is_empty() || std::ptr::eq(merged_into, defaults))
        {
            // Merged into nothing or into themselves, the defaults are themselves: none of
            // their specs hides another (a test in `config` checks). They stay shared.
            self.config = Cow::Borrowed(defaults);
            return Ok(());
        }
        self.config
            .to_mut()
            .merge(other)
            .map_err(|c| loc.invalid(format!("merging config: {c}")))
    }
}

impl Builder<'_> {
    /// Accumulates the kustomization (or component) in `dir` onto `acc`.
    fn target(
        &mut self,
        dir: &str,
        acc: Accumulated,
        is_component: bool,
    ) -> Result<(Accumulated, Kustomization), KustomizeError> {
        if self.stack.iter().any(|d| d == dir) {
            let mut chain = self.stack.clone();
            chain.push(dir.to_string());
            return Err(KustomizeError::Cycle(chain.join(" -> ")));
        }
        let file = file::find(self.tree, dir)?.ok_or_else(|| KustomizeError::Missing {
            dir: if dir.is_empty() {
                ".".into()
            } else {
                dir.into()
            },
        })?;
        let mut k = file::load(self.tree, &file)?;
        let is_top = self.stack.is_empty() && dir == self.root;
        if is_top {
            self.build_metadata = BuildMetadata::new(&k.build_metadata, dir, &file)?;
        }
        let is_component_file = k.kind == "Component";
        // kubectl builds a Component given directly as a kustomization.
        if is_component != is_component_file && (is_component || !is_top) {
            return Err(KustomizeError::invalid(
                &file,
                if is_component {
                    "a component must have `kind: Component`"
                } else {
                    "a component (`kind: Component`) can only be used under `components`"
                },
            ));
        }
        let mut loc = Location {
            tree: self.tree,
            dir: dir.to_string(),
            file,
            max_output: self.max_output,
            grown: std::cell::Cell::new(0),
            load_restrictor: self.options.load_restrictor,
            openapi: None,
        };
        if self.openapi.is_none() && !k.openapi.is_empty() {
            self.openapi = Some(Rc::new(OpenApi::load(&loc, &k.openapi)?));
        }
        if is_top
            && !is_component
            && let Some(ov) = self.options.overrides
        {
            overrides::apply(&loc, ov, self.env, &mut k)?;
        }
        self.stack.push(dir.to_string());
        let mut acc = acc;
        let mut size = OutputSize::new(self.max_output);
        size.add(&loc, acc.resources.iter().map(|r| &r.obj))?;
        let mut ids: HashSet<String> = acc.resources.iter().map(Resource::id_key).collect();
        for reference in k.resources.iter().chain(&k.bases) {
            let before = acc.resources.len();
            self.resource(&loc, reference, &mut acc, &mut ids)?;
            size.add(&loc, acc.resources[before..].iter().map(|r| &r.obj))?;
        }
        // Bases may have set the schema; it is in force for this kustomization's patches.
        loc.openapi = self.openapi.clone();
        let own = TransformerConfig::load(&loc, &k.configurations)?;
        acc.merge_config(&loc, &own)?;
        for crd in &k.crds {
            let (path, bytes) = loc.read(crd)?;
            let crd = TransformerConfig::from_crd(&path, &bytes)?;
            acc.merge_config(&loc, &crd)?;
        }
        let before = acc.resources.len();
        self.generate(&loc, &k, &mut acc.resources)?;
        size.add(&loc, acc.resources[before..].iter().map(|r| &r.obj))?;
        for component in &k.components {
            let path = loc.resolve(component, false)?;
            acc = self.target(&path, acc, true)?.0;
        }
        // The built-in transformers in Kustomize's order, then the `transformers:` entries;
        // each instance is recorded for `buildMetadata`.
        let meta = self.build_metadata.clone();
        for t in plugins::from_kustomization(&loc, &k, &acc.config)? {
            t.apply(&loc, &mut acc.resources)?;
            drop_emptied(&mut acc.resources);
            let origin = meta.plugin(&loc.file, t.kind(), "", "");
            for _ in 0..t.instances() {
                meta.transformed(&mut acc.resources, &origin);
            }
        }
        for (c, configured_in) in self.plugin_configs(&loc, &k.transformers)? {
            for t in plugins::from_config(&loc, &c)? {
                t.apply(&loc, &mut acc.resources)?;
                drop_emptied(&mut acc.resources);
                let origin = meta.plugin(&configured_in, &c.kind, &c.name, &c.namespace);
                for _ in 0..t.instances() {
                    meta.transformed(&mut acc.resources, &origin);
                }
            }
        }
        if !k.vars.is_empty() {
            vars::bind(&loc, &k.vars, &mut acc.resources, &mut self.vars)?;
        }
        // Transformers can grow objects (patches check as they go): the result, once more.
        OutputSize::new(self.max_output).add(&loc, acc.resources.iter().map(|r| &r.obj))?;
        self.stack.pop();
        Ok((acc, k))
    }

    /// Runs the kustomization's generators (its own fields, `helmCharts`, then the built-in
    /// generators `generators:` configures), adding or merging their objects into `acc`.
    fn generate(
        &mut self,
        loc: &Location,
        k: &Kustomization,
        acc: &mut Vec<Resource>,
    ) -> Result<(), KustomizeError> {
        let meta = self.build_metadata.clone();
        generators::run(loc, k, acc)?;
        meta.generated(acc, |r| {
            let kind = if r.kind() == "Secret" {
                "SecretGenerator"
            } else {
                "ConfigMapGenerator"
            };
            meta.plugin(&loc.file, kind, "", "")
        });
        let charts = helm_charts::inflate(loc, k, self.options.helm, self.options.overrides)?;
        if !charts.is_empty() {
            let mut ids = acc.iter().map(Resource::id_key).collect();
            for obj in charts {
                add(acc, &mut ids, Resource::new(obj), &loc.file)?;
            }
            meta.generated(acc, |_| {
                meta.plugin(&loc.file, "HelmChartInflationGenerator", "", "")
            });
        }
        let no_options = file::GeneratorOptions::default();
        for (c, configured_in) in self.plugin_configs(loc, &k.generators)? {
            match plugins::generator_from_config(loc, &c)? {
                plugins::Generator::ConfigMap(g) => {
                    generators::run_one(loc, &g, "ConfigMap", &no_options, acc)?
                }
                plugins::Generator::Secret(g) => {
                    generators::run_one(loc, &g, "Secret", &no_options, acc)?
                }
                plugins::Generator::GkeServiceAccount(obj) => {
                    let mut ids = acc.iter().map(Resource::id_key).collect();
                    add(acc, &mut ids, Resource::new(obj), &loc.file)?;
                }
            }
            let origin = meta.plugin(&configured_in, &c.kind, &c.name, &c.namespace);
            meta.generated(acc, |_| origin.clone());
        }
        Ok(())
    }

    /// The plugin configurations a `transformers:` or `generators:` list names (inline
    /// objects, files of them, or kustomization directories that build them), each with the
    /// file it is configured in.
    fn plugin_configs(
        &mut self,
        loc: &Location,
        entries: &[String],
    ) -> Result<Vec<(PluginConfig, String)>, KustomizeError> {
        let mut out = Vec::new();
        for entry in entries {
            let inline = parse_documents(&loc.file, entry.as_bytes())
                .ok()
                .filter(|docs| !docs.is_empty() && docs.iter().all(Value::is_object));
            if let Some(docs) = inline {
                for obj in docs {
                    out.push((PluginConfig::new(loc, obj)?, loc.file.clone()));
                }
                continue;
            }
            let path = loc.resolve(entry, false)?;
            let mut built = Accumulated::default();
            self.resource(loc, entry, &mut built, &mut HashSet::new())?;
            for r in built.resources {
                out.push((PluginConfig::new(loc, r.obj)?, path.clone()));
            }
        }
        Ok(out)
    }

    /// One entry of `resources`: a directory with a kustomization, or a file of manifests.
    fn resource(
        &mut self,
        loc: &Location,
        reference: &str,
        acc: &mut Accumulated,
        ids: &mut HashSet<String>,
    ) -> Result<(), KustomizeError> {
        let path = loc.resolve(reference, false)?;
        let bytes = match self.tree.read_file(&path) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => {
                let (built, _) = self.target(&path, Accumulated::default(), false)?;
                for r in built.resources {
                    add(&mut acc.resources, ids, r, &loc.file)?;
                }
                return acc.merge_config(loc, &built.config);
            }
            Err(e) => Err(e),
        };
        // A file must be inside the kustomization's directory (Kustomize's load restrictions);
        // that refusal comes first.
        loc.resolve(reference, true)?;
        let bytes = bytes?;
        for obj in parse_documents_strict(&path, &bytes)? {
            let mut r = Resource::new(obj);
            if self.build_metadata.tracking() {
                r.origin = Some(self.build_metadata.file(&path));
            }
            add(&mut acc.resources, ids, r, &loc.file)?;
        }
        Ok(())
    }
}

/// Drops the objects a transformer emptied (a patch with `$patch: delete`), as Kustomize drops
/// nil or empty objects.
fn drop_emptied(acc: &mut Vec<Resource>) {
    acc.retain(|r| !(r.obj.is_null() || r.obj.as_object().is_some_and(|o| o.is_empty())));
}

/// Checks that no two resources have the same id (after a patch changed names or kinds), as
/// Kustomize does once a kustomization's transformers have run.
fn unique_ids(acc: &[Resource], file: &str) -> Result<(), KustomizeError> {
    let mut ids = HashSet::with_capacity(acc.len());
    for r in acc {
        if !ids.insert(r.id_key()) {
            return Err(already_registered(file, r));
        }
    }
    Ok(())
}

fn already_registered(file: &str, r: &Resource) -> KustomizeError {
    KustomizeError::invalid(
        file,
        format!(
            "may not add resource with an already registered id: {}",
            r.describe()
        ),
    )
}

/// Adds a resource, refusing a second one with the same id (`ids` holds those of `acc`).
fn add(
    acc: &mut Vec<Resource>,
    ids: &mut HashSet<String>,
    r: Resource,
    file: &str,
) -> Result<(), KustomizeError> {
    if !ids.insert(r.id_key()) {
        return Err(already_registered(file, &r));
    }
    acc.push(r);
    Ok(())
}
