//! Kargo's Git discovery: which commits a Warehouse `git` subscription selects, newest first
//! (`commitSelectionStrategy` NewestFromBranch, SemVer, Lexical, NewestTag; `branch`,
//! `semverConstraint`, `strictSemvers`, tag regexes, `includePaths`/`excludePaths`, `since`,
//! `discoveryLimit`).

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Serialize;

use super::error::{GitError, GitResult};
use super::history::CommitQuery;
use super::mirror::Mirror;
use super::path_filter::PathFilter;
use crate::semver::{Constraint, Version};
use crate::subscription::Fields;

/// Kargo's `commitSelectionStrategy`: how a `git` subscription picks commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum CommitSelectionStrategy {
    /// The newest commits of a branch (Kargo's default).
    #[default]
    NewestFromBranch,
    /// Tags read as semantic versions, highest first, within `semverConstraint`.
    SemVer,
    /// Tags in reverse lexical order.
    Lexical,
    /// Tags by creation date, newest first.
    NewestTag,
}

impl std::str::FromStr for CommitSelectionStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "NewestFromBranch" => Ok(Self::NewestFromBranch),
            "SemVer" => Ok(Self::SemVer),
            "Lexical" => Ok(Self::Lexical),
            "NewestTag" => Ok(Self::NewestTag),
            other => Err(format!(
                "unknown commitSelectionStrategy {other:?}: NewestFromBranch, SemVer, Lexical or NewestTag"
            )),
        }
    }
}

/// The settings of one `git` subscription, with Kargo's defaults.
#[derive(Clone, Debug)]
pub struct CommitSelection {
    /// The strategy (`commitSelectionStrategy`).
    pub strategy: CommitSelectionStrategy,
    /// NewestFromBranch only; the remote's default branch when unset.
    pub branch: Option<String>,
    /// A semver range tags must fall in (SemVer only; `semverConstraint`).
    pub semver_constraint: Option<String>,
    /// Refuse tags that are not strict semantic versions (`strictSemvers`; Kargo's default is on).
    pub strict_semvers: bool,
    /// Tags must match one of these (`allowTagsRegexes`).
    pub allow_tags_regexes: Vec<String>,
    /// Tags matching any of these are skipped (`ignoreTagsRegexes`).
    pub ignore_tags_regexes: Vec<String>,
    /// Only commits touching one of these paths count (`includePaths`: directories, `glob:`, `regex:`).
    pub include_paths: Vec<String>,
    /// Commits touching only these paths are skipped (`excludePaths`).
    pub exclude_paths: Vec<String>,
    /// Commits or tags older than this are skipped (`since`).
    pub since: Option<DateTime<Utc>>,
    /// At most this many commits are selected (`discoveryLimit`; Kargo's default is 20).
    pub discovery_limit: usize,
}

impl Default for CommitSelection {
    fn default() -> Self {
        Self {
            strategy: CommitSelectionStrategy::NewestFromBranch,
            branch: None,
            semver_constraint: None,
            strict_semvers: true,
            allow_tags_regexes: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            include_paths: Vec::new(),
            exclude_paths: Vec::new(),
            since: None,
            discovery_limit: 20,
        }
    }
}

impl CommitSelection {
    /// Reads a Warehouse `git` subscription (its JSON), with the deprecated `allowTags` and
    /// `ignoreTags` accepted and a warning for each. `expressionFilter` is left to the caller
    /// (the promotion engine evaluates expressions over the candidates returned here).
    pub fn from_subscription(sub: &serde_json::Value) -> GitResult<(Self, Vec<String>)> {
        let fields = Fields { kind: "git", sub };
        let mut warnings = Vec::new();
        let mut selection = Self::default();
        let read = |selection: &mut Self, warnings: &mut Vec<String>| -> Result<(), String> {
            if let Some(strategy) = fields.string("commitSelectionStrategy")? {
                selection.strategy = strategy.parse()?;
            }
            selection.branch = fields.string("branch")?;
            selection.semver_constraint = fields.string("semverConstraint")?;
            if let Some(strict) = fields.boolean("strictSemvers")? {
                selection.strict_semvers = strict;
            }
            (selection.allow_tags_regexes, selection.ignore_tags_regexes) =
                fields.tag_filters(warnings)?;
            selection.include_paths = fields.strings("includePaths")?;
            selection.exclude_paths = fields.strings("excludePaths")?;
            if let Some(since) = fields.string("since")? {
                let since = DateTime::parse_from_rfc3339(&since)
                    .map_err(|e| format!("since must be an RFC 3339 time: {e}"))?;
                selection.since = Some(since.with_timezone(&Utc));
            }
            if let Some(limit) = fields.count("discoveryLimit")? {
                selection.discovery_limit = limit;
            }
            Ok(())
        };
        read(&mut selection, &mut warnings).map_err(invalid)?;
        Ok((selection, warnings))
    }
}

/// One selected commit, as Kargo records it in `discoveredArtifacts.git[].commits[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredCommit {
    /// The full commit ID.
    pub id: String,
    /// The branch, for NewestFromBranch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The tag, for tag strategies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit message's first line.
    pub subject: String,
    /// The author, as `Name <email>`.
    pub author: String,
    /// The committer, as `Name <email>`.
    pub committer: String,
    /// Commit date for branch commits; tagger date for annotated tags.
    pub creator_date: String,
}

fn invalid(message: String) -> GitError {
    GitError::InvalidSubscription(message)
}

impl Mirror {
    /// The commits a subscription selects, best first, at most `discovery_limit`. The mirror
    /// must have been fetched.
    pub async fn discover_commits(
        &self,
        selection: &CommitSelection,
    ) -> GitResult<Vec<DiscoveredCommit>> {
        if !(1..=100).contains(&selection.discovery_limit) {
            return Err(invalid(format!(
                "discoveryLimit {} is outside 1..100",
                selection.discovery_limit
            )));
        }
        let filter = PathFilter::new(&selection.include_paths, &selection.exclude_paths)?;
        if selection.strategy == CommitSelectionStrategy::NewestFromBranch {
            let branch = match &selection.branch {
                Some(b) => Some(b.clone()),
                None => self.default_branch().await?,
            };
            let commits = self
                .list_commits(&CommitQuery {
                    branch: branch.clone(),
                    filter,
                    limit: selection.discovery_limit,
                    since: selection.since,
                })
                .await?;
            return Ok(commits
                .into_iter()
                .map(|c| DiscoveredCommit {
                    id: c.id.to_string(),
                    branch: branch.clone(),
                    tag: None,
                    subject: c.subject,
                    author: c.author.to_string(),
                    committer: c.committer.to_string(),
                    creator_date: c.committer_date.to_rfc3339(),
                })
                .collect());
        }
        if selection.branch.is_some() {
            return Err(invalid(format!(
                "branch applies to NewestFromBranch only, not {:?}",
                selection.strategy
            )));
        }
        let regexes = |patterns: &[String], field: &str| {
            patterns
                .iter()
                .map(|p| Regex::new(p).map_err(|e| invalid(format!("{field} {p:?}: {e}"))))
                .collect::<GitResult<Vec<_>>>()
        };
        let allow = regexes(&selection.allow_tags_regexes, "allowTagsRegexes")?;
        let ignore = regexes(&selection.ignore_tags_regexes, "ignoreTagsRegexes")?;
        let constraint = match selection
            .semver_constraint
            .as_deref()
            .filter(|c| !c.is_empty())
        {
            Some(c) => {
                Some(Constraint::parse(c).map_err(|e| invalid(format!("semverConstraint: {e}")))?)
            }
            None => None,
        };
        let mut tags: Vec<_> = self
            .list_tags()
            .await?
            .into_iter()
            .filter(|t| allow.is_empty() || allow.iter().any(|r| r.is_match(&t.name)))
            .filter(|t| !ignore.iter().any(|r| r.is_match(&t.name)))
            .filter(|t| selection.since.is_none_or(|since| t.creator_date >= since))
            .collect();
        match selection.strategy {
            CommitSelectionStrategy::SemVer => {
                let parse = if selection.strict_semvers {
                    Version::parse_strict
                } else {
                    Version::parse
                };
                let mut versioned: Vec<_> = tags
                    .into_iter()
                    .filter_map(|t| parse(&t.name).ok().map(|v| (v, t)))
                    .filter(|(v, _)| match &constraint {
                        Some(c) => c.matches(v),
                        None => !v.is_prerelease(),
                    })
                    .collect();
                versioned.sort_by(|a, b| b.0.cmp(&a.0));
                tags = versioned.into_iter().map(|(_, t)| t).collect();
            }
            CommitSelectionStrategy::Lexical => tags.sort_by(|a, b| b.name.cmp(&a.name)),
            CommitSelectionStrategy::NewestTag => tags.sort_by(|a, b| {
                b.creator_date
                    .cmp(&a.creator_date)
                    .then_with(|| b.name.cmp(&a.name))
            }),
            CommitSelectionStrategy::NewestFromBranch => {}
        }
        // With path filters a tag counts only if its commit touches an included path (as
        // NewestFromBranch judges commits); checked in selection order until the limit.
        let mut selected = Vec::new();
        for tag in tags {
            if selected.len() == selection.discovery_limit {
                break;
            }
            if !filter.is_empty() && !filter.matches_any(&self.changed_paths(&tag.commit).await?) {
                continue;
            }
            selected.push(DiscoveredCommit {
                id: tag.commit.to_string(),
                branch: None,
                tag: Some(tag.name),
                subject: tag.subject,
                author: tag.author.to_string(),
                committer: tag.committer.to_string(),
                creator_date: tag.creator_date.to_rfc3339(),
            });
        }
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_git_subscriptions_with_deprecated_names() {
        let (s, warnings) = CommitSelection::from_subscription(&json!({
            "repoURL": "https://github.com/example/repo",
            "commitSelectionStrategy": "SemVer",
            "semverConstraint": "^1",
            "allowTags": "^v",
            "ignoreTags": ["v1.0.0"],
            "includePaths": ["apps/"],
            "since": "2024-01-01T00:00:00Z",
            "discoveryLimit": 5,
        }))
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(s.strategy, CommitSelectionStrategy::SemVer);
        assert_eq!(s.allow_tags_regexes, ["^v"]);
        assert_eq!(s.ignore_tags_regexes, ["^v1\\.0\\.0$"]);
        assert_eq!(s.discovery_limit, 5);
        assert!(s.strict_semvers);
        for (sub, expected) in [
            (
                json!({"commitSelectionStrategy": "Newest"}),
                "unknown commitSelectionStrategy",
            ),
            (json!({"since": "yesterday"}), "RFC 3339"),
            (
                json!({"includePaths": "apps/"}),
                "includePaths must be a list",
            ),
        ] {
            let err = CommitSelection::from_subscription(&sub)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
