//! The write path: clone, commit, push with retries, conflicts, concurrency, recovery
//! from crashes, and paths that must not leave the work dir.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use ferry_api::{Classify, Disposition};
use ferry_source::credentials::Credentials;
use ferry_source::git::{
    Checkout, GitError, GitWriter, IfMissing, PushOptions, Signature, Worktree,
};
use ferry_testkit::git_server::USER;
use ferry_testkit::{GitServer, Seed};

use crate::support::{self, creds};

fn author() -> Signature {
    Signature::new("Kargo Promoter", "promoter@example.com")
}

fn fast_push() -> PushOptions {
    PushOptions {
        backoff: Duration::from_millis(20),
        ..PushOptions::default()
    }
}

async fn clone_main(writer: &GitWriter, server: &GitServer, repo: &str, dir: &Path) -> Worktree {
    writer
        .checkout(
            &server.url(repo),
            Some(&creds()),
            dir,
            &Checkout::branch("main"),
        )
        .await
        .unwrap()
}

fn seeded(server: &GitServer, name: &str) -> Seed {
    let seed = Seed::new(server, name);
    seed.write("values.yaml", "image: v1\n")
        .write("README.md", "hello\n");
    seed.commit("initial");
    seed.push();
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_write_commit_push() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let tree = clone_main(
        &writer,
        &server,
        "gitops",
        &scratch.path().join("work/repo"),
    )
    .await;
    assert_eq!(tree.branch(), Some("main"));
    assert_eq!(tree.read_file("values.yaml").await.unwrap(), b"image: v1\n");

    tree.write_file("values.yaml", b"image: v2\n")
        .await
        .unwrap();
    tree.write_file("apps/new/kustomization.yaml", b"resources: []\n")
        .await
        .unwrap();
    tree.remove("README.md").await.unwrap();
    let committer = Signature::new("Ferry", "ferry@example.com");
    let commit = tree
        .commit("promote v2\n\nbody", &author(), Some(&committer))
        .await
        .unwrap();
    assert!(commit.created);
    let again = tree
        .commit("nothing changed", &author(), None)
        .await
        .unwrap();
    assert_eq!(again.id, commit.id);
    assert!(!again.created, "no empty commits");

    let pushed = tree.push(&fast_push()).await.unwrap();
    assert_eq!(pushed.commit, commit.id);
    assert_eq!(pushed.attempts, 1);
    assert_eq!(pushed.branch, "main");
    assert_eq!(seed.remote_head("main"), commit.id.as_str());
    assert_eq!(seed.remote_file("main", "values.yaml"), "image: v2");
    let who = seed.git(&[
        "--git-dir",
        seed.bare.to_str().unwrap(),
        "log",
        "-1",
        "--format=%an <%ae>|%cn <%ce>|%B",
    ]);
    assert_eq!(
        who,
        "Kargo Promoter <promoter@example.com>|Ferry <ferry@example.com>|promote v2\n\nbody"
    );

    // Pushing to another (new) branch: Kargo's generateTargetBranch.
    let generated = PushOptions::generated_target_branch("abc").unwrap();
    assert_eq!(generated, "kargo/promotion/abc");
    assert!(PushOptions::generated_target_branch("a..b").is_err());
    let other = tree
        .push(&PushOptions {
            target_branch: Some(generated),
            ..fast_push()
        })
        .await
        .unwrap();
    assert_eq!(
        seed.remote_head("kargo/promotion/abc"),
        other.commit.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_branches_fail_or_are_created() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let url = server.url("gitops");

    let err = writer
        .checkout(
            &url,
            Some(&creds()),
            &scratch.path().join("a"),
            &Checkout::branch("stage/prod"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::BranchNotFound { .. }), "{err:?}");
    assert!(!scratch.path().join("a").exists());

    // An orphan: empty tree, first commit without parents.
    let orphan = writer
        .checkout(
            &url,
            Some(&creds()),
            &scratch.path().join("b"),
            &Checkout::Branch {
                name: "stage/rendered".into(),
                if_missing: IfMissing::Orphan,
            },
        )
        .await
        .unwrap();
    assert!(orphan.head().await.unwrap().is_none());
    assert!(!orphan.path().join("values.yaml").exists());
    orphan
        .write_file("manifests.yaml", b"kind: List\n")
        .await
        .unwrap();
    orphan.commit("render", &author(), None).await.unwrap();
    orphan.push(&fast_push()).await.unwrap();
    assert_eq!(seed.remote_subjects("stage/rendered"), ["render"]);

    // Off the default branch.
    let branched = writer
        .checkout(
            &url,
            Some(&creds()),
            &scratch.path().join("c"),
            &Checkout::Branch {
                name: "stage/test".into(),
                if_missing: IfMissing::FromDefault,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        branched.read_file("values.yaml").await.unwrap(),
        b"image: v1\n"
    );
    branched
        .write_file("values.yaml", b"image: test\n")
        .await
        .unwrap();
    branched.commit("test", &author(), None).await.unwrap();
    branched.push(&fast_push()).await.unwrap();
    assert_eq!(seed.remote_subjects("stage/test"), ["test", "initial"]);

    // The default branch, a tag and a commit, detached.
    let default = writer
        .checkout(
            &url,
            Some(&creds()),
            &scratch.path().join("d"),
            &Checkout::DefaultBranch,
        )
        .await
        .unwrap();
    assert_eq!(default.branch(), Some("main"));
    seed.git(&["tag", "v1"]);
    seed.push();
    let main = seed.remote_head("main");
    for (name, checkout) in [
        ("e", Checkout::Tag("v1".into())),
        ("f", Checkout::Commit(main.clone())),
    ] {
        let detached = writer
            .checkout(&url, Some(&creds()), &scratch.path().join(name), &checkout)
            .await
            .unwrap();
        assert_eq!(detached.branch(), None);
        assert_eq!(detached.head().await.unwrap().unwrap().as_str(), main);
        let err = detached.push(&fast_push()).await.unwrap_err();
        assert!(matches!(err, GitError::Workdir { .. }), "{err:?}");
    }
    for bad in [
        Checkout::branch("-x"),
        Checkout::branch("a..b"),
        Checkout::Commit("main".into()),
    ] {
        let err = writer
            .checkout(&url, Some(&creds()), &scratch.path().join("g"), &bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GitError::InvalidRevision { .. }),
            "{bad:?}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_to_one_branch_both_land() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let a = clone_main(&writer, &server, "gitops", &scratch.path().join("a")).await;
    let b = clone_main(&writer, &server, "gitops", &scratch.path().join("b")).await;
    a.write_file("apps/a.yaml", b"a\n").await.unwrap();
    b.write_file("apps/b.yaml", b"b\n").await.unwrap();
    a.commit("promote a", &author(), None).await.unwrap();
    b.commit("promote b", &author(), None).await.unwrap();

    let options = fast_push();
    let (pa, pb) = tokio::join!(a.push(&options), b.push(&options));
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    let mut attempts = [pa.attempts, pb.attempts];
    attempts.sort();
    assert_eq!(attempts, [1, 2], "the second rebased once");
    let mut subjects = seed.remote_subjects("main");
    subjects.sort();
    assert_eq!(subjects, ["initial", "promote a", "promote b"]);
    assert_eq!(seed.remote_file("main", "apps/a.yaml"), "a");
    assert_eq!(seed.remote_file("main", "apps/b.yaml"), "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_from_separate_processes_retry_until_they_land() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    // Separate writers share no locks, like two replicas: the retry loop is the only guard.
    let mut trees = Vec::new();
    for i in 0..3 {
        let writer = support::writer(&scratch.path().join(format!("state{i}")));
        let tree = clone_main(
            &writer,
            &server,
            "gitops",
            &scratch.path().join(format!("w{i}")),
        )
        .await;
        tree.write_file(&format!("apps/{i}.yaml"), b"x\n")
            .await
            .unwrap();
        tree.commit(&format!("promote {i}"), &author(), None)
            .await
            .unwrap();
        trees.push(tree);
    }
    let options = fast_push();
    let results = futures_join(&trees, &options).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let mut subjects = seed.remote_subjects("main");
    subjects.sort();
    assert_eq!(subjects, ["initial", "promote 0", "promote 1", "promote 2"]);
}

async fn futures_join(
    trees: &[Worktree],
    options: &PushOptions,
) -> Vec<Result<ferry_source::git::PushOutcome, GitError>> {
    let (a, b, c) = tokio::join!(
        trees[0].push(options),
        trees[1].push(options),
        trees[2].push(options)
    );
    vec![a, b, c]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_conflict_is_terminal_and_names_the_files() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let a = clone_main(&writer, &server, "gitops", &scratch.path().join("a")).await;
    let b = clone_main(&writer, &server, "gitops", &scratch.path().join("b")).await;
    a.write_file("values.yaml", b"image: from-a\n")
        .await
        .unwrap();
    b.write_file("values.yaml", b"image: from-b\n")
        .await
        .unwrap();
    b.write_file("other.yaml", b"fine\n").await.unwrap();
    a.commit("a", &author(), None).await.unwrap();
    let b_commit = b.commit("b", &author(), None).await.unwrap();
    a.push(&fast_push()).await.unwrap();

    let err = b.push(&fast_push()).await.unwrap_err();
    match &err {
        GitError::Conflict { branch, files } => {
            assert_eq!(branch, "main");
            assert_eq!(files, &["values.yaml"]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(err.disposition(), Disposition::GiveUp);
    assert!(err.to_string().contains("values.yaml"), "{err}");
    // The work dir is back where it was: no rebase in progress, our commit intact.
    assert!(!b.path().join(".git/rebase-merge").exists());
    assert_eq!(b.head().await.unwrap().unwrap(), b_commit.id);
    assert_eq!(seed.remote_subjects("main"), ["a", "initial"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_rejection_is_terminal() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let hook = seed.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let tree = clone_main(&writer, &server, "gitops", &scratch.path().join("a")).await;
    tree.write_file("values.yaml", b"image: v3\n")
        .await
        .unwrap();
    tree.commit("v3", &author(), None).await.unwrap();
    let err = tree.push(&fast_push()).await.unwrap_err();
    assert!(matches!(err, GitError::PushRejected { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::GiveUp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_on_clone_and_push() {
    let server = GitServer::start().await;
    seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let wrong = Credentials::basic(USER, "bad-CANARY-pw");
    let err = writer
        .checkout(
            &server.url("gitops"),
            Some(&wrong),
            &scratch.path().join("a"),
            &Checkout::branch("main"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("CANARY"));

    let tree = clone_main(&writer, &server, "gitops", &scratch.path().join("b")).await;
    let with_wrong = writer
        .open(&server.url("gitops"), Some(&wrong), tree.path())
        .await
        .unwrap();
    with_wrong.write_file("x", b"x").await.unwrap();
    with_wrong.commit("x", &author(), None).await.unwrap();
    let err = with_wrong.push(&fast_push()).await.unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("CANARY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_index_lock_and_interrupted_clone_are_recovered() {
    let server = GitServer::start().await;
    let seed = seeded(&server, "gitops");
    let scratch = tempfile::tempdir().unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let dir = scratch.path().join("repo");
    let tree = clone_main(&writer, &server, "gitops", &dir).await;
    drop(tree);

    // A crash mid-commit leaves index.lock; the next process re-opens the work dir.
    std::fs::write(dir.join(".git/index.lock"), "").unwrap();
    let reopened = writer
        .open(&server.url("gitops"), Some(&creds()), &dir)
        .await
        .unwrap();
    assert_eq!(reopened.branch(), Some("main"));
    std::fs::write(dir.join(".git/index.lock"), "").unwrap();
    reopened
        .write_file("values.yaml", b"image: v9\n")
        .await
        .unwrap();
    reopened
        .commit("after crash", &author(), None)
        .await
        .unwrap();
    reopened.push(&fast_push()).await.unwrap();
    assert_eq!(seed.remote_file("main", "values.yaml"), "image: v9");

    // A crash mid-clone leaves the partial dir; a clone over an old worktree starts fresh.
    let partial = scratch.path().join("repo.ferry-partial");
    std::fs::create_dir_all(partial.join(".git")).unwrap();
    std::fs::write(dir.join("stray.txt"), "left over").unwrap();
    let fresh = clone_main(&writer, &server, "gitops", &dir).await;
    assert!(!partial.exists());
    assert!(!fresh.path().join("stray.txt").exists());
    assert_eq!(
        fresh.read_file("values.yaml").await.unwrap(),
        b"image: v9\n"
    );

    // A dir with anything else in it is never deleted.
    let foreign = scratch.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious"), "keep").unwrap();
    let err = writer
        .checkout(
            &server.url("gitops"),
            Some(&creds()),
            &foreign,
            &Checkout::branch("main"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Workdir { .. }), "{err:?}");
    assert!(foreign.join("precious").exists());

    // Opening something that is not a worktree of this repository is refused.
    assert!(
        writer
            .open(&server.url("gitops"), None, &foreign)
            .await
            .is_err()
    );
    assert!(writer.open(&server.url("other"), None, &dir).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_never_leave_the_work_dir() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "evil");
    seed.write("ok.yaml", "ok")
        .symlink("out", "../..")
        .symlink("link.yaml", "/etc/hostname");
    seed.commit("evil links");
    seed.push();
    let scratch = tempfile::tempdir().unwrap();
    let sentinel = scratch.path().join("sentinel");
    std::fs::write(&sentinel, "untouched").unwrap();
    let writer = support::writer(&scratch.path().join("state"));
    let tree = clone_main(&writer, &server, "evil", &scratch.path().join("w/repo")).await;

    for path in [
        "../sentinel",
        "/tmp/x",
        ".git/config",
        "a/../../x",
        "out/sentinel",
        "link.yaml",
        "",
    ] {
        let err = tree.write_file(path, b"pwned").await.unwrap_err();
        assert!(
            matches!(
                err,
                GitError::InvalidPath { .. } | GitError::OutOfBoundsSymlink { .. }
            ),
            "{path:?}: {err:?}"
        );
        assert!(tree.read_file(path).await.is_err(), "{path:?}");
    }
    assert!(tree.remove("out/sentinel").await.is_err());
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "untouched");

    // Clearing removes links themselves, never what they point at.
    tree.clear().await.unwrap();
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "untouched");
    let left: Vec<_> = std::fs::read_dir(tree.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [".git"]);
    tree.write_file("rendered.yaml", b"kind: List\n")
        .await
        .unwrap();
    tree.commit("cleared", &author(), None).await.unwrap();
    tree.push(&fast_push()).await.unwrap();
    assert_eq!(seed.remote_file("main", "rendered.yaml"), "kind: List");
}
