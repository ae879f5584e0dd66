//! `ferry discover git` as a user runs it, on a local repository made with the real `git`.

use std::path::Path;
use std::process::Command;

use ferry_testkit::git;

const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

fn ferry(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(FERRY)
        .env("XDG_DATA_HOME", data)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn discover_git_tags_and_commits() {
    let repo = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    for tag in ["v1.0.0", "v1.1.0", "v2.0.0-rc.1"] {
        std::fs::write(repo.path().join("version"), tag).unwrap();
        git(repo.path(), &["add", "version"]);
        git(
            repo.path(),
            &["commit", "-q", "-m", &format!("release {tag}")],
        );
        git(repo.path(), &["tag", tag]);
    }
    let url = format!("file://{}", repo.path().display());

    let out = ferry(
        data.path(),
        &[
            "discover",
            "git",
            &url,
            "--allow-file-urls",
            "--commit-selection-strategy",
            "SemVer",
            "-o",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let commits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<&str> = commits
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["v1.1.0", "v1.0.0"]);

    let out = ferry(
        data.path(),
        &[
            "discover",
            "git",
            &url,
            "--allow-file-urls",
            "--discovery-limit",
            "1",
        ],
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("TAG"), "{table}");
    assert!(table.contains("release v2.0.0-rc.1"), "{table}");
    assert_eq!(table.lines().count(), 2, "{table}");

    // Bad input: a clear error, exit code 1, nothing on stdout.
    for (args, expected) in [
        (
            vec!["discover", "git", url.as_str()],
            "file:// URLs are not allowed",
        ),
        (
            vec!["discover", "git", "ext::sh -c id"],
            "invalid repository URL",
        ),
        (
            vec![
                "discover",
                "git",
                url.as_str(),
                "--allow-file-urls",
                "--commit-selection-strategy",
                "Newest",
            ],
            "unknown commitSelectionStrategy",
        ),
        (
            vec!["discover", "image", "nginx:1.25"],
            "must not carry a tag",
        ),
        (
            vec!["discover", "chart", "https://charts.example.com"],
            "chart name is required",
        ),
    ] {
        let out = ferry(data.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
