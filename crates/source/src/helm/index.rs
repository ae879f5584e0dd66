//! A Helm repository's `index.yaml`: chart name → published versions with their download
//! URLs and digests.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A parsed `index.yaml`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoIndex {
    /// The index format's version; only `v1` is defined.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Chart name → its published versions, as the file lists them.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
}

/// One published chart version.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartVersion {
    /// The chart's name.
    #[serde(default)]
    pub name: String,
    /// The chart's version, as published.
    pub version: String,
    /// The version of the application the chart deploys (`appVersion`).
    #[serde(default)]
    pub app_version: Option<String>,
    /// Where the `.tgz` can be downloaded, relative to the index or absolute.
    #[serde(default)]
    pub urls: Vec<String>,
    /// sha256 hex of the `.tgz`.
    #[serde(default)]
    pub digest: Option<String>,
    /// When the version was published (RFC 3339), if the index says.
    #[serde(default)]
    pub created: Option<String>,
}

impl ChartVersion {
    /// This version with its digest normalized (lowercase hex, no `sha256:`).
    pub fn location(&self) -> super::ChartLocation {
        super::ChartLocation {
            version: self.version.clone(),
            digest: self
                .digest
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| d.trim_start_matches("sha256:").to_ascii_lowercase()),
        }
    }
}

impl RepoIndex {
    /// Reads an `index.yaml`; the message says what does not parse.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let index: Self =
            yaml_serde::from_slice(bytes).map_err(|e| format!("malformed index.yaml: {e}"))?;
        if index.api_version.as_deref().is_some_and(|v| v != "v1") {
            return Err(format!(
                "index.yaml has apiVersion {:?}; only v1 is defined",
                index.api_version.as_deref().unwrap_or_default()
            ));
        }
        Ok(index)
    }

    /// The versions of `chart` as the index lists them; empty when there is no such chart.
    pub fn versions(&self, chart: &str) -> &[ChartVersion] {
        self.entries
            .get(chart)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_helm_repo_index_writes() {
        let yaml = br#"apiVersion: v1
entries:
  podinfo:
  - apiVersion: v2
    appVersion: 6.5.0
    created: "2024-01-01T00:00:00Z"
    digest: abc123
    name: podinfo
    urls:
    - podinfo-6.5.0.tgz
    version: 6.5.0
generated: "2024-01-01T00:00:00Z"
"#;
        let index = RepoIndex::parse(yaml).unwrap();
        let versions = index.versions("podinfo");
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].urls, ["podinfo-6.5.0.tgz"]);
        assert!(index.versions("other").is_empty());
    }

    #[test]
    fn malformed_and_hostile_indexes_are_clear_errors() {
        assert!(
            RepoIndex::parse(b"entries: [1, 2")
                .unwrap_err()
                .contains("malformed index.yaml")
        );
        assert!(
            RepoIndex::parse(b"apiVersion: v2\nentries: {}\n")
                .unwrap_err()
                .contains("apiVersion")
        );
        let deep = format!("entries: {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(RepoIndex::parse(deep.as_bytes()).is_err());
        let bomb =
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
entries: {x: *h}\n";
        assert!(RepoIndex::parse(bomb).is_err());
    }
}
