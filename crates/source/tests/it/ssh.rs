//! Git over SSH against a real `sshd` with `git-shell`: a mirror fetched and a worktree pushed
//! with an `sshPrivateKey`, host keys checked against known hosts, and the failures a user
//! meets (a wrong key, an unknown host key) reported as what they are, never naming the key.

use std::time::Duration;

use ferry_api::{Classify, Disposition};
use ferry_source::credentials::{ArgoCdRepoType, ArgoCdRequest, Credentials, argocd_credentials};
use ferry_source::git::{
    Checkout, GitCache, GitError, GitOptions, GitWriter, PushOptions, Signature,
};
use ferry_testkit::Seed;
use ferry_testkit::sshd::{KeyPair, SshServer, keygen};
use serde_json::json;

fn options(known_hosts: Option<String>) -> GitOptions {
    GitOptions {
        timeout: Duration::from_secs(30),
        ssh_known_hosts: known_hosts,
        ..GitOptions::default()
    }
}

struct Fixture {
    server: SshServer,
    client: KeyPair,
    keys: tempfile::TempDir,
    seed: Seed,
    head: String,
}

fn fixture() -> Fixture {
    let keys = tempfile::tempdir().unwrap();
    let client = keygen(keys.path(), "client");
    let server = SshServer::start(&client);
    let seed = Seed::at(&server.repo_path("gitops"));
    let head = seed
        .write("apps/web/kustomization.yaml", "resources: []\n")
        .commit("initial");
    seed.push();
    Fixture {
        server,
        client,
        keys,
        seed,
        head,
    }
}

/// No file in the git client's home holds the key once calls are done.
fn assert_no_key_left(home: &std::path::Path, key: &str) {
    for entry in walk(home) {
        if let Ok(text) = std::fs::read_to_string(&entry) {
            assert!(
                !text.contains(key.trim()),
                "{} holds the key",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_push_with_a_private_key_from_an_argo_cd_secret() {
    let f = fixture();
    // The Secret as Argo CD users write it: scp-style would need port 22, so ssh://.
    let secret = json!({
        "metadata": {"name": "repo", "namespace": "argocd",
                     "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"url": f.server.url("gitops"), "sshPrivateKey": f.client.private},
    });
    let request = ArgoCdRequest {
        url: &f.server.url("gitops"),
        repo_type: ArgoCdRepoType::Git,
        project: None,
    };
    let creds = argocd_credentials(&[secret], &request)
        .unwrap()
        .found
        .unwrap()
        .credentials;
    assert!(!format!("{creds:?}").contains("PRIVATE KEY"));

    let state = tempfile::tempdir().unwrap();
    let cache = GitCache::with_options(
        state.path().join("cache"),
        options(Some(f.server.known_hosts())),
    )
    .unwrap();
    let mirror = cache.repo(&f.server.url("gitops")).unwrap();
    let outcome = mirror.fetch(Some(&creds)).await.unwrap();
    assert!(outcome.cloned);
    let resolved = mirror.resolve("main", None).await.unwrap();
    assert_eq!(resolved.commit.as_str(), f.head);

    let writer = GitWriter::with_options(
        state.path().join("writer"),
        options(Some(f.server.known_hosts())),
    )
    .unwrap();
    let tree = writer
        .checkout(
            &f.server.url("gitops"),
            Some(&creds),
            &state.path().join("work"),
            &Checkout::branch("main"),
        )
        .await
        .unwrap();
    tree.write_file("apps/web/values.yaml", b"image: v2\n")
        .await
        .unwrap();
    let commit = tree
        .commit(
            "promote v2",
            &Signature::new("Ferry", "ferry@example.com"),
            None,
        )
        .await
        .unwrap();
    tree.push(&PushOptions::default()).await.unwrap();
    assert_eq!(f.seed.remote_head("main"), commit.id.as_str());
    assert_no_key_left(state.path(), &f.client.private);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_an_authentication_error() {
    let f = fixture();
    let wrong = keygen(f.keys.path(), "wrong");
    let state = tempfile::tempdir().unwrap();
    let cache =
        GitCache::with_options(state.path(), options(Some(f.server.known_hosts()))).unwrap();
    let mirror = cache.repo(&f.server.url("gitops")).unwrap();
    let err = mirror
        .fetch(Some(&Credentials::ssh_key(&wrong.private)))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err}");
    assert!(
        err.to_string().contains("Permission denied (publickey)"),
        "{err}"
    );
    assert_eq!(err.disposition(), Disposition::GiveUp);
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
    // No key at all: the same.
    let err = mirror.fetch(None).await.unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_unless_the_repository_is_insecure() {
    let f = fixture();
    let key = Credentials::ssh_key(&f.client.private);
    let state = tempfile::tempdir().unwrap();

    // No known hosts at all, then known hosts that record another key for this server.
    let other = keygen(f.keys.path(), "impostor");
    let mut impostor = other.public.split_whitespace();
    let (kind, value) = (impostor.next().unwrap(), impostor.next().unwrap());
    let mismatched = format!("[127.0.0.1]:{} {kind} {value}\n", f.server.port);
    for (i, known) in [None, Some(mismatched)].into_iter().enumerate() {
        let cache =
            GitCache::with_options(state.path().join(i.to_string()), options(known)).unwrap();
        let mirror = cache.repo(&f.server.url("gitops")).unwrap();
        let err = mirror.fetch(Some(&key)).await.unwrap_err();
        assert!(matches!(err, GitError::HostKey { .. }), "{err}");
        assert_eq!(err.disposition(), Disposition::GiveUp);
        assert!(
            err.to_string().contains("argocd-ssh-known-hosts-cm"),
            "{err}"
        );
    }

    // Argo CD's `insecure: "true"`: any host key.
    let insecure = Credentials {
        insecure_ignore_host_key: true,
        ..key
    };
    let cache = GitCache::with_options(state.path().join("insecure"), options(None)).unwrap();
    let mirror = cache.repo(&f.server.url("gitops")).unwrap();
    mirror.fetch(Some(&insecure)).await.unwrap();
    assert_eq!(
        mirror.resolve("main", None).await.unwrap().commit.as_str(),
        f.head
    );
}
