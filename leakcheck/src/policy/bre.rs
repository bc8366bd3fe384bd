//! POSIX basic regular expressions (GNU `grep -G`), translated to the `regex` crate's
//! syntax for Heteronculous' rules.

use regex::Regex;

/// Translates a POSIX basic regular expression (GNU dialect, as `grep -G` reads it) into
/// the `regex` crate's syntax, unanchored.
///
/// In BRE `\+ \? \| \( \) \{ \}` are operators and bare `+ ? | ( ) { }` are literals; `*`
/// at the start of an expression, group or alternative is literal; `^` and `$` anchor
/// only at the edges; backslash is literal inside brackets. Back-references (`\1`) have no
/// equivalent in the `regex` crate and are rejected.
pub fn bre_to_regex(bre: &str) -> Result<String, String> {
    let chars: Vec<char> = bre.chars().collect();
    let mut out = String::new();
    // Start (in `out`) of the last thing a quantifier can apply to.
    let mut last_atom: Option<usize> = None;
    let mut last_quantified = false;
    // At the start of the expression, a group or an alternative (where `^` anchors).
    let mut at_start = true;
    let mut groups: Vec<usize> = Vec::new();
    let mut i = 0;

    fn push_atom(
        out: &mut String,
        atom: &str,
        last_atom: &mut Option<usize>,
        last_quantified: &mut bool,
        at_start: &mut bool,
    ) {
        *last_atom = Some(out.len());
        out.push_str(atom);
        *last_quantified = false;
        *at_start = false;
    }

    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&n) = chars.get(i) else {
                    return Err("a complete expression, but it ends with a lone backslash (write \\\\ for a literal one)".to_string());
                };
                i += 1;
                match n {
                    '(' => {
                        groups.push(out.len());
                        out.push('(');
                        last_atom = None;
                        last_quantified = false;
                        at_start = true;
                    }
                    ')' => {
                        let Some(start) = groups.pop() else {
                            return Err(
                                "balanced groups, but `\\)` has no matching `\\(`".to_string()
                            );
                        };
                        out.push(')');
                        last_atom = Some(start);
                        last_quantified = false;
                        at_start = false;
                    }
                    '|' => {
                        out.push('|');
                        last_atom = None;
                        last_quantified = false;
                        at_start = true;
                    }
                    '+' | '?' => match last_atom {
                        Some(start) => {
                            apply_quantifier(&mut out, start, last_quantified, &n.to_string());
                            last_quantified = true;
                        }
                        None => push_atom(
                            &mut out,
                            &regex::escape(&n.to_string()),
                            &mut last_atom,
                            &mut last_quantified,
                            &mut at_start,
                        ),
                    },
                    '{' => {
                        let mut body = String::new();
                        loop {
                            match (chars.get(i), chars.get(i + 1)) {
                                (Some('\\'), Some('}')) => {
                                    i += 2;
                                    break;
                                }
                                (Some(&d), _) if d.is_ascii_digit() || d == ',' => {
                                    body.push(d);
                                    i += 1;
                                }
                                _ => {
                                    return Err("an interval \\{M,N\\} of digits and a comma, closed by \\}".to_string());
                                }
                            }
                        }
                        // GNU accepts `\{,N\}` for `\{0,N\}`; the regex crate does not.
                        if body.starts_with(',') {
                            body.insert(0, '0');
                        }
                        let valid = match body.split_once(',') {
                            None => !body.is_empty(),
                            Some((lo, hi)) => {
                                !lo.is_empty()
                                    && !hi.contains(',')
                                    && (hi.is_empty()
                                        || lo.parse::<u32>().ok() <= hi.parse::<u32>().ok())
                            }
                        };
                        if !valid {
                            return Err(format!(
                                "an interval \\{{M\\}}, \\{{M,\\}} or \\{{M,N\\}} with M <= N, not \\{{{body}\\}}"
                            ));
                        }
                        let Some(start) = last_atom else {
                            return Err(
                                "something before the interval \\{...\\} to repeat".to_string()
                            );
                        };
                        apply_quantifier(&mut out, start, last_quantified, &format!("{{{body}}}"));
                        last_quantified = true;
                    }
                    '}' => push_atom(
                        &mut out,
                        "\\}",
                        &mut last_atom,
                        &mut last_quantified,
                        &mut at_start,
                    ),
                    '1'..='9' => {
                        return Err(format!(
                            "no back-references (\\{n}): they cannot be translated to the regex crate"
                        ));
                    }
                    '<' | '>' | 'b' | 'B' | '`' | '\'' => {
                        out.push_str(match n {
                            '<' => r"\b{start}",
                            '>' => r"\b{end}",
                            'b' => r"\b",
                            'B' => r"\B",
                            '`' => r"\A",
                            _ => r"\z",
                        });
                        last_atom = None;
                        last_quantified = false;
                        at_start = false;
                    }
                    'w' | 'W' | 's' | 'S' => push_atom(
                        &mut out,
                        &format!("\\{n}"),
                        &mut last_atom,
                        &mut last_quantified,
                        &mut at_start,
                    ),
                    other => push_atom(
                        &mut out,
                        &regex::escape(&other.to_string()),
                        &mut last_atom,
                        &mut last_quantified,
                        &mut at_start,
                    ),
                }
            }
            '*' => match last_atom {
                Some(start) => {
                    apply_quantifier(&mut out, start, last_quantified, "*");
                    last_quantified = true;
                }
                None => push_atom(
                    &mut out,
                    r"\*",
                    &mut last_atom,
                    &mut last_quantified,
                    &mut at_start,
                ),
            },
            '^' if at_start => {
                out.push('^');
                last_atom = None;
                last_quantified = false;
                // Still at the start: `^*` matches a literal star.
            }
            '$' if i == chars.len()
                || (chars.get(i) == Some(&'\\')
                    && matches!(chars.get(i + 1), Some(')') | Some('|'))) =>
            {
                out.push('$');
                last_atom = None;
                last_quantified = false;
                at_start = false;
            }
            '[' => {
                let (class, next) = translate_bracket(&chars, i)?;
                i = next;
                push_atom(
                    &mut out,
                    &class,
                    &mut last_atom,
                    &mut last_quantified,
                    &mut at_start,
                );
            }
            '.' => push_atom(
                &mut out,
                ".",
                &mut last_atom,
                &mut last_quantified,
                &mut at_start,
            ),
            other => push_atom(
                &mut out,
                &regex::escape(&other.to_string()),
                &mut last_atom,
                &mut last_quantified,
                &mut at_start,
            ),
        }
    }
    if !groups.is_empty() {
        return Err("balanced groups, but a `\\(` is never closed with `\\)`".to_string());
    }
    Ok(out)
}

/// Appends a quantifier; a second quantifier on the same atom (`a**`, valid BRE) wraps
/// the quantified atom in a group, which the `regex` crate requires.
fn apply_quantifier(out: &mut String, start: usize, already_quantified: bool, quantifier: &str) {
    if already_quantified {
        out.insert_str(start, "(?:");
        out.push(')');
    }
    out.push_str(quantifier);
}

/// Translates the bracket expression whose `[` is just before `chars[start]`; returns the
/// `regex` class and the index after the closing `]`.
fn translate_bracket(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let unterminated = || "a bracket expression closed by `]`".to_string();
    let mut i = start;
    let mut class = String::from("[");
    if chars.get(i) == Some(&'^') {
        class.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(unterminated());
        };
        if c == ']' && !first {
            class.push(']');
            return Ok((class, i + 1));
        }
        first = false;
        // One element: a character (maybe a range start) or a [:class:] / [=c=] / [.c.].
        let (lo, next) =
            if c == '[' && matches!(chars.get(i + 1), Some(':') | Some('=') | Some('.')) {
                let kind = chars[i + 1];
                let body_start = i + 2;
                let mut j = body_start;
                loop {
                    match (chars.get(j), chars.get(j + 1)) {
                        (Some(&a), Some(']')) if a == kind => break,
                        (Some(_), _) => j += 1,
                        (None, _) => return Err(unterminated()),
                    }
                }
                let body: String = chars[body_start..j].iter().collect();
                let next = j + 2;
                if kind == ':' {
                    const CLASSES: [&str; 12] = [
                        "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct",
                        "print", "graph", "cntrl", "xdigit",
                    ];
                    if !CLASSES.contains(&body.as_str()) {
                        return Err(format!(
                            "a known character class like [:digit:], not [:{body}:]"
                        ));
                    }
                    class.push_str(&format!("[:{body}:]"));
                    i = next;
                    continue;
                }
                let mut it = body.chars();
                match (it.next(), it.next()) {
                    (Some(single), None) => (single, next),
                    _ => {
                        return Err(format!(
                            "a single character in [{kind}...{kind}], not `{body}`"
                        ))
                    }
                }
            } else {
                (c, i + 1)
            };
        i = next;
        // A range `lo-hi` unless the `-` is last before `]`.
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&h| h != ']') {
            let hi = chars[i + 1];
            if hi < lo {
                return Err(format!(
                    "a bracket range with its low end first, not {lo}-{hi}"
                ));
            }
            class.push_str(&class_char(lo));
            class.push('-');
            class.push_str(&class_char(hi));
            i += 2;
        } else {
            class.push_str(&class_char(lo));
        }
    }
}

fn class_char(c: char) -> String {
    if c.is_ascii_punctuation() || c.is_whitespace() {
        match c {
            ' ' => "\\x20".to_string(),
            '\t' => "\\t".to_string(),
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            c if c.is_ascii_punctuation() => format!("\\{c}"),
            c => format!("\\x{{{:x}}}", c as u32),
        }
    } else {
        c.to_string()
    }
}

/// Compiles a BRE anchored on the whole text, as Heteronculous' rules match a whole
/// address or port; the error says what was wrong for a "expected ..." message.
pub(super) fn compile_bre(bre: &str) -> Result<Regex, String> {
    let body = bre_to_regex(bre)?;
    Regex::new(&format!("^(?:{body})$")).map_err(|e| {
        format!(
            "a regular expression the regex crate accepts after translation ({})",
            e.to_string().lines().last().unwrap_or("invalid")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bre(pattern: &str) -> Regex {
        compile_bre(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn bre_operators_and_literals() {
        let r = bre("a\\+");
        assert!(r.is_match("aaa") && !r.is_match("a+"));
        let r = bre("a+");
        assert!(r.is_match("a+") && !r.is_match("aa"), "bare + is literal");
        let r = bre("ab\\?c");
        assert!(r.is_match("ac") && r.is_match("abc") && !r.is_match("ab?c"));
        assert!(bre("a?").is_match("a?"));
        let r = bre("\\(ab\\)\\{2\\}");
        assert!(r.is_match("abab") && !r.is_match("ab"));
        assert!(
            bre("(ab){2}").is_match("(ab){2}"),
            "bare parens and braces are literal"
        );
        let r = bre("80\\|443");
        assert!(r.is_match("80") && r.is_match("443") && !r.is_match("8443"));
        assert!(bre("a|b").is_match("a|b"));
        let r = bre("9\\{2,3\\}");
        assert!(r.is_match("99") && r.is_match("999") && !r.is_match("9") && !r.is_match("9999"));
        assert!(bre("9\\{2,\\}").is_match("99999"));
        let r = bre("9\\{,2\\}");
        assert!(r.is_match("") && r.is_match("99") && !r.is_match("999"));
        assert!(compile_bre("9\\{3,2\\}").is_err());
        assert!(compile_bre("\\{2\\}").is_err());
        assert!(compile_bre("a\\").is_err());
        assert!(compile_bre("a\\)").is_err());
    }

    #[test]
    fn bre_stars_anchors_and_dots() {
        assert!(bre("*a").is_match("*a"), "leading * is literal");
        assert!(bre("\\(*a\\)").is_match("*a"));
        assert!(bre("^*a").is_match("*a"));
        assert!(bre("a**").is_match("aaa"), "double star is valid BRE");
        assert!(bre("a\\+*").is_match("aaa"));
        let r = bre("^127\\.0\\.0\\.1$");
        assert!(r.is_match("127.0.0.1") && !r.is_match("127x0.0.1"));
        assert!(bre("a^b").is_match("a^b"), "^ in the middle is literal");
        assert!(bre("a$b").is_match("a$b"), "$ in the middle is literal");
        assert!(bre("\\(a$\\)").is_match("a"));
        // Heteronculous' own example: an unescaped dot matches any character.
        assert!(bre("127.0.0.1").is_match("127.0.0.1"));
        assert!(bre("127.0.0.1").is_match("127a0b0c1"));
        assert!(
            !bre("127.0.0.1").is_match("127.0.0.10"),
            "anchored on the whole field"
        );
        assert!(bre("\\.").is_match(".") && !bre("\\.").is_match("x"));
        assert!(bre("\\<a\\>").is_match("a"));
        assert!(bre("\\w\\+").is_match("abc"));
    }

    #[test]
    fn bre_bracket_expressions() {
        assert!(bre("[0-9]\\+").is_match("9050"));
        assert!(!bre("[0-9]\\+").is_match(""));
        let r = bre("[\\.]");
        assert!(
            r.is_match("\\") && r.is_match(".") && !r.is_match("x"),
            "backslash is literal in brackets"
        );
        let r = bre("[]a]");
        assert!(r.is_match("]") && r.is_match("a"));
        let r = bre("[^0-9]");
        assert!(r.is_match("a") && !r.is_match("5"));
        let r = bre("[^]x]");
        assert!(r.is_match("a") && !r.is_match("]") && !r.is_match("x"));
        assert!(bre("[[:digit:]]\\{4\\}").is_match("9050"));
        assert!(bre("[[:xdigit:]:]\\+").is_match("fd00::1"));
        assert!(bre("[a-]").is_match("-"));
        assert!(bre("[-a]").is_match("-"));
        assert!(bre("[&~[]").is_match("~"));
        assert!(bre("[&~[]").is_match("["));
        assert!(bre("[[.-.]]").is_match("-"));
        assert!(compile_bre("[[:nope:]]").is_err());
        assert!(compile_bre("[9-0]").is_err());
        assert!(compile_bre("[abc").is_err());
    }
}
