//! The attributes written *above* `#[leak_free]`.
//!
//! Attribute macros expand outside-in: when `#[test]` is written above `#[leak_free]`,
//! rustc has already expanded it by the time `#[leak_free]` runs, and the item handed to
//! us carries no trace of it. Adding our own `#[test]` then would register the test twice.
//! So the macro reads the source file at the attribute's position and looks at the
//! attributes written before it. This module is a small Rust lexer (comments, strings,
//! raw strings, char literals and lifetimes are skipped correctly) that does just that.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Pound,
    Bang,
    Open(char),
    Close(char),
    Colon,
    Ident(String),
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
    /// Index (in chars) of the token's first char.
    pos: usize,
}

/// Splits Rust source into the coarse tokens the scan needs, with 1-based line and
/// column (in chars).
fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // Advances over `n` chars, keeping line/column right.
    let advance = |i: &mut usize, line: &mut usize, col: &mut usize, n: usize| {
        for _ in 0..n {
            if *i >= chars.len() {
                return;
            }
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (tline, tcol, tpos) = (line, col, i);
        let mut push = |tok: Tok| {
            out.push(Token {
                tok,
                line: tline,
                col: tcol,
                pos: tpos,
            })
        };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1);
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, 1);
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    advance(&mut i, &mut line, &mut col, 2);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    advance(&mut i, &mut line, &mut col, 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    advance(&mut i, &mut line, &mut col, 1);
                }
            }
        } else if c == '"' {
            push(Tok::Other);
            advance(&mut i, &mut line, &mut col, 1);
            while i < chars.len() && chars[i] != '"' {
                let n = if chars[i] == '\\' { 2 } else { 1 };
                advance(&mut i, &mut line, &mut col, n);
            }
            advance(&mut i, &mut line, &mut col, 1);
        } else if c == '\'' {
            push(Tok::Other);
            if next == Some('\\') {
                // An escaped char literal: '\n', '\'', '\u{..}'.
                advance(&mut i, &mut line, &mut col, 2);
                advance(&mut i, &mut line, &mut col, 1);
                while i < chars.len() && chars[i] != '\'' {
                    advance(&mut i, &mut line, &mut col, 1);
                }
                advance(&mut i, &mut line, &mut col, 1);
            } else if chars.get(i + 2) == Some(&'\'') {
                advance(&mut i, &mut line, &mut col, 3);
            } else {
                // A lifetime or label.
                advance(&mut i, &mut line, &mut col, 1);
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    advance(&mut i, &mut line, &mut col, 1);
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                advance(&mut i, &mut line, &mut col, 1);
            }
            let word: String = chars[start..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && matches!(chars.get(i), Some('#') | Some('"')) {
                // A raw string: r"..", r#".."#, br##".."##.
                let mut hashes = 0;
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    advance(&mut i, &mut line, &mut col, 1);
                }
                if chars.get(i) == Some(&'"') {
                    advance(&mut i, &mut line, &mut col, 1);
                    loop {
                        if i >= chars.len() {
                            break;
                        }
                        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                            advance(&mut i, &mut line, &mut col, 1 + hashes);
                            break;
                        }
                        advance(&mut i, &mut line, &mut col, 1);
                    }
                    out.push(Token {
                        tok: Tok::Other,
                        line: tline,
                        col: tcol,
                        pos: tpos,
                    });
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && chars.get(i) == Some(&'"') {
                // b"..", c"..": the string itself is lexed next.
                continue;
            }
            out.push(Token {
                tok: Tok::Ident(word),
                line: tline,
                col: tcol,
                pos: tpos,
            });
        } else {
            push(match c {
                '#' => Tok::Pound,
                '!' => Tok::Bang,
                '[' | '(' | '{' => Tok::Open(c),
                ']' | ')' | '}' => Tok::Close(c),
                ':' => Tok::Colon,
                _ => Tok::Other,
            });
            advance(&mut i, &mut line, &mut col, 1);
        }
    }
    out
}

/// An attribute written above `#[leak_free]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedAttr {
    /// Its path without spaces: `test`, `tokio::test`, `serial`.
    pub path: String,
    /// Everything between `#[` and `]`, as written.
    pub text: String,
}

impl ScannedAttr {
    /// The last segment of the path.
    pub fn last_segment(&self) -> &str {
        self.path.rsplit("::").next().unwrap_or(&self.path)
    }
}

/// The outer attributes written directly before the attribute that starts at
/// `line`/`col` (1-based) in `src`, nearest first. None when no attribute starts there.
fn attributes_before(src: &str, line: usize, col: usize) -> Option<Vec<ScannedAttr>> {
    let toks = lex(src);
    let chars: Vec<char> = src.chars().collect();
    // The `#` of our attribute: on that line, the one nearest to the column.
    let here = toks
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            t.tok == Tok::Pound
                && t.line == line
                && toks.get(i + 1).map(|n| &n.tok) == Some(&Tok::Open('['))
        })
        .min_by_key(|(_, t)| t.col.abs_diff(col))
        .map(|(i, _)| i)?;
    let mut paths = Vec::new();
    let mut end = here; // exclusive: tokens before `end` are still to be read
    loop {
        if end == 0 || toks[end - 1].tok != Tok::Close(']') {
            break;
        }
        // Find the matching `[`.
        let mut depth = 0usize;
        let mut open = None;
        for j in (0..end).rev() {
            match toks[j].tok {
                Tok::Close(_) => depth += 1,
                Tok::Open(_) => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let open = open?;
        if open == 0 || toks[open - 1].tok != Tok::Pound {
            break; // `#![...]` (an inner attribute) or not an attribute at all
        }
        let mut path = String::new();
        for t in &toks[open + 1..end - 1] {
            match &t.tok {
                Tok::Ident(word) => path.push_str(word),
                Tok::Colon => path.push(':'),
                _ => break,
            }
        }
        let text = chars[toks[open].pos + 1..toks[end - 1].pos]
            .iter()
            .collect();
        paths.push(ScannedAttr { path, text });
        end = open - 1;
    }
    Some(paths)
}

/// The attribute paths written above the `#[leak_free]` being expanded, read from its
/// source file; None when the source cannot be read (then the caller decides alone from
/// the attributes it was given).
pub fn attributes_above_call_site() -> Option<Vec<ScannedAttr>> {
    let span = proc_macro::Span::call_site();
    let file = span.local_file()?;
    let (line, col) = (span.line(), span.column());
    let candidates = [
        Some(file.clone()),
        std::env::var_os("CARGO_MANIFEST_DIR").map(|dir| PathBuf::from(dir).join(&file)),
    ];
    let src = candidates
        .into_iter()
        .flatten()
        .find_map(|path| std::fs::read_to_string(path).ok())?;
    attributes_before(&src, line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_attributes_above() {
        let src = r##"
mod tests {
    #[test] // a comment with #[not_an_attr]
    /// docs ] with a bracket
    #[should_panic(expected = "a ] b")]
    #[ tokio :: test (flavor = "multi_thread") ]
    #[leak_free(allow = ["127.0.0.1:1"])]
    fn f() { let _ = r#"]"#; let _ = ']'; }

    #[leak_free]
    #[test]
    fn g<'a>() {}
}
"##;
        let attrs = attributes_before(src, 7, 5).unwrap();
        let paths: Vec<&str> = attrs.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, vec!["tokio::test", "should_panic", "test"]);
        assert_eq!(
            attrs[0].text,
            r#" tokio :: test (flavor = "multi_thread") "#
        );
        assert_eq!(attrs[0].last_segment(), "test");
        assert_eq!(attrs[1].text, r#"should_panic(expected = "a ] b")"#);
        let paths = attributes_before(src, 10, 5).unwrap();
        assert!(paths.is_empty(), "{paths:?}");
        assert_eq!(attributes_before(src, 2, 1), None);
    }

    #[test]
    fn stops_at_inner_attributes_and_items() {
        let src = "#![allow(x)]\n#[leak_free]\nfn f() {}\nstruct S;\n#[leak_free] fn g() {}\n";
        assert_eq!(attributes_before(src, 2, 1).unwrap(), vec![]);
        assert_eq!(attributes_before(src, 5, 1).unwrap(), vec![]);
    }
}
