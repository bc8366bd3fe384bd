//! Where there is no tracer: macOS, Windows and every other platform but Linux (and
//! Linux with [`SIMULATE_ENV`] set, so that this path is tested where it does not
//! apply). A crate that uses `#[leak_free]` still builds and its tests still run there:
//! the body runs untraced, and the test binary says so once on stderr. With
//! [`REQUIRE_ENV`] set (CI that must not pass unchecked tests) the test fails instead.
//!
//! On Linux a missing tracer (no strace on an architecture the native tracer does not
//! support) stays a failure with the fix: one can be installed there.

use std::io::Write;
use std::sync::Once;

/// `1`: a `#[leak_free]` test fails where it cannot be traced, instead of running
/// untraced.
pub const REQUIRE_ENV: &str = "LEAKCHECK_REQUIRE";
/// `1`: behave as on a platform without a tracer (`#[leak_free]` runs bodies untraced,
/// `cargo leakcheck` exits 2). For leakcheck's own tests of that path.
pub const SIMULATE_ENV: &str = "LEAKCHECK_SIMULATE_NO_TRACER";

/// Why this process cannot trace its tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoTracer {
    why: String,
}

impl NoTracer {
    /// The platform has no tracer: leakcheck traces on Linux only.
    pub fn platform() -> NoTracer {
        NoTracer {
            why: format!(
                "no tracer on {}: leakcheck traces with ptrace and seccomp (or strace), on Linux only",
                std::env::consts::OS
            ),
        }
    }

    /// [`SIMULATE_ENV`] asks to behave as on such a platform.
    fn simulated() -> NoTracer {
        NoTracer {
            why: format!("no tracer ({SIMULATE_ENV} is set)"),
        }
    }

    /// Why, in one clause.
    pub fn why(&self) -> &str {
        &self.why
    }

    /// Why there is no tracer in this process: always on other platforms than Linux, and
    /// on Linux only when [`SIMULATE_ENV`] is set.
    pub fn here() -> Option<NoTracer> {
        if cfg!(not(target_os = "linux")) {
            Some(NoTracer::platform())
        } else if is_set(SIMULATE_ENV) {
            Some(NoTracer::simulated())
        } else {
            None
        }
    }
}

fn is_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0")
}

/// What an annotated test does where there is no tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Untraced {
    /// Runs its body, untraced.
    Run,
    /// Returns at once without running its body: a `#[should_panic]` test under
    /// [`REQUIRE_ENV`], which fails by not panicking (any panic would be the expected
    /// one).
    Refuse,
}

/// Lets an annotated test run untraced, saying so once per process on stderr; under
/// [`REQUIRE_ENV`] fails it instead (a panic naming the test, or for a
/// `#[should_panic]` test, no panic).
#[track_caller]
pub(super) fn untraced(name: &str, should_panic: bool, no_tracer: &NoTracer) -> Untraced {
    if is_set(REQUIRE_ENV) {
        let failure = required_failure(name, no_tracer);
        if should_panic {
            println!("{failure}; this #[should_panic] test is failed by not panicking.");
            return Untraced::Refuse;
        }
        panic!("{failure}");
    }
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        // Straight to the process's stderr: libtest captures what a test prints with
        // eprintln!, and this is for whoever runs the tests.
        let _ = std::io::stderr().write_all(note(no_tracer).as_bytes());
    });
    Untraced::Run
}

/// The failure of a test under [`REQUIRE_ENV`].
fn required_failure(name: &str, no_tracer: &NoTracer) -> String {
    format!(
        "leak_free: `{name}`: {}, and {REQUIRE_ENV}=1 makes an untraced test fail (run the tests on Linux, e.g. under `cargo leakcheck`, or unset {REQUIRE_ENV} to run them untraced)",
        no_tracer.why()
    )
}

/// The note printed once per test binary.
fn note(no_tracer: &NoTracer) -> String {
    format!(
        "leakcheck: {}; #[leak_free] tests run untraced here, their network use unchecked ({REQUIRE_ENV}=1 fails them instead)\n",
        no_tracer.why()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_platforms_are_named_in_every_message() {
        let mac = NoTracer {
            why: "no tracer on macos: leakcheck traces with ptrace and seccomp (or strace), on Linux only".into(),
        };
        assert_eq!(
            note(&mac),
            "leakcheck: no tracer on macos: leakcheck traces with ptrace and seccomp (or strace), on Linux only; #[leak_free] tests run untraced here, their network use unchecked (LEAKCHECK_REQUIRE=1 fails them instead)\n"
        );
        let failure = required_failure("tests::hermetic", &mac);
        assert!(
            failure.starts_with("leak_free: `tests::hermetic`: no tracer on macos:"),
            "{failure}"
        );
        assert!(failure.contains("LEAKCHECK_REQUIRE=1 makes an untraced test fail"));
        assert!(NoTracer::platform().why().contains(std::env::consts::OS));
        assert!(NoTracer::simulated()
            .why()
            .contains("LEAKCHECK_SIMULATE_NO_TRACER"));
    }

    #[test]
    fn there_is_a_tracer_only_on_linux() {
        // The variable is not set in this test process (see the e2e tests for it).
        if std::env::var_os(SIMULATE_ENV).is_none() {
            assert_eq!(NoTracer::here().is_none(), cfg!(target_os = "linux"));
        }
    }
}
