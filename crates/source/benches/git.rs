//! Git against `git http-backend` on loopback, side by side with the git CLI:
//! - an unchanged remote: Ferry's fetch + NewestFromBranch discovery against `git ls-remote`
//!   (the least any client can do: one ref advertisement);
//! - reading every file of a 10,000-file tree at a commit against `git archive`.
//!
//! `cargo bench -p ferry-source --bench git` prints a Markdown table for docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use ferry_source::credentials::Credentials;
use ferry_source::git::{CommitId, CommitSelection, GitCache, GitOptions};
use ferry_testkit::git_server::{PASSWORD, USER};
use ferry_testkit::{GitServer, Seed};

const RUNS: usize = 15;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let server = GitServer::start().await;
    let seed = Seed::new(&server, "huge");
    for i in 0..10_000 {
        let path = seed
            .work
            .join(format!("apps/app{:03}/file{i:05}.yaml", i % 100));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("index: {i}\nname: file{i}\n")).unwrap();
    }
    let commit = CommitId::parse(&seed.commit("ten thousand files")).unwrap();
    seed.push();
    let dir = tempfile::tempdir().unwrap();
    let options = GitOptions {
        allow_http_credentials: true,
        ..GitOptions::default()
    };
    let mirror = GitCache::with_options(dir.path(), options)
        .unwrap()
        .repo(&server.url("huge"))
        .unwrap();
    let creds = Credentials::basic(USER, PASSWORD);
    mirror.fetch(Some(&creds)).await.unwrap();

    // Unchanged remote.
    let selection = CommitSelection::default();
    let mut ferry = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let outcome = mirror.fetch(Some(&creds)).await.unwrap();
        let commits = mirror.discover_commits(&selection).await.unwrap();
        ferry.push(started.elapsed());
        assert!(!commits.is_empty());
        let _ = outcome;
    }
    let authed = server
        .url("huge")
        .replacen("://", &format!("://{USER}:{PASSWORD}@"), 1);
    let mut ls_remote = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = Command::new("git")
            .args(["ls-remote", &authed])
            .output()
            .unwrap();
        ls_remote.push(started.elapsed());
        assert!(out.status.success());
    }

    // A 10,000-file tree.
    let mut read = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (_, files) = mirror.read_dir(&commit, "").await.unwrap();
        read.push(started.elapsed());
        assert_eq!(files.len(), 10_000);
    }
    let mut archive = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new("git")
            .args([
                "--git-dir",
                mirror.path().to_str().unwrap(),
                "archive",
                commit.as_str(),
            ])
            .output()
            .unwrap();
        archive.push(started.elapsed());
        assert!(out.status.success());
    }

    let (ferry, ls_remote, read, archive) = (
        median(ferry),
        median(ls_remote),
        median(read),
        median(archive),
    );
    println!("| measure (median) | Ferry | git CLI | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| unchanged remote: fetch + NewestFromBranch discovery vs `git ls-remote` | {} | {} | {:.2}× |",
        ms(ferry),
        ms(ls_remote),
        ferry.as_secs_f64() / ls_remote.as_secs_f64()
    );
    println!(
        "| read all files of a 10,000-file tree vs `git archive` | {} | {} | {:.2}× |",
        ms(read),
        ms(archive),
        read.as_secs_f64() / archive.as_secs_f64()
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
