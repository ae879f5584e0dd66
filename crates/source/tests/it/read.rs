//! Reading at a commit: files, directories, whole trees, every `targetRevision` form,
//! symlinks that must stay inside the tree, and size limits.

use ferry_source::git::{
    CommitId, EntryKind, FileContent, GitCache, GitError, GitOptions, RefKind, TagSelector,
};
use ferry_testkit::{GitServer, Seed};

use crate::support::{self, creds};

async fn fetched(
    server: &GitServer,
    name: &str,
    dir: &std::path::Path,
) -> ferry_source::git::Mirror {
    let mirror = support::cache(dir).repo(&server.url(name)).unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    mirror
}

fn id(s: &str) -> CommitId {
    CommitId::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_files_and_directories_at_a_commit() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    let first = seed.write("a.yaml", "one").commit("one");
    seed.write("a.yaml", "two")
        .write("apps/x/b.yaml", "b")
        .write("apps/x/deep/c.yaml", "c")
        .write("apps/xy/d.yaml", "d");
    let second = seed.commit("two");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = fetched(&server, "app", dir.path()).await;

    let at = |c: &str| id(c);
    assert_eq!(
        mirror.read_file(&at(&first), "a.yaml").await.unwrap(),
        FileContent::Bytes(b"one".to_vec())
    );
    assert_eq!(
        mirror.read_file(&at(&second), "./a.yaml").await.unwrap(),
        FileContent::Bytes(b"two".to_vec())
    );
    let (tree, files) = mirror.read_dir(&at(&second), "apps/x").await.unwrap();
    let got: Vec<(&str, &FileContent)> = files
        .iter()
        .map(|f| (f.path.as_str(), &f.content))
        .collect();
    assert_eq!(
        got,
        [
            ("apps/x/b.yaml", &FileContent::Bytes(b"b".to_vec())),
            ("apps/x/deep/c.yaml", &FileContent::Bytes(b"c".to_vec())),
        ]
    );
    assert_eq!(tree.len(), 4);
    assert!(tree.is_dir("apps/x/deep"));
    let old = mirror.tree(&at(&first)).await.unwrap();
    assert_eq!(
        old.entries().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ["a.yaml"]
    );

    for (path, want_path_error) in [
        ("../x", true),
        ("/etc/passwd", true),
        ("a/../../x", true),
        (".git/config", true),
        ("missing.yaml", false),
    ] {
        let err = mirror.read_file(&at(&second), path).await.unwrap_err();
        if want_path_error {
            assert!(
                matches!(err, GitError::InvalidPath { .. }),
                "{path}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, GitError::PathNotFound { .. }),
                "{path}: {err:?}"
            );
        }
    }
    let err = mirror.read_file(&at(&second), "apps").await.unwrap_err();
    assert!(matches!(err, GitError::InvalidPath { .. }), "{err:?}");
    let err = mirror.read_dir(&at(&second), "a.yaml").await.unwrap_err();
    assert!(matches!(err, GitError::InvalidPath { .. }), "{err:?}");
    let err = mirror
        .read_dir(&at(&second), "apps/nope")
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::PathNotFound { .. }), "{err:?}");
    let unknown = id(&"0".repeat(40));
    let err = mirror.read_file(&unknown, "a.yaml").await.unwrap_err();
    assert!(matches!(err, GitError::PathNotFound { .. }), "{err:?}");
}

/// A test stand-in for the semver module: `N.x` picks the highest `vN.*` tag by numbers.
struct MajorSelector;

impl TagSelector for MajorSelector {
    fn select<'t>(&self, constraint: &str, tags: &[&'t str]) -> Option<&'t str> {
        let major = constraint.strip_suffix(".x")?;
        let prefix = format!("v{major}.");
        let version =
            |t: &str| -> Vec<u64> { t[1..].split('.').filter_map(|p| p.parse().ok()).collect() };
        tags.iter()
            .copied()
            .filter(|t| t.starts_with(&prefix))
            .max_by_key(|t| version(t))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_every_target_revision_form() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    let c1 = seed.write("a", "1").commit("one");
    seed.tag("v1.2.0");
    let c2 = seed.write("a", "2").commit("two");
    seed.annotated_tag("v1.10.0", "release 1.10", "2024-03-01T00:00:00Z");
    seed.git(&["branch", "release", &c1]);
    // A tag named like a branch: the branch wins, as in Argo CD.
    seed.git(&["tag", "release", &c2]);
    let c3 = seed.write("a", "3").commit("three");
    seed.tag("v2.0.0");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = fetched(&server, "app", dir.path()).await;
    let semver: &dyn TagSelector = &MajorSelector;

    let cases: &[(&str, &str, RefKind, Option<&str>)] = &[
        ("HEAD", &c3, RefKind::Head, Some("refs/heads/main")),
        ("", &c3, RefKind::Head, Some("refs/heads/main")),
        ("main", &c3, RefKind::Branch, Some("refs/heads/main")),
        (
            "refs/heads/main",
            &c3,
            RefKind::Branch,
            Some("refs/heads/main"),
        ),
        ("release", &c1, RefKind::Branch, Some("refs/heads/release")),
        ("v1.2.0", &c1, RefKind::Tag, Some("refs/tags/v1.2.0")),
        ("v1.10.0", &c2, RefKind::Tag, Some("refs/tags/v1.10.0")),
        (
            "refs/tags/release",
            &c2,
            RefKind::Tag,
            Some("refs/tags/release"),
        ),
        ("1.x", &c2, RefKind::Version, Some("refs/tags/v1.10.0")),
        ("2.x", &c3, RefKind::Version, Some("refs/tags/v2.0.0")),
        (&c1, &c1, RefKind::Commit, None),
        (&c2[..7], &c2, RefKind::Commit, None),
        (&c2[..12], &c2, RefKind::Commit, None),
    ];
    for (revision, commit, kind, reference) in cases {
        let resolved = mirror.resolve(revision, Some(semver)).await.unwrap();
        assert_eq!(resolved.commit.as_str(), *commit, "{revision:?}");
        assert_eq!(&resolved.kind, kind, "{revision:?}");
        assert_eq!(resolved.reference.as_deref(), *reference, "{revision:?}");
    }
    for missing in [
        "nope",
        "3.x",
        "-h",
        "--output=x",
        "a..b",
        &"f".repeat(40),
        "abcdef0",
    ] {
        let err = mirror.resolve(missing, Some(semver)).await.unwrap_err();
        assert!(
            matches!(err, GitError::RevisionNotFound { .. }),
            "{missing}: {err:?}"
        );
    }
    // Without a selector, a constraint is just a name that is not there.
    assert!(mirror.resolve("1.x", None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_are_targets_and_resolving_them_stays_in_the_tree() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "links");
    seed.write("base/values.yaml", "replicas: 1")
        .symlink("app/values.yaml", "../base/values.yaml")
        .symlink("app/base", "../base")
        .symlink("passwd", "/etc/passwd")
        .symlink("escape", "../../../../etc/passwd")
        .symlink("up", "..")
        .symlink("dangling", "nowhere.yaml")
        .symlink("loop-a", "loop-b")
        .symlink("loop-b", "loop-a");
    let c = id(&seed.commit("links"));
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = fetched(&server, "links", dir.path()).await;

    assert_eq!(
        mirror.read_file(&c, "app/values.yaml").await.unwrap(),
        FileContent::Symlink("../base/values.yaml".into())
    );
    assert_eq!(
        mirror.read_file(&c, "passwd").await.unwrap(),
        FileContent::Symlink("/etc/passwd".into())
    );
    for inside in ["app/values.yaml", "app/base/values.yaml"] {
        assert_eq!(
            mirror.read_file_resolved(&c, inside).await.unwrap(),
            b"replicas: 1",
            "{inside}"
        );
    }
    for outside in ["passwd", "escape", "up/x"] {
        let err = mirror.read_file_resolved(&c, outside).await.unwrap_err();
        assert!(
            matches!(err, GitError::OutOfBoundsSymlink { .. }),
            "{outside}: {err:?}"
        );
        assert!(err.to_string().contains("out-of-bounds symlink"), "{err}");
    }
    for broken in ["dangling", "loop-a"] {
        let err = mirror.read_file_resolved(&c, broken).await.unwrap_err();
        assert!(
            matches!(err, GitError::BrokenSymlink { .. }),
            "{broken}: {err:?}"
        );
    }

    let (tree, files) = mirror.read_dir(&c, "").await.unwrap();
    let link = files.iter().find(|f| f.path == "passwd").unwrap();
    assert_eq!(link.kind, EntryKind::Symlink);
    assert_eq!(link.content, FileContent::Symlink("/etc/passwd".into()));
    assert_eq!(
        tree.resolve("app/base/values.yaml").unwrap(),
        "base/values.yaml"
    );
    assert!(matches!(
        tree.resolve("escape"),
        Err(GitError::OutOfBoundsSymlink { .. })
    ));
    assert!(matches!(
        tree.resolve("up/x"),
        Err(GitError::OutOfBoundsSymlink { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_size_limited() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "big");
    seed.write("small", "ok").write("large", &"x".repeat(1000));
    let c = id(&seed.commit("sizes"));
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let cache = GitCache::with_options(
        dir.path(),
        GitOptions {
            max_file_bytes: 100,
            max_read_bytes: 500,
            ..support::options()
        },
    )
    .unwrap();
    let mirror = cache.repo(&server.url("big")).unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    assert_eq!(
        mirror.read_file(&c, "small").await.unwrap(),
        FileContent::Bytes(b"ok".to_vec())
    );
    for err in [
        mirror.read_file(&c, "large").await.unwrap_err(),
        mirror.read_file_resolved(&c, "large").await.unwrap_err(),
        mirror.read_dir(&c, "").await.unwrap_err(),
    ] {
        assert!(matches!(err, GitError::LimitExceeded { .. }), "{err:?}");
    }
}

/// Reads a 2,000-file tree in one call (one `cat-file --batch`); the 10,000-file timing
/// against `git archive` is in `benches/git.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_large_tree_in_one_call() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "large");
    for i in 0..2_000 {
        let path = seed
            .work
            .join(format!("apps/app{:03}/file{i:05}.yaml", i % 100));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("index: {i}\nname: file{i}\n")).unwrap();
    }
    let c = id(&seed.commit("two thousand"));
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = fetched(&server, "large", dir.path()).await;
    let (tree, files) = mirror.read_dir(&c, "").await.unwrap();
    assert_eq!(tree.len(), 2_000);
    assert_eq!(files.len(), 2_000);
    let f = files
        .iter()
        .find(|f| f.path == "apps/app042/file01242.yaml")
        .unwrap();
    assert_eq!(
        f.content,
        FileContent::Bytes(b"index: 1242\nname: file1242\n".to_vec())
    );
}
