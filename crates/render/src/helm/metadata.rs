//! What Ferry reads of a chart's own files: the name, version and dependency list of
//! `Chart.yaml` (for apiVersion v1 charts, the list lives in `requirements.yaml`), the lock file
//! (`Chart.lock` / `requirements.lock`), and Helm's digest over the two (`HashReq`), which
//! `helm dependency build` compares with the lock's `digest` before trusting the lock.
//!
//! The digest is SHA-256 over Go's `encoding/json` rendering of `[requirements, locked]`, so the
//! dependency type below serializes exactly as Helm's `chart.Dependency` does: the same field
//! order, the same `omitempty` fields, and Go's escaping of `<`, `>`, `&`, U+2028 and U+2029.

use ferry_source::digest::sha256_hex;
use serde::{Deserialize, Serialize};

/// One entry of `dependencies:` (Helm's `chart.Dependency`), in Helm's JSON field order.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub(crate) struct Dependency {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_values: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    #[serde(default, rename = "depends-on", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl Dependency {
    /// Helm's `Validate` cleans these strings when it loads a chart, before hashing.
    fn sanitize(&mut self) {
        self.name = sanitize(&self.name);
        self.version = sanitize(&self.version);
        self.repository = sanitize(&self.repository);
        self.condition = sanitize(&self.condition);
        for tag in &mut self.tags {
            *tag = sanitize(tag);
        }
        for name in &mut self.depends_on {
            *name = sanitize(name);
        }
    }
}

/// Helm's `sanitizeString`: whitespace becomes a space, other unprintable characters go.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// The parts of `Chart.yaml` dependency handling needs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartYaml {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Debug, Default, Deserialize)]
struct RequirementsYaml {
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

/// A lock file: the digest of (requirements, locked versions) and the locked versions.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Lock {
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

/// A chart's metadata with its dependencies and lock, from its files.
#[derive(Debug)]
pub(crate) struct ChartMetadata {
    /// `v1` or `v2`.
    pub api_version: String,
    pub version: String,
    pub dependencies: Vec<Dependency>,
    pub lock: Option<Lock>,
    /// `Chart.lock`, or `requirements.lock` for apiVersion v1.
    pub lock_file: &'static str,
}

/// Reads `Chart.yaml` (and `requirements.yaml` / the lock file) through `read`, which returns
/// `Ok(None)` for a file that does not exist. Errors name the file.
pub(crate) fn load<E>(
    mut read: impl FnMut(&str) -> Result<Option<Vec<u8>>, E>,
) -> Result<Option<ChartMetadata>, LoadError<E>> {
    let Some(bytes) = read("Chart.yaml").map_err(LoadError::Read)? else {
        return Ok(None);
    };
    let chart: ChartYaml = parse("Chart.yaml", &bytes)?;
    let v1 = chart.api_version == "v1";
    let (mut dependencies, lock_file) = if v1 {
        let deps = match read("requirements.yaml").map_err(LoadError::Read)? {
            Some(bytes) => parse::<RequirementsYaml, E>("requirements.yaml", &bytes)?.dependencies,
            None => Vec::new(),
        };
        (deps, "requirements.lock")
    } else {
        (chart.dependencies, "Chart.lock")
    };
    for dependency in &mut dependencies {
        dependency.sanitize();
    }
    let lock = match read(lock_file).map_err(LoadError::Read)? {
        Some(bytes) => {
            let mut lock: Lock = parse(lock_file, &bytes)?;
            for dependency in &mut lock.dependencies {
                dependency.sanitize();
            }
            Some(lock)
        }
        None => None,
    };
    Ok(Some(ChartMetadata {
        api_version: chart.api_version,
        version: chart.version,
        dependencies,
        lock,
        lock_file,
    }))
}

#[derive(Debug)]
pub(crate) enum LoadError<E> {
    Read(E),
    Malformed { file: &'static str, detail: String },
}

fn parse<T: serde::de::DeserializeOwned, E>(
    file: &'static str,
    bytes: &[u8],
) -> Result<T, LoadError<E>> {
    yaml_serde::from_slice(bytes).map_err(|e| LoadError::Malformed {
        file,
        detail: e.to_string(),
    })
}

/// Helm's `HashReq`: the digest a lock file written for `requirements` carries.
pub(crate) fn hash_requirements(requirements: &[Dependency], locked: &[Dependency]) -> String {
    digest(&go_json(&(requirements, locked)))
}

/// Helm's `HashV2Req`: the digest Helm 2 wrote into `requirements.lock` (apiVersion v1 only).
pub(crate) fn hash_requirements_v2(requirements: &[Dependency]) -> String {
    #[derive(Serialize)]
    struct V2<'a> {
        dependencies: &'a [Dependency],
    }
    digest(&go_json(&V2 {
        dependencies: requirements,
    }))
}

fn digest(json: &str) -> String {
    format!("sha256:{}", sha256_hex(json.as_bytes()))
}

/// `encoding/json.Marshal`'s text: serde_json's compact form (object keys of values sorted, as
/// Go sorts map keys) with Go's HTML-safe escapes. These characters only occur inside strings.
fn go_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str, version: &str, repository: &str) -> Dependency {
        Dependency {
            name: name.into(),
            version: version.into(),
            repository: repository.into(),
            ..Dependency::default()
        }
    }

    #[test]
    fn serializes_like_go_encoding_json() {
        let mut d = dep("redis", "^1.0 <2", "https://charts.example/a&b");
        d.alias = "cache".into();
        d.condition = "cache.enabled".into();
        d.import_values = vec![serde_json::json!({"parent": "p", "child": "c"})];
        assert_eq!(
            go_json(&(vec![d], Vec::<Dependency>::new())),
            r#"[[{"name":"redis","version":"^1.0 \u003c2","repository":"https://charts.example/a\u0026b","condition":"cache.enabled","import-values":[{"child":"c","parent":"p"}],"alias":"cache"}],[]]"#
        );
        let bare = Dependency::default();
        assert_eq!(go_json(&bare), r#"{"name":"","repository":""}"#);
    }

    #[test]
    fn loads_v1_requirements_and_sanitizes() {
        let files = [
            ("Chart.yaml", "apiVersion: v1\nname: old\nversion: 1.0.0\n"),
            (
                "requirements.yaml",
                "dependencies:\n- name: \"a\\tb\"\n  version: 1.x\n  repository: \"@stable\"\n",
            ),
            ("requirements.lock", "digest: sha256:00\ndependencies: []\n"),
        ];
        let meta = load(|name| {
            Ok::<_, ()>(
                files
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, b)| b.as_bytes().to_vec()),
            )
        })
        .unwrap()
        .unwrap();
        assert_eq!(meta.lock_file, "requirements.lock");
        assert_eq!(meta.dependencies[0].name, "a b");
        assert_eq!(meta.lock.unwrap().digest, "sha256:00");
        let malformed = load(|_| Ok::<_, ()>(Some(b"name: [".to_vec())));
        assert!(matches!(
            malformed,
            Err(LoadError::Malformed {
                file: "Chart.yaml",
                ..
            })
        ));
    }
}
