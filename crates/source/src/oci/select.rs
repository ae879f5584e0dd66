//! Kargo's image discovery: which tags of a repository a Warehouse `image` subscription
//! selects, newest first, with their digests (`imageSelectionStrategy` SemVer, Lexical,
//! NewestBuild, Digest; tag regexes; platform; `discoveryLimit`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ferry_api::{Classify, Disposition};
use futures_util::StreamExt as _;
use regex::Regex;
use serde::Serialize;

use super::client::{RegistryClient, RegistryError};
use super::manifest::{IndexEntry, ManifestKind, Platform};
use super::reference::ImageRepo;
use crate::credentials::Credentials;
use crate::semver::{Constraint, Version};
use crate::subscription::Fields;

/// Manifests fetched at once while resolving candidates: a whole default `discoveryLimit` in
/// one round trip (the per-host rate limit still applies).
const CONCURRENCY: usize = 20;
const MAX_CONFIG_BYTES: usize = 4 << 20;
/// Platforms of an index looked at to date it (real indexes have a handful).
const MAX_INDEX_ENTRIES_DATED: usize = 16;

/// Kargo's `imageSelectionStrategy`: how an `image` subscription picks tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum ImageSelectionStrategy {
    /// Tags read as semantic versions, highest first, within `constraint` (Kargo's default).
    #[default]
    SemVer,
    /// Tags in reverse lexical order.
    Lexical,
    /// Images by build date (the config's `created`), newest first.
    NewestBuild,
    /// The digest a mutable tag (the `constraint`) points at now.
    Digest,
}

impl std::str::FromStr for ImageSelectionStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "SemVer" => Ok(Self::SemVer),
            "Lexical" => Ok(Self::Lexical),
            "NewestBuild" => Ok(Self::NewestBuild),
            "Digest" => Ok(Self::Digest),
            other => Err(format!(
                "unknown imageSelectionStrategy {other:?}: SemVer, Lexical, NewestBuild or Digest"
            )),
        }
    }
}

/// The settings of one `image` subscription, with Kargo's defaults.
#[derive(Clone, Debug)]
pub struct ImageSelection {
    /// The strategy (`imageSelectionStrategy`).
    pub strategy: ImageSelectionStrategy,
    /// A semver range for SemVer; the mutable tag to follow for Digest.
    pub constraint: Option<String>,
    /// Refuse tags that are not strict semantic versions (`strictSemvers`).
    pub strict_semvers: bool,
    /// Tags must match one of these (`allowTagsRegexes`).
    pub allow_tags_regexes: Vec<String>,
    /// Tags matching any of these are skipped (`ignoreTagsRegexes`).
    pub ignore_tags_regexes: Vec<String>,
    /// Only images for this platform (`os/arch[/variant]`) are selected.
    pub platform: Option<String>,
    /// At most this many images are selected (`discoveryLimit`; Kargo's default is 20).
    pub discovery_limit: usize,
    /// Kargo's `cacheByTag`: tags are immutable, so what a tag resolved to once is reused
    /// without asking the registry again.
    pub cache_by_tag: bool,
}

impl Default for ImageSelection {
    fn default() -> Self {
        Self {
            strategy: ImageSelectionStrategy::SemVer,
            constraint: None,
            strict_semvers: true,
            allow_tags_regexes: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            platform: None,
            discovery_limit: 20,
            cache_by_tag: false,
        }
    }
}

/// One selected image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredImage {
    /// The tag.
    pub tag: String,
    /// The manifest's digest (`sha256:...`) the tag resolved to.
    pub digest: String,
    /// The image config's `created` time; for an index, its newest image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The manifest's annotations (none for an index).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image subscription that went wrong.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The subscription or the registry's answer is unusable (a bad regex, an unknown strategy, an image config that does not parse).
    #[error("invalid image subscription: {0}")]
    Invalid(String),
    /// A registry call failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl Classify for DiscoveryError {
    fn disposition(&self) -> Disposition {
        match self {
            Self::Invalid(_) => Disposition::GiveUp,
            Self::Registry(e) => e.disposition(),
        }
    }
}

/// Compiled settings: regexes, constraint and platform parsed once.
struct Compiled {
    allow: Vec<Regex>,
    ignore: Vec<Regex>,
    constraint: Option<Constraint>,
    platform: Option<Platform>,
}

impl ImageSelection {
    /// Kargo's validation: limit 1..=100, a Digest strategy names its tag, patterns compile.
    fn compile(&self) -> Result<Compiled, DiscoveryError> {
        let invalid = DiscoveryError::Invalid;
        if !(1..=100).contains(&self.discovery_limit) {
            return Err(invalid(format!(
                "discoveryLimit {} is outside 1..100",
                self.discovery_limit
            )));
        }
        let regexes = |patterns: &[String], field: &str| {
            patterns
                .iter()
                .map(|p| Regex::new(p).map_err(|e| invalid(format!("{field} {p:?}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
        };
        let constraint = match (self.strategy, self.constraint.as_deref()) {
            (ImageSelectionStrategy::Digest, None | Some("")) => {
                return Err(invalid(
                    "the Digest strategy needs `constraint`: the tag whose digest to follow".into(),
                ));
            }
            (ImageSelectionStrategy::SemVer, Some(c)) if !c.is_empty() => {
                Some(Constraint::parse(c).map_err(|e| invalid(format!("constraint: {e}")))?)
            }
            _ => None,
        };
        let platform = self
            .platform
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(Platform::parse)
            .transpose()
            .map_err(invalid)?;
        Ok(Compiled {
            allow: regexes(&self.allow_tags_regexes, "allowTagsRegexes")?,
            ignore: regexes(&self.ignore_tags_regexes, "ignoreTagsRegexes")?,
            constraint,
            platform,
        })
    }
}

impl Compiled {
    fn tag_allowed(&self, tag: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|r| r.is_match(tag)))
            && !self.ignore.iter().any(|r| r.is_match(tag))
    }
}

/// Remembers what never changes for a digest (an image config's platform and build date),
/// so repeated discovery costs one manifest request per candidate tag.
#[derive(Default)]
pub struct ImageMetadataCache {
    configs: Mutex<HashMap<String, ImageConfig>>,
    /// (repository, platform, tag) → what it resolved to; used only with `cache_by_tag`.
    by_tag: Mutex<HashMap<(String, String, String), Option<DiscoveredImage>>>,
}

#[derive(Clone, Debug, serde::Deserialize)]
struct ImageConfig {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    created: Option<String>,
}

impl RegistryClient {
    /// The images a subscription selects, best first, at most `discovery_limit`.
    pub async fn discover_images(
        &self,
        repo: &ImageRepo,
        selection: &ImageSelection,
        creds: Option<&Credentials>,
        cache: &ImageMetadataCache,
    ) -> Result<Vec<DiscoveredImage>, DiscoveryError> {
        let compiled = selection.compile()?;
        let limit = selection.discovery_limit;
        let allowed_tags = || async {
            let tags = self.list_tags(repo, creds).await?;
            Ok::<_, DiscoveryError>(
                tags.into_iter()
                    .filter(|t| compiled.tag_allowed(t))
                    .collect::<Vec<_>>(),
            )
        };
        let candidates: Vec<String> = match selection.strategy {
            ImageSelectionStrategy::Digest => {
                let tag = selection.constraint.as_deref().unwrap_or_default();
                let image = self.resolve(repo, tag, &compiled, creds, cache).await?;
                return Ok(image.into_iter().collect());
            }
            ImageSelectionStrategy::SemVer => {
                let parse = if selection.strict_semvers {
                    Version::parse_strict
                } else {
                    Version::parse
                };
                let mut versions: Vec<Version> = allowed_tags()
                    .await?
                    .iter()
                    .filter_map(|t| parse(t).ok())
                    .filter(|v| match &compiled.constraint {
                        Some(c) => c.matches(v),
                        // Without a constraint prereleases stay out, as in Kargo.
                        None => !v.is_prerelease(),
                    })
                    .collect();
                versions.sort_by(|a, b| b.cmp(a));
                versions
                    .into_iter()
                    .map(|v| v.original().to_string())
                    .collect()
            }
            ImageSelectionStrategy::Lexical => {
                let mut tags = allowed_tags().await?;
                tags.sort_by(|a, b| b.cmp(a));
                tags
            }
            ImageSelectionStrategy::NewestBuild => allowed_tags().await?,
        };
        let newest_build = selection.strategy == ImageSelectionStrategy::NewestBuild;
        // Ordered strategies resolve only as many candidates as they need (platform
        // mismatches are skipped); NewestBuild must see every build date.
        let mut selected = Vec::new();
        let mut remaining = candidates.into_iter();
        loop {
            let want = if newest_build {
                1024
            } else {
                limit - selected.len()
            };
            let batch: Vec<String> = remaining.by_ref().take(want).collect();
            if batch.is_empty() {
                break;
            }
            let resolved: Vec<Result<Option<DiscoveredImage>, DiscoveryError>> =
                futures_util::stream::iter(batch.iter())
                    .map(|tag| self.resolve_cached(repo, tag, selection, &compiled, creds, cache))
                    .buffered(CONCURRENCY)
                    .collect()
                    .await;
            for image in resolved {
                selected.extend(image?);
            }
            if !newest_build && selected.len() >= limit {
                break;
            }
        }
        if newest_build {
            // Newest first; undated builds last; ties by tag for a stable order.
            selected.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| b.tag.cmp(&a.tag))
            });
        }
        selected.truncate(limit);
        Ok(selected)
    }

    /// [`Self::resolve`], through the by-tag cache when the subscription allows it.
    async fn resolve_cached(
        &self,
        repo: &ImageRepo,
        tag: &str,
        selection: &ImageSelection,
        compiled: &Compiled,
        creds: Option<&Credentials>,
        cache: &ImageMetadataCache,
    ) -> Result<Option<DiscoveredImage>, DiscoveryError> {
        if !selection.cache_by_tag {
            return self.resolve(repo, tag, compiled, creds, cache).await;
        }
        let key = (
            repo.to_string(),
            selection.platform.clone().unwrap_or_default(),
            tag.to_string(),
        );
        let hit = cache
            .by_tag
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(image) = hit {
            return Ok(image);
        }
        let image = self.resolve(repo, tag, compiled, creds, cache).await?;
        cache
            .by_tag
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, image.clone());
        Ok(image)
    }

    /// One tag's digest (of the platform's manifest when a platform is asked for) and its
    /// build date. `None` when the image is not built for the platform.
    async fn resolve(
        &self,
        repo: &ImageRepo,
        tag: &str,
        compiled: &Compiled,
        creds: Option<&Credentials>,
        cache: &ImageMetadataCache,
    ) -> Result<Option<DiscoveredImage>, DiscoveryError> {
        let mut manifest = self.manifest(repo, tag, creds).await?;
        let mut platform_checked = false;
        if let (ManifestKind::Index(entries), Some(platform)) = (&manifest.kind, &compiled.platform)
        {
            let Some(entry) = entries
                .iter()
                .find(|e| e.platform.as_ref().is_some_and(|p| platform.matches(p)))
            else {
                return Ok(None);
            };
            let digest = entry.digest.clone();
            manifest = self.manifest(repo, &digest, creds).await?;
            platform_checked = true;
        }
        let check_platform = compiled.platform.as_ref().filter(|_| !platform_checked);
        let (annotations, created_at) = match &manifest.kind {
            ManifestKind::Image(image) => {
                let config = self
                    .image_config(repo, &image.config.digest, creds, cache)
                    .await?;
                let wrong_platform = check_platform
                    .is_some_and(|p| config.os != p.os || config.architecture != p.architecture);
                if wrong_platform {
                    return Ok(None);
                }
                (image.annotations.clone(), config.created)
            }
            ManifestKind::Index(entries) => (
                BTreeMap::new(),
                self.newest_entry_date(repo, entries, creds, cache).await?,
            ),
        };
        Ok(Some(DiscoveredImage {
            tag: tag.to_string(),
            digest: manifest.digest,
            created_at,
            annotations,
        }))
    }

    /// An index without a chosen platform is as new as its newest image.
    async fn newest_entry_date(
        &self,
        repo: &ImageRepo,
        entries: &[IndexEntry],
        creds: Option<&Credentials>,
        cache: &ImageMetadataCache,
    ) -> Result<Option<String>, DiscoveryError> {
        let mut newest = None;
        for entry in entries.iter().take(MAX_INDEX_ENTRIES_DATED) {
            let manifest = self.manifest(repo, &entry.digest, creds).await?;
            if let ManifestKind::Image(image) = manifest.kind {
                let config = self
                    .image_config(repo, &image.config.digest, creds, cache)
                    .await?;
                newest = newest.max(config.created);
            }
        }
        Ok(newest)
    }

    async fn image_config(
        &self,
        repo: &ImageRepo,
        digest: &str,
        creds: Option<&Credentials>,
        cache: &ImageMetadataCache,
    ) -> Result<ImageConfig, DiscoveryError> {
        let cached = cache
            .configs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned();
        if let Some(config) = cached {
            return Ok(config);
        }
        let bytes = self.blob(repo, digest, MAX_CONFIG_BYTES, creds).await?;
        let config: ImageConfig = serde_json::from_slice(&bytes)
            .map_err(|e| DiscoveryError::Invalid(format!("image config {digest}: {e}")))?;
        cache
            .configs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest.to_string(), config.clone());
        Ok(config)
    }
}

impl ImageSelection {
    /// Reads a Warehouse `image` subscription (its JSON). Older field names are accepted with
    /// a deprecation warning each, as the seeds and public examples still use them:
    /// `semverConstraint` (renamed `constraint` in Kargo 1.9), `allowTags` (one regex) and
    /// `ignoreTags` (exact tags), which Kargo 1.11 rejects.
    pub fn from_subscription(
        sub: &serde_json::Value,
    ) -> Result<(Self, Vec<String>), DiscoveryError> {
        let fields = Fields { kind: "image", sub };
        let mut warnings = Vec::new();
        let mut selection = Self::default();
        let read = |selection: &mut Self, warnings: &mut Vec<String>| -> Result<(), String> {
            if let Some(strategy) = fields.string("imageSelectionStrategy")? {
                selection.strategy = strategy.parse()?;
            }
            selection.constraint = fields.string("constraint")?;
            if let Some(old) = fields.string("semverConstraint")? {
                warnings.push("image.semverConstraint is deprecated: use constraint".into());
                selection.constraint.get_or_insert(old);
            }
            if let Some(strict) = fields.boolean("strictSemvers")? {
                selection.strict_semvers = strict;
            }
            (selection.allow_tags_regexes, selection.ignore_tags_regexes) =
                fields.tag_filters(warnings)?;
            selection.platform = fields.string("platform")?;
            if let Some(cache_by_tag) = fields.boolean("cacheByTag")? {
                selection.cache_by_tag = cache_by_tag;
            }
            if let Some(limit) = fields.count("discoveryLimit")? {
                selection.discovery_limit = limit;
            }
            Ok(())
        };
        read(&mut selection, &mut warnings).map_err(DiscoveryError::Invalid)?;
        selection.compile()?;
        Ok((selection, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_errors_take_the_registry_disposition() {
        let not_found = RegistryError::NotFound {
            registry: "r".into(),
            what: "app".into(),
        };
        let table = [
            (
                DiscoveryError::Invalid("bad regex".into()),
                Disposition::GiveUp,
            ),
            (DiscoveryError::Registry(not_found), Disposition::Wait),
        ];
        for (error, expected) in table {
            assert_eq!(error.disposition(), expected, "{error}");
        }
    }
    use serde_json::json;

    #[test]
    fn reads_subscriptions_with_kargo_defaults() {
        let (s, warnings) = ImageSelection::from_subscription(&json!({
            "repoURL": "ghcr.io/akuity/guestbook",
            "constraint": "^1.0.0",
            "allowTagsRegexes": ["^v?\\d+\\.\\d+\\.\\d+$"],
        }))
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(s.strategy, ImageSelectionStrategy::SemVer);
        assert_eq!(s.constraint.as_deref(), Some("^1.0.0"));
        assert!(s.strict_semvers);
        assert_eq!(s.discovery_limit, 20);
    }

    #[test]
    fn accepts_deprecated_names_with_warnings() {
        let (s, warnings) = ImageSelection::from_subscription(&json!({
            "semverConstraint": "~1.2",
            "allowTags": "^1\\.",
            "ignoreTags": ["1.2.3", "1.2.x+weird"],
        }))
        .unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(s.constraint.as_deref(), Some("~1.2"));
        assert_eq!(s.allow_tags_regexes, ["^1\\."]);
        let compiled = s.compile().unwrap();
        assert!(!compiled.tag_allowed("1.2.3"));
        assert!(!compiled.tag_allowed("1.2.x+weird"));
        assert!(compiled.tag_allowed("1.2.4"));
        assert!(!compiled.tag_allowed("2.0.0"));
    }

    #[test]
    fn refuses_bad_settings_clearly() {
        for (sub, expected) in [
            (
                json!({"imageSelectionStrategy": "Newest"}),
                "unknown imageSelectionStrategy",
            ),
            (json!({"discoveryLimit": 0}), "outside 1..100"),
            (json!({"discoveryLimit": 101}), "outside 1..100"),
            (json!({"constraint": "^^1"}), "constraint"),
            (json!({"allowTagsRegexes": ["("]}), "allowTagsRegexes"),
            (
                json!({"imageSelectionStrategy": "Digest"}),
                "needs `constraint`",
            ),
            (json!({"platform": "linux"}), "invalid platform"),
            (json!({"strictSemvers": "yes"}), "strictSemvers"),
        ] {
            let err = ImageSelection::from_subscription(&sub)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{sub}: {err}");
        }
    }
}
