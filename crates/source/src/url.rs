//! Repository URLs and Git ref names, checked before anything reaches git, a credential helper
//! or a log line.
//!
//! [`RepoUrl::parse`] accepts `https://`, `http://`, `ssh://` and scp-style
//! (`git@host:org/repo.git`) URLs, and `file://` only when [`UrlPolicy::allow_file`] is set.
//! It refuses what turns a URL into a command or an option: git's `<transport>::` syntax
//! (`ext::sh -c id`, `fd::3`), other schemes (`git://`), a leading `-` (`--upload-pack=x`, and a
//! host or user `-oProxyCommand=...`), whitespace, control and invisible characters, encoded
//! control characters (`%0a`, the CVE-2020-5260 credential-helper injection), backslashes,
//! `..` path segments, query strings, fragments and empty hosts. Errors never echo the input,
//! which may carry a password.
//!
//! [`RepoUrl::normalized`] is the cache and matching key, as Argo CD's `NormalizeGitURL` and
//! Kargo's `NormalizeGit` compute it: lowercase scheme and host, no userinfo, no default port,
//! no trailing `/` or `.git`, and scp-style rewritten to `ssh://`. So
//! `https://GitHub.com/org/Repo.git/` and `https://github.com/org/Repo` share one cache. The
//! path keeps its case, since self-hosted servers tell `Repo` from `repo`. The key identifies a
//! repository, not a right to read it: callers authorize before serving from a shared cache.
//!
//! [`RepoUrl::redacted`] (and `Display`) is the only form to print: the URL without userinfo.
//! `Debug` redacts as well.
//!
//! [`validate_ref`] applies `git check-ref-format` to branch, tag and revision names, and adds
//! what keeps a ref from being read as an option or a shell word.

use std::fmt;

use ferry_api::{Classify, Disposition};

use crate::credentials::Credentials;

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 4096;
/// Longest ref name accepted, in bytes.
pub const MAX_REF_LEN: usize = 1024;

/// What a caller allows beyond network URLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Accept `file://` URLs (tests, local mirrors). Off for anything users supply.
    pub allow_file: bool,
}

impl UrlPolicy {
    /// Network URLs only: https, http, ssh and scp-style.
    pub const NETWORK: UrlPolicy = UrlPolicy { allow_file: false };
    /// Network URLs and `file://`.
    pub const WITH_FILE: UrlPolicy = UrlPolicy { allow_file: true };
}

/// Why a repository URL was refused. The input is never part of the message; fix the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Nothing was given.
    #[error("repository URL is empty")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("repository URL is {len} bytes long; at most {MAX_URL_LEN} are allowed")]
    TooLong {
        /// The URL's length in bytes.
        len: usize,
    },
    /// Spaces, tabs or line breaks anywhere in the URL.
    #[error("repository URL contains whitespace")]
    Whitespace,
    /// A control character (newline, NUL, ...) anywhere in the URL.
    #[error("repository URL contains a control character")]
    ControlCharacter,
    /// A zero-width or bidirectional formatting character, which hides what the URL says.
    #[error("repository URL contains an invisible formatting character")]
    InvisibleCharacter,
    /// A backslash, which some tools read as a path separator.
    #[error("repository URL contains a backslash")]
    Backslash,
    /// `%00`–`%1f` or `%7f`, which decode to control characters (CVE-2020-5260).
    #[error("repository URL contains a percent-encoded control character")]
    EncodedControlCharacter,
    /// A `%` not followed by two hex digits.
    #[error("repository URL contains a `%` that is not followed by two hex digits")]
    BadPercentEncoding,
    /// The URL starts with `-` and git would read it as an option.
    #[error("repository URL starts with `-` and would be read as an option")]
    OptionLike,
    /// Git's `<transport>::<address>` syntax, which runs a helper program.
    #[error("git transport {transport:?} (`<transport>::<address>`) is not allowed")]
    Transport {
        /// The transport name, cut to 32 characters.
        transport: String,
    },
    /// A scheme other than https, http, ssh (and file where allowed).
    #[error("URL scheme {scheme:?} is not allowed; use https, http, ssh or scp-style")]
    UnsupportedScheme {
        /// The scheme, cut to 32 characters; `<not a scheme>` when it has other characters.
        scheme: String,
    },
    /// `file://` where the policy does not allow it.
    #[error("file:// URLs are not allowed here")]
    FileNotAllowed,
    /// A `file://` URL with a host or a relative path.
    #[error("file:// URLs must have an empty host and an absolute path (file:///path)")]
    BadFileUrl,
    /// A bare local path, which git would accept as a repository.
    #[error("repository URL is a local path, not a URL; use file:// where local repos are allowed")]
    LocalPath,
    /// No host between the scheme and the path.
    #[error("repository URL has an empty host")]
    EmptyHost,
    /// The host has characters no host name or IP address has.
    #[error("repository URL host has characters outside [A-Za-z0-9.-_]")]
    BadHost,
    /// The host or user starts with `-` and ssh would read it as an option.
    #[error("repository URL host or user starts with `-` and would be read as an option")]
    OptionLikeHostOrUser,
    /// The port is not a number from 1 to 65535.
    #[error("repository URL port is not a number from 1 to 65535")]
    BadPort,
    /// A `?query` or `#fragment`, which no repository URL needs.
    #[error("repository URL has a query string or fragment")]
    QueryOrFragment,
    /// A `..` path segment.
    #[error("repository URL path contains a `..` segment")]
    DotDotSegment,
    /// An scp-style URL with nothing after the `:`.
    #[error("scp-style repository URL has an empty path after `:`")]
    EmptyPath,
    /// An scp-style path starting with `-`, which would be read as an option.
    #[error("scp-style repository URL path starts with `-` and would be read as an option")]
    OptionLikePath,
}

impl Classify for UrlError {
    /// The URL must change.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// How the repository is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `https://`.
    Https,
    /// `http://`; credentials are only sent where the caller allows it.
    Http,
    /// `ssh://` and scp-style (`git@host:path`).
    Ssh,
    /// `file://`, where [`UrlPolicy::allow_file`] is set.
    File,
}

impl Scheme {
    /// The scheme as written in a URL, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Ssh => "ssh",
            Scheme::File => "file",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Https => Some(443),
            Scheme::Http => Some(80),
            Scheme::Ssh => Some(22),
            Scheme::File => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked repository URL. Userinfo is kept (git may need it) but only
/// [`RepoUrl::credentials`] hands it out; every printed form drops it.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    scheme: Scheme,
    scp_like: bool,
    username: Option<String>,
    password: Option<String>,
    /// Lowercase; IPv6 addresses without brackets; empty for `file://`.
    host: String,
    /// As written, even when it is the scheme's default.
    port: Option<u16>,
    /// Everything after the host: starts with `/` or is empty; for scp-style, what follows `:`.
    path: String,
}

impl RepoUrl {
    /// Checks and parses a repository URL; see the module documentation for what is refused.
    pub fn parse(input: &str, policy: &UrlPolicy) -> Result<RepoUrl, UrlError> {
        check_characters(input)?;
        if input.starts_with('-') {
            return Err(UrlError::OptionLike);
        }
        if let Some(transport) = transport_prefix(input) {
            return Err(UrlError::Transport {
                transport: transport.chars().take(32).collect(),
            });
        }
        if let Some((scheme, rest)) = input.split_once("://") {
            let scheme = match scheme.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                "ssh" => Scheme::Ssh,
                "file" => Scheme::File,
                _ => {
                    return Err(UrlError::UnsupportedScheme {
                        scheme: printable_scheme(scheme),
                    });
                }
            };
            if scheme == Scheme::File && !policy.allow_file {
                return Err(UrlError::FileNotAllowed);
            }
            return parse_hierarchical(scheme, rest);
        }
        parse_scp(input)
    }

    /// How the repository is reached.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the URL was written scp-style (`git@host:path`).
    pub fn is_scp_like(&self) -> bool {
        self.scp_like
    }

    /// Lowercase host name or IP address (IPv6 without brackets); empty for `file://`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port as written, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port in use: the written one or the scheme's default.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(self.scheme.default_port())
    }

    /// The path as written (for scp-style, what follows the `:`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The user named in the URL (`git` in `git@github.com:org/repo`).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Credentials embedded in the URL (`https://user:token@host/...`), if any.
    pub fn credentials(&self) -> Option<Credentials> {
        if self.username.is_none() && self.password.is_none() {
            return None;
        }
        Some(Credentials {
            username: self.username.clone(),
            password: self.password.clone(),
            ..Credentials::default()
        })
    }

    /// The cache and matching key: `scheme://host[:port]/path`, lowercase scheme and host, no
    /// userinfo, no default port, no trailing `/` or `.git`; scp-style becomes `ssh://`.
    pub fn normalized(&self) -> String {
        let mut path = self.path.trim_end_matches('/');
        path = path.strip_suffix(".git").unwrap_or(path);
        path = path.trim_end_matches('/');
        let slash = if self.scp_like && !path.starts_with('/') {
            "/"
        } else {
            ""
        };
        let port = match self.port {
            Some(p) if Some(p) != self.scheme.default_port() => format!(":{p}"),
            _ => String::new(),
        };
        format!(
            "{}://{}{port}{slash}{path}",
            self.scheme,
            self.host_for_display()
        )
    }

    /// For SSH URLs, the address git connects to: the URL with its user (`git@host:org/repo`,
    /// `ssh://git@host:2222/org/repo`), which names an account, not a secret. `None` for other
    /// schemes, and for an SSH URL carrying a password (SSH authenticates with keys here).
    pub fn ssh_address(&self) -> Option<String> {
        if self.scheme != Scheme::Ssh || self.password.is_some() {
            return None;
        }
        let user = self
            .username
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        if self.scp_like {
            return Some(format!("{user}{}:{}", self.host_for_display(), self.path));
        }
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        Some(format!(
            "ssh://{user}{}{port}{}",
            self.host_for_display(),
            self.path
        ))
    }

    /// The URL as written minus userinfo: the only form that goes into logs, errors, events and
    /// status. Scheme and host are lowercase.
    pub fn redacted(&self) -> String {
        if self.scp_like {
            return format!("{}:{}", self.host_for_display(), self.path);
        }
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{port}{}",
            self.scheme,
            self.host_for_display(),
            self.path
        )
    }

    fn host_for_display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoUrl")
            .field("url", &self.redacted())
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Characters that may hide in a URL or ref without being seen: zero-width spaces and joiners,
/// bidirectional overrides, word joiners and the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

pub(crate) fn check_characters(input: &str) -> Result<(), UrlError> {
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong { len: input.len() });
    }
    for c in input.chars() {
        if c.is_control() {
            return Err(UrlError::ControlCharacter);
        }
        if c.is_whitespace() {
            return Err(UrlError::Whitespace);
        }
        if is_invisible(c) {
            return Err(UrlError::InvisibleCharacter);
        }
        if c == '\\' {
            return Err(UrlError::Backslash);
        }
    }
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .ok_or(UrlError::BadPercentEncoding)?;
            let value = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::BadPercentEncoding)?;
            if value < 0x20 || value == 0x7f {
                return Err(UrlError::EncodedControlCharacter);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// A scheme for an error message: only scheme characters, so nothing else of the URL leaks.
fn printable_scheme(scheme: &str) -> String {
    let plain = scheme
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if plain {
        scheme.chars().take(32).collect()
    } else {
        "<not a scheme>".to_owned()
    }
}

/// git's `<transport>::<address>` form: a run of scheme characters followed by `::`.
fn transport_prefix(input: &str) -> Option<&str> {
    let end = input
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .unwrap_or(input.len());
    input[end..].starts_with("::").then(|| &input[..end])
}

fn parse_hierarchical(scheme: Scheme, rest: &str) -> Result<RepoUrl, UrlError> {
    if rest.contains(['?', '#']) {
        return Err(UrlError::QueryOrFragment);
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    check_path(path)?;
    if scheme == Scheme::File {
        if !authority.is_empty() || path.is_empty() {
            return Err(UrlError::BadFileUrl);
        }
        return Ok(RepoUrl {
            scheme,
            scp_like: false,
            username: None,
            password: None,
            host: String::new(),
            port: None,
            path: path.to_owned(),
        });
    }
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let (username, password) = split_userinfo(userinfo)?;
    let (host, port) = split_host_port(hostport)?;
    Ok(RepoUrl {
        scheme,
        scp_like: false,
        username,
        password,
        host,
        port,
        path: path.to_owned(),
    })
}

type Userinfo = (Option<String>, Option<String>);

fn split_userinfo(userinfo: Option<&str>) -> Result<Userinfo, UrlError> {
    let Some(userinfo) = userinfo.filter(|u| !u.is_empty()) else {
        return Ok((None, None));
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password))),
        None => (userinfo, None),
    };
    let user = percent_decode(user);
    if user.starts_with('-') {
        return Err(UrlError::OptionLikeHostOrUser);
    }
    let user = (!user.is_empty()).then_some(user);
    Ok((user, password))
}

/// Decodes `%XX` in userinfo, as git does before it uses a user name or password. The escapes
/// are already known to be well-formed and not control characters.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), UrlError> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::BadHost)?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c))
        {
            return Err(UrlError::BadHost);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::BadHost)?),
        };
        (host, port)
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if !hostport.starts_with('[') {
        check_host_name(host)?;
    }
    let port = port.map(parse_port).transpose()?;
    Ok((host.to_ascii_lowercase(), port))
}

fn check_host_name(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if host.starts_with('-') {
        return Err(UrlError::OptionLikeHostOrUser);
    }
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid || host.starts_with('.') {
        return Err(UrlError::BadHost);
    }
    Ok(())
}

fn parse_port(port: &str) -> Result<u16, UrlError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadPort);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(UrlError::BadPort),
    }
}

/// Refuses `..` segments, also when written as `%2e%2e`.
fn check_path(path: &str) -> Result<(), UrlError> {
    let dot_dot = path.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == ".."
    });
    if dot_dot {
        return Err(UrlError::DotDotSegment);
    }
    Ok(())
}

/// `[user@]host:path`, as git reads it: a `:` before any `/`. Anything else without a scheme
/// is a local path.
fn parse_scp(input: &str) -> Result<RepoUrl, UrlError> {
    let colon = if input.starts_with('[') || input.contains("@[") {
        // Bracketed IPv6 host: the separating colon follows the `]`.
        input
            .find(']')
            .and_then(|close| input[close..].find(':').map(|i| close + i))
    } else {
        input.find(':')
    };
    let Some(colon) = colon else {
        return Err(UrlError::LocalPath);
    };
    let (userhost, path) = (&input[..colon], &input[colon + 1..]);
    if userhost.contains('/') {
        return Err(UrlError::LocalPath);
    }
    if input.contains(['?', '#']) {
        return Err(UrlError::QueryOrFragment);
    }
    let (user, host) = match userhost.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, userhost),
    };
    if user.is_some_and(|u| u.contains(':')) {
        // `user:password@host:path` is not scp syntax.
        return Err(UrlError::BadHost);
    }
    let (username, _) = split_userinfo(user)?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => {
            if ipv6.is_empty()
                || !ipv6
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || ":.".contains(c))
            {
                return Err(UrlError::BadHost);
            }
            ipv6
        }
        None => {
            check_host_name(host)?;
            host
        }
    };
    if path.is_empty() {
        return Err(UrlError::EmptyPath);
    }
    if path.starts_with('-') {
        return Err(UrlError::OptionLikePath);
    }
    check_path(path)?;
    Ok(RepoUrl {
        scheme: Scheme::Ssh,
        scp_like: true,
        username,
        password: None,
        host: host.to_ascii_lowercase(),
        port: None,
        path: path.to_owned(),
    })
}

/// Why a branch, tag or revision name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefProblem {
    /// Nothing was given.
    #[error("it is empty")]
    Empty,
    /// Longer than [`MAX_REF_LEN`].
    #[error("it is longer than {MAX_REF_LEN} bytes")]
    TooLong,
    /// Starts with `-`.
    #[error("it starts with `-` and would be read as an option")]
    LeadingDash,
    /// Contains whitespace.
    #[error("it contains whitespace")]
    Whitespace,
    /// Contains a control character.
    #[error("it contains a control character")]
    ControlCharacter,
    /// Contains a zero-width or bidirectional formatting character.
    #[error("it contains an invisible formatting character")]
    InvisibleCharacter,
    /// Contains a character `git check-ref-format` refuses: `~ ^ : ? * [` or a backslash.
    #[error("it contains {0:?}, which git does not allow in ref names")]
    GitForbidden(char),
    /// Contains a character a shell would interpret.
    #[error("it contains the shell metacharacter {0:?}")]
    ShellMetacharacter(char),
    /// Contains `..`.
    #[error("it contains `..`")]
    DotDot,
    /// Contains `@{`.
    #[error("it contains `@{{`")]
    AtBrace,
    /// Is `@` alone.
    #[error("it is the single character `@`")]
    LoneAt,
    /// Has an empty `/`-separated part.
    #[error("it starts or ends with `/` or contains `//`")]
    BadSlash,
    /// Ends with `.`.
    #[error("it ends with `.`")]
    TrailingDot,
    /// Has a `/`-separated part starting with `.`.
    #[error("a `/`-separated part starts with `.`")]
    ComponentStartsWithDot,
    /// Has a `/`-separated part ending with `.lock`.
    #[error("a `/`-separated part ends with `.lock`")]
    LockSuffix,
}

/// A refused ref name and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ref name {name:?}: {problem}")]
pub struct RefError {
    /// The name, cut to 200 characters.
    pub name: String,
    /// Why it was refused.
    pub problem: RefProblem,
}

impl Classify for RefError {
    /// The name must change.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// Checks a branch, tag or revision name (`main`, `refs/heads/main`, `v1.2.3`, a commit SHA,
/// `HEAD`) with `git check-ref-format --allow-onelevel` rules, plus: no leading `-`, and no
/// shell metacharacters (`;|&$` and backquote, `<>`, quotes), which no real ref needs.
/// Helm chart versions and ranges are not refs; they go through
/// [`crate::semver::Constraint`].
pub fn validate_ref(name: &str) -> Result<(), RefError> {
    check_ref(name).map_err(|problem| RefError {
        name: name.chars().take(200).collect(),
        problem,
    })
}

fn check_ref(name: &str) -> Result<(), RefProblem> {
    if name.is_empty() {
        return Err(RefProblem::Empty);
    }
    if name.len() > MAX_REF_LEN {
        return Err(RefProblem::TooLong);
    }
    if name.starts_with('-') {
        return Err(RefProblem::LeadingDash);
    }
    for c in name.chars() {
        if c.is_control() {
            return Err(RefProblem::ControlCharacter);
        }
        if c.is_whitespace() {
            return Err(RefProblem::Whitespace);
        }
        if is_invisible(c) {
            return Err(RefProblem::InvisibleCharacter);
        }
        if matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\') {
            return Err(RefProblem::GitForbidden(c));
        }
        if matches!(c, ';' | '|' | '&' | '$' | '`' | '<' | '>' | '\'' | '"') {
            return Err(RefProblem::ShellMetacharacter(c));
        }
    }
    if name.contains("..") {
        return Err(RefProblem::DotDot);
    }
    if name.contains("@{") {
        return Err(RefProblem::AtBrace);
    }
    if name == "@" {
        return Err(RefProblem::LoneAt);
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(RefProblem::BadSlash);
    }
    if name.ends_with('.') {
        return Err(RefProblem::TrailingDot);
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return Err(RefProblem::ComponentStartsWithDot);
        }
        if component.ends_with(".lock") {
            return Err(RefProblem::LockSuffix);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<RepoUrl, UrlError> {
        RepoUrl::parse(input, &UrlPolicy::NETWORK)
    }

    #[test]
    fn accepts_the_supported_forms() {
        let cases = [
            (
                "https://github.com/org/repo.git",
                Scheme::Https,
                "github.com",
            ),
            ("http://127.0.0.1:8080/repo", Scheme::Http, "127.0.0.1"),
            (
                "ssh://git@github.com/org/repo.git",
                Scheme::Ssh,
                "github.com",
            ),
            ("ssh://git@[::1]:2222/repo", Scheme::Ssh, "::1"),
            ("git@github.com:org/repo.git", Scheme::Ssh, "github.com"),
            ("github.com:org/repo", Scheme::Ssh, "github.com"),
            ("HTTPS://GitHub.COM/Org/Repo", Scheme::Https, "github.com"),
            ("https://github.com", Scheme::Https, "github.com"),
        ];
        for (input, scheme, host) in cases {
            let url = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.scheme(), scheme, "{input}");
            assert_eq!(url.host(), host, "{input}");
        }
        let scp = parse("git@github.com:org/repo.git").unwrap();
        assert!(scp.is_scp_like());
        assert_eq!(scp.username(), Some("git"));
        assert_eq!(scp.path(), "org/repo.git");
        assert_eq!(scp.effective_port(), Some(22));
    }

    #[test]
    fn normalized_keys_match_argo_cd_and_kargo() {
        let same = [
            "https://GitHub.com/org/Repo.git/",
            "https://github.com/org/Repo",
            "https://github.com/org/Repo/",
            "https://github.com:443/org/Repo.git",
            "https://user:token@github.com/org/Repo.git",
            "HTTPS://GITHUB.COM/org/Repo",
        ];
        for input in same {
            assert_eq!(
                parse(input).unwrap().normalized(),
                "https://github.com/org/Repo",
                "{input}"
            );
        }
        let cases = [
            ("git@github.com:org/repo.git", "ssh://github.com/org/repo"),
            (
                "ssh://git@github.com/org/repo.git/",
                "ssh://github.com/org/repo",
            ),
            (
                "ssh://git@github.com:22/org/repo",
                "ssh://github.com/org/repo",
            ),
            ("ssh://localhost:2222/repo.git", "ssh://localhost:2222/repo"),
            ("http://example.com:80/repo", "http://example.com/repo"),
            (
                "http://example.com:8080/repo",
                "http://example.com:8080/repo",
            ),
            (
                "https://localhost:8443/example/repo.git/",
                "https://localhost:8443/example/repo",
            ),
            ("https://github.com/", "https://github.com"),
            ("git@[::1]:repo", "ssh://[::1]/repo"),
        ];
        for (input, key) in cases {
            assert_eq!(parse(input).unwrap().normalized(), key, "{input}");
        }
        // The path keeps its case: these are two repositories on a case-sensitive server.
        assert_ne!(
            parse("https://git.example.com/Repo").unwrap().normalized(),
            parse("https://git.example.com/repo").unwrap().normalized()
        );
    }

    #[test]
    fn printed_forms_never_carry_userinfo() {
        let url = parse("https://alice:CANARY-token@GitHub.com/org/repo.git").unwrap();
        assert_eq!(url.redacted(), "https://github.com/org/repo.git");
        assert_eq!(url.to_string(), "https://github.com/org/repo.git");
        let debug = format!("{url:?}");
        assert!(!debug.contains("CANARY"), "{debug}");
        assert!(!debug.contains("alice"), "{debug}");
        assert!(!url.normalized().contains("CANARY"));
        let creds = url.credentials().unwrap();
        assert_eq!(creds.username.as_deref(), Some("alice"));
        assert_eq!(creds.password.as_deref(), Some("CANARY-token"));

        let token_as_user = parse("https://CANARY@github.com/org/repo").unwrap();
        assert!(!token_as_user.to_string().contains("CANARY"));

        let scp = parse("git@github.com:org/repo.git").unwrap();
        assert_eq!(scp.redacted(), "github.com:org/repo.git");
        let ssh = parse("ssh://git:CANARY@host:2222/repo").unwrap();
        assert_eq!(ssh.redacted(), "ssh://host:2222/repo");
        assert!(
            parse("https://github.com/org/repo")
                .unwrap()
                .credentials()
                .is_none()
        );

        let encoded = parse("https://me%40corp.example:p%3As%2Fs@host/repo").unwrap();
        assert_eq!(
            encoded.credentials(),
            Some(Credentials::basic("me@corp.example", "p:s/s"))
        );
        assert_eq!(
            parse("ssh://%2DoProxyCommand@host/repo"),
            Err(UrlError::OptionLikeHostOrUser)
        );
    }

    #[test]
    fn file_urls_need_the_policy() {
        assert_eq!(
            parse("file:///srv/git/repo.git"),
            Err(UrlError::FileNotAllowed)
        );
        assert_eq!(
            parse("FILE:///srv/git/repo.git"),
            Err(UrlError::FileNotAllowed)
        );
        let url = RepoUrl::parse("file:///srv/git/repo.git", &UrlPolicy::WITH_FILE).unwrap();
        assert_eq!(url.scheme(), Scheme::File);
        assert_eq!(url.normalized(), "file:///srv/git/repo");
        assert_eq!(url.redacted(), "file:///srv/git/repo.git");
        for bad in ["file://host/srv/repo", "file://"] {
            assert_eq!(
                RepoUrl::parse(bad, &UrlPolicy::WITH_FILE),
                Err(UrlError::BadFileUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_the_attacks() {
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::Empty),
            (
                "ext::sh -c id",
                UrlError::Whitespace, // caught before the transport check
            ),
            (
                "ext::sh",
                UrlError::Transport {
                    transport: "ext".to_owned(),
                },
            ),
            (
                "EXT::sh",
                UrlError::Transport {
                    transport: "EXT".to_owned(),
                },
            ),
            (
                "fd::3",
                UrlError::Transport {
                    transport: "fd".to_owned(),
                },
            ),
            (
                "https::github.com/org/repo",
                UrlError::Transport {
                    transport: "https".to_owned(),
                },
            ),
            ("--upload-pack=touch${IFS}x", UrlError::OptionLike),
            ("-oProxyCommand=x", UrlError::OptionLike),
            (
                "ssh://-oProxyCommand=calc/repo",
                UrlError::OptionLikeHostOrUser,
            ),
            (
                "ssh://-oProxyCommand=x@host/repo",
                UrlError::OptionLikeHostOrUser,
            ),
            ("-oProxyCommand=x@host:repo", UrlError::OptionLike),
            ("git@host:-repo", UrlError::OptionLikePath),
            ("file:///etc/passwd", UrlError::FileNotAllowed),
            (
                "git://github.com/org/repo",
                UrlError::UnsupportedScheme {
                    scheme: "git".to_owned(),
                },
            ),
            (
                "javascript://x/%0aalert(1)",
                UrlError::EncodedControlCharacter,
            ),
            (
                "ftp://example.com/repo",
                UrlError::UnsupportedScheme {
                    scheme: "ftp".to_owned(),
                },
            ),
            ("https://github.com/org/repo\n", UrlError::ControlCharacter),
            (
                "https://example.com\nhost=evil.com/repo",
                UrlError::ControlCharacter,
            ),
            (
                "https://example.com%0ahost=evil.com/repo",
                UrlError::EncodedControlCharacter,
            ),
            ("https://example.com/%00", UrlError::EncodedControlCharacter),
            ("https://example.com/%zz", UrlError::BadPercentEncoding),
            ("https://example.com/repo%", UrlError::BadPercentEncoding),
            ("https://github.com /org/repo", UrlError::Whitespace),
            ("https://github.com/org\t/repo", UrlError::ControlCharacter),
            ("https://github.com/org/repo\u{00A0}", UrlError::Whitespace),
            (
                "https://github.com/org/repo\u{200B}",
                UrlError::InvisibleCharacter,
            ),
            (
                "\u{FEFF}https://github.com/org/repo",
                UrlError::InvisibleCharacter,
            ),
            ("https:///host/repo", UrlError::EmptyHost),
            ("https://", UrlError::EmptyHost),
            ("ssh://git@/repo", UrlError::EmptyHost),
            ("@:repo", UrlError::EmptyHost),
            ("https://exa mple.com/repo", UrlError::Whitespace),
            ("https://ex%61mple.com/repo", UrlError::BadHost),
            ("https://example.com:0/repo", UrlError::BadPort),
            ("https://example.com:99999/repo", UrlError::BadPort),
            ("https://example.com:/repo", UrlError::BadPort),
            ("https://example.com:abc/repo", UrlError::BadPort),
            ("https://example.com/org/../other", UrlError::DotDotSegment),
            (
                "https://example.com/org/%2e%2E/other",
                UrlError::DotDotSegment,
            ),
            ("git@host:../../etc", UrlError::DotDotSegment),
            (
                "https://example.com/repo?ref=main",
                UrlError::QueryOrFragment,
            ),
            ("https://example.com/repo#main", UrlError::QueryOrFragment),
            ("https://example.com\\@evil.com/repo", UrlError::Backslash),
            ("/srv/git/repo.git", UrlError::LocalPath),
            ("./repo", UrlError::LocalPath),
            ("../repo:x", UrlError::LocalPath),
            ("github.com", UrlError::LocalPath),
            ("git@github.com:", UrlError::EmptyPath),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).as_ref(), Err(expected), "{input:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(parse(&long), Err(UrlError::TooLong { len: long.len() }));
    }

    #[test]
    fn errors_do_not_echo_the_url() {
        for input in [
            "https://alice:CANARY@exa mple.com/repo",
            "https://alice:CANARY@example.com/repo?x=1",
            "https://alice:CANARY@example.com:99999/repo",
            "https://alice:CANARY@example.com/a/../b",
            "ftp://alice:CANARY@example.com/repo",
        ] {
            let err = parse(input).expect_err(input).to_string();
            assert!(!err.contains("CANARY"), "{input}: {err}");
            assert!(!err.contains("alice"), "{input}: {err}");
        }
    }

    #[test]
    fn refs_follow_check_ref_format() {
        for ok in [
            "main",
            "refs/heads/main",
            "feature/new-ui",
            "release-1.2",
            "v1.2.3",
            "HEAD",
            "0123456789abcdef0123456789abcdef01234567",
            "user@example",
            "a.b/c.d",
            "ünïcode",
        ] {
            assert_eq!(validate_ref(ok), Ok(()), "{ok}");
        }
        let cases: &[(&str, RefProblem)] = &[
            ("", RefProblem::Empty),
            ("-h", RefProblem::LeadingDash),
            ("--output=x", RefProblem::LeadingDash),
            ("HEAD;id", RefProblem::ShellMetacharacter(';')),
            ("main|id", RefProblem::ShellMetacharacter('|')),
            ("$(id)", RefProblem::ShellMetacharacter('$')),
            ("a`id`", RefProblem::ShellMetacharacter('`')),
            ("refs/heads/../../x", RefProblem::DotDot),
            ("a..b", RefProblem::DotDot),
            ("main\n", RefProblem::ControlCharacter),
            ("ma\0in", RefProblem::ControlCharacter),
            ("ma\u{7f}in", RefProblem::ControlCharacter),
            ("my branch", RefProblem::Whitespace),
            ("main\u{200B}", RefProblem::InvisibleCharacter),
            ("main@{1}", RefProblem::AtBrace),
            ("@", RefProblem::LoneAt),
            ("HEAD~1", RefProblem::GitForbidden('~')),
            ("HEAD^", RefProblem::GitForbidden('^')),
            ("a:b", RefProblem::GitForbidden(':')),
            ("a?b", RefProblem::GitForbidden('?')),
            ("a*", RefProblem::GitForbidden('*')),
            ("a[b", RefProblem::GitForbidden('[')),
            ("a\\b", RefProblem::GitForbidden('\\')),
            ("/main", RefProblem::BadSlash),
            ("main/", RefProblem::BadSlash),
            ("refs//heads", RefProblem::BadSlash),
            ("main.", RefProblem::TrailingDot),
            (".hidden", RefProblem::ComponentStartsWithDot),
            ("refs/heads/.x", RefProblem::ComponentStartsWithDot),
            ("main.lock", RefProblem::LockSuffix),
            ("refs/heads/x.lock/y", RefProblem::LockSuffix),
        ];
        for (name, problem) in cases {
            let err = validate_ref(name).expect_err(name);
            assert_eq!(err.problem, *problem, "{name:?}");
        }
        let long = "a".repeat(MAX_REF_LEN + 1);
        let err = validate_ref(&long).unwrap_err();
        assert_eq!(err.problem, RefProblem::TooLong);
        assert_eq!(err.name.len(), 200);
        assert_eq!(
            validate_ref("--output=x").unwrap_err().to_string(),
            "invalid ref name \"--output=x\": it starts with `-` and would be read as an option"
        );
    }
}
