//! Name, label and object-metadata validation with apimachinery's rules and
//! wording (`k8s.io/apimachinery/pkg/util/validation` and
//! `pkg/api/validation`).
//!
//! The `is_*`-style checks (`dns1123_subdomain`, `qualified_name`, ...) return
//! every problem as a bare message, exactly like their Go counterparts; an
//! empty vector means valid. [`validate_object_meta`] prefixes each message
//! with its field path (`metadata.name: Invalid value: "Foo": ...`) the way
//! `field.Error` renders, so the API server can put them straight into a
//! 422 `Status`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::meta;

/// Maximum length of a DNS-1123 subdomain (most object names).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Maximum length of a DNS-1123 or DNS-1035 label (namespaces, services).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Maximum length of a label value and of the name part of a qualified name.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Maximum total size of all annotation keys and values, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// `generateName` prefixes are cut to this many bytes so that prefix plus the
/// random suffix still fits a 63-character label (Kubernetes'
/// `MaxGeneratedNameLength`).
pub const MAX_GENERATED_NAME_PREFIX_LENGTH: usize = 63 - GENERATED_SUFFIX_LENGTH;

const GENERATED_SUFFIX_LENGTH: usize = 5;
/// Kubernetes' `utilrand` alphabet: no vowels (no accidental words) and no
/// look-alikes such as `0`/`o`, `1`/`l`, `3`/`e`.
const GENERATED_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `must be no more than N characters` (apimachinery's `MaxLenError`).
fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// apimachinery's `RegexError`, including its odd `',  or '` spacing, so
/// messages are byte-identical to what kubectl users already know.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = String::from(msg);
    if examples.is_empty() {
        out.push_str(&format!(" (regex used for validation is '{fmt}')"));
        return out;
    }
    out.push_str(" (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Matches `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`.
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first)
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// Matches the subdomain regex: dot-separated DNS-1123 labels.
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// Matches `^[a-z]([-a-z0-9]*[a-z0-9])?$`.
fn matches_dns1035_label(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase) && matches_dns1123_label(s)
}

/// Matches `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// RFC 1123 subdomain (most object names, the prefix of label keys).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// RFC 1123 label (namespace names and other names that become DNS labels).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain but not a label: the only difference is dots.
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// RFC 1035 label: like a DNS-1123 label but must start with a letter
/// (Service names, because they become environment variable names too).
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Qualified name: label and annotation keys, finalizers — an optional
/// DNS-subdomain prefix and `/`, then a name of at most 63 characters.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match value.split_once('/') {
        None => value,
        Some((_, rest)) if rest.contains('/') => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
        Some((prefix, name)) => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|msg| format!("prefix part {msg}")),
                );
            }
            name
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_VALUE_MAX_LENGTH)
        ));
    }
    // Deliberately not `else`: Kubernetes reports an empty name twice
    // (non-empty and regex), and clients may match on either message.
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Label value: empty, or up to 63 alphanumerics plus `-_.` inside.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Path-segment name (RBAC roles and bindings, which allow `:`): the name
/// must survive being a URL path segment. With `prefix` (a `generateName`)
/// `.` and `..` are allowed because a suffix will follow.
pub fn path_segment_name(value: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if value == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    ["/", "%"]
        .into_iter()
        .filter(|bad| value.contains(bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Which rule a kind's `metadata.name` follows (apimachinery's
/// `ValidateNameFunc` family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Most kinds: ConfigMap, Deployment, Secret, CRDs, Argo CD kinds.
    Dns1123Subdomain,
    /// Namespace and a few others whose names become DNS labels.
    Dns1123Label,
    /// Service.
    Dns1035Label,
    /// RBAC Role/ClusterRole and bindings (`system:controller:x` is legal).
    PathSegment,
}

impl NameRule {
    /// Validates `name`; `prefix` marks a `generateName`, whose trailing `-`
    /// is fine because random characters follow.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => dns1123_subdomain(name),
            NameRule::Dns1123Label => dns1123_label(name),
            NameRule::Dns1035Label => dns1035_label(name),
            NameRule::PathSegment => path_segment_name(name, prefix),
        }
    }
}

/// apimachinery's `maskTrailingDash`: a prefix ending in `-` has its last two
/// bytes replaced by `a` so the regex (which forbids a trailing dash) can be
/// reused. Replacing two bytes rather than one is Kubernetes' own quirk; it
/// is kept so the same prefixes are accepted and rejected.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
    }
    name.to_owned()
}

/// A name for `generateName`: `prefix` (cut to 58 bytes) plus 5 random
/// characters from Kubernetes' alphabet. Uniqueness is the store's job: the
/// caller retries on conflict, exactly as the Kubernetes API server does.
pub fn generate_name(prefix: &str) -> String {
    generate_name_with(prefix, random_u64())
}

fn generate_name_with(prefix: &str, mut random: u64) -> String {
    let mut cut = prefix.len().min(MAX_GENERATED_NAME_PREFIX_LENGTH);
    // Kubernetes cuts bytes; we also back off to a char boundary so we never
    // panic (a non-ASCII prefix is invalid anyway and is reported later).
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + GENERATED_SUFFIX_LENGTH);
    name.push_str(&prefix[..cut]);
    let base = GENERATED_ALPHABET.len() as u64;
    for _ in 0..GENERATED_SUFFIX_LENGTH {
        // 27^13 < 2^64, so five base-27 digits of a uniform u64 are uniform
        // to within a negligible bias.
        let digit = usize::try_from(random % base).unwrap_or(0);
        name.push(char::from(GENERATED_ALPHABET[digit]));
        random /= base;
    }
    name
}

/// 64 random bits without a dependency: `RandomState` is seeded from the OS
/// once per thread and its keys change on every `new()`; the counter and the
/// clock make repeated calls differ even if that ever stopped being true.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

/// `path: Invalid value: "value": detail`, as `field.Invalid` renders.
fn invalid(path: &str, value: &Value, detail: &str) -> String {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    format!("{path}: Invalid value: {shown}: {detail}")
}

fn invalid_str(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value:?}: {detail}")
}

/// Validates label keys and values under `path` (e.g. `metadata.labels`,
/// `spec.template.metadata.labels`).
pub fn validate_labels(labels: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut errs = Vec::new();
    for (key, value) in labels {
        errs.extend(
            qualified_name(key)
                .iter()
                .map(|m| invalid_str(path, key, m)),
        );
        match value.as_str() {
            Some(v) => errs.extend(label_value(v).iter().map(|m| invalid_str(path, v, m))),
            None => errs.push(invalid(
                &format!("{path}[{key}]"),
                value,
                "must be a string",
            )),
        }
    }
    errs
}

/// Validates annotation keys (qualified names, case-insensitively) and the
/// 256 KiB total size limit.
pub fn validate_annotations(annotations: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations {
        // Kubernetes lowercases first: annotation keys may use upper case in
        // the prefix, which a DNS subdomain would otherwise reject.
        errs.extend(
            qualified_name(&key.to_lowercase())
                .iter()
                .map(|m| invalid_str(path, key, m)),
        );
        match value.as_str() {
            Some(v) => total += key.len() + v.len(),
            None => errs.push(invalid(
                &format!("{path}[{key}]"),
                value,
                "must be a string",
            )),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(format!(
            "{path}: Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
        ));
    }
    errs
}

/// Reads an optional string field of `metadata`; a non-string is reported
/// and treated as absent.
fn meta_str<'a>(meta: &'a Map<String, Value>, key: &str, errs: &mut Vec<String>) -> &'a str {
    match meta.get(key) {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s,
        Some(other) => {
            errs.push(invalid(
                &format!("metadata.{key}"),
                other,
                "must be a string",
            ));
            ""
        }
    }
}

/// Validates an object's `metadata` the way `ValidateObjectMeta` does for a
/// create: name (or generateName) per `name_rule`, namespace presence and
/// syntax, labels, annotations, finalizers and owner references. Returns
/// every problem as `path: message`; empty means valid.
///
/// Call it after the server has filled in the namespace from the URL and,
/// for `generateName`, before generating the name — the prefix is checked on
/// its own, as Kubernetes does.
pub fn validate_object_meta(obj: &Value, namespaced: bool, name_rule: NameRule) -> Vec<String> {
    let mut errs = Vec::new();
    let empty = Map::new();
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => return vec![invalid("metadata", other, "must be an object")],
    };

    let generate_name = meta_str(metadata, "generateName", &mut errs);
    if !generate_name.is_empty() {
        errs.extend(
            name_rule
                .check(generate_name, true)
                .iter()
                .map(|m| invalid_str("metadata.generateName", generate_name, m)),
        );
    }
    let name = meta_str(metadata, "name", &mut errs);
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push("metadata.name: Required value: name or generateName is required".into());
        }
    } else {
        errs.extend(
            name_rule
                .check(name, false)
                .iter()
                .map(|m| invalid_str("metadata.name", name, m)),
        );
    }

    let namespace = meta_str(metadata, "namespace", &mut errs);
    if namespaced {
        if namespace.is_empty() {
            errs.push("metadata.namespace: Required value".into());
        } else {
            errs.extend(
                dns1123_label(namespace)
                    .iter()
                    .map(|m| invalid_str("metadata.namespace", namespace, m)),
            );
        }
    } else if !namespace.is_empty() {
        errs.push("metadata.namespace: Forbidden: not allowed on this type".into());
    }

    match metadata.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => errs.extend(validate_labels(labels, "metadata.labels")),
        Some(other) => errs.push(invalid("metadata.labels", other, "must be an object")),
    }
    match metadata.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(annotations)) => {
            errs.extend(validate_annotations(annotations, "metadata.annotations"));
        }
        Some(other) => errs.push(invalid("metadata.annotations", other, "must be an object")),
    }
    match metadata.get("finalizers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(f) => errs.extend(
                        qualified_name(f)
                            .iter()
                            .map(|m| invalid_str("metadata.finalizers", f, m)),
                    ),
                    None => errs.push(invalid("metadata.finalizers", item, "must be a string")),
                }
            }
        }
        Some(other) => errs.push(invalid("metadata.finalizers", other, "must be an array")),
    }
    match metadata.get("ownerReferences") {
        None | Some(Value::Null) => {}
        Some(refs @ Value::Array(_)) => errs.extend(validate_owner_references(refs)),
        Some(other) => errs.push(invalid(
            "metadata.ownerReferences",
            other,
            "must be an array",
        )),
    }
    errs
}

/// `ValidateOwnerReferences` minus the banned-owner list: the identifying
/// fields must be set and at most one reference may be the controller.
/// Paths are not indexed, matching Kubernetes' messages.
fn validate_owner_references(refs: &Value) -> Vec<String> {
    const PATH: &str = "metadata.ownerReferences";
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for item in refs.as_array().into_iter().flatten() {
        let Some(r) = meta::OwnerReference::from_json(item) else {
            errs.push(invalid(PATH, item, "must be an object"));
            continue;
        };
        let version_missing = meta::GroupVersionKind::from_api_version_kind(&r.api_version, "")
            .is_none_or(|gvk| gvk.version.is_empty());
        if version_missing {
            errs.push(invalid_str(
                &format!("{PATH}.apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        for (field, value) in [("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
            if value.is_empty() {
                errs.push(invalid_str(
                    &format!("{PATH}.{field}"),
                    value,
                    "must not be empty",
                ));
            }
        }
        if r.controller {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(invalid(
                    PATH,
                    refs,
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const MAX_63: &str = "must be no more than 63 characters";
    const MAX_253: &str = "must be no more than 253 characters";

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    fn check(f: fn(&str) -> Vec<String>, rows: &[(String, Vec<String>)]) {
        for (input, want) in rows {
            assert_eq!(&f(input), want, "input {input:?}");
        }
    }

    fn row(input: &str, want: &[&str]) -> (String, Vec<String>) {
        (
            input.to_owned(),
            want.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    #[test]
    fn dns1123_subdomain_rules() {
        let prefixed_max = format!("{}.{}", a(63), a(189)); // 253 bytes
        check(
            dns1123_subdomain,
            &[
                row("example.com", &[]),
                row("a", &[]),
                row("0-a.b-1", &[]),
                row(&a(253), &[]),
                row(&prefixed_max, &[]),
                row(&a(254), &[MAX_253]),
                row(&format!("A{}", a(253)), &[MAX_253, SUBDOMAIN_MSG]),
                row("", &[SUBDOMAIN_MSG]),
                row("Example.com", &[SUBDOMAIN_MSG]),
                row("a..b", &[SUBDOMAIN_MSG]),
                row(".a", &[SUBDOMAIN_MSG]),
                row("a.", &[SUBDOMAIN_MSG]),
                row("-a", &[SUBDOMAIN_MSG]),
                row("a-", &[SUBDOMAIN_MSG]),
                row("a_b", &[SUBDOMAIN_MSG]),
                row("é", &[SUBDOMAIN_MSG]),
            ],
        );
    }

    #[test]
    fn dns1123_label_rules() {
        check(
            dns1123_label,
            &[
                row("my-name", &[]),
                row("123-abc", &[]),
                row(&a(63), &[]),
                row(&a(64), &[MAX_63]),
                row("a.b", &["must not contain dots"]),
                row(&format!("{}.b", a(63)), &[MAX_63, "must not contain dots"]),
                row("", &[LABEL_MSG]),
                row("My-name", &[LABEL_MSG]),
                row("a--", &[LABEL_MSG]),
                row("a_b", &[LABEL_MSG]),
            ],
        );
    }

    #[test]
    fn dns1035_label_rules() {
        check(
            dns1035_label,
            &[
                row("my-svc", &[]),
                row("a1", &[]),
                row(&a(63), &[]),
                row(&a(64), &[MAX_63]),
                row("1abc", &[DNS1035_MSG]),
                row("", &[DNS1035_MSG]),
                row("a.b", &[DNS1035_MSG]),
            ],
        );
    }

    #[test]
    fn qualified_name_rules() {
        let too_many_slashes = "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
        let prefix_subdomain = format!("prefix part {SUBDOMAIN_MSG}");
        check(
            qualified_name,
            &[
                row("app", &[]),
                row("App.Kubernetes_io-x", &[]),
                row("app.kubernetes.io/name", &[]),
                row("example.com/MyName", &[]),
                row(&a(63), &[]),
                row(&format!("{}/{}", a(253), a(63)), &[]),
                row(&a(64), &["name part must be no more than 63 characters"]),
                row(
                    &format!("{}/x", a(254)),
                    &["prefix part must be no more than 253 characters"],
                ),
                row("", &["name part must be non-empty", NAME_PART_MSG]),
                row("a/", &["name part must be non-empty", NAME_PART_MSG]),
                row("/a", &["prefix part must be non-empty"]),
                row("Example.com/a", &[&prefix_subdomain]),
                row("a/b/c", &[too_many_slashes]),
                row("_a", &[NAME_PART_MSG]),
                row("a-", &[NAME_PART_MSG]),
                row("a b", &[NAME_PART_MSG]),
                row("a@b", &[NAME_PART_MSG]),
            ],
        );
    }

    #[test]
    fn label_value_rules() {
        check(
            label_value,
            &[
                row("", &[]),
                row("MyValue", &[]),
                row("my_value.1-x", &[]),
                row("12345", &[]),
                row(&a(63), &[]),
                row(&a(64), &[MAX_63]),
                row(&format!("{}-", a(64)), &[MAX_63, VALUE_MSG]),
                row("-a", &[VALUE_MSG]),
                row("a.", &[VALUE_MSG]),
                row("a b", &[VALUE_MSG]),
                row("a/b", &[VALUE_MSG]),
            ],
        );
    }

    #[test]
    fn path_segment_rules() {
        let rows: &[(&str, bool, &[&str])] = &[
            ("system:controller:x", false, &[]),
            (".", false, &["may not be '.'"]),
            ("..", false, &["may not be '..'"]),
            ("..", true, &[]),
            ("a/b", false, &["may not contain '/'"]),
            ("a/%", true, &["may not contain '/'", "may not contain '%'"]),
        ];
        for (input, prefix, want) in rows {
            assert_eq!(path_segment_name(input, *prefix), *want, "input {input:?}");
        }
    }

    #[test]
    fn name_rules_mask_generate_name_dash() {
        let rows: &[(NameRule, &str, bool, usize)] = &[
            (NameRule::Dns1123Subdomain, "web-", true, 0),
            (NameRule::Dns1123Subdomain, "web-", false, 1),
            (NameRule::Dns1123Subdomain, "a-", true, 0),
            (NameRule::Dns1123Subdomain, "-", true, 1),
            // Kubernetes masks the last *two* bytes, so the byte before the
            // dash is never checked: these prefixes are accepted there too.
            (NameRule::Dns1123Subdomain, "a_-", true, 0),
            (NameRule::Dns1123Label, "x.-", true, 0),
            (NameRule::Dns1123Label, "web.x-", true, 1),
            (NameRule::Dns1035Label, "1x-", true, 1),
            (NameRule::Dns1035Label, "svc-", true, 0),
            (NameRule::PathSegment, "system:x-", true, 0),
        ];
        for (rule, name, prefix, errors) in rows {
            assert_eq!(
                rule.check(name, *prefix).len(),
                *errors,
                "{rule:?} {name:?} prefix={prefix}"
            );
        }
    }

    #[test]
    fn generate_name_is_deterministic_given_randomness() {
        let long = a(70);
        let rows: &[(&str, u64, String)] = &[
            ("x-", 0, "x-bbbbb".into()),
            ("x-", 1, "x-cbbbb".into()),
            ("x-", 26, "x-9bbbb".into()),
            ("x-", 27, "x-bcbbb".into()),
            ("", 0, "bbbbb".into()),
            (&long, 0, format!("{}bbbbb", a(58))),
            // A multi-byte char straddling byte 58 is dropped, not split.
            (&format!("{}é", a(57)), 0, format!("{}bbbbb", a(57))),
        ];
        for (prefix, random, want) in rows {
            assert_eq!(
                &generate_name_with(prefix, *random),
                want,
                "prefix {prefix:?}"
            );
        }
    }

    #[test]
    fn generate_name_format() {
        for prefix in ["web-", "", &a(100)] {
            let name = generate_name(prefix);
            let kept = &prefix[..prefix.len().min(58)];
            assert!(name.starts_with(kept), "{name}");
            assert_eq!(name.len(), kept.len() + 5, "{name}");
            assert!(
                name[kept.len()..]
                    .bytes()
                    .all(|b| GENERATED_ALPHABET.contains(&b)),
                "{name}"
            );
        }
        assert_eq!(generate_name(&a(100)).len(), 63);
        // Two calls differing would fail at a rate of 1 in 27^5 if random.
        assert_ne!(generate_name("x-"), generate_name("x-"));
    }

    #[test]
    fn object_meta_rules() {
        let big = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1);
        let too_big = "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let rows: Vec<(Value, bool, NameRule, Vec<String>)> = vec![
            (
                json!({"metadata": {"name": "ok", "namespace": "default"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec![],
            ),
            (
                json!({"metadata": {"namespace": "default"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec!["metadata.name: Required value: name or generateName is required".into()],
            ),
            (
                json!({}),
                false,
                NameRule::Dns1123Subdomain,
                vec!["metadata.name: Required value: name or generateName is required".into()],
            ),
            (
                json!({"metadata": {"generateName": "web-", "namespace": "d"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec![],
            ),
            (
                json!({"metadata": {"generateName": "Web-", "namespace": "d"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec![format!("metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_MSG}")],
            ),
            (
                json!({"metadata": {"name": "Foo"}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![format!("metadata.name: Invalid value: \"Foo\": {SUBDOMAIN_MSG}")],
            ),
            (
                json!({"metadata": {"name": "a.b"}}),
                false,
                NameRule::Dns1123Label,
                vec!["metadata.name: Invalid value: \"a.b\": must not contain dots".into()],
            ),
            (
                json!({"metadata": {"name": "1svc", "namespace": "d"}}),
                true,
                NameRule::Dns1035Label,
                vec![format!("metadata.name: Invalid value: \"1svc\": {DNS1035_MSG}")],
            ),
            (
                json!({"metadata": {"name": "system:auth"}}),
                false,
                NameRule::PathSegment,
                vec![],
            ),
            (
                json!({"metadata": {"name": "x"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec!["metadata.namespace: Required value".into()],
            ),
            (
                json!({"metadata": {"name": "x", "namespace": "d"}}),
                false,
                NameRule::Dns1123Subdomain,
                vec!["metadata.namespace: Forbidden: not allowed on this type".into()],
            ),
            (
                json!({"metadata": {"name": "x", "namespace": "Bad_ns"}}),
                true,
                NameRule::Dns1123Subdomain,
                vec![format!("metadata.namespace: Invalid value: \"Bad_ns\": {LABEL_MSG}")],
            ),
            (
                json!({"metadata": {"name": 5}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![
                    "metadata.name: Invalid value: 5: must be a string".into(),
                    "metadata.name: Required value: name or generateName is required".into(),
                ],
            ),
            (
                json!({"metadata": {"name": "x", "labels": {"a@b": "ok", "k": "-v", "n": 1}}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![
                    format!("metadata.labels: Invalid value: \"a@b\": {NAME_PART_MSG}"),
                    format!("metadata.labels: Invalid value: \"-v\": {VALUE_MSG}"),
                    "metadata.labels[n]: Invalid value: 1: must be a string".into(),
                ],
            ),
            (
                json!({"metadata": {"name": "x", "annotations": {"Example.COM/Foo": "x"}}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![],
            ),
            (
                json!({"metadata": {"name": "x", "annotations": {"a/b/c": ""}}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![format!(
                    "metadata.annotations: Invalid value: \"a/b/c\": {}",
                    qualified_name("a/b/c")[0]
                )],
            ),
            (
                // Key (1 byte) + value = exactly the limit: accepted.
                json!({"metadata": {"name": "x", "annotations": {"k": big}}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![],
            ),
            (
                json!({"metadata": {"name": "x", "annotations": {"k": too_big}}}),
                false,
                NameRule::Dns1123Subdomain,
                vec!["metadata.annotations: Too long: must have at most 262144 bytes".into()],
            ),
            (
                json!({"metadata": {"name": "x", "finalizers": ["kubernetes", "a/b/c"]}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![format!(
                    "metadata.finalizers: Invalid value: \"a/b/c\": {}",
                    qualified_name("a/b/c")[0]
                )],
            ),
            (
                json!({"metadata": {"name": "x", "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1"},
                    {"apiVersion": "", "kind": "", "name": "", "uid": ""}
                ]}}),
                false,
                NameRule::Dns1123Subdomain,
                vec![
                    "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty".into(),
                    "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty".into(),
                    "metadata.ownerReferences.name: Invalid value: \"\": must not be empty".into(),
                    "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty".into(),
                ],
            ),
            (
                json!({"metadata": "nope"}),
                false,
                NameRule::Dns1123Subdomain,
                vec!["metadata: Invalid value: \"nope\": must be an object".into()],
            ),
        ];
        for (obj, namespaced, rule, want) in rows {
            assert_eq!(
                validate_object_meta(&obj, namespaced, rule),
                want,
                "object {obj}"
            );
        }
    }

    #[test]
    fn only_one_controller_owner() {
        let refs = json!([
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": true},
            {"apiVersion": "v1", "kind": "C", "name": "c", "uid": "3", "controller": false}
        ]);
        let obj = json!({"metadata": {"name": "x", "ownerReferences": refs}});
        // The bad value is the whole list, rendered as JSON (Go prints a
        // struct dump); built from `refs` so map key order does not matter.
        let want = format!(
            "metadata.ownerReferences: Invalid value: {refs}: Only one reference can have Controller set to true. Found \"true\" in references for A/a and B/b"
        );
        assert_eq!(
            validate_object_meta(&obj, false, NameRule::Dns1123Subdomain),
            vec![want]
        );
    }
}
