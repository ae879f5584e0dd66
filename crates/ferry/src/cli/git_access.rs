//! How commands that read Git repositories reach them: `--username` (the password from
//! `$FERRY_GIT_PASSWORD`, never a flag, so it stays out of shell history and `ps`) and
//! `--allow-file-urls`.

use ferry_source::credentials::Credentials;
use ferry_source::git::{GitCache, GitOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct GitAccess {
    /// Username for the repository; the password comes from $FERRY_GIT_PASSWORD.
    #[arg(long)]
    username: Option<String>,
    /// Accept file:// URLs (local mirrors, tests).
    #[arg(long)]
    allow_file_urls: bool,
}

impl GitAccess {
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        match (&self.username, std::env::var("FERRY_GIT_PASSWORD").ok()) {
            (Some(user), Some(password)) => Ok(Some(Credentials::basic(user.clone(), password))),
            (Some(_), None) => {
                anyhow::bail!("--username needs the password in $FERRY_GIT_PASSWORD")
            }
            (None, _) => Ok(None),
        }
    }

    /// The Git cache in the data directory, shared by every command.
    pub fn cache(&self) -> anyhow::Result<GitCache> {
        let options = GitOptions {
            allow_file_urls: self.allow_file_urls,
            ..GitOptions::default()
        };
        Ok(GitCache::with_options(
            crate::datadir::default_dir().join("cache/git"),
            options,
        )?)
    }
}
