//! The interface between the test runner ([`crate::run`]) and the reporter: what
//! happened, in the order it happened, and nothing about how it is shown.

use leakcheck::report::{BinaryReport, TestReport};
use leakcheck::tracer::ProgramStatus;

/// One thing the runner tells the reporter.
#[derive(Debug)]
pub enum Event<'a> {
    /// A test binary's tests are about to run.
    BinaryStarted {
        /// cargo's status line for it, verb first: `Running unittests src/lib.rs (...)`,
        /// `Doc-tests alpha`.
        header: String,
        /// How many of its tests were selected (ignored ones included).
        tests: usize,
    },
    /// Some of a binary's tests are traced again, one process each.
    TracingAlone(TracingAlone),
    /// A test's verdict is final.
    TestFinished {
        /// Its report entry.
        entry: &'a TestReport,
        /// What the test itself said when it failed or timed out (its captured output, a
        /// crash, the timeout), for its `failures:` entry.
        own_failure: Option<&'a str>,
        /// What libtest shows of it besides its name and status.
        shown: &'a Shown,
    },
    /// A binary's tests all have their verdicts.
    BinaryFinished {
        /// Every test's entry, in the binary's list order.
        tests: Vec<TestReport>,
        /// How many of its tests the filters and the partition left out.
        filtered_out: usize,
        /// What it did that no test can be named for, when there is anything.
        own: Option<BinaryReport>,
    },
    /// A finding that needed every test's verdict (`shared-isolation`) joins a test's
    /// entry after its line was shown.
    Amended {
        /// The test's index in the run's entries so far.
        index: usize,
        /// The test's binary and name, for the line that shows it.
        test: String,
        /// The finding.
        finding: leakcheck::Finding,
    },
    /// `cargo leakcheck run`: the command is about to be traced.
    CommandStarted {
        /// The command line.
        command: &'a str,
        /// Whether it runs in a network namespace of its own.
        isolated: bool,
    },
    /// `cargo leakcheck wrap`: the wrapped test process has ended.
    WrapFinished {
        /// Its report entry (named after the test, or the command line of a `--list`
        /// run).
        entry: TestReport,
    },
    /// `cargo leakcheck run`: the command has ended.
    CommandFinished {
        /// The command line.
        command: &'a str,
        /// How it ended.
        status: &'a ProgramStatus,
        /// Its report entry.
        entry: TestReport,
    },
}

/// What libtest's line shows of a test besides its name and status, as its own run (or
/// the batch run, or the binary's log) told: libtest's `--list` does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// What libtest writes after the name: `should panic` (`test x - should panic ...
    /// ok`), or a doctest's `compile` (`no_run`) or `compile fail`.
    pub mode: Option<String>,
    /// The reason of `#[ignore = "reason"]` (`test x ... ignored, reason`).
    pub ignore_reason: Option<String>,
}

/// Why tests are traced again one process each, after the batch run of their binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TracingAlone {
    /// The batch run cannot stand for any verdict: every test runs alone.
    Every {
        /// Why not (a crash, an incomplete trace...), or None when it made attempts no
        /// test's thread made.
        why: Option<String>,
    },
    /// Only the tests that may have leaked or failed run alone.
    Suspects {
        /// How many.
        suspects: usize,
        /// Out of how many that ran in the batch.
        of: usize,
    },
    /// Some of the batch's attempts were reproduced by no test alone: the other tests run
    /// alone too.
    Others {
        /// How many.
        count: usize,
    },
}
