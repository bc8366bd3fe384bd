//! What joins a test's own run in its verdict: what the binary's `--list` runs did, and
//! what the batch run saw it do that its own run did not reproduce (the list runs'
//! streams are the binary's own).

use super::batch;
use leakcheck::judge::Judge;
use leakcheck::policy::PolicyConfig;
use leakcheck::report::TestReport;
use leakcheck::{Finding, Policy, Verdict, VerdictKind};

/// The note on a batch finding that the test's own run did not reproduce.
const BESIDE_OTHERS: &str = "seen only in the batch run, beside the other tests (shared state or timing): the test's own run did not reproduce it";

/// The note on a finding of the binary's own entry.
pub const NO_TESTS: &str =
    "seen in the batch run, made by no test's thread, and reproduced by no test alone";

/// A binary's `--list` runs, judged under each test's policy when its entry is made: a
/// static initializer that leaks there leaks in every test's process too.
pub struct Listed<'a> {
    /// The list runs' unfinished judges.
    pub judges: &'a [Judge],
    /// The binary's policy layers.
    pub config: &'a PolicyConfig,
}

impl Listed<'_> {
    /// The list runs' verdicts under `policy`.
    fn verdicts<'a>(&'a self, policy: &'a Policy) -> impl Iterator<Item = Verdict> + 'a {
        self.judges
            .iter()
            .map(|judge| judge.clone().finish_with(Some(policy.clone())))
    }

    /// Adds what the list runs did to a test's entry. A finding the test's own run also
    /// made (same kind, destination and call) counts once more rather than twice.
    pub fn add_to(&self, entry: &mut TestReport) {
        if entry.verdict == VerdictKind::NotRun {
            return;
        }
        let policy = self.config.resolve(&entry.name);
        let mut verdict = entry.verdict();
        for listed in self.verdicts(&policy) {
            for finding in listed.findings {
                let same = verdict.findings.iter_mut().find(|f| {
                    f.kind == finding.kind
                        && f.destination == finding.destination
                        && f.syscall == finding.syscall
                });
                match same {
                    Some(same) => {
                        same.occurrences += finding.occurrences;
                        same.severity = same.severity.min(finding.severity);
                    }
                    None => verdict.findings.push(finding),
                }
            }
            for problem in listed.problems {
                let problem = format!("in the `--list` run: {problem}");
                if !verdict.problems.contains(&problem) {
                    verdict.problems.push(problem);
                }
            }
        }
        verdict.findings.sort_by_key(|f| f.severity);
        verdict.settle();
        entry.set_verdict(verdict);
    }

    /// The stand-in's streams of the list runs: no test's.
    pub fn streams(&self) -> Vec<leakcheck::standin::Stream> {
        self.judges.iter().flat_map(Judge::all_streams).collect()
    }

    /// What the list runs did under the binary's own policy, when no test ran to carry it.
    pub fn own(&self) -> Vec<Finding> {
        self.verdicts(&self.config.resolve(""))
            .flat_map(|v| v.findings)
            .collect()
    }
}

/// Adds to a test's entry the batch findings its own run did not reproduce, marked so.
pub fn keep_unreproduced(entry: &mut TestReport, batch: &[Finding]) {
    let missing: Vec<Finding> = batch
        .iter()
        .filter(|f| !entry.findings.iter().any(|s| batch::same(s, f)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut verdict = entry.verdict();
    for mut finding in missing {
        finding.note = Some(BESIDE_OTHERS.to_string());
        verdict.findings.push(finding);
    }
    verdict.findings.sort_by_key(|f| f.severity);
    verdict.settle();
    entry.set_verdict(verdict);
}
