//! Reading a Warehouse subscription's fields (its JSON, as the CRD stores it) with messages
//! that name the field, plus the tag filters every subscription kind shares, including the
//! older `allowTags`/`ignoreTags` names (accepted with a deprecation warning).

use serde_json::Value;

/// Typed access to one subscription object. Errors name the field, never echo values.
pub(crate) struct Fields<'a> {
    /// `image`, `git` or `chart`: the prefix of warnings.
    pub kind: &'static str,
    pub sub: &'a Value,
}

impl Fields<'_> {
    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.sub.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.sub.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{name} must list strings"))
                })
                .collect(),
            Some(_) => Err(format!("{name} must be a list of strings")),
        }
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, String> {
        match self.sub.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| format!("{name} must be true or false")),
        }
    }

    pub fn count(&self, name: &str) -> Result<Option<usize>, String> {
        match self.sub.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("{name} must be a whole number")),
        }
    }

    /// `allowTagsRegexes` and `ignoreTagsRegexes`, with the deprecated `allowTags` (one regex)
    /// and `ignoreTags` (exact tags) folded in.
    pub fn tag_filters(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let mut allow = self.strings("allowTagsRegexes")?;
        if let Some(old) = self.string("allowTags")? {
            warnings.push(format!(
                "{}.allowTags is deprecated: use allowTagsRegexes",
                self.kind
            ));
            allow.push(old);
        }
        let mut ignore = self.strings("ignoreTagsRegexes")?;
        let exact = self.strings("ignoreTags")?;
        if !exact.is_empty() {
            warnings.push(format!(
                "{}.ignoreTags is deprecated: use ignoreTagsRegexes",
                self.kind
            ));
            ignore.extend(exact.iter().map(|t| format!("^{}$", regex::escape(t))));
        }
        Ok((allow, ignore))
    }
}
