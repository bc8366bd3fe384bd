//! The closing counts of a run and its exit status.

use crate::exit;
use leakcheck::report::{Outcome, Report};
use leakcheck::VerdictKind;
use std::time::Duration;

/// Counts across every binary, for the closing line and the exit status.
#[derive(Debug, Default)]
pub struct Summary {
    run: usize,
    clean: usize,
    leaked: usize,
    unverified: usize,
    failed: usize,
    ignored: usize,
}

impl Summary {
    /// Counts the report's tests (and binaries' own entries, as leaks).
    pub fn of(report: &Report) -> Summary {
        let mut s = Summary::default();
        s.leaked += report.binaries.iter().filter(|b| b.verdict.fails()).count();
        for t in &report.tests {
            if t.outcome == Outcome::Ignored {
                s.ignored += 1;
                continue;
            }
            s.run += 1;
            match t.verdict {
                VerdictKind::Clean => s.clean += 1,
                VerdictKind::Leaked => s.leaked += 1,
                VerdictKind::Unverified => s.unverified += 1,
                VerdictKind::NotRun => {}
            }
            if matches!(t.outcome, Outcome::Failed | Outcome::TimedOut) {
                s.failed += 1;
            }
        }
        s
    }

    /// The closing line.
    pub fn line(&self, elapsed: Duration) -> String {
        let status = if self.leaked + self.unverified > 0 {
            "LEAKED"
        } else if self.failed > 0 {
            "FAILED"
        } else {
            "ok"
        };
        format!(
            "leakcheck: {status}. {} tests run: {} clean, {} leaked, {} unverified; {} failed; {} ignored; finished in {:.2}s",
            self.run,
            self.clean,
            self.leaked,
            self.unverified,
            self.failed,
            self.ignored,
            elapsed.as_secs_f64()
        )
    }

    /// DESIGN.md's exit status.
    pub fn exit_code(&self, leaks_only: bool) -> u8 {
        if self.leaked + self.unverified > 0 {
            exit::LEAKED
        } else if self.failed > 0 && !leaks_only {
            exit::TEST_FAILED
        } else {
            exit::CLEAN
        }
    }
}
