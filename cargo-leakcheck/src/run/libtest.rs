//! What libtest writes that its `--list` does not say, read back for the lines leakcheck
//! shows: a test's mode after its name (`test x - should panic ... ok`, a doctest's
//! `- compile` or `- compile fail`) and the reason of an `#[ignore = "reason"]`.
//!
//! Only the display uses them: outcomes come from libtest's log (see
//! [`super::batch::parse_log`]), never from a test's output.

use std::collections::HashMap;

/// The modes libtest writes after a test's name.
const MODES: [&str; 3] = ["should panic", "compile fail", "compile"];

/// The modes of the named tests, from their `test NAME - MODE ... STATUS` lines in a
/// run's output. A name is one of `names` or nothing: a line a test printed for a test
/// that does not exist is not read.
pub fn modes(output: &str, names: &[&str]) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        for mode in MODES {
            let Some(at) = rest.find(&format!(" - {mode} ... ")) else {
                continue;
            };
            let name = &rest[..at];
            if names.contains(&name) {
                found
                    .entry(name.to_string())
                    .or_insert_with(|| mode.to_string());
            }
            break;
        }
    }
    found
}

/// The mode of test `name` in the output of its own run.
pub fn mode(output: &str, name: &str) -> Option<String> {
    modes(output, &[name]).remove(name)
}

/// The reasons of the ignored tests among `names`, from libtest's `--logfile`
/// (`ignored: REASON NAME`; a test ignored without a reason has none).
pub fn ignore_reasons(log: &str, names: &[&str]) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("ignored: ") else {
            continue;
        };
        // The name is last, and a reason may hold spaces: the longest listed name that
        // ends the line is the test's.
        let name = names
            .iter()
            .filter(|name| rest.len() > name.len() && rest.ends_with(&format!(" {name}")))
            .max_by_key(|name| name.len());
        if let Some(name) = name {
            let reason = &rest[..rest.len() - name.len() - 1];
            found.insert(name.to_string(), reason.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_come_from_lines_of_listed_tests() {
        let output = "running 4 tests\n\
            test a::p - should panic ... ok\n\
            test a::ok ... ok\n\
            test src/lib.rs - f (line 5) - compile fail ... ok\n\
            test src/lib.rs - g (line 9) - compile ... FAILED\n\
            test zz_fake - should panic ... ok\n";
        let names = [
            "a::p",
            "a::ok",
            "src/lib.rs - f (line 5)",
            "src/lib.rs - g (line 9)",
        ];
        let found = modes(output, &names);
        assert_eq!(found["a::p"], "should panic");
        assert_eq!(found["src/lib.rs - f (line 5)"], "compile fail");
        assert_eq!(found["src/lib.rs - g (line 9)"], "compile");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(mode(output, "a::ok"), None);
    }

    #[test]
    fn reasons_come_from_the_log() {
        let log =
            "ok a::b\nignored: slow, and flaky a::slow\nignored a::plain\nignored: x a::b::c\n";
        let found = ignore_reasons(log, &["a::b", "a::slow", "a::plain", "a::b::c"]);
        assert_eq!(found["a::slow"], "slow, and flaky");
        assert_eq!(found["a::b::c"], "x");
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
