//! The label selector string syntax (`labels.Parse`): a direct port of apimachinery's lexer
//! and recursive-descent parser, so that odd inputs (`a in ()`, `x in (in)`, `a=`) behave
//! exactly as in Kubernetes.

use super::label::{Operator, Requirement, new_requirement, validate_label_key};

/// The requirements of a selector in the string syntax, or the message Kubernetes gives.
pub(super) fn requirements(selector: &str) -> Result<Vec<Requirement>, String> {
    Parser {
        items: lex(selector),
        pos: 0,
    }
    .parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Identifier,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    tok: Tok,
    lit: &'a str,
}

const END: Item<'static> = Item {
    tok: Tok::End,
    lit: "",
};

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The operator token starting with `b`, if `b` is a special symbol. Only
/// `!=` and `==` are two characters: Kubernetes scans the longest known
/// symbol, so `!(` is `!` then `(` and `===` is `==` then `=`.
fn symbol(b: u8, next: Option<u8>) -> Option<(Tok, usize)> {
    Some(match (b, next) {
        (b'=', Some(b'=')) => (Tok::DoubleEquals, 2),
        (b'!', Some(b'=')) => (Tok::NotEquals, 2),
        (b'=', _) => (Tok::Equals, 1),
        (b'!', _) => (Tok::Not, 1),
        (b'(', _) => (Tok::OpenPar, 1),
        (b')', _) => (Tok::ClosedPar, 1),
        (b',', _) => (Tok::Comma, 1),
        (b'>', _) => (Tok::GreaterThan, 1),
        (b'<', _) => (Tok::LessThan, 1),
        _ => return None,
    })
}

/// Splits into tokens ending with `End`. Every delimiter is ASCII, so the
/// byte offsets used for slicing are always char boundaries.
fn lex(input: &str) -> Vec<Item<'_>> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        while bytes.get(i).copied().is_some_and(is_whitespace) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            items.push(END);
            return items;
        };
        if let Some((tok, len)) = symbol(b, bytes.get(i + 1).copied()) {
            items.push(Item {
                tok,
                lit: &input[i..i + len],
            });
            i += len;
            continue;
        }
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|&c| !is_whitespace(c) && symbol(c, None).is_none())
        {
            i += 1;
        }
        let lit = &input[start..i];
        let tok = match lit {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        items.push(Item { tok, lit });
    }
}

/// Where `in`/`notin` are keywords: only in operator position, so a key or
/// value may be spelled `in` (`in=notin`, `x in (in)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn lookahead(&self, context: Context) -> Item<'a> {
        let item = self.items.get(self.pos).copied().unwrap_or(END);
        if context == Context::Values && matches!(item.tok, Tok::In | Tok::NotIn) {
            Item {
                tok: Tok::Identifier,
                ..item
            }
        } else {
            item
        }
    }

    fn consume(&mut self, context: Context) -> Item<'a> {
        let item = self.lookahead(context);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let next = self.lookahead(Context::Values);
            match next.tok {
                Tok::Identifier | Tok::Not => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let after = self.consume(Context::Values);
                    match after.tok {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let t = self.lookahead(Context::Values);
                            if !matches!(t.tok, Tok::Identifier | Tok::Not) {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.lit
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                after.lit
                            ));
                        }
                    }
                }
                Tok::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        next.lit
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = unary {
            return new_requirement(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, operator, values)
    }

    /// The key, plus `Exists`/`DoesNotExist` when no binary operator follows.
    /// `!key` stays `DoesNotExist` even if junk follows; the caller then
    /// reports that junk, as Kubernetes does.
    fn parse_key_and_infer_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let mut operator = None;
        let mut item = self.consume(Context::Values);
        if item.tok == Tok::Not {
            operator = Some(Operator::DoesNotExist);
            item = self.consume(Context::Values);
        }
        if item.tok != Tok::Identifier {
            return Err(format!("found '{}', expected: identifier", item.lit));
        }
        validate_label_key(item.lit)?;
        let next = self.lookahead(Context::Values).tok;
        if operator.is_none() && matches!(next, Tok::End | Tok::Comma) {
            operator = Some(Operator::Exists);
        }
        Ok((item.lit, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let item = self.consume(Context::KeyAndOperator);
        Ok(match item.tok {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::NotEquals => Operator::NotEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{}', expected: '=', '!=', '==', 'in', 'notin'",
                    item.lit
                ));
            }
        })
    }

    /// `( v1, v2 )`. `()` is the set `{""}`, not an error.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let open = self.consume(Context::Values);
        if open.tok != Tok::OpenPar {
            return Err(format!("found '{}' expected: '('", open.lit));
        }
        let next = self.lookahead(Context::Values);
        match next.tok {
            Tok::Identifier | Tok::Comma => {
                let values = self.parse_identifiers_list()?;
                let close = self.consume(Context::Values);
                if close.tok != Tok::ClosedPar {
                    return Err(format!("found '{}', expected: ')'", close.lit));
                }
                Ok(values)
            }
            Tok::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{}', expected: ',', ')' or identifier",
                next.lit
            )),
        }
    }

    /// Comma-separated values up to (not including) `)`. Empty entries, as
    /// in `(,x)`, `(x,)` or `(x,,y)`, are the empty value.
    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut values = Vec::new();
        loop {
            let item = self.consume(Context::Values);
            match item.tok {
                Tok::Identifier => {
                    values.push(item.lit.to_owned());
                    let next = self.lookahead(Context::Values);
                    match next.tok {
                        Tok::Comma => {}
                        Tok::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{}', expected: ',' or ')'", next.lit)),
                    }
                }
                Tok::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values).tok {
                        Tok::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Tok::Comma => {
                            self.consume(Context::Values);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                _ => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        item.lit
                    ));
                }
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing (end or `,`)
    /// means the empty value, so `a=` selects `a: ""`.
    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(self.lookahead(Context::Values).tok, Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        let item = self.consume(Context::Values);
        if item.tok == Tok::Identifier {
            Ok(vec![item.lit.to_owned()])
        } else {
            Err(format!("found '{}', expected: identifier", item.lit))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::LabelSelector;
    use crate::selector::expect::*;

    #[test]
    fn label_selector_parse() {
        let rows: Vec<(&str, Expect)> = vec![
            ("", ok("")),
            ("   \t\n", ok("")),
            ("a=b", ok("a=b")),
            ("a==b", ok("a==b")),
            ("a!=b", ok("a!=b")),
            ("a", ok("a")),
            ("!a", ok("!a")),
            ("  ! a  ", ok("!a")),
            ("a in (y, x)", ok("a in (x,y)")),
            ("a in (x,x,y)", ok("a in (x,y)")),
            ("a notin (x,y)", ok("a notin (x,y)")),
            ("a in(x)", ok("a in (x)")),
            ("a in ()", ok("a in ()")),
            ("a notin ()", ok("a notin ()")),
            ("a in (,x)", ok("a in (,x)")),
            ("a in (x,)", ok("a in (,x)")),
            ("a in (x,,y)", ok("a in (,x,y)")),
            ("a=", ok("a=")),
            ("a!=", ok("a!=")),
            ("a>1", ok("a>1")),
            ("a<10", ok("a<10")),
            ("b=1,a", ok("a,b=1")),
            (" a = b , c ", ok("a=b,c")),
            ("a\t=\nb", ok("a=b")),
            ("x=a,x=b", ok("x=a,x=b")),
            ("!a,b!=c", ok("!a,b!=c")),
            ("in=notin", ok("in=notin")),
            ("x in (in,notin)", ok("x in (in,notin)")),
            (
                "app.kubernetes.io/name=web",
                ok("app.kubernetes.io/name=web"),
            ),
            (
                "env in (prod),tier notin (cache),!canary",
                ok("!canary,env in (prod),tier notin (cache)"),
            ),
            // Errors, each naming the offending token.
            (
                ",",
                err("found ',', expected: !, identifier, or 'end of string'"),
            ),
            (
                "=b",
                err("found '=', expected: !, identifier, or 'end of string'"),
            ),
            ("a,", err("found '', expected: identifier after ','")),
            ("a,,b", err("found ',', expected: identifier after ','")),
            ("a=b c", err("found 'c', expected: ',' or 'end of string'")),
            ("a=b=c", err("found '=', expected: ',' or 'end of string'")),
            ("!a=b", err("found '=', expected: ',' or 'end of string'")),
            (
                "a in (x))",
                err("found ')', expected: ',' or 'end of string'"),
            ),
            ("!", req("found '', expected: identifier")),
            ("!!a", req("found '!', expected: identifier")),
            (
                "a b",
                req("found 'b', expected: '=', '!=', '==', 'in', 'notin'"),
            ),
            (
                "a (x)",
                req("found '(', expected: '=', '!=', '==', 'in', 'notin'"),
            ),
            ("a===b", req("found '=', expected: identifier")),
            ("a=(b)", req("found '(', expected: identifier")),
            ("a in x", req("found 'x' expected: '('")),
            ("a in", req("found '' expected: '('")),
            ("a in (x", req("found '', expected: ',' or ')'")),
            ("a in (x y)", req("found 'y', expected: ',' or ')'")),
            (
                "a in (=)",
                req("found '=', expected: ',', ')' or identifier"),
            ),
            ("a in (x,=)", req("found '=', expected: ',', or identifier")),
            (
                "a>b",
                req("for 'Gt', 'Lt' operators, the value must be an integer"),
            ),
            (
                "a<",
                req("for 'Gt', 'Lt' operators, the value must be an integer"),
            ),
            (
                "a@b=c",
                req(format!("invalid label key \"a@b\": {NAME_PART_MSG}")),
            ),
            (
                "-a",
                req(format!("invalid label key \"-a\": {NAME_PART_MSG}")),
            ),
            (
                "a=b@",
                req(format!(
                    "invalid label value: \"b@\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
            (
                "a in (ok, -bad)",
                req(format!(
                    "invalid label value: \"-bad\": at key: \"a\": {VALUE_MSG}"
                )),
            ),
        ];
        assert!(rows.len() >= 40);
        for (input, want) in rows {
            let got = LabelSelector::parse(input)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned), "input {input:?}");
        }
    }

    #[test]
    fn label_selector_key_and_value_length_limits() {
        let key63 = "k".repeat(63);
        let key64 = "k".repeat(64);
        let value63 = "v".repeat(63);
        let value64 = "v".repeat(64);
        assert!(LabelSelector::parse(&format!("{key63}={value63}")).is_ok());
        assert_eq!(
            LabelSelector::parse(&key64).map_err(|e| e.to_string()),
            Err(format!(
                "unable to parse requirement: invalid label key \"{key64}\": name part must be no more than 63 characters"
            ))
        );
        assert_eq!(
            LabelSelector::parse(&format!("a={value64}")).map_err(|e| e.to_string()),
            Err(format!(
                "unable to parse requirement: invalid label value: \"{value64}\": at key: \"a\": must be no more than 63 characters"
            ))
        );
    }

    #[test]
    fn label_selector_parsed_structure() {
        let sel = LabelSelector::parse("b notin (y,x), a, !c").unwrap();
        let got: Vec<(&str, Operator, Vec<&str>)> = sel
            .requirements()
            .iter()
            .map(|r| {
                (
                    r.key(),
                    r.operator(),
                    r.values().iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", Operator::Exists, vec![]),
                ("b", Operator::NotIn, vec!["x", "y"]),
                ("c", Operator::DoesNotExist, vec![]),
            ]
        );
        assert!(!sel.is_everything());
        assert!(LabelSelector::parse(" ").unwrap().is_everything());
    }
}
