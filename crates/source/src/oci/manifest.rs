//! The manifest documents a registry serves: single-image manifests (OCI and Docker v2) and
//! indexes of per-platform manifests (OCI index, Docker manifest list).

use serde::Deserialize;

pub(super) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// A manifest as fetched: its digest and what it holds.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// `sha256:...` of the bytes the registry served.
    pub digest: String,
    /// What the manifest holds.
    pub kind: ManifestKind,
}

/// A manifest or an index.
#[derive(Clone, Debug)]
pub enum ManifestKind {
    /// A single-image manifest (OCI or Docker v2).
    Image(ImageManifest),
    /// An index of per-platform manifests (OCI index or Docker manifest list).
    Index(Vec<IndexEntry>),
}

/// A single-image manifest.
#[derive(Clone, Debug, Deserialize)]
pub struct ImageManifest {
    /// The image config blob.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest's annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A reference to a blob or manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The referenced content's media type.
    #[serde(default)]
    pub media_type: String,
    /// The referenced content's digest (`sha256:...`).
    pub digest: String,
    /// The referenced content's size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// One manifest of an index.
#[derive(Clone, Debug, Deserialize)]
pub struct IndexEntry {
    /// The manifest's digest.
    pub digest: String,
    /// The platform it is built for, when the index says.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// `os/arch[/variant]`, as Kargo's `platform` field writes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Platform {
    /// The operating system (`linux`).
    pub os: String,
    /// The CPU architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// The CPU variant (`v8`), if any.
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Reads `os/arch[/variant]`, as Kargo's `platform` field writes it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric());
        if !parts.iter().all(|p| valid(p)) {
            return Err(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            ));
        }
        match parts.as_slice() {
            [os, arch] => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] => Ok(Self {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            )),
        }
    }

    /// Whether an index entry's platform is this one (a requested variant must match; an
    /// unrequested variant matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Parses a manifest body by its media type (the `Content-Type` header, or the document's
    /// own `mediaType` when the header is generic).
    pub(super) fn parse(digest: String, content_type: &str, body: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<Vec<IndexEntry>>,
        }
        let probe: Probe =
            serde_json::from_slice(body).map_err(|e| format!("manifest is not JSON: {e}"))?;
        let media_type = match content_type.split(';').next().unwrap_or_default().trim() {
            "" | "application/json" | "application/octet-stream" => {
                probe.media_type.clone().unwrap_or_default()
            }
            t => t.to_string(),
        };
        let is_index = media_type.ends_with("image.index.v1+json")
            || media_type.ends_with("manifest.list.v2+json")
            || (media_type.is_empty() && probe.manifests.is_some());
        let kind = if is_index {
            ManifestKind::Index(probe.manifests.unwrap_or_default())
        } else {
            let image: ImageManifest = serde_json::from_slice(body)
                .map_err(|e| format!("malformed image manifest: {e}"))?;
            ManifestKind::Image(image)
        };
        Ok(Self { digest, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_strings() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(
            Platform::parse("linux/amd64")
                .unwrap()
                .matches(&p.clone().with_arch("amd64"))
        );
        assert!(!p.matches(&Platform::parse("linux/arm64/v7").unwrap()));
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    impl Platform {
        fn with_arch(mut self, arch: &str) -> Self {
            self.architecture = arch.into();
            self
        }
    }

    #[test]
    fn index_and_image_manifests() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
            "manifests":[{"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let m = Manifest::parse("sha256:x".into(), "application/json", index).unwrap();
        assert!(matches!(m.kind, ManifestKind::Index(ref e) if e.len() == 1));
        let image = br#"{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:c","size":2},"layers":[]}"#;
        let m = Manifest::parse(
            "sha256:y".into(),
            "application/vnd.docker.distribution.manifest.v2+json",
            image,
        )
        .unwrap();
        assert!(matches!(m.kind, ManifestKind::Image(ref i) if i.config.digest == "sha256:c"));
        assert!(Manifest::parse("d".into(), "", b"not json").is_err());
    }
}
