//! YAML text as Kubernetes tools print it: [`to_string`] writes a JSON value byte for byte
//! as `sigs.k8s.io/yaml.JSONToYAML` does (go-yaml v2, the printer behind `kubectl kustomize`,
//! `kubectl get -o yaml` and Helm), so that every YAML 1.1 and 1.2 reader reads it back as
//! the same value.
//!
//! The rules that matter for meaning: a string that a YAML 1.1 reader would take for
//! something else (`on`, `No`, `~`, `0x1F`, `1_000`, `1e3`, `1:30`, `2024-01-02`) is
//! double-quoted; a string that cannot be plain (`: ` inside, a leading `-␠` or `*`, edge
//! spaces) is single-quoted, or double-quoted when it holds characters only escapes can
//! carry; a string with a line break is a literal block (`|`, `|-`, `|+`). Map keys are in
//! go-yaml's order (numbers inside keys compare by value); long lines fold at spaces past
//! column 80; sequences under a key are not indented.

use serde_json::Value;

/// The YAML document for `value`, ending in a line break.
pub fn to_string(value: &Value) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
    };
    emitter.node(value, Context::Root);
    emitter.write_indent();
    emitter.out
}

/// Preferred width: plain and quoted scalars break at a space once a line is past it.
const BEST_WIDTH: usize = 80;
/// Indentation step of nested blocks.
const BEST_INDENT: isize = 2;
/// Longest key (in bytes) written as `key: value`; longer ones use `? key`.
const MAX_SIMPLE_KEY: usize = 128;

/// Where a node stands, which decides how it may be written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The document itself.
    Root,
    /// An item of a block sequence.
    SequenceItem,
    /// A value (or `? ` key) of a block mapping.
    Mapping,
    /// A `key:` of a block mapping: one line, no folding.
    SimpleKey,
}

/// How a scalar is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// The emitter's position, as go-yaml's emitter tracks it.
struct Emitter {
    out: String,
    /// Characters on the current line.
    column: usize,
    /// Indentation of the current block; -1 before the first.
    indent: isize,
    indents: Vec<isize>,
    /// The last character written is a space (or nothing was written on this line).
    whitespace: bool,
    /// Only indentation (and indicators such as `- `) is on the current line.
    indention: bool,
}

impl Emitter {
    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map),
            Value::Array(items) if !items.is_empty() => self.sequence(items, context),
            Value::Object(_) => self.flow_empty("{}"),
            Value::Array(_) => self.flow_empty("[]"),
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain, context),
            Value::Number(n) => self.scalar(&number_text(n), Style::Plain, context),
            Value::String(s) => self.scalar(s, string_style(s), context),
        }
    }

    fn mapping(&mut self, map: &serde_json::Map<String, Value>) {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        sort_keys(&mut entries);
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            if key.len() <= MAX_SIMPLE_KEY && !key.chars().any(is_break) {
                self.scalar(key, string_style(key), Context::SimpleKey);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(key, string_style(key), Context::Mapping);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, Context::Mapping);
        }
        self.pop_indent();
    }

    fn sequence(&mut self, items: &[Value], context: Context) {
        self.increase_indent(false, context == Context::Mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::SequenceItem);
        }
        self.pop_indent();
    }

    fn flow_empty(&mut self, text: &str) {
        self.write_indicator(&text[..1], true, true, false);
        self.write_indicator(&text[1..], false, false, false);
    }

    fn scalar(&mut self, text: &str, preferred: Style, context: Context) {
        let chars: Vec<char> = text.chars().collect();
        let analysis = Analysis::of(&chars);
        let simple_key = context == Context::SimpleKey;
        let mut style = preferred;
        if simple_key && analysis.line_breaks {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain
            && (!analysis.block_plain_allowed || (text.is_empty() && simple_key))
        {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || simple_key) {
            style = Style::DoubleQuoted;
        }
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.plain(&chars, !simple_key),
            Style::SingleQuoted => self.single_quoted(&chars, !simple_key),
            Style::DoubleQuoted => self.double_quoted(&chars, !simple_key),
            Style::Literal => self.literal(&chars),
        }
        self.pop_indent();
    }

    fn plain(&mut self, chars: &[char], allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single_quoted(&mut self, chars: &[char], allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && !next_is_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                (spaces, breaks) = (false, false);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn double_quoted(&mut self, chars: &[char], allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match escape(c) {
                    Some(letter) => self.put(letter),
                    None => {
                        let code = u32::from(c);
                        let (prefix, width) = match code {
                            0..=0xFF => ('x', 2),
                            0x100..=0xFFFF => ('u', 4),
                            _ => ('U', 8),
                        };
                        self.put(prefix);
                        for digit in format!("{code:0width$X}").chars() {
                            self.put(digit);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, chars: &[char]) {
        self.write_indicator("|", true, false, false);
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let chomp = match chars {
            [] => Some("-"),
            [.., last] if !is_break(*last) => Some("-"),
            [_] => Some("+"),
            [.., before, _] if is_break(*before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    /// A line break of the value itself: `\n` as a newline, the others as they are.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
}

/// What a scalar's characters allow, as go-yaml's `yaml_emitter_analyze_scalar` finds it.
struct Analysis {
    line_breaks: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(chars: &[char]) -> Analysis {
        if chars.is_empty() {
            return Analysis {
                line_breaks: false,
                block_plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
            };
        }
        let mut block_indicators = chars.starts_with(&['-'; 3]) || chars.starts_with(&['.'; 3]);
        let (mut line_breaks, mut special_characters) = (false, false);
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        for (i, &c) in chars.iter().enumerate() {
            let last = i + 1 == chars.len();
            let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank(n));
            if i == 0 {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => block_indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => block_indicators = true,
                    '#' if preceded_by_whitespace => block_indicators = true,
                    _ => {}
                }
            }
            if !is_printable(c) {
                special_characters = true;
            }
            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= last;
                break_space |= previous_break;
                (previous_space, previous_break) = (true, false);
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= i == 0;
                trailing_break |= last;
                space_break |= previous_space;
                (previous_space, previous_break) = (false, true);
            } else {
                (previous_space, previous_break) = (false, false);
            }
            preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
        }
        let edge_space = leading_space || leading_break || trailing_space || trailing_break;
        Analysis {
            line_breaks,
            block_plain_allowed: !(edge_space
                || break_space
                || space_break
                || special_characters
                || line_breaks
                || block_indicators),
            single_quoted_allowed: !(break_space || space_break || special_characters),
            block_allowed: !(trailing_space || space_break || special_characters),
        }
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Characters go-yaml writes as they are (everything else is escaped in double quotes).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

/// The one-letter escape of `c` in a double-quoted scalar, if it has one.
fn escape(c: char) -> Option<char> {
    Some(match c {
        '\0' => '0',
        '\u{07}' => 'a',
        '\u{08}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{0B}' => 'v',
        '\u{0C}' => 'f',
        '\r' => 'r',
        '\u{1B}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{A0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => return None,
    })
}

/// The style go-yaml's encoder asks for a string: literal when it spans lines, double
/// quotes when a YAML 1.1 reader would resolve it to anything but a string, else plain.
fn string_style(s: &str) -> Style {
    if s.contains('\n') {
        Style::Literal
    } else if resolves_to_string(s) && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    }
}

/// Whether a plain scalar `s` reads as a string in YAML 1.1 (go-yaml v2's `resolve`).
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    match first {
        'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' | '~' => !SPECIAL.contains(&s),
        '.' => !SPECIAL.contains(&s) && !is_decimal_float(s),
        '+' | '-' | '0'..='9' => {
            if SPECIAL.contains(&s) || is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(is_go_integer(&plain) || is_decimal_float(&plain) || is_go_binary(&plain))
        }
        _ => true,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, and within `f64`'s range.
fn is_decimal_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len() && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds: an optional sign
/// (signed only), then `0x`, `0o`, `0b` or a leading `0` (octal) or decimal digits.
fn is_go_integer(s: &str) -> bool {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return false;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(magnitude) if negative => magnitude <= 1 << 63,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// go-yaml's own binary form: `0b…` / `-0b…` within 64 bits (after `ParseInt` refused it).
fn is_go_binary(s: &str) -> bool {
    let digits = s.strip_prefix("0b").or_else(|| s.strip_prefix("-0b"));
    digits.is_some_and(|d| !d.is_empty() && u64::from_str_radix(d, 2).is_ok())
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 sexagesimal (`1:30`).
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && end - start < 2 && b[end].is_ascii_digit() {
            end += 1;
        }
        let valid = match &b[start..end] {
            [_] => true,
            [tens, _] => *tens <= b'5',
            _ => false,
        };
        if !valid {
            return false;
        }
        groups += 1;
        i = end;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's timestamps: `YYYY-M-D`, optionally followed by `T`/`t`/` ` and `h:m:s`, a
/// fraction, and (not after a space) `Z` or `±hh:mm`, with real calendar dates.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year: u32 = s[..4].parse().unwrap_or(0);
    let mut i = 5;
    let Some(month) = one_or_two_digits(b, &mut i).filter(|m| (1..=12).contains(m)) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(day) = one_or_two_digits(b, &mut i) else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days {
        return false;
    }
    let Some(&separator) = b.get(i) else {
        return true;
    };
    if !matches!(separator, b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    let clock = |limit: u32, i: &mut usize| one_or_two_digits(b, i).filter(|v| *v < limit);
    if clock(24, &mut i).is_none() || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if clock(60, &mut i).is_none() || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if clock(60, &mut i).is_none() {
        return false;
    }
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if separator == b' ' {
        return i == b.len();
    }
    match &b[i..] {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Go's `getnum(s, false)`: one digit, or two when the second is a digit too.
fn one_or_two_digits(b: &[u8], i: &mut usize) -> Option<u32> {
    let first = *b.get(*i).filter(|c| c.is_ascii_digit())?;
    *i += 1;
    let mut value = u32::from(first - b'0');
    if let Some(second) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        value = value * 10 + u32::from(second - b'0');
        *i += 1;
    }
    Some(value)
}

/// A JSON number as `JSONToYAML` prints it: integers (and floats with an integral value
/// that fits 64 bits) as integers, other floats in Go's shortest `%g` (`0.5`, `1e-07`,
/// `1.5e+21`).
fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(64) {
        return if f < 0.0 {
            format!("{}", f as i64)
        } else {
            format!("{}", f as u64)
        };
    }
    go_shortest_g(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_shortest_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let scientific = format!("{:e}", f.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let fraction = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    format!("{sign}{}", f.abs())
}

/// Sorts entries by [`key_less`]. That order is not transitive on some keys (`x10` <
/// `x1a` < `x9` < `x10`), where the standard library's sorts may panic and the result
/// depends on the algorithm: up to 12 keys this is Go's own (insertion sort, as Go's
/// `sort.Sort` does for short inputs), so it matches go-yaml exactly; beyond, a merge
/// sort, equal to go-yaml's wherever the order is transitive.
fn sort_keys(entries: &mut Vec<(&String, &Value)>) {
    if entries.len() <= 12 {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && key_less(entries[j].0, entries[j - 1].0) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    let right = entries.split_off(entries.len() / 2);
    let mut left = std::mem::take(entries);
    sort_keys(&mut left);
    let mut right = right;
    sort_keys(&mut right);
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        if key_less(b.0, a.0) {
            entries.extend(r.next());
        } else {
            entries.extend(l.next());
        }
    }
    entries.extend(l);
    entries.extend(r);
}

/// go-yaml's key order: by characters, letters after other characters, and runs of
/// digits compared as numbers (`a2` before `a10`).
fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return key_less_in(a.as_bytes(), b.as_bytes());
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    key_less_in(&a, &b)
}

/// [`key_less`] over bytes of ASCII keys or characters of others.
fn key_less_in<T: Copy + Into<char>>(a: &[T], b: &[T]) -> bool {
    let ca = |i: usize| -> char { a[i].into() };
    let cb = |i: usize| -> char { b[i].into() };
    for i in 0..a.len().min(b.len()) {
        if ca(i) == cb(i) {
            continue;
        }
        let (al, bl) = (ca(i).is_alphabetic(), cb(i).is_alphabetic());
        if al && bl {
            return ca(i) < cb(i);
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ca(i) == '0' || cb(i) == '0' {
            for j in (0..i).rev() {
                if !ca(j).is_ascii_digit() {
                    break;
                }
                if ca(j) != '0' {
                    (an, bn) = (1, 1);
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < a.len() && ca(ai).is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ca(ai) as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < b.len() && cb(bi).is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(cb(bi) as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ca(i) < cb(i);
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scalar(s: &str) -> String {
        to_string(&json!({ "k": s }))
            .strip_prefix("k: ")
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    }

    #[test]
    fn strings_a_yaml_1_1_reader_would_retype_are_double_quoted() {
        for s in [
            "on",
            "Off",
            "yes",
            "NO",
            "y",
            "N",
            "true",
            "False",
            "~",
            "null",
            "NULL",
            "",
            "0o17",
            "0x1F",
            "1_000",
            "1e3",
            "1:30",
            "0755",
            ".5",
            "-1",
            "+1",
            "2020-01-01",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10",
            ".inf",
            "-.Inf",
            "08",
            "0b101",
            "-0b1",
            "12:30",
            "190:20:30.15",
        ] {
            assert_eq!(scalar(s), format!("\"{s}\""), "{s:?}");
        }
    }

    #[test]
    fn strings_that_stay_strings_are_plain() {
        for s in [
            "onion",
            "yes please",
            "nULL",
            "1e400",
            "_1",
            "0x",
            "1.2.3",
            "2020-13-01",
            "2021-02-29",
            "12:60",
            "v1.2",
            "-a",
            "a:b",
            "<<",
            "http://x/y#z",
            "a-",
            "1e",
        ] {
            assert_eq!(scalar(s), s, "{s:?}");
        }
    }

    #[test]
    fn indicators_and_edge_spaces_are_single_quoted() {
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("- a"), "'- a'");
        assert_eq!(scalar("*x"), "'*x'");
        assert_eq!(scalar("it's #1"), "'it''s #1'");
        assert_eq!(scalar(" lead"), "' lead'");
        assert_eq!(scalar("a #b"), "'a #b'");
        assert_eq!(scalar("tab\there"), "\"tab\\there\"");
        assert_eq!(scalar("bell\u{7}"), "\"bell\\a\"");
        assert_eq!(scalar("\u{1F600}"), "\"\\U0001F600\"");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(to_string(&json!({"k": "a\nb\n"})), "k: |\n  a\n  b\n");
        assert_eq!(to_string(&json!({"k": "a\nb"})), "k: |-\n  a\n  b\n");
        assert_eq!(to_string(&json!({"k": "a\n\n"})), "k: |+\n  a\n\n");
        assert_eq!(to_string(&json!({"k": " a\n"})), "k: |2\n   a\n");
        assert_eq!(to_string(&json!({"k": "a \nb"})), "k: \"a \\nb\"\n");
        assert_eq!(to_string(&json!([{"k": "a\n"}])), "- k: |\n    a\n");
    }

    #[test]
    fn layout_matches_kubectl() {
        let value = json!({
            "b": [1, [2, 3], {"x": null, "y": {}}], "a": {"c": [], "d": true}, "n": 0.5
        });
        assert_eq!(
            to_string(&value),
            "a:\n  c: []\n  d: true\nb:\n- 1\n- - 2\n  - 3\n- x: null\n  \"y\": {}\n\"n\": 0.5\n"
        );
        assert_eq!(to_string(&json!({})), "{}\n");
    }

    #[test]
    fn long_plain_strings_fold_past_column_80() {
        let words = "word ".repeat(30);
        let folded = to_string(&json!({ "key": words.trim_end() }));
        assert!(folded.lines().count() > 1, "{folded}");
        assert!(
            folded.lines().skip(1).all(|l| l.starts_with("  word")),
            "{folded}"
        );
        assert!(folded.lines().all(|l| l.len() <= 86), "{folded}");
    }

    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let keys = ["a10", "a9", "B", "a", "_x", "a-b", "ab", "port2"].map(String::from);
        let mut entries: Vec<(&String, &Value)> = keys.iter().map(|k| (k, &Value::Null)).collect();
        sort_keys(&mut entries);
        let sorted: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(sorted, ["_x", "B", "a", "a-b", "a9", "a10", "ab", "port2"]);
    }

    #[test]
    fn numbers_print_as_go_prints_them() {
        for (n, text) in [
            (json!(3), "3"),
            (json!(1.0), "1"),
            (json!(-2.0), "-2"),
            (json!(0.000001), "1e-06"),
            (json!(1.5e21), "1.5e+21"),
            (json!(1234567.5), "1.2345675e+06"),
            (json!(0.0001), "0.0001"),
            (json!(123456.5), "123456.5"),
        ] {
            assert_eq!(to_string(&json!({ "k": n })), format!("k: {text}\n"));
        }
    }
}
