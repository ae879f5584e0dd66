//! Kargo's `includePaths` / `excludePaths` for git subscriptions.
//!
//! A pattern is a base directory (plain: the path itself or anything under it), `glob:`
//! (doublestar: `*` and `?` stop at `/`, `**` spans directories) or `regex:` / `regexp:`
//! (unanchored, on the whole path). A commit qualifies when any path it changed is
//! included (everything is, without include patterns) and not excluded — Kargo's
//! `matchesPathsFilters`.

use super::error::{GitError, GitResult};

/// Compiled include and exclude patterns. The default filter lets every commit through.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    include: Vec<Matcher>,
    exclude: Vec<Matcher>,
}

#[derive(Debug, Clone)]
enum Matcher {
    BaseDir(String),
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

impl PathFilter {
    /// Compiles include and exclude patterns; a pattern that does not parse is
    /// [`GitError::InvalidPattern`].
    pub fn new<S: AsRef<str>>(include: &[S], exclude: &[S]) -> GitResult<Self> {
        let parse = |patterns: &[S]| {
            patterns
                .iter()
                .map(|p| Matcher::parse(p.as_ref()))
                .collect::<GitResult<Vec<_>>>()
        };
        Ok(PathFilter {
            include: parse(include)?,
            exclude: parse(exclude)?,
        })
    }

    /// No patterns at all: every commit qualifies without looking at its paths.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether this one changed path is included and not excluded.
    pub fn matches_path(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|m| m.matches(path)))
            && !self.exclude.iter().any(|m| m.matches(path))
    }

    /// Whether a commit that changed `paths` qualifies.
    pub fn matches_any<S: AsRef<str>>(&self, paths: &[S]) -> bool {
        self.is_empty() || paths.iter().any(|p| self.matches_path(p.as_ref()))
    }
}

impl Matcher {
    fn parse(pattern: &str) -> GitResult<Self> {
        let invalid = |reason: String| GitError::InvalidPattern {
            pattern: pattern.to_string(),
            reason,
        };
        if let Some(glob) = pattern.strip_prefix("glob:") {
            let glob = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(e.kind().to_string()))?;
            return Ok(Matcher::Glob(glob.compile_matcher()));
        }
        if let Some(re) = pattern
            .strip_prefix("regex:")
            .or_else(|| pattern.strip_prefix("regexp:"))
        {
            let re = regex::RegexBuilder::new(re)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Matcher::Regex(re));
        }
        // Go's filepath.Rel(base, path) without "..": base cleaned, then a prefix by component.
        let base: Vec<&str> = pattern
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if pattern.starts_with('/') {
            // Rel of an absolute base and a relative path fails: matches nothing.
            return Ok(Matcher::BaseDir("/".into()));
        }
        Ok(Matcher::BaseDir(base.join("/")))
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::BaseDir(base) if base == "/" => false,
            Matcher::BaseDir(base) if base.is_empty() => true,
            Matcher::BaseDir(base) => {
                path == base
                    || path
                        .strip_prefix(base.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            Matcher::Glob(glob) => glob.is_match(path),
            Matcher::Regex(re) => re.is_match(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_kargo_reads_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("apps/guestbook", "apps/guestbook/values.yaml", true),
            ("apps/guestbook", "apps/guestbook", true),
            ("apps/guestbook/", "apps/guestbook/a/b.yaml", true),
            ("./apps/guestbook", "apps/guestbook/a.yaml", true),
            ("apps/guestbook", "apps/guestbook2/a.yaml", false),
            ("apps/guestbook", "apps/a.yaml", false),
            (".", "anything/at/all", true),
            ("/apps", "apps/x", false),
            ("glob:apps/*/values.yaml", "apps/x/values.yaml", true),
            ("glob:apps/*/values.yaml", "apps/x/y/values.yaml", false),
            ("glob:apps/**/values.yaml", "apps/x/y/values.yaml", true),
            ("glob:**/*.md", "docs/a/b.md", true),
            ("glob:**/*.md", "README.md", true),
            ("glob:*.md", "docs/README.md", false),
            ("glob:apps/{a,b}/*", "apps/b/x", true),
            ("glob:apps/[ab]/?", "apps/a/x", true),
            ("regex:^apps/.*\\.yaml$", "apps/x/y.yaml", true),
            ("regexp:guest", "apps/guestbook/x", true),
            ("regex:^docs/", "apps/docs/x", false),
            ("regex:(?i)^APPS/", "apps/x", true),
        ];
        for (pattern, path, want) in cases {
            let filter = PathFilter::new(&[*pattern], &[]).unwrap();
            assert_eq!(filter.matches_path(path), *want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn include_and_exclude_per_path() {
        let f = PathFilter::new(&["apps"], &["glob:**/*.md"]).unwrap();
        assert!(f.matches_any(&["apps/a.yaml"]));
        assert!(!f.matches_any(&["apps/README.md"]));
        assert!(f.matches_any(&["apps/README.md", "apps/a.yaml"]));
        assert!(!f.matches_any(&["docs/a.yaml"]));
        assert!(!f.matches_any::<&str>(&[]));
        let only_exclude = PathFilter::new(&[], &["docs"]).unwrap();
        assert!(only_exclude.matches_any(&["docs/a", "src/b"]));
        assert!(!only_exclude.matches_any(&["docs/a"]));
        assert!(PathFilter::default().matches_any::<&str>(&[]));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(PathFilter::new(&["regex:("], &[]).is_err());
        assert!(PathFilter::new(&["glob:a[b"], &[]).is_err());
    }
}
