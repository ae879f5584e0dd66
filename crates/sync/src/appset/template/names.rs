//! Argo CD's name functions: `normalize` (its `SanitizeName`, also behind every
//! `…Normalized` parameter) and `slugify` (`SanitizeName`, then gosimple/slug's `Make` with a
//! maximum length and smart truncation at a word boundary).

/// The longest name `normalize` keeps, in bytes (a DNS subdomain).
const MAX_DNS_NAME: usize = 253;

/// Lower case; every character but `a-z`, `0-9`, `-` and `.` becomes `-` (one for one); at
/// most 253 bytes; no `-` or `.` at either end.
pub fn normalize(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .collect();
    out.truncate(MAX_DNS_NAME);
    out.trim_matches(['-', '.']).to_string()
}

/// `normalize`d, then a slug: `.` becomes `-`, runs of `-` collapse, no `-` or `_` at either
/// end. With `smart_truncate` a slug longer than `max_len` is cut at the last `-` at or
/// before `max_len` (at `max_len` when there is none); without, it is cut at `max_len`
/// before the clean-up, as gosimple/slug does.
pub fn slugify(name: &str, max_len: usize, smart_truncate: bool) -> String {
    let mut slug = normalize(name);
    if !smart_truncate && slug.len() >= max_len {
        slug.truncate(max_len);
    }
    let mut cleaned = String::with_capacity(slug.len());
    for c in slug.chars() {
        let c = if c == '.' { '-' } else { c };
        if c == '-' && cleaned.ends_with('-') {
            continue;
        }
        cleaned.push(c);
    }
    let mut slug = cleaned.trim_matches(['-', '_']).to_string();
    if max_len > 0 && smart_truncate && slug.len() > max_len {
        let cut = slug.as_bytes()[..=max_len]
            .iter()
            .rposition(|b| *b == b'-')
            .unwrap_or(max_len);
        slug.truncate(cut);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_as_argo_cd_sanitizes_names() {
        for (input, expected) in [
            ("Guestbook", "guestbook"),
            ("my_app/v1", "my-app-v1"),
            ("--a..b--", "a..b"),
            ("a  b", "a--b"),
            (".", ""),
            ("Ünïcode", "n-code"),
            ("cluster-1.example.com", "cluster-1.example.com"),
        ] {
            assert_eq!(normalize(input), expected, "{input}");
        }
        assert_eq!(normalize(&"a".repeat(300)).len(), 253);
    }

    #[test]
    fn slugify_cuts_at_a_word_boundary() {
        for (input, max, smart, expected) in [
            ("Hello World", 50, true, "hello-world"),
            ("a.b..c", 50, true, "a-b-c"),
            ("-x_", 50, true, "x"),
            (
                "extremely-long-name-of-an-application",
                20,
                true,
                "extremely-long-name",
            ),
            (
                "extremely-long-name-of-an-application",
                20,
                false,
                "extremely-long-name",
            ),
            ("abcdefghijklmnopqrstuvwxyz", 10, true, "abcdefghij"),
            ("abcdefghij-klm", 10, true, "abcdefghij"),
            ("ab-cdefghijklm", 10, false, "ab-cdefghi"),
        ] {
            assert_eq!(
                slugify(input, max, smart),
                expected,
                "{input} {max} {smart}"
            );
        }
    }
}
