//! Kargo's commit selection strategies over a repository served by `git http-backend`.

use ferry_source::git::{CommitSelection, CommitSelectionStrategy};
use ferry_testkit::{GitServer, Seed};

use crate::support::{self, creds};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_commit_selection_strategy() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    // Tags whose creation order differs from their version and name order.
    let releases = [
        ("v1.0.0", "2024-01-01T00:00:00Z"),
        ("v1.2.0", "2024-02-01T00:00:00Z"),
        ("v2.0.0-rc.1", "2024-03-01T00:00:00Z"),
        ("v1.10.0", "2024-04-01T00:00:00Z"),
        ("1.3", "2024-05-01T00:00:00Z"),
        ("nightly", "2024-06-01T00:00:00Z"),
    ];
    for (tag, date) in releases {
        seed.write("version.txt", tag).commit_at(tag, date);
        seed.annotated_tag(tag, &format!("release {tag}"), date);
    }
    seed.write("apps/web/values.yaml", "x")
        .commit_at("web change", "2024-07-01T00:00:00Z");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path()).repo(&server.url("app")).unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();

    let pick = |selection: CommitSelection| {
        let mirror = mirror.clone();
        async move {
            mirror
                .discover_commits(&selection)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.tag.unwrap_or(c.subject))
                .collect::<Vec<_>>()
        }
    };
    let with = |strategy| CommitSelection {
        strategy,
        ..CommitSelection::default()
    };

    // NewestFromBranch: the default branch, newest first, with path filters and a limit.
    assert_eq!(
        pick(CommitSelection {
            discovery_limit: 2,
            ..CommitSelection::default()
        })
        .await,
        ["web change", "nightly"]
    );
    assert_eq!(
        pick(CommitSelection {
            include_paths: vec!["apps/".into()],
            ..CommitSelection::default()
        })
        .await,
        ["web change"]
    );
    // SemVer: strict by default (`1.3` is not), no prereleases without a constraint naming one.
    assert_eq!(
        pick(with(CommitSelectionStrategy::SemVer)).await,
        ["v1.10.0", "v1.2.0", "v1.0.0"]
    );
    assert_eq!(
        pick(CommitSelection {
            semver_constraint: Some(">=1.3.0-0".into()),
            strict_semvers: false,
            ..with(CommitSelectionStrategy::SemVer)
        })
        .await,
        ["v2.0.0-rc.1", "v1.10.0", "1.3"]
    );
    // Path filters judge each tag's commit: release commits touch only version.txt.
    for (include, exclude, expected) in [
        (
            vec!["version.txt"],
            vec![],
            vec!["v1.10.0", "v1.2.0", "v1.0.0"],
        ),
        (vec!["apps/"], vec![], vec![]),
        (vec![], vec!["glob:*.txt"], vec![]),
    ] {
        let got = pick(CommitSelection {
            include_paths: include.iter().map(|s| s.to_string()).collect(),
            exclude_paths: exclude.iter().map(|s| s.to_string()).collect(),
            ..with(CommitSelectionStrategy::SemVer)
        })
        .await;
        assert_eq!(got, expected, "include {include:?} exclude {exclude:?}");
    }
    assert_eq!(
        pick(with(CommitSelectionStrategy::Lexical)).await,
        [
            "v2.0.0-rc.1",
            "v1.2.0",
            "v1.10.0",
            "v1.0.0",
            "nightly",
            "1.3"
        ]
    );
    assert_eq!(
        pick(CommitSelection {
            ignore_tags_regexes: vec!["^nightly$".into()],
            discovery_limit: 3,
            ..with(CommitSelectionStrategy::NewestTag)
        })
        .await,
        ["1.3", "v1.10.0", "v2.0.0-rc.1"]
    );
    assert_eq!(
        pick(CommitSelection {
            allow_tags_regexes: vec![r"^v1\.".into()],
            since: Some("2024-01-15T00:00:00Z".parse().unwrap()),
            ..with(CommitSelectionStrategy::NewestTag)
        })
        .await,
        ["v1.10.0", "v1.2.0"]
    );

    for (selection, expected) in [
        (
            CommitSelection {
                discovery_limit: 0,
                ..CommitSelection::default()
            },
            "outside 1..100",
        ),
        (
            CommitSelection {
                semver_constraint: Some("^^".into()),
                ..with(CommitSelectionStrategy::SemVer)
            },
            "semverConstraint",
        ),
        (
            CommitSelection {
                allow_tags_regexes: vec!["(".into()],
                ..with(CommitSelectionStrategy::Lexical)
            },
            "allowTagsRegexes",
        ),
        (
            CommitSelection {
                branch: Some("main".into()),
                ..with(CommitSelectionStrategy::NewestTag)
            },
            "branch applies to NewestFromBranch",
        ),
    ] {
        let err = mirror
            .discover_commits(&selection)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
}
