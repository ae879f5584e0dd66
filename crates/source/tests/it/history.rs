//! Discovery data: commits of a branch filtered by Kargo's include/exclude paths, and tags
//! with the dates the selection strategies sort by.

use chrono::{DateTime, Utc};
use ferry_source::git::{CommitQuery, GitError, PathFilter};
use ferry_testkit::{GitServer, Seed};

use crate::support::{self, creds};

fn query(include: &[&str], exclude: &[&str], limit: usize) -> CommitQuery {
    CommitQuery {
        filter: PathFilter::new(include, exclude).unwrap(),
        limit,
        ..CommitQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_newest_first_filtered_by_paths() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "mono");
    seed.write("apps/a/values.yaml", "1")
        .commit_at("a1", "2024-01-01T00:00:00Z");
    seed.write("apps/b/values.yaml", "1")
        .commit_at("b1", "2024-01-02T00:00:00Z");
    seed.write("docs/readme.md", "1")
        .commit_at("docs", "2024-01-03T00:00:00Z");
    seed.write("apps/a/README.md", "1")
        .commit_at("a-readme", "2024-01-04T00:00:00Z");
    seed.write("apps/a/values.yaml", "2")
        .write("docs/readme.md", "2")
        .commit_at("a2+docs", "2024-01-05T00:00:00Z");
    seed.git(&["checkout", "--quiet", "-b", "other"]);
    seed.write("other/x", "1")
        .commit_at("other", "2024-01-06T00:00:00Z");
    seed.git(&["checkout", "--quiet", "main"]);
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path())
        .repo(&server.url("mono"))
        .unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();

    let subjects = |commits: Vec<ferry_source::git::CommitInfo>| -> Vec<String> {
        commits.into_iter().map(|c| c.subject).collect()
    };
    // (includePaths, excludePaths, discoveryLimit, subjects expected)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], usize, &'a [&'a str]);
    let cases: &[Case] = &[
        (&[], &[], 20, &["a2+docs", "a-readme", "docs", "b1", "a1"]),
        (&[], &[], 2, &["a2+docs", "a-readme"]),
        (&["apps/a"], &[], 20, &["a2+docs", "a-readme", "a1"]),
        (&["apps/a/"], &["glob:**/*.md"], 20, &["a2+docs", "a1"]),
        (
            &["glob:apps/*/values.yaml"],
            &[],
            20,
            &["a2+docs", "b1", "a1"],
        ),
        (&["regex:^apps/b/"], &[], 20, &["b1"]),
        (
            &["regexp:\\.md$"],
            &[],
            20,
            &["a2+docs", "a-readme", "docs"],
        ),
        (&[], &["docs"], 20, &["a2+docs", "a-readme", "b1", "a1"]),
        (&["apps"], &["apps/a"], 20, &["b1"]),
        (&["apps/a"], &[], 1, &["a2+docs"]),
        (&["nothing/here"], &[], 20, &[]),
    ];
    for (include, exclude, limit, want) in cases {
        let got = subjects(
            mirror
                .list_commits(&query(include, exclude, *limit))
                .await
                .unwrap(),
        );
        assert_eq!(
            got, *want,
            "include {include:?} exclude {exclude:?} limit {limit}"
        );
    }

    let first = mirror
        .list_commits(&query(&[], &[], 1))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.author.to_string(), "Seed Author <author@example.com>");
    assert_eq!(first.committer.name, "Seed Committer");
    assert_eq!(
        first.committer_date.to_rfc3339(),
        "2024-01-05T00:00:00+00:00"
    );
    assert_eq!(first.id, mirror.resolve("main", None).await.unwrap().commit);

    let other = CommitQuery {
        branch: Some("other".into()),
        limit: 1,
        ..CommitQuery::default()
    };
    assert_eq!(
        subjects(mirror.list_commits(&other).await.unwrap()),
        ["other"]
    );

    let since = CommitQuery {
        since: Some("2024-01-03T12:00:00Z".parse::<DateTime<Utc>>().unwrap()),
        ..CommitQuery::default()
    };
    assert_eq!(
        subjects(mirror.list_commits(&since).await.unwrap()),
        ["a2+docs", "a-readme"]
    );

    let missing = CommitQuery {
        branch: Some("nope".into()),
        ..CommitQuery::default()
    };
    assert!(matches!(
        mirror.list_commits(&missing).await,
        Err(GitError::BranchNotFound { .. })
    ));
    let bad = CommitQuery {
        branch: Some("--all".into()),
        ..CommitQuery::default()
    };
    assert!(matches!(
        mirror.list_commits(&bad).await,
        Err(GitError::InvalidRevision { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_commits_count_their_own_changes_only() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "merges");
    seed.write("base", "1")
        .commit_at("base", "2024-01-01T00:00:00Z");
    seed.git(&["checkout", "--quiet", "-b", "feature"]);
    seed.write("apps/a/x", "1")
        .commit_at("feature work", "2024-01-02T00:00:00Z");
    seed.git(&["checkout", "--quiet", "main"]);
    seed.write("docs/y", "1")
        .commit_at("docs work", "2024-01-03T00:00:00Z");
    seed.git(&[
        "merge",
        "--quiet",
        "--no-edit",
        "-m",
        "merge feature",
        "feature",
    ]);
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path())
        .repo(&server.url("merges"))
        .unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    let got: Vec<String> = mirror
        .list_commits(&query(&["apps"], &[], 20))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.subject)
        .collect();
    // As `git show --name-only` sees it (Kargo): a clean merge changes nothing itself.
    assert_eq!(got, ["feature work"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_with_commits_and_creator_dates() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "tags");
    let c1 = seed
        .write("a", "1")
        .commit_at("first", "2024-01-01T10:00:00Z");
    seed.tag("light");
    let c2 = seed
        .write("a", "2")
        .commit_at("second", "2024-02-01T10:00:00Z");
    seed.annotated_tag(
        "v1.0.0",
        "Release 1.0.0\n\nNotes.",
        "2024-06-01T12:30:00+02:00",
    );
    seed.git(&["tag", "tree-tag", "HEAD^{tree}"]);
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path())
        .repo(&server.url("tags"))
        .unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();

    let tags = mirror.list_tags().await.unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["light", "v1.0.0"],
        "a tag of a tree is no candidate"
    );

    let light = &tags[0];
    assert_eq!(light.commit.as_str(), c1);
    assert!(!light.annotated);
    assert_eq!(light.creator_date.to_rfc3339(), "2024-01-01T10:00:00+00:00");
    assert_eq!(light.tagger, None);
    assert_eq!(light.subject, "first");
    assert_eq!(light.author.email, "author@example.com");

    let annotated = &tags[1];
    assert_eq!(annotated.commit.as_str(), c2);
    assert!(annotated.annotated);
    assert_eq!(
        annotated.creator_date.to_rfc3339(),
        "2024-06-01T12:30:00+02:00"
    );
    assert_eq!(
        annotated.tagger.as_ref().unwrap().to_string(),
        "Seed Committer <committer@example.com>"
    );
    assert_eq!(
        annotated.annotation.as_deref(),
        Some("Release 1.0.0\n\nNotes.")
    );
    assert_eq!(annotated.subject, "second");
    assert_eq!(annotated.committer.name, "Seed Committer");
}
