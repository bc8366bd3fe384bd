//! What a name lookup asked for, read from the request a client sent: a DNS message
//! ([`dns`]), an nscd request or a systemd-resolved varlink call ([`daemons`]). A `dns`
//! finding carries it as its `query` (`example.com (A, AAAA)`), so that the reader learns
//! which name leaked, not only the resolver's address.
//!
//! Every decoder reads bytes a traced program wrote: anything malformed, cut short or
//! unknown gives no question, never a panic.

pub(crate) mod daemons;
pub(crate) mod dns;

/// One name asked for, and how (`A`, `AAAA`, `PTR`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question {
    /// The name (ASCII letters lowered; bytes that are not printable as `\DDD`).
    pub(crate) name: String,
    /// The record type's name, e.g. `A`; `TYPE99` for a number without a name.
    pub(crate) rtype: String,
}

impl Question {
    pub(crate) fn new(name: impl Into<String>, rtype: impl Into<String>) -> Question {
        Question {
            name: name.into(),
            rtype: rtype.into(),
        }
    }
}

/// How many names a finding keeps; past that it counts them.
const MAX_NAMES: usize = 4;
/// How many types a name keeps (a client asks for two or three, not more).
const MAX_TYPES: usize = 6;

/// The names a finding's lookups asked for, in the order they were first asked, each
/// with its types: `a.com (A, AAAA); b.org (A)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Queries {
    names: Vec<(String, Vec<String>)>,
    /// Distinct names past [`MAX_NAMES`] (a name that returns is counted again: the set
    /// of names is not kept).
    more: u64,
}

impl Queries {
    /// Adds what one request asked for; true when what [`Queries::render`] gives changed.
    pub(crate) fn add(&mut self, question: Question) -> bool {
        // A daemon's request may stand for several types (`A, AAAA`).
        let asked = question.rtype.split(", ").map(String::from);
        if let Some((_, types)) = self.names.iter_mut().find(|(n, _)| *n == question.name) {
            let mut changed = false;
            for rtype in asked {
                if !types.contains(&rtype) && types.len() < MAX_TYPES {
                    types.push(rtype);
                    changed = true;
                }
            }
            return changed;
        }
        if self.names.len() < MAX_NAMES {
            self.names.push((question.name, asked.collect()));
        } else {
            self.more += 1;
        }
        true
    }

    /// Adds what `other` holds (its names in order, then its count of more).
    pub(crate) fn extend(&mut self, other: &Queries) {
        for (name, types) in &other.names {
            for rtype in types {
                self.add(Question::new(name.clone(), rtype.clone()));
            }
        }
        self.more += other.more;
    }

    /// Whether no name was asked for.
    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty() && self.more == 0
    }

    /// `a.com (A, AAAA); b.org (A)`, and `; 3 more names` past the first few.
    pub(crate) fn render(&self) -> String {
        let mut parts: Vec<String> = self
            .names
            .iter()
            .map(|(name, types)| format!("{name} ({})", types.join(", ")))
            .collect();
        match self.more {
            0 => {}
            1 => parts.push("1 more name".to_string()),
            n => parts.push(format!("{n} more names")),
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_order_and_types_and_are_bounded() {
        let mut q = Queries::default();
        assert!(q.add(Question::new("a.com", "A")));
        assert!(q.add(Question::new("a.com", "AAAA")));
        assert!(!q.add(Question::new("a.com", "A")));
        assert!(q.add(Question::new("b.org", "A")));
        assert!(!q.add(Question::new("b.org", "A")));
        assert!(q.add(Question::new("b.org", "A, AAAA")));
        assert_eq!(q.render(), "a.com (A, AAAA); b.org (A, AAAA)");
        for name in ["c.net", "d.net", "e.net", "f.net"] {
            q.add(Question::new(name, "A"));
        }
        assert_eq!(
            q.render(),
            "a.com (A, AAAA); b.org (A, AAAA); c.net (A); d.net (A); 2 more names"
        );
    }
}
