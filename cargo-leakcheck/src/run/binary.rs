//! One test binary's run, and the decisions that make its verdicts: by default it is
//! traced once as a whole ([`super::batch`]); tests whose threads made a leak, failed
//! tests, and every test when the batch cannot be trusted or holds a finding no test can
//! be named for, are then traced again one process each ([`super::single`]).
//!
//! No finding of the batch is dropped: one its test's own run does not reproduce stays
//! with the test, marked as seen only beside the other tests, and then every test of the
//! binary runs alone; what no test reproduces is the binary's own entry.

use super::batch::{self, Batch};
use super::context::Settings;
use super::ignored;
use super::merge::{self, Listed};
use super::plan::PlannedBinary;
use super::select::TestCase;
use super::single::{self, Done};
use crate::reporter::{Event, Shown, TracingAlone};
use leakcheck::report::{BinaryReport, Outcome, TestReport};
use leakcheck::verdict::FindingSeverity;
use leakcheck::{Finding, Verdict, VerdictKind};
use std::collections::HashMap;

/// Runs one binary's tests (see the module's doc), telling `events` as it goes.
pub fn run(
    settings: &Settings,
    planned: &PlannedBinary,
    batch_mode: bool,
    events: &mut dyn FnMut(Event<'_>),
) {
    let PlannedBinary {
        binary,
        cases,
        filtered_out,
        names,
        selection,
        judges,
        config,
    } = planned;
    let report_name = binary.report_name();
    events(Event::BinaryStarted {
        header: binary.header(),
        tests: cases.len(),
    });
    let mut done: HashMap<String, TestReport> = HashMap::new();
    let runnable: Vec<TestCase> = cases
        .iter()
        .filter(|c| selection.runs(c))
        .cloned()
        .collect();
    let began = std::time::Instant::now();
    let batch = (batch_mode && !runnable.is_empty())
        .then(|| batch::run_batch(settings, binary, selection, cases, config));
    if batch.is_some() {
        crate::timings::span(format!("batch {report_name}"), began);
    }
    let began = std::time::Instant::now();

    // The tests that do not run, shown first as libtest shows them, with the reasons of
    // their `#[ignore = "..."]` (a batch run's log tells, else a run of their own).
    let not_run: Vec<&TestCase> = cases.iter().filter(|c| !selection.runs(c)).collect();
    let mut judges = judges.clone();
    let reasons = match &batch {
        Some(batch) => batch.ignore_reasons.clone(),
        None => {
            let (reasons, judge) = ignored::reasons(settings, binary, &not_run);
            judges.extend(judge);
            reasons
        }
    };
    let listed = Listed {
        judges: &judges,
        config,
    };
    for case in not_run {
        let verdict = Verdict::not_run(config.resolve(&case.name).allow_list());
        let entry = TestReport::new(&report_name, &case.name, Outcome::Ignored, &verdict);
        let shown = Shown {
            mode: None,
            ignore_reason: reasons.get(&case.name).cloned(),
        };
        record(&listed, events, &mut done, Done::without_run(entry, shown));
    }

    let all: Vec<&TestCase> = runnable.iter().collect();
    let first: Vec<&TestCase> = match &batch {
        None => all.clone(),
        // Warnings no test's thread made are the binary's, and no reason to run alone.
        Some(b) if b.untrusted.is_some() || leaks(&b.binary).next().is_some() => {
            events(Event::TracingAlone(TracingAlone::Every {
                why: b.untrusted.clone(),
            }));
            all.clone()
        }
        Some(b) => {
            let first: Vec<&TestCase> = runnable
                .iter()
                .filter(|c| {
                    // Warnings need no run of their own: they are the test's as seen.
                    let leaked = b
                        .by_test
                        .get(&c.name)
                        .is_some_and(|f| f.iter().any(|f| f.severity == FindingSeverity::Leak));
                    leaked || b.outcomes.get(&c.name) != Some(&Outcome::Passed)
                })
                .collect();
            if !first.is_empty() {
                events(Event::TracingAlone(TracingAlone::Suspects {
                    suspects: first.len(),
                    of: runnable.len(),
                }));
            }
            first
        }
    };
    let empty = Batch::default();
    let seen = batch.as_ref().unwrap_or(&empty);
    // Tests whose own run did not reproduce their batch findings wait until every
    // test has run: another test's own run may reproduce them, and then they are that
    // test's. What no test reproduces stays with them.
    let mut held: Vec<(Done, Vec<Finding>)> = Vec::new();
    let mut solo = Solo::default();
    single::run_each(settings, binary, &first, names, config, |case, result| {
        solo.note(seen, case, &result);
        let kept = seen
            .by_test
            .get(&case.name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (missing, warnings): (Vec<Finding>, Vec<Finding>) = kept
            .iter()
            .filter(|f| !result.entry.findings.iter().any(|s| batch::same(s, f)))
            .cloned()
            .partition(|f| f.severity == FindingSeverity::Leak);
        // A warning the batch saw stays, marked; it is no reason to run the others.
        let mut result = result;
        merge::keep_unreproduced(&mut result.entry, &warnings);
        if missing.is_empty() {
            record(&listed, events, &mut done, result);
        } else {
            done.insert(case.name.clone(), result.entry.clone());
            held.push((result, missing));
        }
    });
    if !first.is_empty() {
        crate::timings::span(format!("{} of {report_name} alone", first.len()), began);
    }
    let unreproduced = !held.is_empty();
    let reproduced_all = |findings: &[Finding], solo: &[Finding]| {
        findings
            .iter()
            .all(|f| solo.iter().any(|s| batch::same(s, f)))
    };
    let rest: Vec<&TestCase> = runnable
        .iter()
        .filter(|c| !done.contains_key(&c.name))
        .collect();
    let binary_leaks: Vec<Finding> = leaks(&seen.binary).cloned().collect();
    if unreproduced || !reproduced_all(&binary_leaks, &solo.findings) {
        if !rest.is_empty() {
            events(Event::TracingAlone(TracingAlone::Others {
                count: rest.len(),
            }));
        }
        single::run_each(
            settings,
            binary,
            &rest,
            names,
            config,
            |case, mut result| {
                solo.note(seen, case, &result);
                // These made no leak in the batch; what they made there stays, marked.
                if let Some(kept) = seen.by_test.get(&case.name) {
                    merge::keep_unreproduced(&mut result.entry, kept);
                }
                record(&listed, events, &mut done, result);
            },
        );
        crate::timings::span(format!("{} more of {report_name} alone", rest.len()), began);
    } else {
        // Passed in the batch run, and no task of theirs made more than warnings.
        for case in rest {
            let verdict = Verdict::observed(
                seen.by_test.get(&case.name).cloned().unwrap_or_default(),
                config.resolve(&case.name).allow_list(),
            );
            let mut entry = TestReport::new(&report_name, &case.name, Outcome::Passed, &verdict);
            entry.duration_ms = seen.durations.get(&case.name).map(|d| d.as_millis() as u64);
            entry.streams = seen.streams.get(&case.name).cloned().unwrap_or_default();
            let shown = Shown {
                mode: seen.modes.get(&case.name).cloned(),
                ignore_reason: None,
            };
            record(&listed, events, &mut done, Done::without_run(entry, shown));
        }
    }
    for (mut result, missing) in held {
        let missing = still_missing(seen, &solo, &result, missing);
        merge::keep_unreproduced(&mut result.entry, &missing);
        record(&listed, events, &mut done, result);
    }

    // With no test to carry them, the list runs' findings are the binary's.
    let unlisted = if done.values().all(|e| e.verdict == VerdictKind::NotRun) {
        listed.own()
    } else {
        Vec::new()
    };
    let own: Vec<Finding> = seen
        .binary
        .iter()
        .chain(&unlisted)
        .filter(|f| !solo.findings.iter().any(|s| batch::same(s, f)))
        .cloned()
        .map(|mut f| {
            f.note = Some(merge::NO_TESTS.to_string());
            f
        })
        .collect();
    // The streams no test opened: the list runs', and the batch's that no test's task
    // opened.
    let streams: Vec<_> = listed
        .streams()
        .into_iter()
        .chain(seen.binary_streams.iter().cloned())
        .collect();
    let own = (!own.is_empty() || !streams.is_empty()).then(|| {
        let mut entry = BinaryReport::new(
            &report_name,
            Verdict::observed(own, config.resolve("").allow_list()),
        );
        entry.streams = streams;
        entry
    });
    let tests = cases.iter().filter_map(|c| done.remove(&c.name)).collect();
    events(Event::BinaryFinished {
        tests,
        filtered_out: *filtered_out,
        own,
    });
}

/// The leaks among `findings` (a warning never makes a test run alone).
fn leaks(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Leak)
}

/// Makes a test's verdict final: the list runs' findings join it, and it is told.
fn record(
    listed: &Listed,
    events: &mut dyn FnMut(Event<'_>),
    done: &mut HashMap<String, TestReport>,
    d: Done,
) {
    let mut entry = d.entry;
    listed.add_to(&mut entry);
    events(Event::TestFinished {
        entry: &entry,
        own_failure: d.own.as_deref(),
        shown: &d.shown,
    });
    done.insert(entry.name.clone(), entry);
}

/// Which of a held test's unreproduced batch findings are still its own once every
/// test has run alone.
fn still_missing(
    seen: &Batch,
    solo: &Solo,
    result: &Done,
    mut missing: Vec<Finding>,
) -> Vec<Finding> {
    let name = &result.entry.name;
    // The batch judged under the manifest's policy; the test's own run learnt its
    // attribute's, which may allow what the batch saw.
    if let Some(policy) = &result.attribute {
        let under = seen.findings_for(name, policy);
        missing.retain(|f| under.iter().any(|u| batch::same(u, f)));
    }
    // Made only by a pool or runtime thread the test started, and made by another
    // test's own run where the batch saw it elsewhere: that test's work.
    let shared = seen.shared.get(name).map(Vec::as_slice).unwrap_or(&[]);
    // Made by a thread whose kept name other tests share, and one of them
    // reproduced it alone: that one's.
    let ambiguous = seen.ambiguous.get(name).map(Vec::as_slice).unwrap_or(&[]);
    missing
        .into_iter()
        .filter(|f| {
            let elsewhere = shared.iter().any(|s| batch::same(s, f))
                && solo.unexplained.iter().any(|s| batch::same(s, f));
            let sibling = ambiguous
                .iter()
                .any(|(a, others)| batch::same(a, f) && others.iter().any(|o| solo.made(o, f)));
            !(elsewhere || sibling)
        })
        .collect()
}

/// What the tests' own runs found.
#[derive(Default)]
struct Solo {
    findings: Vec<Finding>,
    /// Each test's own run's findings.
    by_test: HashMap<String, Vec<Finding>>,
    /// What they did that the batch did not attribute to them: where a held finding may
    /// really come from (a job of theirs on a pool another test started).
    unexplained: Vec<Finding>,
}

impl Solo {
    fn note(&mut self, batch: &Batch, case: &TestCase, result: &Done) {
        let kept = batch
            .by_test
            .get(&case.name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for finding in &result.entry.findings {
            if !kept.iter().any(|k| batch::same(k, finding)) {
                self.unexplained.push(finding.clone());
            }
            self.findings.push(finding.clone());
        }
        self.by_test
            .insert(case.name.clone(), result.entry.findings.clone());
    }

    /// Whether `test`'s own run made `finding`.
    fn made(&self, test: &str, finding: &Finding) -> bool {
        self.by_test
            .get(test)
            .is_some_and(|f| f.iter().any(|s| batch::same(s, finding)))
    }
}
