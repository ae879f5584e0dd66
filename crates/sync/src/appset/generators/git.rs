//! The git generator, over one commit's tree (read through the renderer's Git cache, so
//! apps and generators of one repository share fetches).
//!
//! * `directories`: every directory of the tree but the root and hidden ones (a name that
//!   starts with `.`, with all below it), in a depth-first walk's order; a directory is kept
//!   when an include glob matches it and no exclude glob does. Globs are Go's `path.Match`:
//!   `*` and `?` stay within one path segment.
//! * `files`: the files any include pattern matches, less those an exclude pattern matches,
//!   sorted. Patterns are git pathspecs, as `git ls-files` reads them: `*` crosses `/`, and
//!   a directory names every file below it. Each file is YAML or JSON: a map is one
//!   parameter set, a list of maps one per element.

use std::collections::BTreeSet;

use ferry_api::argocd::{GitGenerator, GitPathItem};
use ferry_render::snapshot::Snapshot;
use ferry_render::tree::Tree as _;
use ferry_source::git::EntryKind;
use serde_json::{Map, Value};

use super::{GeneratorError, append_values, flatten};
use crate::appset::template::names::normalize;
use crate::appset::template::{Engine, Params};

/// How often a git generator looks again when `requeueAfterSeconds` is unset (Argo CD's
/// `ARGOCD_APPLICATIONSET_CONTROLLER_REQUEUE_AFTER`).
pub const DEFAULT_REQUEUE_SECONDS: u64 = 180;

/// The revision to read (`HEAD` when empty).
pub fn revision(generator: &GitGenerator) -> &str {
    if generator.revision.is_empty() {
        "HEAD"
    } else {
        &generator.revision
    }
}

/// The parameter sets of `generator` over `tree`.
pub fn params(
    generator: &GitGenerator,
    tree: &Snapshot,
    engine: Engine,
) -> Result<Vec<Params>, GeneratorError> {
    let mut sets = if !generator.directories.is_empty() {
        directories(tree, &generator.directories)
            .into_iter()
            .map(|dir| path_params(&dir, None, generator, engine))
            .collect()
    } else if !generator.files.is_empty() {
        file_params(generator, tree, engine)?
    } else {
        return Err(GeneratorError::Invalid(
            "ApplicationSet is empty".to_string(),
        ));
    };
    for set in &mut sets {
        append_values(set, &generator.values, engine)
            .map_err(|e| GeneratorError::Git(format!("failed to append templated values: {e}")))?;
    }
    Ok(sets)
}

/// The directories `items` select, in a depth-first walk's order.
pub fn directories(tree: &Snapshot, items: &[GitPathItem]) -> Vec<String> {
    let mut all: BTreeSet<&str> = BTreeSet::new();
    for entry in tree.git_tree().entries() {
        for (index, byte) in entry.path.bytes().enumerate() {
            if byte == b'/' {
                all.insert(&entry.path[..index]);
            }
        }
    }
    let mut dirs: Vec<String> = all
        .into_iter()
        .filter(|dir| !dir.split('/').any(|segment| segment.starts_with('.')))
        .filter(|dir| selected(items, |pattern| path_match(pattern, dir)))
        .map(str::to_string)
        .collect();
    dirs.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    dirs
}

/// Whether an include item matches and no exclude item does; a pattern that does not
/// parse matches nothing (Argo CD logs it and goes on).
fn selected(items: &[GitPathItem], matches: impl Fn(&str) -> Option<bool>) -> bool {
    let mut included = false;
    for item in items {
        if matches(&item.path).unwrap_or(false) {
            if item.exclude {
                return false;
            }
            included = true;
        }
    }
    included
}

fn path_params(path: &str, file: Option<&str>, generator: &GitGenerator, engine: Engine) -> Params {
    let basename = path.rsplit('/').next().unwrap_or(path).to_string();
    let segments: Vec<&str> = path.split('/').collect();
    let prefix = generator
        .path_param_prefix
        .as_deref()
        .filter(|p| !p.is_empty());
    let mut params = Params::new();
    if engine.nested() {
        let mut fields = Map::new();
        fields.insert("path".into(), path.into());
        fields.insert("basename".into(), basename.clone().into());
        fields.insert("basenameNormalized".into(), normalize(&basename).into());
        if let Some(file) = file {
            fields.insert("filename".into(), file.into());
            fields.insert("filenameNormalized".into(), normalize(file).into());
        }
        fields.insert("segments".into(), segments.clone().into());
        match prefix {
            Some(prefix) => {
                let mut nested = Map::new();
                nested.insert("path".into(), Value::Object(fields));
                params.insert(prefix.to_string(), Value::Object(nested));
            }
            None => {
                params.insert("path".into(), Value::Object(fields));
            }
        }
    } else {
        let key = |name: &str| match prefix {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name.to_string(),
        };
        params.insert(key("path"), path.into());
        params.insert(key("path.basename"), basename.clone().into());
        params.insert(key("path.basenameNormalized"), normalize(&basename).into());
        if let Some(file) = file {
            params.insert(key("path.filename"), file.into());
            params.insert(key("path.filenameNormalized"), normalize(file).into());
        }
        for (index, segment) in segments.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            params.insert(key(&format!("path[{index}]")), (*segment).into());
        }
    }
    params
}

fn file_params(
    generator: &GitGenerator,
    tree: &Snapshot,
    engine: Engine,
) -> Result<Vec<Params>, GeneratorError> {
    let mut files: Vec<&str> = tree
        .git_tree()
        .entries()
        .filter(|e| {
            matches!(
                e.kind,
                EntryKind::File | EntryKind::Executable | EntryKind::Symlink
            )
        })
        .map(|e| e.path.as_str())
        .filter(|path| selected(&generator.files, |pattern| pathspec_match(pattern, path)))
        .collect();
    files.sort_unstable();
    let mut sets = Vec::new();
    for file in files {
        let unreadable = |e: String| {
            GeneratorError::Git(format!(
                "unable to process file '{file}' from repository '{}': {e}",
                generator.repo_url
            ))
        };
        let bytes = tree.read(file).map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8_lossy(&bytes);
        let (dir, name) = match file.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => (".", file),
        };
        for content in
            parse_file(&text).map_err(|e| unreadable(format!("unable to parse file: {e}")))?
        {
            let mut params = if engine.nested() {
                content
            } else {
                flatten(&content)
            };
            params.extend(path_params(dir, Some(name), generator, engine));
            sets.push(params);
        }
    }
    Ok(sets)
}

/// A map (an empty file is one empty map) or a list of maps.
fn parse_file(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    if text.trim().is_empty() {
        return Ok(vec![Map::new()]);
    }
    match yaml_serde::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Object(map) => Ok(vec![map]),
        Value::Null => Ok(vec![Map::new()]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                other => Err(format!("a list element is {other}, not a map")),
            })
            .collect(),
        other => Err(format!(
            "the file holds {other}, not a map or a list of maps"
        )),
    }
}

/// Go's `path.Match`; `None` for a malformed pattern.
pub fn path_match(pattern: &str, name: &str) -> Option<bool> {
    glob(&chars(pattern), &chars(name), Dialect::Go)
}

/// A git pathspec as `git ls-files -- <pattern>` reads it: equal, a leading directory, or a
/// wildcard match where `*` also matches `/`.
pub fn pathspec_match(pattern: &str, path: &str) -> Option<bool> {
    let pattern = pattern.trim_start_matches("./");
    let dir = pattern.trim_end_matches('/');
    if path == pattern
        || (!dir.is_empty() && path.starts_with(dir) && path[dir.len()..].starts_with('/'))
    {
        return Some(true);
    }
    glob(&chars(pattern), &chars(path), Dialect::Git)
}

fn chars(text: &str) -> Vec<char> {
    text.chars().collect()
}

/// Whose wildcards: Go's `path.Match` (`*` and `?` stop at `/`, classes negate with `^`)
/// or git's (`fnmatch` without `FNM_PATHNAME`: they cross `/`, `!` negates too).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Go,
    Git,
}

/// Wildcard matching of characters: `*`, `?`, `[...]` (ranges, negation), `\\` escapes.
/// `None` when the pattern is malformed, wherever.
fn glob(pattern: &[char], name: &[char], dialect: Dialect) -> Option<bool> {
    validate(pattern, dialect)?;
    let crosses = |c: char| dialect == Dialect::Git || c != '/';
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was and how much of the name it had taken.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() || p < pattern.len() {
        if p < pattern.len() {
            let step = match pattern[p] {
                '*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                _ if n == name.len() => None,
                '?' if crosses(name[n]) => Some(p + 1),
                '?' => None,
                '[' => match class(pattern, p + 1, name[n], dialect)? {
                    (true, next) => Some(next),
                    (false, _) => None,
                },
                '\\' if pattern[p + 1] == name[n] => Some(p + 2),
                c if c != '\\' && c == name[n] => Some(p + 1),
                _ => None,
            };
            if let Some(next) = step {
                p = next;
                n += 1;
                continue;
            }
        }
        // Let the last `*` take one more character of the name, if it may.
        match star {
            Some((at, taken)) if taken < name.len() && crosses(name[taken]) => {
                star = Some((at, taken + 1));
                p = at + 1;
                n = taken + 1;
            }
            _ => return Some(false),
        }
    }
    Some(true)
}

/// Whether every class is closed and no escape dangles.
fn validate(pattern: &[char], dialect: Dialect) -> Option<()> {
    let mut i = 0;
    while i < pattern.len() {
        i = match pattern[i] {
            '\\' if i + 1 == pattern.len() => return None,
            '\\' => i + 2,
            '[' => class(pattern, i + 1, '\0', dialect)?.1,
            _ => i + 1,
        };
    }
    Some(())
}

/// Reads a class starting after `[`: whether `c` is in it, and where the pattern goes on;
/// `None` when it is not closed.
fn class(pattern: &[char], mut i: usize, c: char, dialect: Dialect) -> Option<(bool, usize)> {
    let negated = match pattern.get(i) {
        Some('^') => true,
        Some('!') => dialect == Dialect::Git,
        _ => false,
    };
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        if pattern.get(i) == Some(&']') && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let (lo, next) = class_char(pattern, i)?;
        let (hi, next) = match (pattern.get(next), pattern.get(next + 1)) {
            (Some('-'), Some(c)) if *c != ']' => class_char(pattern, next + 1)?,
            _ => (lo, next),
        };
        matched |= lo <= c && c <= hi;
        i = next;
    }
}

fn class_char(pattern: &[char], i: usize) -> Option<(char, usize)> {
    match pattern.get(i)? {
        '\\' => Some((*pattern.get(i + 1)?, i + 2)),
        c => Some((*c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_match_is_go_s() {
        for (pattern, name, expected) in [
            ("apps/*", "apps/guestbook", Some(true)),
            ("apps/*", "apps/guestbook/overlays", Some(false)),
            ("apps/*/*", "apps/guestbook/overlays", Some(true)),
            ("*", "apps", Some(true)),
            ("apps/guest?ook", "apps/guestbook", Some(true)),
            ("apps/[a-h]*", "apps/guestbook", Some(true)),
            ("apps/[^a-h]*", "apps/guestbook", Some(false)),
            ("apps/[!a-h]*", "apps/!x", Some(true)),
            ("apps/caf?", "apps/café", Some(true)),
            ("apps[/]x", "apps/x", Some(true)),
            ("apps/\\*", "apps/*", Some(true)),
            ("apps/**", "apps/a/b", Some(false)),
            ("apps/[", "apps/x", None),
            ("exact", "exact", Some(true)),
            ("exact", "exactly", Some(false)),
        ] {
            assert_eq!(path_match(pattern, name), expected, "{pattern} {name}");
        }
    }

    #[test]
    fn pathspecs_are_git_s() {
        for (pattern, path, expected) in [
            (
                "cluster-config/**/config.json",
                "cluster-config/engineering/dev/config.json",
                true,
            ),
            (
                "cluster-config/*/config.json",
                "cluster-config/a/b/config.json",
                true,
            ),
            ("apps", "apps/x/config.yaml", true),
            ("apps/", "apps/x/config.yaml", true),
            ("app", "apps/x/config.yaml", false),
            ("*.yaml", "deep/dir/file.yaml", true),
            ("config.json", "config.json", true),
        ] {
            assert_eq!(
                pathspec_match(pattern, path),
                Some(expected),
                "{pattern} {path}"
            );
        }
    }

    #[test]
    fn excludes_win_whatever_their_order() {
        let items = |list: &[(&str, bool)]| -> Vec<GitPathItem> {
            list.iter()
                .map(|(p, e)| GitPathItem {
                    path: p.to_string(),
                    exclude: *e,
                })
                .collect()
        };
        let matches =
            |dir: &str, items: &[GitPathItem]| selected(items, |pattern| path_match(pattern, dir));
        let set = items(&[("apps/skip", true), ("apps/*", false)]);
        assert!(!matches("apps/skip", &set));
        assert!(matches("apps/keep", &set));
        assert!(!matches("other", &set));
    }

    #[test]
    fn files_hold_a_map_or_a_list_of_maps() {
        assert_eq!(parse_file("").unwrap().len(), 1);
        assert_eq!(parse_file("a: 1").unwrap().len(), 1);
        assert_eq!(parse_file("[{\"a\": 1}, {\"a\": 2}]").unwrap().len(), 2);
        assert_eq!(parse_file("[]").unwrap().len(), 0);
        assert!(parse_file("- 1").is_err());
        assert!(parse_file("just text").is_err());
        assert!(parse_file("a: [").is_err());
    }
}
