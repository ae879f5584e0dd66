//! Semantic versions and version constraints with the rules of Masterminds/semver v3, the Go
//! library behind Helm chart ranges, Argo CD's Helm `targetRevision` and Kargo's `constraint`
//! / `semverConstraint` fields.
//!
//! [`Version::parse`] is Masterminds' lenient `NewVersion`: an optional lowercase `v`, one to
//! three numeric parts (`1.2` is `1.2.0`, `1` is `1.0.0`, leading zeros are dropped), then the
//! usual `-prerelease` and `+build`. [`Version::parse_strict`] is what Kargo's `strictSemvers`
//! accepts: the same, but all three parts and no leading zeros. Ordering is SemVer 2.0
//! precedence (from the `semver` crate), with build metadata and then the original text as
//! tie-breakers so that sorting is total and stable.
//!
//! [`Constraint::parse`] understands `=`, `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`), `~`, `~>`,
//! `^`, wildcards (`1.2.x`, `1.x`, `*`, `X`), hyphen ranges (`1.2 - 1.4.5`), AND by comma or
//! whitespace and OR by `||`. A version with a prerelease only satisfies an AND group when one
//! of the group's comparators has a prerelease itself (`>=1.2.3-0`); this is Masterminds'
//! rule, looser than npm's, which also demands the same `major.minor.patch`.
//!
//! Partial versions in a comparator act as wildcards, as in Masterminds: `>1.2` is
//! `>=1.3.0`, `<=1.2` is `<1.3.0`, `=1.2` is `~1.2`, `!=1.2` excludes all of `1.2.x`.
//! One deliberate difference: `^*` matches everything, as Masterminds documents, where its
//! code currently matches `0.0.0` only.
//!
//! Inputs are bounded like Masterminds' (`MAX_VERSION_LEN`, `MAX_CONSTRAINT_LEN`,
//! `MAX_ALTERNATIVES`), so a hostile tag list or Warehouse spec cannot make parsing costly.

use std::cmp::Ordering;
use std::fmt;

use ::semver::{BuildMetadata, Prerelease};
use ferry_api::{Classify, Disposition};

/// Longest version string accepted (Masterminds' `MaxVersionLen`).
pub const MAX_VERSION_LEN: usize = 256;
/// Longest constraint string accepted (Masterminds' `MaxConstraintLen`).
pub const MAX_CONSTRAINT_LEN: usize = 512;
/// Most `||` alternatives in one constraint (Masterminds' `MaxConstraintGroups`).
pub const MAX_ALTERNATIVES: usize = 32;

/// Why a version or constraint string was refused. Retrying does not help: the input must
/// change. Inputs are echoed (they are tags and spec fields, never secrets), bounded by the
/// length limits above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// Nothing was given.
    #[error("version is empty")]
    EmptyVersion,
    #[error("version is {len} bytes long; at most {MAX_VERSION_LEN} are allowed")]
    /// Longer than [`MAX_VERSION_LEN`].
    VersionTooLong {
        /// The version's length in bytes.
        len: usize,
    },
    #[error("invalid version {input:?}: {reason}")]
    /// Not a version, even leniently read (`v1.2` is one).
    InvalidVersion {
        /// The version as given.
        input: String,
        /// The parser's complaint.
        reason: String,
    },
    #[error("version {input:?} is not a strict semantic version: {reason}")]
    /// A version, but not strict SemVer where strict is required (`strictSemvers`).
    NotStrict {
        /// The version as given.
        input: String,
        /// What is not strict about it.
        reason: &'static str,
    },
    #[error("constraint is {len} bytes long; at most {MAX_CONSTRAINT_LEN} are allowed")]
    /// Longer than [`MAX_CONSTRAINT_LEN`].
    ConstraintTooLong {
        /// The constraint's length in bytes.
        len: usize,
    },
    #[error("constraint has {count} `||` alternatives; at most {MAX_ALTERNATIVES} are allowed")]
    /// More than [`MAX_ALTERNATIVES`] `||` alternatives.
    TooManyAlternatives {
        /// How many there are.
        count: usize,
    },
    #[error("invalid constraint {input:?}: {reason}")]
    /// A constraint that does not parse.
    InvalidConstraint {
        /// The constraint as given.
        input: String,
        /// The parser's complaint.
        reason: String,
    },
}

impl Classify for SemverError {
    /// The version or constraint text must change.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// A parsed version that remembers how it was written (`v1.2` stays `v1.2` on display).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    semver: ::semver::Version,
    original: String,
}

impl Version {
    /// Masterminds' lenient `NewVersion`: `v1.2.3`, `1.2`, `1`, `01.002.3` and full SemVer.
    pub fn parse(input: &str) -> Result<Version, SemverError> {
        let semver = parse_lenient(input)?;
        Ok(Version {
            semver,
            original: input.to_owned(),
        })
    }

    /// Kargo's `strictSemvers`: like [`Version::parse`] (a leading `v` is still allowed), but
    /// major, minor and patch must all be present and carry no leading zeros.
    pub fn parse_strict(input: &str) -> Result<Version, SemverError> {
        let version = Version::parse(input)?;
        let bare = input.strip_prefix('v').unwrap_or(input);
        let core = bare.split(['-', '+']).next().unwrap_or(bare);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(SemverError::NotStrict {
                input: input.to_owned(),
                reason: "major, minor and patch are all required",
            });
        }
        if parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
            return Err(SemverError::NotStrict {
                input: input.to_owned(),
                reason: "numeric parts must not have leading zeros",
            });
        }
        Ok(version)
    }

    /// The text this version was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The coerced SemVer value (`v1.2` is `1.2.0`).
    pub fn as_semver(&self) -> &::semver::Version {
        &self.semver
    }

    /// The major version.
    pub fn major(&self) -> u64 {
        self.semver.major
    }

    /// The minor version.
    pub fn minor(&self) -> u64 {
        self.semver.minor
    }

    /// The patch version.
    pub fn patch(&self) -> u64 {
        self.semver.patch
    }

    /// Whether there is a pre-release part (`-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.semver.pre.is_empty()
    }

    /// SemVer precedence only: build metadata and spelling are ignored, so `v1.2` and
    /// `1.2.0+build.7` compare equal here (but not under [`Ord`]).
    pub fn cmp_precedence(&self, other: &Version) -> Ordering {
        self.semver.cmp_precedence(&other.semver)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.semver
            .cmp_precedence(&other.semver)
            .then_with(|| self.semver.build.cmp(&other.semver.build))
            .then_with(|| self.original.cmp(&other.original))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for Version {
    type Err = SemverError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

fn parse_lenient(input: &str) -> Result<::semver::Version, SemverError> {
    if input.is_empty() {
        return Err(SemverError::EmptyVersion);
    }
    if input.len() > MAX_VERSION_LEN {
        return Err(SemverError::VersionTooLong { len: input.len() });
    }
    let invalid = |reason: &str| SemverError::InvalidVersion {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let bare = input.strip_prefix('v').unwrap_or(input);
    let (rest, build) = split_suffix(bare, '+');
    let (core, pre) = split_suffix(rest, '-');
    let build = parse_build(build).map_err(|r| invalid(&r))?;
    let pre = parse_pre(pre).map_err(|r| invalid(&r))?;

    let mut numbers = [0u64; 3];
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(invalid("more than three numeric parts"));
    }
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        *slot = parse_number(part).map_err(|r| invalid(&r))?;
    }
    Ok(::semver::Version {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        pre,
        build,
    })
}

/// Splits at the first `sep`; the suffix is `None` when `sep` is absent.
fn split_suffix(s: &str, sep: char) -> (&str, Option<&str>) {
    match s.split_once(sep) {
        Some((head, tail)) => (head, Some(tail)),
        None => (s, None),
    }
}

fn parse_number(part: &str) -> Result<u64, String> {
    if part.is_empty() {
        return Err("empty numeric part".to_owned());
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{part:?} is not a number"));
    }
    part.parse::<u64>()
        .map_err(|_| format!("{part:?} does not fit in 64 bits"))
}

fn parse_pre(pre: Option<&str>) -> Result<Prerelease, String> {
    match pre {
        None => Ok(Prerelease::EMPTY),
        Some("") => Err("empty prerelease after `-`".to_owned()),
        Some(text) => Prerelease::new(text).map_err(|e| format!("prerelease {text:?}: {e}")),
    }
}

fn parse_build(build: Option<&str>) -> Result<BuildMetadata, String> {
    match build {
        None => Ok(BuildMetadata::EMPTY),
        Some("") => Err("empty build metadata after `+`".to_owned()),
        Some(text) => BuildMetadata::new(text).map_err(|e| format!("build metadata {text:?}: {e}")),
    }
}

/// A parsed constraint: `||`-separated alternatives, each an AND of comparators.
#[derive(Clone, Debug)]
pub struct Constraint {
    groups: Vec<Group>,
    original: String,
    include_prereleases: bool,
}

#[derive(Clone, Debug)]
struct Group {
    comparators: Vec<Comparator>,
    /// Some comparator names a prerelease, so prerelease versions may match this group.
    has_prerelease: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: exact, or `~` when the version has wildcards.
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// Which part of the comparator's version was a wildcard or left out (`1.x`, `1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wild {
    None,
    /// `*`, `x.y.z`: the major part is a wildcard.
    Major,
    /// `1`, `1.x`: minor (and patch) are open.
    Minor,
    /// `1.2`, `1.2.x`: patch is open.
    Patch,
}

#[derive(Clone, Debug)]
struct Comparator {
    op: Op,
    version: ::semver::Version,
    wild: Wild,
}

impl Constraint {
    /// Parses a Masterminds constraint. The empty string means "any release" (`*`).
    pub fn parse(input: &str) -> Result<Constraint, SemverError> {
        if input.len() > MAX_CONSTRAINT_LEN {
            return Err(SemverError::ConstraintTooLong { len: input.len() });
        }
        let alternatives: Vec<&str> = if input.is_empty() {
            vec!["*"]
        } else {
            input.split("||").collect()
        };
        if alternatives.len() > MAX_ALTERNATIVES {
            return Err(SemverError::TooManyAlternatives {
                count: alternatives.len(),
            });
        }
        let groups = alternatives
            .into_iter()
            .map(parse_group)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| SemverError::InvalidConstraint {
                input: input.to_owned(),
                reason,
            })?;
        Ok(Constraint {
            groups,
            original: input.to_owned(),
            include_prereleases: false,
        })
    }

    /// Lets prerelease versions match every group, like Masterminds' `IncludePrerelease`.
    pub fn include_prereleases(mut self, include: bool) -> Constraint {
        self.include_prereleases = include;
        self
    }

    /// The text this constraint was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Whether `version` satisfies some alternative of this constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            let prereleases = self.include_prereleases || group.has_prerelease;
            group
                .comparators
                .iter()
                .all(|c| c.matches(&version.semver, prereleases))
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for Constraint {
    type Err = SemverError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraint::parse(s)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Comma,
    Word(&'a str),
}

fn tokenize(group: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in group.char_indices() {
        let boundary = c == ',' || c.is_ascii_whitespace();
        if boundary {
            if let Some(s) = start.take() {
                tokens.push(Token::Word(&group[s..i]));
            }
            if c == ',' {
                tokens.push(Token::Comma);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(Token::Word(&group[s..]));
    }
    tokens
}

/// One AND group. Comparators are separated by whitespace or one comma; an operator may stand
/// apart from its version (`>= 1.2`); `A - B` is the hyphen range `>=A, <=B`.
fn parse_group(group: &str) -> Result<Group, String> {
    let tokens = tokenize(group);
    if tokens.is_empty() {
        return Err("empty alternative: nothing between `||` separators".to_owned());
    }
    let mut comparators = Vec::new();
    let mut i = 0;
    let mut expect_item = true;
    while i < tokens.len() {
        match tokens[i] {
            Token::Comma => {
                if expect_item {
                    return Err("a comma must separate two comparators".to_owned());
                }
                expect_item = true;
                i += 1;
            }
            Token::Word(word) => {
                let (op, rest) = split_op(word);
                let (version_text, used) = if rest.is_empty() {
                    match tokens.get(i + 1) {
                        Some(Token::Word(next)) => (*next, 2),
                        _ => return Err(format!("operator {word:?} has no version after it")),
                    }
                } else {
                    (rest, 1)
                };
                if version_text == "-" {
                    return Err("a hyphen range needs a version on each side of ` - `".to_owned());
                }
                let (version, wild) = parse_comparator_version(version_text)?;
                i += used;
                // `A - B`: only between two bare versions, with whitespace around the hyphen.
                if let (Some(Token::Word("-")), Some(Token::Word(upper))) =
                    (tokens.get(i), tokens.get(i + 1))
                {
                    if op.is_some() || split_op(upper).0.is_some() {
                        return Err(format!(
                            "hyphen range {version_text:?} - {upper:?} takes plain versions, \
                             without operators"
                        ));
                    }
                    let (upper_version, upper_wild) = parse_comparator_version(upper)?;
                    comparators.push(Comparator {
                        op: Op::Ge,
                        version,
                        wild,
                    });
                    comparators.push(Comparator {
                        op: Op::Le,
                        version: upper_version,
                        wild: upper_wild,
                    });
                    i += 2;
                } else if let Some(Token::Word("-")) = tokens.get(i) {
                    return Err(format!(
                        "hyphen range after {version_text:?} has no upper bound"
                    ));
                } else {
                    comparators.push(Comparator {
                        op: op.unwrap_or(Op::Eq),
                        version,
                        wild,
                    });
                }
                expect_item = false;
            }
        }
    }
    if expect_item {
        return Err("a trailing comma must be followed by a comparator".to_owned());
    }
    let has_prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Ok(Group {
        comparators,
        has_prerelease,
    })
}

/// Splits a leading operator off `word`; longer operators win (`>=` over `>`).
fn split_op(word: &str) -> (Option<Op>, &str) {
    const OPS: [(&str, Op); 11] = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("~>", Op::Tilde),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    for (text, op) in OPS {
        if let Some(rest) = word.strip_prefix(text) {
            return (Some(op), rest);
        }
    }
    (None, word)
}

fn is_wildcard(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// The version of one comparator: like a lenient version, but any part may be a wildcard and
/// missing parts are wildcards too.
fn parse_comparator_version(text: &str) -> Result<(::semver::Version, Wild), String> {
    let invalid = |reason: String| format!("{text:?} is not a version: {reason}");
    let bare = text.strip_prefix('v').unwrap_or(text);
    let (rest, build) = split_suffix(bare, '+');
    let (core, pre) = split_suffix(rest, '-');
    parse_build(build).map_err(invalid)?;
    let pre = parse_pre(pre).map_err(invalid)?;
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(invalid("more than three parts".to_owned()));
    }
    let mut numbers = [0u64; 3];
    let mut wild = Wild::None;
    for (index, part) in parts.iter().enumerate() {
        if is_wildcard(part) {
            if wild == Wild::None {
                wild = [Wild::Major, Wild::Minor, Wild::Patch][index];
            }
            continue;
        }
        let number = parse_number(part).map_err(invalid)?;
        // Parts after a wildcard are ignored, as Masterminds does (`1.x.3` is `1.x`).
        if wild == Wild::None {
            numbers[index] = number;
        }
    }
    if wild == Wild::None {
        wild = match parts.len() {
            1 => Wild::Minor,
            2 => Wild::Patch,
            _ => Wild::None,
        };
    }
    let version = ::semver::Version {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        pre,
        build: BuildMetadata::EMPTY,
    };
    Ok((version, wild))
}

impl Comparator {
    fn matches(&self, v: &::semver::Version, prereleases: bool) -> bool {
        if !v.pre.is_empty() && !prereleases {
            return false;
        }
        match self.op {
            Op::Eq if self.wild == Wild::None => v.cmp_precedence(&self.version).is_eq(),
            Op::Eq | Op::Tilde => self.tilde(v),
            Op::Ne => self.not_equal(v),
            Op::Gt => self.greater(v),
            Op::Lt => v.cmp_precedence(&self.version).is_lt(),
            Op::Ge => v.cmp_precedence(&self.version).is_ge(),
            Op::Le => self.less_or_equal(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &::semver::Version) -> bool {
        let c = &self.version;
        if self.wild != Wild::None {
            if v.major != c.major {
                return true;
            }
            if self.wild == Wild::Minor {
                return false;
            }
            if v.minor != c.minor {
                return true;
            }
            if self.wild == Wild::Patch {
                // `!=1.2-beta` still lets `1.2.0` through: only the prerelease differs.
                return v.pre != c.pre;
            }
            if v.patch != c.patch {
                return true;
            }
        }
        !v.cmp_precedence(c).is_eq()
    }

    fn greater(&self, v: &::semver::Version) -> bool {
        let c = &self.version;
        match self.wild {
            Wild::None | Wild::Major => v.cmp_precedence(c).is_gt(),
            // `>1` needs 2.0.0 or more; `>1.2` needs 1.3.0 or more.
            Wild::Minor => v.major > c.major,
            Wild::Patch => v.major > c.major || (v.major == c.major && v.minor > c.minor),
        }
    }

    fn less_or_equal(&self, v: &::semver::Version) -> bool {
        let c = &self.version;
        if self.wild == Wild::None {
            return v.cmp_precedence(c).is_le();
        }
        // `<=1` allows all of 1.x.y; `<=1.2` all of 1.2.y.
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && self.wild != Wild::Minor)
    }

    /// `~1.2.3` is `>=1.2.3 <1.3.0`; `~1` and `~1.x` are `>=1.0.0 <2.0.0`; `~0.0.0` and `~*`
    /// are any.
    fn tilde(&self, v: &::semver::Version) -> bool {
        let c = &self.version;
        if v.cmp_precedence(c).is_lt() {
            return false;
        }
        let zero = c.major == 0 && c.minor == 0 && c.patch == 0;
        if zero && !matches!(self.wild, Wild::Minor | Wild::Patch) {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.wild == Wild::Minor
    }

    /// `^1.2.3` is `>=1.2.3 <2.0.0`; `^0.2.3` is `>=0.2.3 <0.3.0`; `^0.0.3` is
    /// `>=0.0.3 <0.0.4`; `^0.0` is `<0.1.0`; `^0` is `<1.0.0`; `^*` is any.
    fn caret(&self, v: &::semver::Version) -> bool {
        let c = &self.version;
        if v.cmp_precedence(c).is_lt() {
            return false;
        }
        if self.wild == Wild::Major {
            return true;
        }
        if c.major > 0 || self.wild == Wild::Minor {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.wild == Wild::Patch {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == c.patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (constraint, version, expected). Sources: Masterminds' README rules and its documented
    /// behaviour, plus the Helm and Kargo forms we see in the seeds.
    const CASES: &[(&str, &str, bool)] = &[
        // Exact and `=`; partial versions act as wildcards.
        ("=2.0.0", "1.2.3", false),
        ("=2.0.0", "2.0.0", true),
        ("2.0.0", "v2.0.0", true),
        ("=2.0.0", "2.0.0+build.5", true),
        ("=2.0", "2.0.1", true),
        ("=2.0", "2.1.0", false),
        ("4.1", "4.1.0", true),
        ("2", "2.1.1", true),
        ("2", "3.4.5", false),
        ("v1.2.3", "1.2.3", true),
        // `!=`
        ("!=4.1.0", "4.1.0", false),
        ("!=4.1.0", "4.1.1", true),
        ("!=4.1", "4.1.1", false),
        ("!=4.1", "5.1.0", true),
        ("!=4.x", "4.1.0", false),
        ("!=4.x", "5.1.0", true),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1-alpha", "4.1.0-alpha", false),
        ("!=4.1", "5.1.0-alpha.1", false),
        // `>` and `>=`; `>1.1` means "above all of 1.1.x".
        (">1.1", "4.1.0", true),
        (">1.1", "1.1.0", false),
        (">1.1", "1.1.9", false),
        (">1.1", "1.2.0", true),
        (">11", "11.1.0", false),
        (">11", "12.0.0", true),
        (">0", "0.0.1-alpha", false),
        (">1.2.3", "1.2.4", true),
        (">1.2.3", "1.2.3", false),
        (">=1.1", "1.1.0", true),
        (">=1.1", "0.0.9", false),
        (">=1.1", "4.1.0-beta", false),
        ("=>1.1", "1.1.0", true),
        (">= 1.2.3", "1.3", true),
        // `<` and `<=`; `<=1.1` includes all of 1.1.x.
        ("<1.1", "0.1.0", true),
        ("<1.1", "1.1.0", false),
        ("<1.x", "0.1.1", true),
        ("<1.x", "1.1.1", false),
        ("<=1.1", "1.1.0", true),
        ("<=1.1", "1.1.9", true),
        ("<=1.1", "1.2.0", false),
        ("<=11", "11.2.3", true),
        ("<=11", "12.0.0", false),
        ("=<1.1", "1.1.1", true),
        ("<=1.1", "0.1.0-alpha", false),
        ("<=1.1-a", "0.1.0-alpha", true),
        ("<0-z", "0.0.0-alpha", true),
        // Wildcards.
        ("*", "1.0.0", true),
        ("*", "1.2.3-alpha.1", false),
        ("*-0", "1.2.3-alpha.1", true),
        ("x", "4.5.6", true),
        ("1.2.x", "1.2.9", true),
        ("1.2.x", "1.3.0", false),
        ("1.2.X", "1.2.0", true),
        ("1.x", "1.9.9", true),
        ("1.x", "2.0.0", false),
        ("2.*", "2.1.1", true),
        ("2.1.*", "2.2.1", false),
        (">= 1.2.x", "1.2.0", true),
        ("<= 2.x", "2.9.9", true),
        ("<= 2.x", "3.0.0", false),
        ("", "4.5.6", true),
        ("", "1.2.3-alpha.1", false),
        // Tilde.
        ("~1.2.3", "1.2.3", true),
        ("~1.2.3", "1.2.9", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.0", false),
        ("~1", "1.9.0", true),
        ("~1", "2.0.0", false),
        ("~2.3", "2.3.7", true),
        ("~2.3", "2.4.0", false),
        ("~1.2.x", "1.2.5", true),
        ("~1.x", "1.4.0", true),
        ("~>1.2", "1.2.9", true),
        ("~>1.2", "1.3.0", false),
        ("~0.0.0", "1.2.3", true),
        ("~*", "2.1.1", true),
        ("~1.1", "1.1.1-alpha", false),
        ("~1.2.3-beta.2", "1.2.3-beta.4", true),
        // Masterminds lets a prerelease comparator open prereleases of other patches too.
        ("~1.2.3-beta.2", "1.2.4-beta.2", true),
        ("~1.2.3-beta.2", "1.3.4-beta.2", false),
        // Caret, including the 0.x rules.
        ("^1.2.3", "1.8.9", true),
        ("^1.2.3", "2.0.0", false),
        ("^1.2.3", "1.2.1", false),
        ("^1.2.x", "1.9.0", true),
        ("^2.3", "2.9.0", true),
        ("^2.x", "3.0.0", false),
        ("^1", "1.8.9", true),
        ("^0.2.3", "0.2.5", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.2", "0.2.0", true),
        ("^0.2", "0.3.0", false),
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        ("^0.0", "0.0.9", true),
        ("^0.0", "0.1.0", false),
        ("^0", "0.9.9", true),
        ("^0", "1.0.0", false),
        ("^*", "5.0.0", true),
        ("^1.2.0", "1.2.1-alpha.1", false),
        ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
        ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
        ("^1.26.0", "1.27.3", true),
        // Hyphen ranges.
        ("1.2 - 1.4.5", "1.2.0", true),
        ("1.2 - 1.4.5", "1.4.5", true),
        ("1.2 - 1.4.5", "1.4.6", false),
        ("2.3.4 - 4.5", "4.5.9", true),
        ("2.3.4 - 4.5", "4.6.0", false),
        ("1.1 - 2", "2.9.0", true),
        ("1.1-3", "4.3.2", false),
        ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
        ("1.0.0 - 2.0.0, <2.0.0", "2.0.0", false),
        // AND by comma or whitespace, OR by `||`.
        (">=1.0, <2.0", "1.5.0", true),
        (">=1.0, <2.0", "2.0.0", false),
        (">=1.0 <2.0", "1.9.9", true),
        (">= 1.0    < 2.0", "2.1.0", false),
        (">=1.1, <2, !=1.2.3", "1.2.3", false),
        (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
        ("^1.26.0 || ^2", "2.3.0", true),
        ("^1.26.0 || ^2", "1.25.0", false),
        // The prerelease rule is per AND group.
        (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true),
        (">=1.0.0-0 <2.0.0 || >=3", "3.1.0-rc.1", false),
        (">=1.0.0 || >=2.0.0-0", "2.1.0-rc.1", true),
        (">=0.0.0-0", "3.4.5-beta.1", true),
    ];

    #[test]
    fn masterminds_constraint_table() {
        assert!(CASES.len() >= 80, "the table should stay large");
        let mut failures = Vec::new();
        for &(constraint, version, expected) in CASES {
            let c = Constraint::parse(constraint)
                .unwrap_or_else(|e| panic!("constraint {constraint:?}: {e}"));
            let v = Version::parse(version).unwrap_or_else(|e| panic!("version {version:?}: {e}"));
            if c.matches(&v) != expected {
                failures.push(format!(
                    "{constraint:?} on {version:?}: expected {expected}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn invalid_constraints_say_why() {
        let cases: &[(&str, &str)] = &[
            ("foo", "\"foo\" is not a version"),
            (">= bar", "\"bar\" is not a version"),
            ("BAR >= 1.2.3", "\"BAR\" is not a version"),
            ("12.3.4.1234", "more than three parts"),
            ("12.3.34~ 1.2.3", "\"12.3.34~\" is not a version"),
            (">=", "operator \">=\" has no version after it"),
            (">=1.0 ||", "empty alternative"),
            ("|| 1.0", "empty alternative"),
            (">=1.0,, <2", "a comma must separate two comparators"),
            (">=1.0,", "trailing comma"),
            (", >=1.0", "a comma must separate two comparators"),
            (">1.0<2.0", "\"1.0<2.0\" is not a version"),
            (">=1 - 2", "takes plain versions"),
            ("1 -", "no upper bound"),
            ("- 2", "needs a version on each side"),
            ("1.2.3-01", "prerelease"),
            ("1.2.3-", "empty prerelease"),
            ("1.2.3+", "empty build metadata"),
            ("1.2.3-a..b", "prerelease"),
            ("1.2.y", "\"y\" is not a number"),
            ("99999999999999999999", "does not fit in 64 bits"),
            ("  ", "empty alternative"),
        ];
        for &(input, needle) in cases {
            let err = Constraint::parse(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input:?}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn constraint_limits() {
        let long = format!(">={}", "1".repeat(MAX_CONSTRAINT_LEN));
        assert_eq!(
            Constraint::parse(&long).unwrap_err(),
            SemverError::ConstraintTooLong { len: long.len() }
        );
        let many = vec!["1"; MAX_ALTERNATIVES + 1].join("||");
        assert_eq!(
            Constraint::parse(&many).unwrap_err(),
            SemverError::TooManyAlternatives {
                count: MAX_ALTERNATIVES + 1
            }
        );
        let enough = vec!["1"; MAX_ALTERNATIVES].join("||");
        assert!(Constraint::parse(&enough).is_ok());
    }

    #[test]
    fn include_prereleases_opens_every_group() {
        let c = Constraint::parse(">=1.0").unwrap();
        let rc = Version::parse("1.5.0-rc.1").unwrap();
        assert!(!c.matches(&rc));
        assert!(c.include_prereleases(true).matches(&rc));
    }

    #[test]
    fn lenient_parsing_coerces_like_masterminds() {
        let cases = [
            ("1.2.3", "1.2.3"),
            ("v1.2.3", "1.2.3"),
            ("1.2", "1.2.0"),
            ("1", "1.0.0"),
            ("v2", "2.0.0"),
            ("01.002.3", "1.2.3"),
            ("1.2-beta.1", "1.2.0-beta.1"),
            ("1.2.3-beta-1+build.007", "1.2.3-beta-1+build.007"),
            ("1.2.3+meta-data", "1.2.3+meta-data"),
        ];
        for (input, coerced) in cases {
            let v = Version::parse(input).unwrap();
            assert_eq!(v.as_semver().to_string(), coerced, "{input}");
            assert_eq!(v.to_string(), input, "display keeps the original");
            assert_eq!(v.original(), input);
        }
    }

    #[test]
    fn invalid_versions_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("V1.2.3", "is not a number"),
            ("1.2.3.4", "more than three"),
            ("1..3", "empty numeric part"),
            ("1.2.3-01", "prerelease"),
            ("1.2.3-", "empty prerelease"),
            ("1.2.3+a..b", "build metadata"),
            (" 1.2.3", "is not a number"),
            ("latest", "is not a number"),
            ("1.x", "is not a number"),
        ];
        for &(input, needle) in cases {
            let err = Version::parse(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input:?}: {err:?} lacks {needle:?}");
        }
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        assert_eq!(
            Version::parse(&long).unwrap_err(),
            SemverError::VersionTooLong { len: long.len() }
        );
    }

    #[test]
    fn strict_parsing_is_kargos() {
        for ok in ["1.2.3", "v1.2.3", "1.2.3-rc.1", "v0.0.1+build"] {
            assert!(Version::parse_strict(ok).is_ok(), "{ok}");
        }
        for bad in ["1.2", "v1", "01.2.3", "1.02.3", "1.2.03-rc.1"] {
            let err = Version::parse_strict(bad).expect_err(bad);
            assert!(matches!(err, SemverError::NotStrict { .. }), "{bad}: {err}");
        }
        assert!(matches!(
            Version::parse_strict("1.2.3.4"),
            Err(SemverError::InvalidVersion { .. })
        ));
    }

    #[test]
    fn ordering_is_semver_precedence_then_spelling() {
        let mut versions: Vec<Version> = [
            "1.10.0",
            "1.2.3",
            "v1.2.3",
            "1.2.3-rc.1",
            "1.2.3-beta.11",
            "1.2.3-beta.2",
            "1.2",
            "2",
            "0.4.2",
            "1.2.3+build.1",
        ]
        .iter()
        .map(|s| Version::parse(s).unwrap())
        .collect();
        versions.sort();
        let sorted: Vec<&str> = versions.iter().map(Version::original).collect();
        assert_eq!(
            sorted,
            [
                "0.4.2",
                "1.2",
                "1.2.3-beta.2",
                "1.2.3-beta.11",
                "1.2.3-rc.1",
                "1.2.3",
                "v1.2.3",
                "1.2.3+build.1",
                "1.10.0",
                "2",
            ]
        );
        let a = Version::parse("v1.2.3").unwrap();
        let b = Version::parse("1.2.3+x").unwrap();
        assert_eq!(a.cmp_precedence(&b), Ordering::Equal);
        assert_ne!(a.cmp(&b), Ordering::Equal);
        assert_ne!(a, b);
    }
}
