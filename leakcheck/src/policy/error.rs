//! The one error type of the policy: a configuration mistake that says where it is.

use leakcheck_core::{Endpoint, EndpointProblem};
use std::fmt;

/// A configuration mistake, reported to the user and turned into exit status 2.
///
/// Every mistake carries the same parts so that the message always says where the bad
/// value came from (`origin`: a `Cargo.toml` path, an environment variable or `--allow`),
/// which key (`key`, e.g. `package.metadata.leakcheck.allow[2]`), what was found, what
/// was expected, and a hint line on how to fix it; [`PolicyErrorKind`] says which kind of
/// mistake it is. The message is
///
/// ```text
/// ORIGIN: WHAT `KEY`: found FOUND; expected EXPECTED
///   hint: HINT
/// ```
///
/// where WHAT names the kind ("invalid allow entry", "unknown key", ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(Box<Parts>);

/// The parts of a [`PolicyError`], boxed so that a `Result` carrying one stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Parts {
    /// Which kind of mistake: decides the wording of the message.
    pub(super) kind: PolicyErrorKind,
    /// Where the value was read from: a `Cargo.toml` path, `environment variable NAME`,
    /// `--allow`, `#[leak_free(allow = [...])]` or `cargo metadata`.
    pub(super) origin: String,
    /// The key path, entry index or line, e.g. `package.metadata.leakcheck.allow[2]` or
    /// `LEAK_CI_ALLOW_IP4_ADDR_PORT line 2 (port)`.
    pub(super) key: String,
    /// The offending value (or the unknown key's name), quoted or described.
    pub(super) found: String,
    /// What was wanted there.
    pub(super) expected: String,
    /// How to fix it: a "did you mean", an example, or where the key belongs.
    pub(super) hint: String,
}

/// The kinds of configuration mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyErrorKind {
    /// An allow entry that does not follow the endpoint grammar.
    InvalidEndpoint,
    /// A key whose value has the wrong JSON/TOML type.
    WrongType,
    /// A value of the right type that is not one of the accepted values.
    InvalidValue,
    /// A key leakcheck does not know: most likely a typo that would otherwise be ignored.
    UnknownKey,
    /// A required key is absent (an override without `filter`).
    MissingKey,
    /// A glob (override filter) that does not compile.
    InvalidGlob,
    /// A Heteronculous line that is not a usable POSIX basic regular expression, or a
    /// variable whose lines are not address/port pairs.
    InvalidRegex,
    /// `cargo metadata` output that does not have the documented shape (origin `cargo
    /// metadata`, key the JSON path).
    Metadata,
}

impl PolicyErrorKind {
    /// The words before the key in the message.
    fn what(self) -> &'static str {
        match self {
            PolicyErrorKind::InvalidEndpoint => "invalid allow entry",
            PolicyErrorKind::WrongType => "wrong type for",
            PolicyErrorKind::InvalidValue => "invalid value for",
            PolicyErrorKind::UnknownKey => "unknown key",
            PolicyErrorKind::MissingKey => "missing key",
            PolicyErrorKind::InvalidGlob => "invalid glob",
            PolicyErrorKind::InvalidRegex => "invalid Heteronculous rule",
            PolicyErrorKind::Metadata => "unexpected cargo metadata at",
        }
    }
}

impl PolicyError {
    pub(super) fn new(parts: Parts) -> PolicyError {
        PolicyError(Box::new(parts))
    }

    /// Which kind of mistake this is.
    pub fn kind(&self) -> PolicyErrorKind {
        self.0.kind
    }

    /// Where the bad value came from (file path, environment variable or `--allow`), for
    /// callers that report errors in their own format (JSON, GitHub annotations).
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// The key path of the bad value, e.g. `package.metadata.leakcheck.allow[2]`.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The fix suggestion, so that annotations can show it separately.
    pub fn hint(&self) -> &str {
        &self.0.hint
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts {
            kind,
            origin,
            key,
            found,
            expected,
            hint,
        } = &*self.0;
        let what = kind.what();
        write!(
            f,
            "{origin}: {what} `{key}`: found {found}; expected {expected}\n  hint: {hint}"
        )
    }
}

impl std::error::Error for PolicyError {}

/// Parses an allow entry read from `origin` at `key`, the grammar's complaint becoming the
/// error's "expected" and hint.
pub(super) fn endpoint_for(text: &str, origin: &str, key: &str) -> Result<Endpoint, PolicyError> {
    Endpoint::parse(text).map_err(|EndpointProblem { expected, hint }| {
        PolicyError::new(Parts {
            kind: PolicyErrorKind::InvalidEndpoint,
            origin: origin.to_string(),
            key: key.to_string(),
            found: quote(text),
            expected,
            hint,
        })
    })
}

/// A value as Rust would quote it, shortened to fit one line of a message.
pub(super) fn quote(text: &str) -> String {
    shorten(&format!("{text:?}"))
}

/// At most 120 characters of `text`, then `...`: a found value is shown, not dumped.
pub(super) fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_words_the_message_as_before() {
        // Users and tests match these messages: the wording of each kind is pinned.
        let cases = [
            (PolicyErrorKind::InvalidEndpoint, "invalid allow entry"),
            (PolicyErrorKind::WrongType, "wrong type for"),
            (PolicyErrorKind::InvalidValue, "invalid value for"),
            (PolicyErrorKind::UnknownKey, "unknown key"),
            (PolicyErrorKind::MissingKey, "missing key"),
            (PolicyErrorKind::InvalidGlob, "invalid glob"),
            (PolicyErrorKind::InvalidRegex, "invalid Heteronculous rule"),
            (PolicyErrorKind::Metadata, "unexpected cargo metadata at"),
        ];
        for (kind, what) in cases {
            let e = PolicyError::new(Parts {
                kind,
                origin: "O".into(),
                key: "K".into(),
                found: "F".into(),
                expected: "E".into(),
                hint: "H".into(),
            });
            assert_eq!(
                e.to_string(),
                format!("O: {what} `K`: found F; expected E\n  hint: H")
            );
            assert_eq!(
                (e.kind(), e.origin(), e.key(), e.hint()),
                (kind, "O", "K", "H")
            );
        }
    }
}
