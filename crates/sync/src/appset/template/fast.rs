//! The default templating (`goTemplate` unset): valyala/fasttemplate's `{{name}}`, as Argo CD
//! uses it. A string is only looked at when one line of it holds `{{` … `}}`; the tag is
//! trimmed (`{{ name }}` works); it is replaced when the parameter is a string, and written
//! back as it was otherwise (unknown names stay `{{name}}`).

use serde_json::Value;

use super::{Params, TemplateError};

/// Replaces the `{{tags}}` of `text` with the string parameters of `params`.
pub fn render(text: &str, params: &Params) -> Result<String, TemplateError> {
    if !text.lines().any(has_tag) {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(TemplateError::Unclosed(text.to_string()));
        };
        let tag = &after[..end];
        match params.get(tag.trim()) {
            Some(Value::String(value)) if !tag.trim().is_empty() => out.push_str(value),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Argo CD's `.*{{.*}}.*`: the opening and closing braces on one line.
fn has_tag(line: &str) -> bool {
    line.find("{{")
        .is_some_and(|start| line[start + 2..].contains("}}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params() -> Params {
        json!({"cluster": "dev", "path.basename": "guestbook", "replicas": 3})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn replaces_string_parameters_and_keeps_the_rest() {
        for (text, expected) in [
            ("{{cluster}}-guestbook", "dev-guestbook"),
            ("{{ cluster }}/{{path.basename}}", "dev/guestbook"),
            ("{{missing}}", "{{missing}}"),
            ("{{ replicas }}", "{{ replicas }}"),
            ("{{}}", "{{}}"),
            ("plain", "plain"),
            ("{{cluster\n}}", "{{cluster\n}}"),
            ("a {{cluster}}\nb {{cluster}}", "a dev\nb dev"),
        ] {
            assert_eq!(render(text, &params()).unwrap(), expected, "{text:?}");
        }
    }

    #[test]
    fn an_unclosed_tag_after_a_closed_one_is_an_error() {
        let error = render("{{cluster}} {{cluster", &params()).unwrap_err();
        assert!(matches!(error, TemplateError::Unclosed(_)), "{error}");
    }
}
