//! The cache of bare mirrors: cloning, incremental fetches and what they cost on the wire,
//! serialization, authentication, timeouts, `file://` repositories and crash recovery.

use std::time::{Duration, Instant};

use ferry_api::{Classify, Disposition};
use ferry_source::credentials::Credentials;
use ferry_source::git::{GitCache, GitError, GitOptions};
use ferry_testkit::git_server::{PASSWORD, USER};
use ferry_testkit::{GitServer, Seed};

use crate::support::{self, creds};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_then_fetch_incrementally() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    let first = seed.write("a.yaml", "1").commit("one");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let cache = support::cache(dir.path());
    let mirror = cache.repo(&server.url("app")).unwrap();

    let outcome = mirror.fetch(Some(&creds())).await.unwrap();
    assert!(outcome.cloned && outcome.changed);
    assert_eq!(
        mirror.resolve("main", None).await.unwrap().commit.as_str(),
        first
    );
    assert_eq!(
        mirror.default_branch().await.unwrap().as_deref(),
        Some("main")
    );

    let second = seed.write("a.yaml", "2").commit("two");
    seed.push();
    let outcome = mirror.fetch(Some(&creds())).await.unwrap();
    assert!(!outcome.cloned && outcome.changed);
    assert_eq!(
        mirror.resolve("main", None).await.unwrap().commit.as_str(),
        second
    );

    // The remote's default branch changes: a refresh picks it up.
    seed.git(&["branch", "trunk"]);
    seed.push();
    ferry_testkit::git(&seed.bare, &["symbolic-ref", "HEAD", "refs/heads/trunk"]);
    mirror.fetch(Some(&creds())).await.unwrap();
    assert_eq!(
        mirror.default_branch().await.unwrap().as_deref(),
        Some("main")
    );
    mirror.refresh_default_branch(Some(&creds())).await.unwrap();
    assert_eq!(
        mirror.default_branch().await.unwrap().as_deref(),
        Some("trunk")
    );

    // Another spelling of the same repository shares the mirror (scheme case, trailing `/`);
    // path case does not, since servers may treat `APP` and `app` as different repositories.
    let url = server.url("app");
    let same = cache
        .repo(&format!("{}/", url.replace("http://", "HTTP://")))
        .unwrap();
    assert_eq!(same.path(), mirror.path());
    let different = cache.repo(&server.url("APP")).unwrap();
    assert_ne!(different.path(), mirror.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_remote_costs_one_ref_advertisement_and_no_pack() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    seed.write("a.yaml", "1").commit("one");
    seed.tag("v1.0.0");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("packet-trace");
    let options = GitOptions {
        extra_env: vec![(
            "GIT_TRACE_PACKET".into(),
            trace.to_string_lossy().into_owned(),
        )],
        ..support::options()
    };
    let cache = GitCache::with_options(dir.path().join("cache"), options).unwrap();
    let mirror = cache.repo(&server.url("app")).unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    let clone_requests = server.seen();
    assert!(
        clone_requests.iter().all(|s| s.status == 200),
        "credentials go with the first request, no 401 round trip: {clone_requests:#?}"
    );
    server.forget();
    std::fs::remove_file(&trace).unwrap();

    let outcome = mirror.fetch(Some(&creds())).await.unwrap();
    assert!(!outcome.changed && !outcome.cloned);
    let seen = server.seen();
    let summary: Vec<(&str, &str, &str, Option<&str>, u16)> = seen
        .iter()
        .map(|s| {
            let command = s.command.as_deref();
            (
                s.method.as_str(),
                s.path.as_str(),
                s.query.as_str(),
                command,
                s.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("GET", "/info/refs", "service=git-upload-pack", None, 200),
            ("POST", "/git-upload-pack", "", Some("ls-refs"), 200),
        ],
        "an unchanged fetch is the capability request plus ls-refs, nothing else"
    );
    // The client's side agrees: it listed refs and never asked for a pack.
    let packets = std::fs::read_to_string(&trace).unwrap();
    assert!(packets.contains("command=ls-refs"), "{packets}");
    assert!(!packets.contains("command=fetch"), "{packets}");
    assert!(
        !packets.contains(PASSWORD),
        "the trace carries no credentials"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_branches_and_tags_are_pruned() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    seed.write("a", "1").commit("one");
    seed.git(&["branch", "feature"]);
    seed.tag("v1");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path()).repo(&server.url("app")).unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    mirror.resolve("feature", None).await.unwrap();
    mirror.resolve("v1", None).await.unwrap();

    seed.git(&["branch", "-D", "feature"]);
    seed.git(&["tag", "-d", "v1"]);
    seed.push();
    assert!(mirror.fetch(Some(&creds())).await.unwrap().changed);
    for gone in ["feature", "v1"] {
        assert!(matches!(
            mirror.resolve(gone, None).await,
            Err(GitError::RevisionNotFound { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_of_one_repo_are_serialized() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    seed.write("a", "1").commit("one");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let cache = support::cache(dir.path());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mirror = cache.repo(&server.url("app")).unwrap();
        tasks.push(tokio::spawn(async move {
            mirror.fetch(Some(&creds())).await.unwrap()
        }));
    }
    let mut cloned = 0;
    for task in tasks {
        if task.await.unwrap().cloned {
            cloned += 1;
        }
    }
    assert_eq!(cloned, 1, "one clone, three fetches after it");
    let seen = server.seen();
    let packs = seen
        .iter()
        .filter(|s| s.command.as_deref() == Some("fetch"))
        .count();
    assert_eq!(packs, 1, "only the clone transferred a pack: {seen:#?}");
    assert_eq!(seen.len(), 3 + 3 * 2, "{seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_server_times_out_and_other_repos_keep_going() {
    let server = GitServer::start().await;
    let slow_seed = Seed::new(&server, "slow2");
    slow_seed.write("a", "1").commit("one");
    slow_seed.push();
    let fast = Seed::new(&server, "fast");
    fast.write("a", "1").commit("one");
    fast.push();
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(3);
    let cache = GitCache::with_options(
        dir.path(),
        GitOptions {
            timeout,
            ..support::options()
        },
    )
    .unwrap();
    server.stall(Some("slow2"));
    let slow = cache.repo(&server.url("slow2")).unwrap();
    let started = Instant::now();
    let stalled = tokio::spawn(async move { slow.fetch(Some(&creds())).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A different repository fetches while the stalled one waits.
    let quick = cache.repo(&server.url("fast")).unwrap();
    quick.fetch(Some(&creds())).await.unwrap();
    assert!(!stalled.is_finished(), "the stalled fetch is still waiting");
    let fast_requests: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.repo == "fast")
        .collect();
    assert!(
        fast_requests.iter().all(|s| s.status == 200),
        "{fast_requests:#?}"
    );

    let err = stalled.await.unwrap().unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, GitError::Timeout { .. }), "{err}");
    assert_eq!(err.disposition(), Disposition::Retry);
    assert!(elapsed < timeout + Duration::from_secs(5), "{elapsed:?}");
    assert!(err.to_string().contains("timed out"), "{err}");

    // Lifted: the next fetch works (the killed clone left nothing behind).
    server.stall(None);
    let slow = cache.repo(&server.url("slow2")).unwrap();
    assert!(slow.fetch(Some(&creds())).await.unwrap().cloned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error_without_the_password() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    seed.write("a", "1").commit("one");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let cache = support::cache(dir.path());
    let mirror = cache.repo(&server.url("app")).unwrap();

    let wrong = Credentials::basic(USER, "wrong-CANARY-4411");
    let err = mirror.fetch(Some(&wrong)).await.unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::GiveUp);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
    assert!(err.to_string().contains("authentication"), "{err}");

    let err = mirror.fetch(None).await.unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");

    // A URL with a password in it: never used, never shown.
    let url = server
        .url("app")
        .replace("http://", "http://user:CANARY-9@");
    let mirror = cache.repo(&url).unwrap();
    assert!(!mirror.url().contains("CANARY"));
    let err = mirror.fetch(Some(&wrong)).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("CANARY"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_over_plain_http_need_an_opt_in() {
    let server = GitServer::start().await;
    Seed::new(&server, "app");
    let dir = tempfile::tempdir().unwrap();
    let cache = GitCache::new(dir.path()).unwrap();
    let err = cache
        .repo(&server.url("app"))
        .unwrap()
        .fetch(Some(&creds()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitError::InsecureCredentials { .. }),
        "{err:?}"
    );
    assert!(server.seen().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_urls_only_when_enabled() {
    let scratch = tempfile::tempdir().unwrap();
    let bare = scratch.path().join("local.git");
    let seed = Seed::at(&bare);
    let head = seed.write("a", "1").commit("one");
    seed.push();
    let url = format!("file://{}", bare.display());

    let dir = tempfile::tempdir().unwrap();
    let err = GitCache::new(dir.path()).unwrap().repo(&url).unwrap_err();
    assert!(matches!(err, GitError::InvalidUrl(_)), "{err:?}");

    let cache = GitCache::with_options(
        dir.path(),
        GitOptions {
            allow_file_urls: true,
            ..GitOptions::default()
        },
    )
    .unwrap();
    let mirror = cache.repo(&url).unwrap();
    assert!(mirror.fetch(None).await.unwrap().cloned);
    assert_eq!(
        mirror.resolve("HEAD", None).await.unwrap().commit.as_str(),
        head
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_leftovers_are_recovered() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "app");
    seed.write("a", "1").commit("one");
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror_dir = {
        let mirror = support::cache(dir.path()).repo(&server.url("app")).unwrap();
        mirror.fetch(Some(&creds())).await.unwrap();
        mirror.path().to_path_buf()
    };
    // What a killed process leaves: a half-done clone and a ref lock.
    let partial = mirror_dir.with_file_name(format!(
        "{}.partial-deadbeef",
        mirror_dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(partial.join("objects")).unwrap();
    std::fs::write(mirror_dir.join("refs/heads/main.lock"), "").unwrap();
    std::fs::write(mirror_dir.join("packed-refs.lock"), "").unwrap();
    let second = seed.write("a", "2").commit("two");
    seed.push();

    // The next process (a new cache on the same dir) cleans up and carries on.
    let mirror = support::cache(dir.path()).repo(&server.url("app")).unwrap();
    let outcome = mirror.fetch(Some(&creds())).await.unwrap();
    assert!(outcome.changed && !outcome.cloned);
    assert_eq!(
        mirror.resolve("main", None).await.unwrap().commit.as_str(),
        second
    );
    assert!(!partial.exists());
    assert!(!mirror_dir.join("refs/heads/main.lock").exists());

    // A mirror that lost its skeleton is cloned again.
    std::fs::remove_dir_all(mirror_dir.join("objects")).unwrap();
    let mirror = support::cache(dir.path()).repo(&server.url("app")).unwrap();
    assert!(mirror.fetch(Some(&creds())).await.unwrap().cloned);
    assert_eq!(
        mirror.resolve("main", None).await.unwrap().commit.as_str(),
        second
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_request_bodies_are_served() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "many");
    // Enough distinct tips that the clone's fetch request (one want per tip) exceeds git's
    // 1 KiB gzip threshold.
    for i in 0..60 {
        seed.write("n", &i.to_string()).commit(&format!("c{i}"));
        seed.tag(&format!("t{i}"));
    }
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let mirror = support::cache(dir.path())
        .repo(&server.url("many"))
        .unwrap();
    mirror.fetch(Some(&creds())).await.unwrap();
    assert_eq!(mirror.list_tags().await.unwrap().len(), 60);
    let gzipped: Vec<_> = server.seen().into_iter().filter(|s| s.gzip).collect();
    assert!(
        !gzipped.is_empty(),
        "git sent no gzip body: {:#?}",
        server.seen()
    );
    assert!(gzipped.iter().all(|s| s.status == 200), "{gzipped:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_before_any_fetch_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = GitCache::new(dir.path())
        .unwrap()
        .repo("https://example.invalid/never.git")
        .unwrap();
    let err = mirror.resolve("main", None).await.unwrap_err();
    assert!(matches!(err, GitError::NotFetched { .. }), "{err:?}");
}
