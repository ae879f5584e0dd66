//! Every render error's disposition, and wrapped errors kept as sources.

use std::error::Error as _;
use std::time::Duration;

use ferry_api::argocd::SourceError;
use ferry_api::error::full_message;
use ferry_api::{Classify, Disposition};
use ferry_render::application::RenderError;
use ferry_render::directory::DirectoryError;
use ferry_render::helm::HelmError;
use ferry_render::jsonnet::JsonnetError;
use ferry_render::kustomize::KustomizeError;
use ferry_render::manifest::ParseError;
use ferry_render::tree::TreeError;
use ferry_source::git::GitError;
use ferry_source::helm::HelmError as RepositoryError;

fn field() -> String {
    "spec.source".into()
}

fn io() -> std::io::Error {
    std::io::Error::other("disk full")
}

fn parse() -> ParseError {
    ParseError {
        file: "a.yaml".into(),
        line: Some(3),
        message: "mapping values are not allowed here".into(),
    }
}

fn repository_status(status: u16) -> HelmError {
    HelmError::Repository(RepositoryError::Status {
        repo: "https://charts.example".into(),
        what: "index.yaml".into(),
        status,
    })
}

fn chart() -> String {
    "app".into()
}

#[test]
fn render_errors_follow_what_they_wrap() {
    use Disposition::*;
    let table: Vec<(RenderError, Disposition)> = vec![
        (RenderError::Source(SourceError::NoSource), GiveUp),
        (
            RenderError::Git {
                field: field(),
                error: GitError::RevisionNotFound {
                    url: "https://git.example/app".into(),
                    revision: "v2".into(),
                },
            },
            Wait,
        ),
        (
            RenderError::Git {
                field: field(),
                error: GitError::Timeout {
                    op: "fetch",
                    url: "https://git.example/app".into(),
                    timeout: Duration::from_secs(30),
                },
            },
            Retry,
        ),
        (
            RenderError::PathEscapes {
                field: field(),
                path: "../x".into(),
            },
            GiveUp,
        ),
        (
            RenderError::PathNotFound {
                field: field(),
                path: "env/dev".into(),
                revision: "abc".into(),
            },
            GiveUp,
        ),
        (
            RenderError::Kustomize {
                field: field(),
                error: Box::new(KustomizeError::Cycle("a -> a".into())),
            },
            GiveUp,
        ),
        // A chart repository answering 5xx is retried, wherever the chart is rendered from.
        (
            RenderError::Helm {
                field: field(),
                error: Box::new(repository_status(503)),
            },
            Retry,
        ),
        (
            RenderError::Kustomize {
                field: field(),
                error: Box::new(KustomizeError::Helm {
                    file: "kustomization.yaml".into(),
                    chart: chart(),
                    error: Box::new(repository_status(500)),
                }),
            },
            Retry,
        ),
        (
            RenderError::Helm {
                field: field(),
                error: Box::new(HelmError::Timeout(Duration::from_secs(90))),
            },
            Retry,
        ),
        (
            RenderError::Directory {
                field: field(),
                error: DirectoryError::Parse(parse()),
            },
            GiveUp,
        ),
        (
            RenderError::Invalid {
                field: field(),
                message: "bad",
            },
            GiveUp,
        ),
        (
            RenderError::Unsupported {
                field: field(),
                what: "plugin",
            },
            GiveUp,
        ),
        (
            RenderError::UnknownRef {
                field: field(),
                file: "$values/a.yaml".into(),
                name: "values".into(),
            },
            GiveUp,
        ),
        (
            RenderError::Aborted {
                field: field(),
                detail: "cancelled".into(),
            },
            Retry,
        ),
    ];
    for (error, expected) in table {
        assert_eq!(error.disposition(), expected, "{error}");
    }
}

#[test]
fn helm_errors_have_their_dispositions() {
    use Disposition::*;
    let dependency = |source| HelmError::Dependency {
        chart: chart(),
        dependency: "redis".into(),
        source: Box::new(source),
    };
    let table: Vec<(HelmError, Disposition)> = vec![
        (
            HelmError::Tree(TreeError::Io {
                path: "c".into(),
                source: io(),
            }),
            Retry,
        ),
        (HelmError::ValueFileEscapes("../v.yaml".into()), GiveUp),
        (HelmError::MissingValueFile("v.yaml".into()), GiveUp),
        (
            HelmError::NotFound {
                binary: "helm".into(),
                source: io(),
            },
            GiveUp,
        ),
        (HelmError::Failed("template: bad".into()), GiveUp),
        (HelmError::Timeout(Duration::from_secs(1)), Retry),
        (HelmError::OutputTooLarge(1), GiveUp),
        (HelmError::Parse(parse()), GiveUp),
        (HelmError::Io(io()), Retry),
        (
            HelmError::ChartFile {
                path: "Chart.yaml".into(),
                detail: "no name".into(),
            },
            GiveUp,
        ),
        (
            HelmError::LockOutOfSync {
                chart: chart(),
                lock_file: "Chart.lock",
            },
            GiveUp,
        ),
        (
            HelmError::DependencyEscapes {
                chart: chart(),
                dependency: "d".into(),
                repository: "file://../..".into(),
            },
            GiveUp,
        ),
        (
            HelmError::DependencyNotVendored {
                chart: chart(),
                name: "d".into(),
            },
            GiveUp,
        ),
        (
            HelmError::InvalidDependency {
                chart: chart(),
                dependency: "d".into(),
                detail: "no version".into(),
            },
            GiveUp,
        ),
        (
            HelmError::UnknownRepository {
                chart: chart(),
                dependency: "d".into(),
                repository: "@stable".into(),
            },
            GiveUp,
        ),
        (HelmError::TooManyDependencies(64), GiveUp),
        (
            HelmError::DependenciesTooDeep {
                chart: chart(),
                limit: 8,
            },
            GiveUp,
        ),
        (
            HelmError::NeedsFetch {
                chart: chart(),
                dependencies: "redis".into(),
            },
            GiveUp,
        ),
        (
            HelmError::NoVersion {
                repo: "r".into(),
                chart: chart(),
            },
            GiveUp,
        ),
        (
            HelmError::NoMatchingVersion {
                repo: "r".into(),
                chart: chart(),
                wanted: ">=2".into(),
            },
            Wait,
        ),
        (
            HelmError::Archive {
                repo: "r".into(),
                chart: chart(),
                detail: "no Chart.yaml".into(),
            },
            GiveUp,
        ),
        (repository_status(500), Retry),
        (repository_status(502), Retry),
        (repository_status(401), GiveUp),
        (dependency(repository_status(503)), Retry),
        (dependency(HelmError::MissingValueFile("v".into())), GiveUp),
        (HelmError::Interrupted("cancelled".into()), Retry),
    ];
    for (error, expected) in table {
        assert_eq!(error.disposition(), expected, "{error}");
    }
}

#[test]
fn kustomize_directory_jsonnet_and_tree_errors_have_their_dispositions() {
    use Disposition::*;
    let file = || "kustomization.yaml".to_string();
    let kustomize: Vec<(KustomizeError, Disposition)> = vec![
        (
            KustomizeError::Tree(TreeError::NotFound("base".into())),
            GiveUp,
        ),
        (
            KustomizeError::Tree(TreeError::Io {
                path: "b".into(),
                source: io(),
            }),
            Retry,
        ),
        (KustomizeError::Parse(parse()), GiveUp),
        (
            KustomizeError::Invalid {
                file: file(),
                message: "bad".into(),
            },
            GiveUp,
        ),
        (
            KustomizeError::UnknownField {
                file: file(),
                field: "x".into(),
            },
            GiveUp,
        ),
        (
            KustomizeError::UnsupportedField {
                file: file(),
                field: "x".into(),
            },
            GiveUp,
        ),
        (KustomizeError::HelmNotEnabled { file: file() }, GiveUp),
        (
            KustomizeError::ChartNotVendored {
                file: file(),
                chart: chart(),
                path: "charts/app".into(),
                repo: String::new(),
            },
            GiveUp,
        ),
        (
            KustomizeError::Helm {
                file: file(),
                chart: chart(),
                error: Box::new(HelmError::Failed("bad".into())),
            },
            GiveUp,
        ),
        (
            KustomizeError::Override {
                field: "images".into(),
                message: "bad".into(),
            },
            GiveUp,
        ),
        (
            KustomizeError::TooLarge {
                file: file(),
                limit: 1,
            },
            GiveUp,
        ),
        (
            KustomizeError::Remote {
                file: file(),
                reference: "github.com/x".into(),
            },
            GiveUp,
        ),
        (
            KustomizeError::Escapes {
                file: file(),
                reference: "../../x".into(),
                scope: "repository",
            },
            GiveUp,
        ),
        (KustomizeError::Missing { dir: "env".into() }, GiveUp),
        (KustomizeError::Cycle("a -> a".into()), GiveUp),
    ];
    for (error, expected) in kustomize {
        assert_eq!(error.disposition(), expected, "{error}");
    }

    let directory: Vec<(DirectoryError, Disposition)> = vec![
        (
            DirectoryError::Tree(TreeError::Escapes("../x".into())),
            GiveUp,
        ),
        (
            DirectoryError::Tree(TreeError::Io {
                path: "x".into(),
                source: io(),
            }),
            Retry,
        ),
        (DirectoryError::Parse(parse()), GiveUp),
        (
            DirectoryError::Jsonnet(JsonnetError::LibEscapes { lib: "../l".into() }),
            GiveUp,
        ),
        (
            DirectoryError::Glob {
                field: "include",
                glob: "[".into(),
                message: "unclosed".into(),
            },
            GiveUp,
        ),
    ];
    for (error, expected) in directory {
        assert_eq!(error.disposition(), expected, "{error}");
    }

    let jsonnet = [
        JsonnetError::Evaluate {
            file: "a.jsonnet".into(),
            trace: "syntax error".into(),
        },
        JsonnetError::OutputTooLarge {
            file: "a.jsonnet".into(),
            limit: 1,
        },
        JsonnetError::Output {
            file: "a.jsonnet".into(),
            message: "not an object".into(),
        },
        JsonnetError::LibEscapes { lib: "../l".into() },
        JsonnetError::Internal {
            file: "a.jsonnet".into(),
            message: "the evaluator panicked".into(),
        },
    ];
    for error in jsonnet {
        assert_eq!(error.disposition(), GiveUp, "{error}");
    }
}

#[test]
fn wrapped_errors_are_sources_and_read_once() {
    let error = RenderError::Helm {
        field: field(),
        error: Box::new(repository_status(503)),
    };
    let source = error.source().expect("the Helm error is the source");
    assert_eq!(
        source.to_string(),
        "chart repository https://charts.example answered 503 for index.yaml"
    );
    assert_eq!(
        full_message(&error),
        "spec.source: chart repository https://charts.example answered 503 for index.yaml"
    );

    let error = RenderError::Git {
        field: field(),
        error: GitError::GitUnavailable {
            path: "/usr/bin/git".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        },
    };
    let git = error.source().expect("the Git error is the source");
    assert!(git.downcast_ref::<GitError>().is_some());
    assert!(git.source().is_some(), "the I/O error is kept");
    let text = full_message(&error);
    assert_eq!(text.matches("entity not found").count(), 1, "{text}");
}
