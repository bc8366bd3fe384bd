//! What a traced program may reach, and how bad each kind of attempt is.
//!
//! A policy is assembled from layers (DESIGN.md, "Policy"): workspace metadata, package
//! metadata, the overrides whose filter matches the test, `LEAKCHECK_ALLOW`, `--allow`,
//! Heteronculous' variables and a test's own `#[leak_free(...)]`. Each source is parsed
//! into a [`PolicyConfig`] layer, layers are stacked with [`PolicyConfig::merge`], and
//! [`PolicyConfig::resolve`] turns the stack into the [`Policy`] the judge asks questions
//! of. Parsing is strict because a silently ignored allow entry or key hides leaks (or
//! lets them through): every mistake is a [`PolicyError`] naming where it came from.
//!
//! Two rules of DESIGN.md's "What counts" are enforced here rather than in the judge so
//! that no caller can forget them:
//!
//! * port 53 and 853 (DNS, DNS over TLS) are only allowed by an entry naming that single
//!   port; `*` and ranges never let them through;
//! * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address.

use crate::kind::{Kind, Severity};
use globset::{GlobBuilder, GlobMatcher};
pub use leakcheck_core::{is_dns_port, Endpoint, EndpointProblem, PortSpec, DNS_PORTS};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The name of the environment variable read by [`PolicyConfig::from_env_leakcheck_allow`].
pub const LEAKCHECK_ALLOW_VAR: &str = "LEAKCHECK_ALLOW";
/// Heteronculous: `1` allows creating IP sockets at all, anything else means unix only.
pub const LEAK_CI_ALLOW_IP_PROTOCOL: &str = "LEAK_CI_ALLOW_IP_PROTOCOL";
/// Heteronculous: alternating lines of IPv4 address regex and port regex.
pub const LEAK_CI_ALLOW_IP4_ADDR_PORT: &str = "LEAK_CI_ALLOW_IP4_ADDR_PORT";
/// Heteronculous: alternating lines of IPv6 address regex and port regex.
pub const LEAK_CI_ALLOW_IP6_ADDR_PORT: &str = "LEAK_CI_ALLOW_IP6_ADDR_PORT";

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A configuration mistake, reported to the user and turned into exit status 2.
///
/// Every variant carries the same parts so that the message always says where the bad
/// value came from (`origin`: a `Cargo.toml` path, an environment variable or `--allow`),
/// which key (`key`, e.g. `package.metadata.leakcheck.allow[2]`), what was found, what
/// was expected, and a hint line on how to fix it.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// An allow entry that does not follow the endpoint grammar.
    #[error(
        "{origin}: invalid allow entry `{key}`: found {found}; expected {expected}\n  hint: {hint}"
    )]
    InvalidEndpoint {
        /// Where the entry was read from.
        origin: String,
        /// The key path or entry index.
        key: String,
        /// The offending value.
        found: String,
        /// What the grammar wanted.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// A key whose value has the wrong JSON/TOML type.
    #[error(
        "{origin}: wrong type for `{key}`: found {found}; expected {expected}\n  hint: {hint}"
    )]
    WrongType {
        /// Where the value was read from.
        origin: String,
        /// The key path.
        key: String,
        /// The offending value.
        found: String,
        /// The type wanted.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// A value of the right type that is not one of the accepted values.
    #[error(
        "{origin}: invalid value for `{key}`: found {found}; expected {expected}\n  hint: {hint}"
    )]
    InvalidValue {
        /// Where the value was read from.
        origin: String,
        /// The key path.
        key: String,
        /// The offending value.
        found: String,
        /// The values wanted.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// A key leakcheck does not know: most likely a typo that would otherwise be ignored.
    #[error("{origin}: unknown key `{key}`: found {found}; expected {expected}\n  hint: {hint}")]
    UnknownKey {
        /// Where the table was read from.
        origin: String,
        /// The full path of the unknown key.
        key: String,
        /// The unknown key name.
        found: String,
        /// The keys accepted there.
        expected: String,
        /// A "did you mean" or where the key belongs.
        hint: String,
    },
    /// A required key is absent (an override without `filter`).
    #[error("{origin}: missing key `{key}`: found {found}; expected {expected}\n  hint: {hint}")]
    MissingKey {
        /// Where the table was read from.
        origin: String,
        /// The full path of the missing key.
        key: String,
        /// What the table had instead.
        found: String,
        /// What was required.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// A glob (override filter) that does not compile.
    #[error("{origin}: invalid glob `{key}`: found {found}; expected {expected}\n  hint: {hint}")]
    InvalidGlob {
        /// Where the glob was read from.
        origin: String,
        /// The key path.
        key: String,
        /// The glob as written.
        found: String,
        /// What went wrong.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// A Heteronculous line that is not a usable POSIX basic regular expression, or a
    /// variable whose lines are not address/port pairs.
    #[error("{origin}: invalid Heteronculous rule `{key}`: found {found}; expected {expected}\n  hint: {hint}")]
    InvalidRegex {
        /// The environment variable.
        origin: String,
        /// The line, e.g. `LEAK_CI_ALLOW_IP4_ADDR_PORT line 2 (port)`.
        key: String,
        /// The line as written.
        found: String,
        /// What was wrong.
        expected: String,
        /// How to fix it.
        hint: String,
    },
    /// `cargo metadata` output that does not have the documented shape.
    #[error("{origin}: unexpected cargo metadata at `{key}`: found {found}; expected {expected}\n  hint: {hint}")]
    Metadata {
        /// Always `cargo metadata`.
        origin: String,
        /// The JSON path.
        key: String,
        /// What was there.
        found: String,
        /// What the format-version 1 output has.
        expected: String,
        /// How to fix it.
        hint: String,
    },
}

impl PolicyError {
    fn parts(&self) -> (&str, &str, &str, &str, &str) {
        match self {
            PolicyError::InvalidEndpoint {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::WrongType {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::InvalidValue {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::UnknownKey {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::MissingKey {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::InvalidGlob {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::InvalidRegex {
                origin,
                key,
                found,
                expected,
                hint,
            }
            | PolicyError::Metadata {
                origin,
                key,
                found,
                expected,
                hint,
            } => (origin, key, found, expected, hint),
        }
    }

    /// Where the bad value came from (file path, environment variable or `--allow`), for
    /// callers that report errors in their own format (JSON, GitHub annotations).
    pub fn origin(&self) -> &str {
        self.parts().0
    }

    /// The key path of the bad value, e.g. `package.metadata.leakcheck.allow[2]`.
    pub fn key(&self) -> &str {
        self.parts().1
    }

    /// The fix suggestion, so that annotations can show it separately.
    pub fn hint(&self) -> &str {
        self.parts().4
    }
}

/// Describes a JSON value for "found ..." in error messages, short enough for one line.
fn describe(value: &Value) -> String {
    let text = shorten(&value.to_string());
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(_) => format!("the boolean {text}"),
        Value::Number(_) => format!("the number {text}"),
        Value::String(_) => format!("the string {text}"),
        Value::Array(_) => format!("the array {text}"),
        Value::Object(_) => format!("the table {text}"),
    }
}

fn quote(text: &str) -> String {
    shorten(&format!("{text:?}"))
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

/// The text strace prints for an IPv6 address (glibc `inet_ntop`), which Heteronculous
/// rules are written against. It equals Rust's RFC 5952 form except for the deprecated
/// IPv4-compatible addresses (`::a.b.c.d`), which glibc prints with a dotted tail.
pub fn strace_ipv6_text(addr: &Ipv6Addr) -> String {
    let s = addr.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let [.., a, b, c, d] = addr.octets();
        format!("::{}", Ipv4Addr::new(a, b, c, d))
    } else {
        addr.to_string()
    }
}

// ---------------------------------------------------------------------------------------
// Heteronculous rules
// ---------------------------------------------------------------------------------------

/// The address family a Heteronculous rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// Matched against the dotted IPv4 text (including IPv4-mapped destinations).
    V4,
    /// Matched against the IPv6 text strace prints ([`strace_ipv6_text`]).
    V6,
}

/// One address/port pair from `LEAK_CI_ALLOW_IP4_ADDR_PORT` or
/// `LEAK_CI_ALLOW_IP6_ADDR_PORT`, kept so that CI scripts written for Heteronculous keep
/// their meaning.
///
/// Both fields are POSIX basic regular expressions (GNU `grep -G` dialect), matched
/// against the whole address text and the whole decimal port. An IPv6 rule whose address
/// starts with `::ffff:` is an IPv4-mapped address and is judged as IPv4 (the rest of the
/// regex is matched against the dotted address).
#[derive(Clone, Debug)]
pub struct HeteronculousRule {
    /// The variable the rule came from, shown in reports.
    pub variable: &'static str,
    /// Which destinations the rule can match.
    pub family: IpFamily,
    /// The address regex as written.
    pub addr_text: String,
    /// The port regex as written.
    pub port_text: String,
    addr: Regex,
    port: Regex,
    /// `Some(53)`/`Some(853)` when the port regex is exactly that literal: the only way
    /// such a rule lets DNS through.
    dns_port: Option<u16>,
}

impl HeteronculousRule {
    /// Whether a destination is covered, with the mapped-address and DNS rules applied.
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        let port = addr.port();
        if is_dns_port(port) && self.dns_port != Some(port) {
            return false;
        }
        let text = match (addr.ip().to_canonical(), self.family) {
            (IpAddr::V4(v4), IpFamily::V4) => v4.to_string(),
            (IpAddr::V6(v6), IpFamily::V6) => strace_ipv6_text(&v6),
            _ => return false,
        };
        self.addr.is_match(&text) && self.port.is_match(&port.to_string())
    }
}

impl fmt::Display for HeteronculousRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}",
            self.variable, self.addr_text, self.port_text
        )
    }
}

/// The rules read from Heteronculous' variables.
#[derive(Clone, Debug, Default)]
pub struct HeteronculousRules {
    /// In the order of the variables (IPv4 first) and their lines.
    pub rules: Vec<HeteronculousRule>,
}

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

fn compile_bre(bre: &str) -> Result<Regex, String> {
    let body = bre_to_regex(bre)?;
    Regex::new(&format!("^(?:{body})$")).map_err(|e| {
        format!(
            "a regular expression the regex crate accepts after translation ({})",
            e.to_string().lines().last().unwrap_or("invalid")
        )
    })
}

/// Reads one Heteronculous address/port variable.
///
/// `detect_leaks.sh` reads the value with `while read -r addr; do read -r port; ...`:
/// alternate lines are an address regex and a port regex, each trimmed, and reading stops
/// at the first empty line. Rules after an empty line, or an address with no port line,
/// were silently ignored by Heteronculous; here they are errors, because a CI script that
/// believes it allows something it does not deserves to be told.
fn parse_heteronculous_var(
    variable: &'static str,
    family: IpFamily,
    value: &str,
) -> Result<Vec<HeteronculousRule>, PolicyError> {
    let origin = format!("environment variable {variable}");
    let err = |line: usize, role: &str, found: &str, expected: String, hint: String| {
        PolicyError::InvalidRegex {
            origin: origin.clone(),
            key: format!("{variable} line {line} ({role})"),
            found: quote(found),
            expected,
            hint,
        }
    };
    let example = match family {
        IpFamily::V4 => "127\\.0\\.0\\.1 on one line and 9050 on the next",
        IpFamily::V6 => "::1 on one line and 9050 on the next",
    };
    let lines: Vec<&str> = value.lines().map(str::trim).collect();
    let end = lines
        .iter()
        .position(|l| l.is_empty())
        .unwrap_or(lines.len());
    if let Some(offset) = lines[end..].iter().position(|l| !l.is_empty()) {
        let line = end + offset + 1;
        return Err(err(
            line,
            "after an empty line",
            lines[end + offset],
            format!("no empty line before line {line}"),
            "Heteronculous stopped reading at the first empty line, so the rules after it were never in force; remove the empty line (or the rules after it)".to_string(),
        ));
    }
    let lines = &lines[..end];
    let mut rules = Vec::new();
    for (pair_index, pair) in lines.chunks(2).enumerate() {
        let addr_line = pair_index * 2 + 1;
        let [addr_text, port_text] = pair else {
            return Err(err(
                addr_line,
                "address",
                pair[0],
                "a port regex on the line after each address regex".to_string(),
                format!("lines alternate address and port, e.g. {example}"),
            ));
        };
        for (line, role, text) in [
            (addr_line, "address", addr_text),
            (addr_line + 1, "port", port_text),
        ] {
            if text.chars().any(char::is_whitespace) {
                return Err(err(
                    line,
                    role,
                    text,
                    format!("the {role} regex alone on its line"),
                    format!("lines alternate address and port, e.g. {example}"),
                ));
            }
        }
        let mut rule_family = family;
        let mut addr_regex_text: &str = addr_text;
        if family == IpFamily::V6 {
            if let Some(prefix) = addr_text.get(..7) {
                if prefix.eq_ignore_ascii_case("::ffff:") {
                    rule_family = IpFamily::V4;
                    addr_regex_text = &addr_text[7..];
                }
            }
        }
        let addr = compile_bre(addr_regex_text).map_err(|expected| {
            err(
                addr_line,
                "address",
                addr_text,
                expected,
                "write a POSIX basic regular expression as for grep -G, e.g. 127\\.0\\.0\\.1 or 10\\.0\\.[0-9]\\+\\.1".to_string(),
            )
        })?;
        let port = compile_bre(port_text).map_err(|expected| {
            err(
                addr_line + 1,
                "port",
                port_text,
                expected,
                "write a POSIX basic regular expression as for grep -G, e.g. 9050 or [0-9]\\+ for any port".to_string(),
            )
        })?;
        let dns_port = match *port_text {
            "53" => Some(53),
            "853" => Some(853),
            _ => None,
        };
        rules.push(HeteronculousRule {
            variable,
            family: rule_family,
            addr_text: addr_text.to_string(),
            port_text: port_text.to_string(),
            addr,
            port,
            dns_port,
        });
    }
    Ok(rules)
}

// ---------------------------------------------------------------------------------------
// Configuration layers
// ---------------------------------------------------------------------------------------

/// Settings that apply only to tests whose name matches `filter`.
#[derive(Clone, Debug)]
pub struct Override {
    /// The compiled filter glob; `*` crosses `::` so `tor::*` covers nested modules.
    pub filter: GlobMatcher,
    /// The filter as written, for messages.
    pub filter_text: String,
    /// The settings; never has overrides of its own.
    pub layer: PolicyConfig,
}

impl Override {
    /// Whether the override applies to a test.
    pub fn matches(&self, test_name: &str) -> bool {
        self.filter.is_match(test_name)
    }
}

/// One layer of configuration, as read from one source; `None`/empty means "this layer
/// does not say", so that stacking layers only changes what a layer sets.
#[derive(Clone, Debug, Default)]
pub struct PolicyConfig {
    /// Allowed endpoints; layers union them.
    pub allow: Vec<Endpoint>,
    /// `ip = false` forbids IP sockets altogether (unix-socket-only programs).
    pub ip: Option<bool>,
    /// Per-kind severities this layer sets.
    pub severities: BTreeMap<Kind, Severity>,
    /// Test-name-specific settings, applied by [`PolicyConfig::resolve`] in order.
    pub overrides: Vec<Override>,
    /// Rules from Heteronculous' variables, unioned like `allow`.
    pub heteronculous: Option<HeteronculousRules>,
    /// True for `Cargo.toml` metadata layers: their base settings rank below every
    /// metadata override (DESIGN.md's order), while any other layer ranks above them.
    from_metadata: bool,
}

const TOP_KEYS: [&str; 3] = ["allow", "ip", "overrides"];

fn valid_keys(in_override: bool) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = if in_override {
        vec!["filter", "allow", "ip"]
    } else {
        TOP_KEYS.to_vec()
    };
    keys.extend(Kind::ALL.iter().map(|k| k.as_str()));
    keys
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = word.to_ascii_lowercase().replace('_', "-");
    candidates
        .iter()
        .map(|c| (edit_distance(&normalized, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

struct TableContext<'a> {
    origin: &'a str,
    prefix: &'a str,
}

impl TableContext<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }
}

fn parse_allow_value(value: &Value, origin: &str, key: &str) -> Result<Vec<Endpoint>, PolicyError> {
    let Value::Array(items) = value else {
        return Err(PolicyError::WrongType {
            origin: origin.to_string(),
            key: key.to_string(),
            found: describe(value),
            expected: "an array of strings like [\"127.0.0.1:9050\"]".to_string(),
            hint: "write allow = [\"127.0.0.1:9050\", \"unix:/run/tor/socks\"]; an empty array means no network at all".to_string(),
        });
    };
    let mut allow = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item_key = format!("{key}[{index}]");
        let Value::String(text) = item else {
            return Err(PolicyError::WrongType {
                origin: origin.to_string(),
                key: item_key,
                found: describe(item),
                expected: "an array of strings like [\"127.0.0.1:9050\"]".to_string(),
                hint: "quote every entry: allow = [\"127.0.0.1:9050\"]".to_string(),
            });
        };
        allow.push(endpoint_for(text, origin, &item_key)?);
    }
    Ok(allow)
}

fn endpoint_for(text: &str, origin: &str, key: &str) -> Result<Endpoint, PolicyError> {
    Endpoint::parse(text).map_err(|p| PolicyError::InvalidEndpoint {
        origin: origin.to_string(),
        key: key.to_string(),
        found: quote(text),
        expected: p.expected,
        hint: p.hint,
    })
}

fn parse_table(
    value: &Value,
    ctx: &TableContext<'_>,
    in_override: bool,
) -> Result<PolicyConfig, PolicyError> {
    let mut config = PolicyConfig {
        from_metadata: true,
        ..PolicyConfig::default()
    };
    let table = match value {
        Value::Object(table) => table,
        Value::Null if !in_override => return Ok(config),
        other => {
            return Err(PolicyError::WrongType {
                origin: ctx.origin.to_string(),
                key: ctx.prefix.to_string(),
                found: describe(other),
                expected: if in_override {
                    "a table like { filter = \"tor::*\", allow = [\"127.0.0.1:9051\"] }".to_string()
                } else {
                    "a table of leakcheck settings".to_string()
                },
                hint: if in_override {
                    "write each override as a [[...leakcheck.overrides]] table with a `filter` key"
                        .to_string()
                } else {
                    "write [package.metadata.leakcheck] with keys like allow = [\"127.0.0.1:9050\"]"
                        .to_string()
                },
            });
        }
    };
    for (name, item) in table {
        let key = ctx.key(name);
        match name.as_str() {
            "allow" => config.allow = parse_allow_value(item, ctx.origin, &key)?,
            "ip" => match item {
                Value::Bool(b) => config.ip = Some(*b),
                other => {
                    return Err(PolicyError::WrongType {
                        origin: ctx.origin.to_string(),
                        key,
                        found: describe(other),
                        expected: "a boolean: true or false".to_string(),
                        hint: "write ip = false (unquoted) to allow only unix sockets, ip = true otherwise".to_string(),
                    })
                }
            },
            "filter" if in_override => {}
            "overrides" if !in_override => {
                config.overrides = parse_overrides(item, ctx)?;
            }
            "overrides" => {
                return Err(PolicyError::UnknownKey {
                    origin: ctx.origin.to_string(),
                    key,
                    found: quote(name),
                    expected: format!("one of {}", valid_keys(true).join(", ")),
                    hint: "overrides cannot be nested; write every override as its own [[...leakcheck.overrides]] table".to_string(),
                })
            }
            other => match other.parse::<Kind>() {
                Ok(kind) => {
                    let severity = match item {
                        Value::String(s) => s.parse::<Severity>().map_err(|_| {
                            PolicyError::InvalidValue {
                                origin: ctx.origin.to_string(),
                                key: key.clone(),
                                found: describe(item),
                                expected: "\"allow\", \"warn\" or \"deny\"".to_string(),
                                hint: format!(
                                    "{other} = \"deny\" fails the test, \"warn\" reports it, \"allow\" ignores it{}",
                                    match s.as_str() {
                                        "leak" | "error" | "fail" => "; for a failing leak write \"deny\"",
                                        "warning" => "; write \"warn\"",
                                        _ => "",
                                    }
                                ),
                            }
                        })?,
                        other_value => {
                            return Err(PolicyError::WrongType {
                                origin: ctx.origin.to_string(),
                                key,
                                found: describe(other_value),
                                expected: "a string: \"allow\", \"warn\" or \"deny\"".to_string(),
                                hint: format!("write {other} = \"warn\" (quoted)"),
                            })
                        }
                    };
                    config.severities.insert(kind, severity);
                }
                Err(_) => {
                    let keys = valid_keys(in_override);
                    let hint = if name == "filter" {
                        "`filter` belongs in an override: [[...leakcheck.overrides]] filter = \"tor::*\"".to_string()
                    } else {
                        match did_you_mean(name, &keys) {
                            Some(suggestion) => format!("did you mean `{suggestion}`?"),
                            None => "remove the key, or check DESIGN.md's list of policy keys".to_string(),
                        }
                    };
                    return Err(PolicyError::UnknownKey {
                        origin: ctx.origin.to_string(),
                        key,
                        found: quote(name),
                        expected: format!("one of {}", keys.join(", ")),
                        hint,
                    });
                }
            },
        }
    }
    Ok(config)
}

fn parse_overrides(value: &Value, ctx: &TableContext<'_>) -> Result<Vec<Override>, PolicyError> {
    let key = ctx.key("overrides");
    let Value::Array(items) = value else {
        return Err(PolicyError::WrongType {
            origin: ctx.origin.to_string(),
            key: key.clone(),
            found: describe(value),
            expected: "an array of tables".to_string(),
            hint: format!("write each override as [[{key}]] with filter = \"tor::*\""),
        });
    };
    let mut overrides = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("{key}[{index}]");
        let inner = TableContext {
            origin: ctx.origin,
            prefix: &prefix,
        };
        let layer = parse_table(item, &inner, true)?;
        let filter_key = inner.key("filter");
        let filter_text = match item.get("filter") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(PolicyError::WrongType {
                    origin: ctx.origin.to_string(),
                    key: filter_key,
                    found: describe(other),
                    expected: "a string: a glob on the test name".to_string(),
                    hint: "write filter = \"tor::*\" (quoted)".to_string(),
                })
            }
            None => {
                return Err(PolicyError::MissingKey {
                    origin: ctx.origin.to_string(),
                    key: filter_key,
                    found: describe(item),
                    expected: "a `filter` glob on the test name".to_string(),
                    hint: "add filter = \"tor::*\" (use filter = \"*\" for every test)".to_string(),
                })
            }
        };
        let filter = GlobBuilder::new(&filter_text)
            .literal_separator(false)
            .build()
            .map_err(|e| PolicyError::InvalidGlob {
                origin: ctx.origin.to_string(),
                key: filter_key.clone(),
                found: quote(&filter_text),
                expected: format!("a glob on the test name ({})", e.kind()),
                hint: "globs use *, ?, [abc] and {a,b}, e.g. filter = \"tor::*\"".to_string(),
            })?
            .compile_matcher();
        if filter_text.trim().is_empty() {
            return Err(PolicyError::InvalidGlob {
                origin: ctx.origin.to_string(),
                key: filter_key,
                found: quote(&filter_text),
                expected: "a non-empty glob on the test name".to_string(),
                hint: "use filter = \"*\" for every test".to_string(),
            });
        }
        overrides.push(Override {
            filter,
            filter_text,
            layer,
        });
    }
    Ok(overrides)
}

fn metadata_error(key: &str, found: Option<&Value>, expected: &str) -> PolicyError {
    PolicyError::Metadata {
        origin: "cargo metadata".to_string(),
        key: key.to_string(),
        found: found.map_or_else(|| "nothing".to_string(), describe),
        expected: expected.to_string(),
        hint: "pass the output of `cargo metadata --format-version 1 --no-deps`".to_string(),
    }
}

/// Splits `LEAKCHECK_ALLOW` at commas, except inside `{...}` or `[...]` so that unix
/// globs like `unix:/run/{tor,arti}/socks` stay one entry; empty pieces are dropped so a
/// trailing comma is harmless.
pub fn split_allow_list(list: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut depth: usize = 0;
    let mut start = 0;
    for (index, c) in list.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(&list[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    pieces.push(&list[start..]);
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn env_value(name: &str) -> Result<Option<String>, PolicyError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|raw| PolicyError::InvalidValue {
                origin: format!("environment variable {name}"),
                key: name.to_string(),
                found: quote(&raw.to_string_lossy()),
                expected: "valid UTF-8 text".to_string(),
                hint: "addresses and globs must be UTF-8".to_string(),
            }),
    }
}

impl PolicyConfig {
    /// Parses a `leakcheck` metadata table as `cargo metadata` renders it in JSON.
    ///
    /// `source` (the `Cargo.toml`) and `key_prefix` (e.g. `package.metadata.leakcheck`)
    /// only feed error messages, so that the user can find the line to fix. A `null`
    /// value is an empty layer.
    pub fn from_metadata(
        value: &Value,
        source: &Path,
        key_prefix: &str,
    ) -> Result<PolicyConfig, PolicyError> {
        let origin = source.display().to_string();
        parse_table(
            value,
            &TableContext {
                origin: &origin,
                prefix: key_prefix,
            },
            false,
        )
    }

    /// Reads every layer a workspace's manifests define, in one pass over
    /// `cargo metadata --format-version 1 --no-deps`, so that a typo in any package fails
    /// the run up front rather than when its tests happen to run.
    ///
    /// Returns the workspace layer and one layer per package name (empty when the package
    /// has no `[package.metadata.leakcheck]`). Other tools' metadata is ignored.
    pub fn from_cargo_metadata(
        metadata: &Value,
    ) -> Result<(PolicyConfig, BTreeMap<String, PolicyConfig>), PolicyError> {
        let root = match metadata.get("workspace_root") {
            Some(Value::String(root)) => Path::new(root).to_path_buf(),
            other => {
                return Err(metadata_error(
                    "workspace_root",
                    other,
                    "the workspace root directory as a string",
                ))
            }
        };
        let workspace = match metadata.get("metadata") {
            None | Some(Value::Null) => PolicyConfig::metadata_layer(),
            Some(Value::Object(table)) => match table.get("leakcheck") {
                None => PolicyConfig::metadata_layer(),
                Some(value) => PolicyConfig::from_metadata(
                    value,
                    &root.join("Cargo.toml"),
                    "workspace.metadata.leakcheck",
                )?,
            },
            Some(other) => {
                return Err(metadata_error(
                    "metadata",
                    Some(other),
                    "null or the [workspace.metadata] table",
                ))
            }
        };
        let Some(Value::Array(packages)) = metadata.get("packages") else {
            return Err(metadata_error(
                "packages",
                metadata.get("packages"),
                "an array of packages",
            ));
        };
        let mut layers = BTreeMap::new();
        for (index, package) in packages.iter().enumerate() {
            let Some(Value::String(name)) = package.get("name") else {
                return Err(metadata_error(
                    &format!("packages[{index}].name"),
                    package.get("name"),
                    "the package name as a string",
                ));
            };
            let manifest = match package.get("manifest_path") {
                Some(Value::String(path)) => Path::new(path).to_path_buf(),
                other => {
                    return Err(metadata_error(
                        &format!("packages[{index}].manifest_path"),
                        other,
                        "the path of the package's Cargo.toml as a string",
                    ))
                }
            };
            let layer = match package.get("metadata") {
                None | Some(Value::Null) => PolicyConfig::metadata_layer(),
                Some(Value::Object(table)) => match table.get("leakcheck") {
                    None => PolicyConfig::metadata_layer(),
                    Some(value) => {
                        PolicyConfig::from_metadata(value, &manifest, "package.metadata.leakcheck")?
                    }
                },
                Some(other) => {
                    return Err(metadata_error(
                        &format!("packages[{index}].metadata"),
                        Some(other),
                        "null or the [package.metadata] table",
                    ))
                }
            };
            layers.insert(name.clone(), layer);
        }
        Ok((workspace, layers))
    }

    fn metadata_layer() -> PolicyConfig {
        PolicyConfig {
            from_metadata: true,
            ..PolicyConfig::default()
        }
    }

    /// Builds a layer from endpoints given outside `Cargo.toml`; `source` (`--allow`,
    /// `LEAKCHECK_ALLOW`, `#[leak_free]`) names them in error messages, and entry `i` is
    /// reported as `source[i]`.
    pub fn from_allow_list<S: AsRef<str>>(
        list: &[S],
        source: &str,
    ) -> Result<PolicyConfig, PolicyError> {
        let mut config = PolicyConfig::default();
        for (index, text) in list.iter().enumerate() {
            let endpoint = endpoint_for(text.as_ref(), source, &format!("{source}[{index}]"))?;
            if !config.allow.contains(&endpoint) {
                config.allow.push(endpoint);
            }
        }
        Ok(config)
    }

    /// Reads `LEAKCHECK_ALLOW` (comma-separated endpoints, see [`split_allow_list`]);
    /// unset or empty is an empty layer.
    pub fn from_env_leakcheck_allow() -> Result<PolicyConfig, PolicyError> {
        PolicyConfig::from_leakcheck_allow_value(env_value(LEAKCHECK_ALLOW_VAR)?.as_deref())
    }

    /// [`PolicyConfig::from_env_leakcheck_allow`] on a given value, so that it can be
    /// tested without touching the process environment.
    pub fn from_leakcheck_allow_value(value: Option<&str>) -> Result<PolicyConfig, PolicyError> {
        match value {
            None => Ok(PolicyConfig::default()),
            Some(value) => {
                PolicyConfig::from_allow_list(&split_allow_list(value), LEAKCHECK_ALLOW_VAR)
            }
        }
    }

    /// Reads Heteronculous' variables so that CI scripts written for `detect_leaks.sh`
    /// work unchanged; an empty layer when none is set.
    ///
    /// See [`PolicyConfig::from_heteronculous_values`] for the format.
    pub fn from_env_heteronculous() -> Result<PolicyConfig, PolicyError> {
        PolicyConfig::from_heteronculous_values(
            env_value(LEAK_CI_ALLOW_IP_PROTOCOL)?.as_deref(),
            env_value(LEAK_CI_ALLOW_IP4_ADDR_PORT)?.as_deref(),
            env_value(LEAK_CI_ALLOW_IP6_ADDR_PORT)?.as_deref(),
        )
    }

    /// Heteronculous' variables, given as values (testable without the environment).
    ///
    /// Format, as read by Heteronculous' `detect_leaks.sh` (JeremyRand/heteronculous):
    ///
    /// * `LEAK_CI_ALLOW_IP_PROTOCOL`: `1` allows creating IP sockets (`ip = true`); the
    ///   script treats any other value as "unix sockets only" (`ip = false`). Here `0` and
    ///   the empty string mean `ip = false`, unset means this layer does not say, and any
    ///   other value is an error rather than a silent `false`.
    /// * `LEAK_CI_ALLOW_IP4_ADDR_PORT` / `LEAK_CI_ALLOW_IP6_ADDR_PORT`: lines alternate an
    ///   address regex and a port regex (`127.0.0.1`, then `9050`), POSIX basic regular
    ///   expressions as `grep -G` reads them (`[0-9]\+` is any port). Heteronculous pasted
    ///   them into a pattern for strace's `inet_addr("...")`, where a literal `.` still
    ///   matches any character; that looseness is kept. Each is matched against the whole
    ///   address text and the whole decimal port. Its IPv6 pattern no longer matched any
    ///   current strace output; here IPv6 rules work, matched against the text strace
    ///   prints ([`strace_ipv6_text`]).
    ///
    /// An address regex matching any port does not open 53/853: only a port line that is
    /// exactly `53` or `853` does.
    pub fn from_heteronculous_values(
        ip_protocol: Option<&str>,
        ip4: Option<&str>,
        ip6: Option<&str>,
    ) -> Result<PolicyConfig, PolicyError> {
        let mut config = PolicyConfig::default();
        if let Some(value) = ip_protocol {
            config.ip =
                match value.trim() {
                    "1" => Some(true),
                    "0" | "" => Some(false),
                    other => return Err(PolicyError::InvalidValue {
                        origin: format!("environment variable {LEAK_CI_ALLOW_IP_PROTOCOL}"),
                        key: LEAK_CI_ALLOW_IP_PROTOCOL.to_string(),
                        found: quote(other),
                        expected: "1 (IP sockets allowed) or 0 (unix sockets only)".to_string(),
                        hint:
                            "Heteronculous treated every value but 1 as 0; write 1 or 0 explicitly"
                                .to_string(),
                    }),
                };
        }
        let mut rules = Vec::new();
        if let Some(value) = ip4 {
            rules.extend(parse_heteronculous_var(
                LEAK_CI_ALLOW_IP4_ADDR_PORT,
                IpFamily::V4,
                value,
            )?);
        }
        if let Some(value) = ip6 {
            rules.extend(parse_heteronculous_var(
                LEAK_CI_ALLOW_IP6_ADDR_PORT,
                IpFamily::V6,
                value,
            )?);
        }
        if !rules.is_empty() {
            config.heteronculous = Some(HeteronculousRules { rules });
        }
        Ok(config)
    }

    /// Whether the layer sets nothing at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
            && self.ip.is_none()
            && self.severities.is_empty()
            && self.overrides.is_empty()
            && self.heteronculous.iter().all(|h| h.rules.is_empty())
    }

    /// Stacks `higher` on top of `self`.
    ///
    /// Allow lists and Heteronculous rules are unioned (a package extends the workspace;
    /// `--allow` adds to the manifest), overrides are appended, and `ip` and severities
    /// from `higher` win where it sets them. Precedence with overrides follows DESIGN.md's
    /// order (workspace, package, matching overrides, `LEAKCHECK_ALLOW`, `--allow`, the
    /// test's attribute): when both layers come from `Cargo.toml` metadata, every override
    /// still beats both base layers; when `higher` comes from anywhere else, its `ip` and
    /// severities also beat the overrides below it (so `#[leak_free(ip = false)]` cannot
    /// be undone by a manifest override).
    pub fn merge(self, higher: PolicyConfig) -> PolicyConfig {
        let mut out = self;
        let out_was_metadata = out.from_metadata || out.is_empty();
        let higher_is_metadata = higher.from_metadata || higher.is_empty();
        if !higher.from_metadata {
            for o in &mut out.overrides {
                if higher.ip.is_some() {
                    o.layer.ip = None;
                }
                for kind in higher.severities.keys() {
                    o.layer.severities.remove(kind);
                }
            }
        }
        out.stack_settings(
            higher.allow,
            higher.ip,
            higher.severities,
            higher.heteronculous,
        );
        out.overrides.extend(higher.overrides);
        out.from_metadata = out_was_metadata && higher_is_metadata;
        out
    }

    fn stack_settings(
        &mut self,
        allow: Vec<Endpoint>,
        ip: Option<bool>,
        severities: BTreeMap<Kind, Severity>,
        heteronculous: Option<HeteronculousRules>,
    ) {
        for endpoint in allow {
            if !self.allow.contains(&endpoint) {
                self.allow.push(endpoint);
            }
        }
        if ip.is_some() {
            self.ip = ip;
        }
        self.severities.extend(severities);
        if let Some(rules) = heteronculous {
            self.heteronculous
                .get_or_insert_with(HeteronculousRules::default)
                .rules
                .extend(rules.rules);
        }
    }

    /// The policy for one test: the base settings with every override whose filter
    /// matches `test_name` stacked on top, in order.
    pub fn resolve(&self, test_name: &str) -> Policy {
        let mut config = PolicyConfig {
            allow: self.allow.clone(),
            ip: self.ip,
            severities: self.severities.clone(),
            overrides: Vec::new(),
            heteronculous: self.heteronculous.clone(),
            from_metadata: self.from_metadata,
        };
        for o in self.overrides.iter().filter(|o| o.matches(test_name)) {
            let layer = o.layer.clone();
            config.stack_settings(layer.allow, layer.ip, layer.severities, layer.heteronculous);
        }
        Policy {
            allow: config.allow,
            heteronculous: config.heteronculous.map(|h| h.rules).unwrap_or_default(),
            ip: config.ip.unwrap_or(true),
            severities: config.severities,
        }
    }

    /// Sets a kind's severity in this layer (from `#[leak_free(...)]` or the CLI).
    pub fn set_severity(&mut self, kind: Kind, severity: Severity) {
        self.severities.insert(kind, severity);
    }

    /// Sets `ip` in this layer (from `#[leak_free(ip = false)]` or the CLI).
    pub fn set_ip(&mut self, ip: bool) {
        self.ip = Some(ip);
    }
}

// ---------------------------------------------------------------------------------------
// The resolved policy
// ---------------------------------------------------------------------------------------

/// What one test (or one traced command) may do: the question the judge asks of every
/// network attempt.
#[derive(Clone, Debug)]
pub struct Policy {
    allow: Vec<Endpoint>,
    heteronculous: Vec<HeteronculousRule>,
    ip: bool,
    severities: BTreeMap<Kind, Severity>,
}

impl Default for Policy {
    /// The hermetic policy: nothing may be reached.
    fn default() -> Self {
        Policy::no_network()
    }
}

impl Policy {
    /// The hermetic-test policy: no endpoint allowed, IP sockets may be created (only
    /// using them is a leak), every kind at its default severity.
    pub fn no_network() -> Policy {
        Policy {
            allow: Vec::new(),
            heteronculous: Vec::new(),
            ip: true,
            severities: BTreeMap::new(),
        }
    }

    /// Whether a connect/send destination is allowed. IPv4-mapped destinations are judged
    /// as IPv4; port 53/853 passes only an entry naming that port explicitly.
    pub fn allows_ip(&self, addr: &SocketAddr) -> bool {
        self.allow.iter().any(|e| e.matches_ip(addr))
            || self.heteronculous.iter().any(|r| r.matches(addr))
    }

    /// Whether a unix socket address is allowed (`path` is the name for abstract sockets,
    /// with or without the `@` strace prints).
    pub fn allows_unix(&self, path: &str, is_abstract: bool) -> bool {
        self.allow.iter().any(|e| e.matches_unix(path, is_abstract))
    }

    /// The `ip` key: false means creating any IP socket is a leak. Defaults to true.
    pub fn ip_allowed(&self) -> bool {
        self.ip
    }

    /// The severity of a kind: the policy's setting, or the kind's default.
    pub fn severity(&self, kind: Kind) -> Severity {
        self.severities
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_severity())
    }

    /// Every allow entry in force as written, Heteronculous rules as
    /// `VARIABLE: ADDRESS PORT`; reports print it next to a leak so that the reader sees
    /// why it was not allowed. Empty means "no network allowed".
    pub fn allow_list(&self) -> Vec<String> {
        self.allow
            .iter()
            .map(|e| e.to_string())
            .chain(self.heteronculous.iter().map(|r| r.to_string()))
            .collect()
    }

    /// A policy from endpoint strings, for tests and examples only.
    ///
    /// # Panics
    ///
    /// Panics if an entry does not parse: this is the one place where bad input is a
    /// programming error rather than user configuration.
    pub fn from_list(list: &[&str]) -> Policy {
        match PolicyConfig::from_allow_list(list, "Policy::from_list") {
            Ok(config) => config.resolve(""),
            Err(e) => panic!("Policy::from_list: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn ep(text: &str) -> Endpoint {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn meta_err(value: serde_json::Value) -> PolicyError {
        match PolicyConfig::from_metadata(
            &value,
            Path::new("/ws/demo/Cargo.toml"),
            "package.metadata.leakcheck",
        ) {
            Ok(c) => panic!("parsed: {c:?}"),
            Err(e) => e,
        }
    }

    fn meta(value: serde_json::Value) -> PolicyConfig {
        PolicyConfig::from_metadata(
            &value,
            Path::new("/ws/demo/Cargo.toml"),
            "package.metadata.leakcheck",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn hetero(
        protocol: Option<&str>,
        ip4: Option<&str>,
        ip6: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        PolicyConfig::from_heteronculous_values(protocol, ip4, ip6).map(|c| c.resolve("t"))
    }

    fn bre(pattern: &str) -> Regex {
        compile_bre(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    // --- DNS and mapped addresses ----------------------------------------------------

    #[test]
    fn dns_ports_need_an_explicit_entry() {
        for port in DNS_PORTS {
            let dest = sa(&format!("10.0.0.2:{port}"));
            assert!(ep(&format!("10.0.0.2:{port}")).matches_ip(&dest));
            assert!(ep(&format!("10.0.0.0/8:{port}")).matches_ip(&dest));
            assert!(ep(&format!("10.0.0.2:{port}-{port}")).matches_ip(&dest));
            assert!(
                !ep("10.0.0.2:*").matches_ip(&dest),
                "* must not open {port}"
            );
            assert!(
                !ep("10.0.0.2:1-1000").matches_ip(&dest),
                "a range must not open {port}"
            );
            assert!(!ep("0.0.0.0/0:*").matches_ip(&dest));
            let dest6 = sa(&format!("[2001:db8::53]:{port}"));
            assert!(!ep("[::/0]:*").matches_ip(&dest6));
            assert!(ep(&format!("[2001:db8::53]:{port}")).matches_ip(&dest6));
        }
        assert!(!ep("10.0.0.2:53").matches_ip(&sa("10.0.0.2:853")));
        let policy = Policy::from_list(&["10.0.0.2:*", "10.0.0.3:53"]);
        assert!(!policy.allows_ip(&sa("10.0.0.2:53")));
        assert!(policy.allows_ip(&sa("10.0.0.2:54")));
        assert!(policy.allows_ip(&sa("10.0.0.3:53")));
        assert!(!policy.allows_ip(&sa("10.0.0.3:853")));
        assert!(is_dns_port(53) && is_dns_port(853) && !is_dns_port(5353));
    }
    // --- metadata ------------------------------------------------------------------

    #[test]
    fn design_example_parses() {
        let config = meta(json!({
            "allow": ["127.0.0.1:9050", "[::1]:9050", "127.0.0.1:9150-9159", "10.0.0.0/8:443", "unix:/run/tor/socks"],
            "ip": true,
            "interface-enumeration": "warn",
            "overrides": [{ "filter": "tor::*", "allow": ["127.0.0.1:9051"] }]
        }));
        assert_eq!(config.allow.len(), 5);
        assert_eq!(config.ip, Some(true));
        assert_eq!(
            config.severities.get(&Kind::InterfaceEnumeration),
            Some(&Severity::Warn)
        );
        assert_eq!(config.overrides.len(), 1);
        assert_eq!(config.overrides[0].filter_text, "tor::*");

        let tor = config.resolve("tor::circuit::builds");
        assert!(tor.allows_ip(&sa("127.0.0.1:9051")));
        assert!(tor.allows_ip(&sa("127.0.0.1:9050")));
        assert!(tor.allows_unix("/run/tor/socks", false));
        assert_eq!(tor.allow_list().len(), 6);
        let other = config.resolve("net::fetch");
        assert!(!other.allows_ip(&sa("127.0.0.1:9051")));
        assert!(other.allows_ip(&sa("127.0.0.1:9155")));
        assert!(other.allows_ip(&sa("[::1]:9050")));
        assert!(!other.allows_ip(&sa("8.8.8.8:443")));
    }

    #[test]
    fn every_kind_is_a_key() {
        for kind in Kind::ALL {
            for (text, severity) in [
                ("allow", Severity::Allow),
                ("warn", Severity::Warn),
                ("deny", Severity::Deny),
            ] {
                let config = meta(json!({ kind.as_str(): text }));
                assert_eq!(config.resolve("x").severity(kind), severity);
            }
        }
        let policy = meta(json!({})).resolve("x");
        for kind in Kind::ALL {
            assert_eq!(policy.severity(kind), kind.default_severity());
        }
        assert!(meta(json!(null)).is_empty());
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let e = meta_err(json!({ "alow": ["127.0.0.1:9050"] }));
        let text = e.to_string();
        assert!(matches!(e, PolicyError::UnknownKey { .. }));
        assert!(text.contains("/ws/demo/Cargo.toml"), "{text}");
        assert!(text.contains("package.metadata.leakcheck.alow"), "{text}");
        assert!(text.contains("did you mean `allow`?"), "{text}");
        assert_eq!(e.origin(), "/ws/demo/Cargo.toml");
        assert_eq!(e.key(), "package.metadata.leakcheck.alow");
        assert!(text.contains("\n  hint: "), "{text}");

        let e = meta_err(json!({ "interface_enumeration": "warn" }));
        assert!(e.hint().contains("`interface-enumeration`"), "{e}");
        let e = meta_err(json!({ "ipp": true }));
        assert!(e.hint().contains("`ip`"), "{e}");
        let e = meta_err(json!({ "completely-different": 1 }));
        assert!(!e.hint().contains("did you mean"), "{e}");
        assert!(
            e.to_string()
                .contains("expected one of allow, ip, overrides, connect"),
            "{e}"
        );
        let e = meta_err(json!({ "filter": "x" }));
        assert!(e.hint().contains("belongs in an override"), "{e}");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let e = meta_err(json!({ "allow": "127.0.0.1:9050" }));
        assert!(matches!(e, PolicyError::WrongType { .. }));
        let text = e.to_string();
        assert!(
            text.contains("expected an array of strings like [\"127.0.0.1:9050\"]"),
            "{text}"
        );
        assert!(text.contains("the string \"127.0.0.1:9050\""), "{text}");
        assert_eq!(e.key(), "package.metadata.leakcheck.allow");

        let e = meta_err(json!({ "allow": ["127.0.0.1:9050", 9050] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.allow[1]");
        assert!(e.to_string().contains("the number 9050"), "{e}");

        let e = meta_err(json!({ "ip": "false" }));
        assert!(e.to_string().contains("expected a boolean"), "{e}");
        assert_eq!(e.key(), "package.metadata.leakcheck.ip");

        let e = meta_err(json!({ "dns": false }));
        assert!(
            e.to_string().contains("\"allow\", \"warn\" or \"deny\""),
            "{e}"
        );
        let e = meta_err(json!({ "dns": "leak" }));
        assert!(matches!(e, PolicyError::InvalidValue { .. }));
        assert!(e.hint().contains("\"deny\""), "{e}");

        let e = meta_err(json!({ "overrides": { "filter": "x" } }));
        assert!(e.to_string().contains("expected an array of tables"), "{e}");
        let e = meta_err(json!({ "overrides": ["x"] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0]");
        let e = meta_err(json!("allow everything"));
        assert!(
            e.to_string().contains("a table of leakcheck settings"),
            "{e}"
        );
    }

    #[test]
    fn bad_allow_entries_name_file_key_and_expectation() {
        let e = meta_err(json!({ "allow": ["127.0.0.1:9050", "[::1]:9050", "localhost:9050"] }));
        let text = e.to_string();
        assert!(matches!(e, PolicyError::InvalidEndpoint { .. }));
        assert!(text.starts_with("/ws/demo/Cargo.toml: "), "{text}");
        assert!(
            text.contains("`package.metadata.leakcheck.allow[2]`"),
            "{text}"
        );
        assert!(text.contains("found \"localhost:9050\""), "{text}");
        assert!(
            text.contains("expected an IP address, not a host name"),
            "{text}"
        );
        assert!(text.contains("hint: "), "{text}");
    }

    #[test]
    fn override_errors() {
        let e = meta_err(json!({ "overrides": [{ "allow": ["127.0.0.1:1"] }] }));
        assert!(matches!(e, PolicyError::MissingKey { .. }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].filter");
        let e = meta_err(json!({ "overrides": [{ "filter": 3 }] }));
        assert!(matches!(e, PolicyError::WrongType { .. }));
        let e = meta_err(json!({ "overrides": [{ "filter": "a[", "ip": false }] }));
        assert!(matches!(e, PolicyError::InvalidGlob { .. }), "{e}");
        let e = meta_err(json!({ "overrides": [{ "filter": "" }] }));
        assert!(matches!(e, PolicyError::InvalidGlob { .. }), "{e}");
        let e = meta_err(json!({ "overrides": [{ "filter": "x", "overrides": [] }] }));
        assert!(e.hint().contains("cannot be nested"), "{e}");
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].overrides");
        let e =
            meta_err(json!({ "overrides": [{ "filter": "x" }, { "filter": "y", "alow": [] }] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[1].alow");
        assert!(e.hint().contains("`allow`"));
        let e = meta_err(json!({ "overrides": [{ "filter": "x", "allow": ["1.2.3.4"] }] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].allow[0]");
    }

    #[test]
    fn overrides_match_test_names() {
        let config = meta(json!({
            "ip": true,
            "overrides": [
                { "filter": "tor::*", "allow": ["127.0.0.1:9051"], "listen": "deny" },
                { "filter": "*::builds", "ip": false },
                { "filter": "tor::circuit::builds", "listen": "allow" },
                { "filter": "net::*", "allow": ["127.0.0.1:8080"] }
            ]
        }));
        let p = config.resolve("tor::circuit::builds");
        assert!(p.allows_ip(&sa("127.0.0.1:9051")));
        assert!(!p.allows_ip(&sa("127.0.0.1:8080")));
        assert!(!p.ip_allowed());
        assert_eq!(
            p.severity(Kind::Listen),
            Severity::Allow,
            "later overrides win"
        );
        let p = config.resolve("tor::circuit::extends");
        assert!(p.ip_allowed());
        assert_eq!(p.severity(Kind::Listen), Severity::Deny);
        let p = config.resolve("torrent::x");
        assert!(
            !p.allows_ip(&sa("127.0.0.1:9051")),
            "tor::* must not match torrent::x"
        );
        let p = config.resolve("tor");
        assert!(!p.allows_ip(&sa("127.0.0.1:9051")));
        let p = config.resolve("net::http::get");
        assert!(p.allows_ip(&sa("127.0.0.1:8080")));
    }

    // --- merge and precedence ---------------------------------------------------------

    #[test]
    fn merge_unions_allow_lists_and_higher_wins() {
        let mut ws = meta(
            json!({ "allow": ["127.0.0.1:9050"], "ip": false, "listen": "deny", "dns": "warn" }),
        );
        ws.set_severity(Kind::Send, Severity::Warn);
        let pkg = meta(json!({ "allow": ["127.0.0.1:9050", "[::1]:9050"], "listen": "allow" }));
        let merged = ws.merge(pkg);
        let p = merged.resolve("t");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050"],
            "union without duplicates"
        );
        assert!(
            !p.ip_allowed(),
            "ip comes from the workspace when the package does not set it"
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Allow);
        assert_eq!(p.severity(Kind::Dns), Severity::Warn);
        assert_eq!(p.severity(Kind::Send), Severity::Warn);
        let mut higher =
            PolicyConfig::from_allow_list(&["10.0.0.1:443"], "--allow").expect("valid");
        higher.set_ip(true);
        let p = merged.merge(higher).resolve("t");
        assert!(p.ip_allowed());
        assert_eq!(p.allow_list().len(), 3);
    }

    #[test]
    fn overrides_from_both_metadata_layers_beat_both_bases() {
        let ws = PolicyConfig::from_metadata(
            &json!({ "overrides": [{ "filter": "offline::*", "ip": false }] }),
            Path::new("/ws/Cargo.toml"),
            "workspace.metadata.leakcheck",
        )
        .expect("valid");
        let pkg = meta(
            json!({ "ip": true, "listen": "deny", "overrides": [{ "filter": "*", "listen": "warn" }] }),
        );
        let config = ws.merge(pkg);
        assert_eq!(config.overrides.len(), 2, "overrides are appended");
        let p = config.resolve("offline::x");
        assert!(
            !p.ip_allowed(),
            "a workspace override beats the package base"
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Warn);
        assert!(config.resolve("online::x").ip_allowed());
    }

    #[test]
    fn layers_above_metadata_beat_overrides() {
        let pkg = meta(
            json!({ "overrides": [{ "filter": "*", "ip": true, "dns": "allow", "allow": ["127.0.0.1:1"] }] }),
        );
        let env = PolicyConfig::from_leakcheck_allow_value(Some("127.0.0.1:2")).expect("valid");
        let mut attribute = PolicyConfig::default();
        attribute.set_ip(false);
        attribute.set_severity(Kind::Dns, Severity::Deny);
        let p = pkg.merge(env).merge(attribute).resolve("any::test");
        assert!(
            !p.ip_allowed(),
            "#[leak_free(ip = false)] is not undone by an override"
        );
        assert_eq!(p.severity(Kind::Dns), Severity::Deny);
        assert!(
            p.allows_ip(&sa("127.0.0.1:1")),
            "override allow entries still union"
        );
        assert!(p.allows_ip(&sa("127.0.0.1:2")));
        // A layer that does not set ip leaves the override's ip in force.
        let pkg = meta(json!({ "overrides": [{ "filter": "*", "ip": false }] }));
        let p = pkg
            .merge(PolicyConfig::from_allow_list(&["127.0.0.1:2"], "--allow").expect("valid"))
            .resolve("t");
        assert!(!p.ip_allowed());
    }

    #[test]
    fn empty_config_is_no_network() {
        let p = PolicyConfig::default().resolve("t");
        assert!(p.allow_list().is_empty());
        assert!(p.ip_allowed());
        assert!(!p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(!p.allows_unix("/run/tor/socks", false));
        let n = Policy::no_network();
        assert!(n.allow_list().is_empty() && n.ip_allowed());
        assert_eq!(n.severity(Kind::Listen), Severity::Warn);
        assert_eq!(n.severity(Kind::Connect), Severity::Deny);
        assert!(Policy::default().allow_list().is_empty());
    }

    #[test]
    fn from_list_builds_a_policy() {
        let p = Policy::from_list(&["127.0.0.1:9050", "unix:@tor"]);
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_unix("tor", true));
        assert_eq!(p.allow_list(), vec!["127.0.0.1:9050", "unix:@tor"]);
    }

    #[test]
    #[should_panic(expected = "Policy::from_list")]
    fn from_list_panics_on_bad_input() {
        let _ = Policy::from_list(&["localhost:9050"]);
    }

    // --- cargo metadata ---------------------------------------------------------------

    fn cargo_metadata() -> serde_json::Value {
        json!({
            "workspace_root": "/ws",
            "metadata": { "leakcheck": { "allow": ["127.0.0.1:9050"], "listen": "deny" }, "docs": { "rs": 1 } },
            "packages": [
                {
                    "name": "demo",
                    "manifest_path": "/ws/demo/Cargo.toml",
                    "metadata": { "leakcheck": { "allow": ["[::1]:9050"], "overrides": [{ "filter": "tor::*", "allow": ["127.0.0.1:9051"] }] } }
                },
                { "name": "other-tools", "manifest_path": "/ws/o/Cargo.toml", "metadata": { "release": { "x": 1 } } },
                { "name": "plain", "manifest_path": "/ws/p/Cargo.toml", "metadata": null }
            ]
        })
    }

    #[test]
    fn cargo_metadata_layers() {
        let (ws, packages) = PolicyConfig::from_cargo_metadata(&cargo_metadata()).expect("valid");
        assert_eq!(
            packages.keys().collect::<Vec<_>>(),
            vec!["demo", "other-tools", "plain"]
        );
        assert!(packages["plain"].is_empty());
        assert!(packages["other-tools"].is_empty());
        let config = ws.clone().merge(packages["demo"].clone());
        let p = config.resolve("tor::circuit::builds");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050", "127.0.0.1:9051"]
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Deny);
        let p = ws.merge(packages["plain"].clone()).resolve("t");
        assert_eq!(p.allow_list(), vec!["127.0.0.1:9050"]);
    }

    #[test]
    fn cargo_metadata_errors_name_the_manifest() {
        let mut m = cargo_metadata();
        m["packages"][0]["metadata"]["leakcheck"]["allow"][0] = json!("[::1]");
        let e = PolicyConfig::from_cargo_metadata(&m).expect_err("invalid");
        assert_eq!(e.origin(), "/ws/demo/Cargo.toml");
        assert_eq!(e.key(), "package.metadata.leakcheck.allow[0]");
        assert!(e.to_string().contains("missing port"), "{e}");

        let mut m = cargo_metadata();
        m["metadata"]["leakcheck"]["alow"] = json!([]);
        let e = PolicyConfig::from_cargo_metadata(&m).expect_err("invalid");
        assert_eq!(e.origin(), "/ws/Cargo.toml");
        assert_eq!(e.key(), "workspace.metadata.leakcheck.alow");

        let e = PolicyConfig::from_cargo_metadata(&json!({ "workspace_root": "/ws" }))
            .expect_err("invalid");
        assert!(matches!(e, PolicyError::Metadata { .. }));
        assert_eq!(e.key(), "packages");
        let e = PolicyConfig::from_cargo_metadata(&json!({ "packages": [] })).expect_err("invalid");
        assert_eq!(e.key(), "workspace_root");
        let (ws, packages) = PolicyConfig::from_cargo_metadata(
            &json!({ "workspace_root": "/ws", "packages": [], "metadata": null }),
        )
        .expect("valid");
        assert!(ws.is_empty() && packages.is_empty());
    }

    // --- allow lists from the command line and environment ----------------------------

    #[test]
    fn leakcheck_allow_is_comma_separated() {
        let c = PolicyConfig::from_leakcheck_allow_value(Some(
            " 127.0.0.1:9050, [::1]:9050 ,unix:/run/{tor,arti}/socks,",
        ))
        .expect("valid");
        let p = c.resolve("t");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050", "unix:/run/{tor,arti}/socks"]
        );
        assert!(p.allows_unix("/run/arti/socks", false));
        assert!(PolicyConfig::from_leakcheck_allow_value(None)
            .expect("valid")
            .is_empty());
        assert!(PolicyConfig::from_leakcheck_allow_value(Some(""))
            .expect("valid")
            .is_empty());
        assert!(PolicyConfig::from_leakcheck_allow_value(Some(" , "))
            .expect("valid")
            .is_empty());
        let e = PolicyConfig::from_leakcheck_allow_value(Some("127.0.0.1:9050,localhost:9050"))
            .expect_err("invalid");
        assert_eq!(e.origin(), "LEAKCHECK_ALLOW");
        assert_eq!(e.key(), "LEAKCHECK_ALLOW[1]");
        assert!(e.to_string().contains("not a host name"), "{e}");
    }

    #[test]
    fn allow_flag_errors_name_the_flag() {
        let e =
            PolicyConfig::from_allow_list(&["127.0.0.1:99999"], "--allow").expect_err("invalid");
        let text = e.to_string();
        assert!(text.starts_with("--allow: "), "{text}");
        assert!(text.contains("`--allow[0]`"), "{text}");
        assert!(text.contains("at most 65535"), "{text}");
        let ok = PolicyConfig::from_allow_list(
            &[String::from("127.0.0.1:1"), String::from("127.0.0.1:1")],
            "--allow",
        )
        .expect("valid");
        assert_eq!(ok.allow.len(), 1);
    }

    // --- Heteronculous -------------------------------------------------------------

    #[test]
    fn heteronculous_readme_examples() {
        let p = hetero(
            Some("1"),
            Some("127.0.0.1\n9050\n127.0.0.1\n9150"),
            Some(""),
        )
        .expect("valid");
        assert!(p.ip_allowed());
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("127.0.0.1:9150")));
        assert!(!p.allows_ip(&sa("127.0.0.1:9051")));
        assert!(!p.allows_ip(&sa("10.0.0.1:9050")));
        assert!(
            p.allows_ip(&sa("[::ffff:127.0.0.1]:9050")),
            "mapped is judged as IPv4"
        );
        assert_eq!(
            p.allow_list(),
            vec![
                "LEAK_CI_ALLOW_IP4_ADDR_PORT: 127.0.0.1 9050",
                "LEAK_CI_ALLOW_IP4_ADDR_PORT: 127.0.0.1 9150"
            ]
        );
        let p = hetero(Some("0"), Some(""), Some("")).expect("valid");
        assert!(!p.ip_allowed());
        assert!(p.allow_list().is_empty());
    }

    #[test]
    fn heteronculous_any_port_regex_does_not_open_dns() {
        let p = hetero(Some("1"), Some("127.0.0.1\n[0-9]\\+"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:1")));
        assert!(p.allows_ip(&sa("127.0.0.1:65535")));
        assert!(!p.allows_ip(&sa("127.0.0.1:53")));
        assert!(!p.allows_ip(&sa("127.0.0.1:853")));
        let p = hetero(
            None,
            Some("127\\.0\\.0\\.53\n53\n127\\.0\\.0\\.53\n853"),
            None,
        )
        .expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.53:53")));
        assert!(p.allows_ip(&sa("127.0.0.53:853")));
        let p = hetero(None, Some("127\\.0\\.0\\.53\n5[0-9]"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.53:54")));
        assert!(!p.allows_ip(&sa("127.0.0.53:53")));
    }

    #[test]
    fn heteronculous_ipv6_rules_match() {
        let p = hetero(
            Some("1"),
            None,
            Some("::1\n9050\n2001:db8::[0-9a-f]\\+\n443"),
        )
        .expect("valid");
        assert!(p.allows_ip(&sa("[::1]:9050")));
        assert!(!p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("[2001:db8::1]:443")));
        assert!(p.allows_ip(&sa("[2001:db8::beef]:443")));
        assert!(
            !p.allows_ip(&sa("[2001:db8::1:1]:443")),
            "whole-field match"
        );
        assert!(!p.allows_ip(&sa("[2001:db8::1]:4430")), "whole-field match");
        assert_eq!(p.allow_list()[0], "LEAK_CI_ALLOW_IP6_ADDR_PORT: ::1 9050");
        // A v6 rule written as mapped is an IPv4 rule.
        let p = hetero(None, None, Some("::ffff:127\\.0\\.0\\.1\n9050")).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("[::ffff:127.0.0.1]:9050")));
        assert!(!p.allows_ip(&sa("[::1]:9050")));
        // IPv4 rules never match native IPv6 destinations.
        let p = hetero(None, Some(".*\n9050"), None).expect("valid");
        assert!(p.allows_ip(&sa("1.2.3.4:9050")));
        assert!(!p.allows_ip(&sa("[::1]:9050")));
    }

    #[test]
    fn heteronculous_protocol_values() {
        let c = PolicyConfig::from_heteronculous_values(None, None, None).expect("valid");
        assert!(c.is_empty());
        assert_eq!(
            PolicyConfig::from_heteronculous_values(Some(" 1 "), None, None)
                .expect("valid")
                .ip,
            Some(true)
        );
        assert_eq!(
            PolicyConfig::from_heteronculous_values(Some(""), None, None)
                .expect("valid")
                .ip,
            Some(false)
        );
        let e =
            PolicyConfig::from_heteronculous_values(Some("yes"), None, None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP_PROTOCOL");
        assert!(
            e.to_string()
                .contains("environment variable LEAK_CI_ALLOW_IP_PROTOCOL"),
            "{e}"
        );
    }

    #[test]
    fn heteronculous_line_structure() {
        // Trailing newlines and CRLF are fine.
        let p = hetero(None, Some("127.0.0.1\r\n9050\r\n\n\n"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        // An address without its port line.
        let e = hetero(None, Some("127.0.0.1\n9050\n10.0.0.1"), None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 3 (address)");
        assert!(
            e.to_string().contains("a port regex on the line after"),
            "{e}"
        );
        // Rules after an empty line were never in force in Heteronculous.
        let e = hetero(None, Some("127.0.0.1\n9050\n\n10.0.0.1\n80"), None).expect_err("invalid");
        assert!(e.key().contains("line 4"), "{e}");
        assert!(e.hint().contains("empty line"), "{e}");
        // Address and port on one line.
        let e = hetero(None, None, Some("::1 9050")).expect_err("invalid");
        assert_eq!(
            e.origin(),
            "environment variable LEAK_CI_ALLOW_IP6_ADDR_PORT"
        );
        assert!(e.hint().contains("alternate"), "{e}");
    }

    #[test]
    fn heteronculous_bad_regex_names_variable_and_line() {
        let e = hetero(None, Some("127.0.0.1\n9050\n10\\.0\\.0\\.\\(1\n80"), None)
            .expect_err("invalid");
        assert!(matches!(e, PolicyError::InvalidRegex { .. }));
        assert_eq!(
            e.origin(),
            "environment variable LEAK_CI_ALLOW_IP4_ADDR_PORT"
        );
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 3 (address)");
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = hetero(None, Some("127.0.0.1\n\\(90\\)\\1"), None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 2 (port)");
        assert!(e.to_string().contains("back-references"), "{e}");
        let e = hetero(None, Some("127.0.0.1\n[0-9"), None).expect_err("invalid");
        assert!(e.to_string().contains("bracket expression"), "{e}");
    }

    // --- BRE translation -------------------------------------------------------------

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

    #[test]
    fn strace_ipv6_text_matches_inet_ntop() {
        let text = |s: &str| strace_ipv6_text(&s.parse::<Ipv6Addr>().expect("v6"));
        assert_eq!(text("::1"), "::1");
        assert_eq!(text("::"), "::");
        assert_eq!(text("2001:db8:0:0:0:0:0:1"), "2001:db8::1");
        assert_eq!(text("::ffff:127.0.0.1"), "::ffff:127.0.0.1");
        assert_eq!(text("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(text("::0.0.1.0"), "::100");
        assert_eq!(text("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    }

    #[test]
    fn split_allow_list_respects_globs() {
        assert_eq!(split_allow_list("a,b"), vec!["a", "b"]);
        assert_eq!(
            split_allow_list("unix:/{a,b},[::1]:1"),
            vec!["unix:/{a,b}", "[::1]:1"]
        );
        assert_eq!(split_allow_list(""), Vec::<&str>::new());
    }
}
