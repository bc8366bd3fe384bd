//! Findings and verdicts: what the judge concludes about one traced run. How they are
//! worded for a reader is the [`crate::report`] module's.

use crate::kind::Kind;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How much a finding matters once the policy has spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingSeverity {
    /// Fails the test.
    Leak,
    /// Reported only.
    Warning,
}

/// One network attempt the policy does not allow (or wants reported).
///
/// Repeated attempts of the same kind to the same destination by the same call are
/// folded into one finding with a count, so that a test sending 10,000 datagrams does not
/// produce 10,000 entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The leak kind (DESIGN.md's table).
    pub kind: Kind,
    /// Leak or warning.
    pub severity: FindingSeverity,
    /// The system call that made the attempt.
    pub syscall: String,
    /// The process or thread that made it (first occurrence).
    pub pid: u32,
    /// `IP:PORT`, `[IPV6]:PORT` or `unix:PATH`; absent where the kind has none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination: Option<String>,
    /// The trace line of the first occurrence.
    pub trace: String,
    /// How many attempts this finding stands for.
    #[serde(default = "one")]
    pub occurrences: u64,
    /// What the reader should know about where it was seen (e.g. only in the batch run,
    /// beside the other tests).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
    /// Path of the executable that made the attempt, where known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub program: Option<String>,
    /// The first frame in the workspace's own code that led to the attempt, where found.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<Location>,
    /// For `dns`: the name asked for (and its type), where it could be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    /// One sentence on how to fix this kind of finding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hint: Option<String>,
}

/// Where in the user's source an attempt was made: a stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The function, demangled without its hash.
    pub function: String,
    /// The source file, relative to the workspace root where it lies inside it.
    pub file: String,
    /// The line in `file`.
    pub line: u32,
}

fn one() -> u64 {
    1
}

/// The overall conclusion about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    /// Fully observed, nothing denied.
    Clean,
    /// At least one denied attempt.
    Leaked,
    /// The trace cannot be trusted to be complete: fails like a leak.
    Unverified,
    /// The test was not run (ignored, or not selected): nothing was observed.
    NotRun,
}

impl VerdictKind {
    /// The name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Clean => "clean",
            VerdictKind::Leaked => "leaked",
            VerdictKind::Unverified => "unverified",
            VerdictKind::NotRun => "not-run",
        }
    }

    /// Whether this verdict fails a test.
    pub fn fails(self) -> bool {
        matches!(self, VerdictKind::Leaked | VerdictKind::Unverified)
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The judge's conclusion: the verdict, each finding, and why a trace was not trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// clean, leaked or unverified.
    pub verdict: VerdictKind,
    /// Leaks first, then warnings, in trace order within each.
    pub findings: Vec<Finding>,
    /// Why the trace could not be trusted (empty unless something went wrong).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
    /// The allow list that applied, for the reader of a failure.
    pub allow: Vec<String>,
}

impl Verdict {
    /// Leaks only (not warnings).
    pub fn leaks(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == FindingSeverity::Leak)
    }

    /// Sets the verdict from the findings and problems: any leak makes it leaked; else a
    /// problem makes it unverified.
    pub fn settle(&mut self) {
        if self.verdict == VerdictKind::NotRun {
            return;
        }
        self.verdict = if self.leaks().next().is_some() {
            VerdictKind::Leaked
        } else if !self.problems.is_empty() {
            VerdictKind::Unverified
        } else {
            VerdictKind::Clean
        };
    }

    /// The verdict on what was observed: `findings` (leaks first, then warnings) under an
    /// allow list, settled (leaked when any finding is a leak, else clean).
    pub fn observed(findings: Vec<Finding>, allow: Vec<String>) -> Verdict {
        let mut verdict = Verdict {
            verdict: VerdictKind::Clean,
            findings,
            problems: Vec::new(),
            allow,
        };
        verdict.settle();
        verdict
    }

    /// The verdict for a test that was not run.
    pub fn not_run(allow: Vec<String>) -> Verdict {
        Verdict {
            verdict: VerdictKind::NotRun,
            findings: Vec::new(),
            problems: Vec::new(),
            allow,
        }
    }

    /// The verdict for a run that could not be observed at all.
    pub fn unobserved(problem: impl Into<String>, allow: Vec<String>) -> Verdict {
        Verdict {
            verdict: VerdictKind::Unverified,
            findings: Vec::new(),
            problems: vec![problem.into()],
            allow,
        }
    }
}
