//! Batch mode: one traced run of a whole test binary, its findings attributed to tests.
//!
//! Test identity never comes from what the tests print: names come from `--list`, and
//! outcomes from libtest's `--logfile` (a file in a private directory, not the tests'
//! stdout), cross-checked against the list. A finding belongs to the test whose thread
//! made the task that made it ([`leakcheck::attribution`]); what no test can be named for
//! belongs to the binary.

use super::context::Settings;
use super::libtest;
use super::select::{Selection, TestCase};
use super::test_command::{test_binary_command, Output};
use crate::cargo::TestBinary;
use leakcheck::attribution::{name_is_test, Origin};
use leakcheck::judge::{Judge, Made};
use leakcheck::policy::PolicyConfig;
use leakcheck::report::Outcome;
use leakcheck::tracer::ProgramStatus;
use leakcheck::{Finding, Policy};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// What one batch run tells, when it can be trusted at all.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each test's outcome, from libtest's log.
    pub outcomes: HashMap<String, Outcome>,
    /// Each test's findings, judged under that test's policy.
    pub by_test: HashMap<String, Vec<Finding>>,
    /// Those of a test's findings that only threads it started and shares with the
    /// process made (a pool, a runtime): they may be another test's work.
    pub shared: HashMap<String, Vec<Finding>>,
    /// Those of a test's findings made by a thread whose kept name (15 bytes) is also
    /// other tests' prefix, with those tests: one of them made it.
    pub ambiguous: HashMap<String, Vec<(Finding, Vec<String>)>>,
    /// The batch trace's judge, to judge a test's part again under a policy learnt
    /// later (a `#[leak_free(...)]` attribute's, which the batch cannot know).
    pub judge: Option<Judge>,
    /// Which test each thread the main thread started ran, where the start order tells.
    pub exact: HashMap<usize, String>,
    /// Findings no test can be named for (the binary's main thread, a static initializer,
    /// a thread no test started), under the strictest of the binary's policies.
    pub binary: Vec<Finding>,
    /// Each test's own wall time, from its thread's life in the trace.
    pub durations: HashMap<String, Duration>,
    /// The stand-in's streams each test's tasks opened (`--stand-in`).
    pub streams: HashMap<String, Vec<leakcheck::standin::Stream>>,
    /// The stand-in's streams no test can be named for (the main thread, a static
    /// initializer, a thread no test started): the binary's.
    pub binary_streams: Vec<leakcheck::standin::Stream>,
    /// The modes libtest showed after tests' names (`should panic`), from the batch's
    /// output (display only).
    pub modes: HashMap<String, String>,
    /// The reasons of the ignored tests, from the batch's log.
    pub ignore_reasons: HashMap<String, String>,
    /// Why the batch cannot stand for the tests' verdicts (a crash, a timeout, an
    /// incomplete trace, a log that does not match the list), if it cannot: then every
    /// test runs alone, and the findings above are still kept.
    pub untrusted: Option<String>,
}

impl Batch {
    /// A test's findings in the batch under `policy`.
    pub fn findings_for(&self, test: &str, policy: &Policy) -> Vec<Finding> {
        let Some(judge) = &self.judge else {
            return Vec::new();
        };
        let names: Vec<&str> = self.outcomes.keys().map(String::as_str).collect();
        attribute(&judge.findings_by_origin(policy), test, &names, &self.exact).mine
    }
}

/// One test's part of a batch's findings.
#[derive(Debug, Default)]
struct Part {
    mine: Vec<Finding>,
    shared: Vec<Finding>,
    ambiguous: Vec<(Finding, Vec<String>)>,
    binary: Vec<Finding>,
}

/// A batch's findings under one policy, each with what every origin made of it.
type Found = Vec<(Finding, BTreeMap<Origin, Made>)>;

fn attribute(found: &Found, test: &str, names: &[&str], exact: &HashMap<usize, String>) -> Part {
    let mut part = Part::default();
    for (finding, origins) in found {
        let mut direct = false;
        let mut by_shared = false;
        let mut others: Vec<String> = Vec::new();
        // What this test's own tasks made of the finding (its own thread's first).
        let mut made: Option<&Made> = None;
        for (origin, what) in origins {
            match origin {
                Origin::Test { thread, .. } if exact.get(thread).is_some_and(|t| t != test) => {}
                Origin::Test {
                    name,
                    shared,
                    thread,
                } if name_is_test(name, test) => {
                    if *shared {
                        by_shared = true;
                        made.get_or_insert(what);
                    } else {
                        direct = true;
                        made = Some(what);
                    }
                    if !exact.contains_key(thread) {
                        others.extend(
                            names
                                .iter()
                                .filter(|n| **n != test && name_is_test(name, n))
                                .map(|n| n.to_string()),
                        );
                    }
                }
                Origin::Test { name, .. } if !names.iter().any(|n| name_is_test(name, n)) => {
                    // A thread named after no listed test: nobody can be named.
                    push_new(&mut part.binary, &made_by(finding, what));
                }
                Origin::Binary => push_new(&mut part.binary, &made_by(finding, what)),
                Origin::Test { .. } => {}
            }
        }
        // The test's copy names its own program and names, not another test's.
        let finding = match made {
            Some(made) => made_by(finding, made),
            None => finding.clone(),
        };
        if direct || by_shared {
            part.mine.push(finding.clone());
        }
        if by_shared && !direct {
            part.shared.push(finding.clone());
        }
        if !others.is_empty() {
            part.ambiguous.push((finding, others));
        }
    }
    part
}

/// `finding` as the tasks of one origin made it: their program, their names.
fn made_by(finding: &Finding, made: &Made) -> Finding {
    Finding {
        program: made.program.clone(),
        query: made.query.clone(),
        ..finding.clone()
    }
}

/// Which test each thread the main thread started ran: libtest starts one thread per
/// test it runs, in the order of its list, and each names itself after its test. The
/// threads named after a listed test are matched to `run_order` in turn, as far as
/// their names agree (a shuffled run, `RUST_TEST_SHUFFLE`, matches none).
fn match_threads(threads: &[Option<String>], run_order: &[&str]) -> HashMap<usize, String> {
    let mut exact = HashMap::new();
    if std::env::var_os("RUST_TEST_SHUFFLE").is_some() {
        return exact;
    }
    let mut next = run_order.iter();
    for (i, name) in threads.iter().enumerate() {
        let Some(name) = name else { continue };
        if !run_order.iter().any(|n| name_is_test(name, n)) {
            continue;
        }
        match next.next() {
            Some(test) if name_is_test(name, test) => {
                exact.insert(i, test.to_string());
            }
            _ => break,
        }
    }
    exact
}

/// Judges a finished batch trace: `cases` are the tests it listed and `run_order` those
/// it ran, in list order.
fn judge_batch(
    judge: &Judge,
    status: &ProgramStatus,
    log: &str,
    cases: &[TestCase],
    run_order: &[&str],
    config: &PolicyConfig,
) -> Batch {
    let mut batch = Batch {
        exact: match_threads(&judge.test_threads(), run_order),
        ..Batch::default()
    };
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    // One judgement per distinct policy: overrides may give tests different ones.
    let mut by_policy: HashMap<String, Found> = HashMap::new();
    let mut binary: Vec<Finding> = Vec::new();
    for case in cases {
        let policy = config.resolve(&case.name);
        let found = by_policy
            .entry(format!("{policy:?}"))
            .or_insert_with(|| judge.findings_by_origin(&policy));
        let part = attribute(found, &case.name, &names, &batch.exact);
        for finding in &part.binary {
            push_new(&mut binary, finding);
        }
        if !part.mine.is_empty() {
            batch.by_test.insert(case.name.clone(), part.mine);
        }
        if !part.shared.is_empty() {
            batch.shared.insert(case.name.clone(), part.shared);
        }
        if !part.ambiguous.is_empty() {
            batch.ambiguous.insert(case.name.clone(), part.ambiguous);
        }
    }
    batch.binary = binary;
    for (stream, origin) in judge.streams_by_origin() {
        let tests: Vec<String> = match origin {
            Origin::Binary => Vec::new(),
            Origin::Test { name, thread, .. } => match batch.exact.get(&thread) {
                Some(test) => vec![test.clone()],
                None => names
                    .iter()
                    .filter(|n| name_is_test(&name, n))
                    .map(|n| n.to_string())
                    .collect(),
            },
        };
        if tests.is_empty() {
            batch.binary_streams.push(stream);
            continue;
        }
        for test in tests {
            batch.streams.entry(test).or_default().push(stream.clone());
        }
    }
    for (thread, time) in judge.test_times().into_iter().enumerate() {
        if let (Some(test), Some(time)) = (batch.exact.get(&thread), time) {
            batch.durations.insert(test.clone(), time);
        }
    }

    let mut untrusted = Vec::new();
    if !matches!(status, ProgramStatus::Exited(0 | 101)) {
        untrusted.push(format!("the batch run ended with {status}"));
    }
    if let Some(problem) = judge.problems().first() {
        untrusted.push(format!("the batch trace is incomplete ({problem})"));
    }
    match parse_log(log, &names) {
        Ok(outcomes) => batch.outcomes = outcomes,
        Err(why) => untrusted.push(why),
    }
    if !untrusted.is_empty() {
        batch.untrusted = Some(untrusted.join("; "));
    }
    batch.judge = Some(judge.clone());
    batch
}

fn push_new(list: &mut Vec<Finding>, finding: &Finding) {
    if !list.iter().any(|f| same(f, finding)) {
        list.push(finding.clone());
    }
}

/// Whether two findings are the same attempt, as far as reproducing goes: the same kind
/// to the same destination (a loopback port is often ephemeral, so only its address
/// counts).
pub fn same(a: &Finding, b: &Finding) -> bool {
    a.kind == b.kind && loose(a.destination.as_deref()) == loose(b.destination.as_deref())
}

fn loose(destination: Option<&str>) -> Option<String> {
    let destination = destination?;
    match destination.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => Some(addr.ip().to_string()),
        _ => Some(destination.to_string()),
    }
}

/// libtest's `--logfile`: a line `ok NAME`, `failed NAME`, `failed: MSG NAME`,
/// `ignored NAME` or `ignored: REASON NAME` per test (with ` <TIME>` after it under
/// `--report-time`). Every name in `expected` must appear once, and no other.
pub fn parse_log(log: &str, expected: &[&str]) -> Result<HashMap<String, Outcome>, String> {
    let mut outcomes = HashMap::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let outcome = match word.trim_end_matches(':') {
            "ok" => Outcome::Passed,
            "failed" => Outcome::Failed,
            "ignored" => Outcome::Ignored,
            _ => {
                return Err(format!(
                    "libtest's log has a line it does not write: `{line}`"
                ))
            }
        };
        let rest = rest.trim_end();
        // The name is last; a message may come before it (and hold spaces).
        let name = expected
            .iter()
            .filter(|name| rest == **name || rest.ends_with(&format!(" {name}")))
            .max_by_key(|name| name.len());
        let Some(name) = name else {
            return Err(format!(
                "libtest's log names a test `--list` did not give: `{line}`"
            ));
        };
        if outcomes.insert(name.to_string(), outcome).is_some() {
            return Err(format!("libtest's log names `{name}` twice"));
        }
    }
    if let Some(missing) = expected.iter().find(|n| !outcomes.contains_key(**n)) {
        return Err(format!("libtest's log has no result for `{missing}`"));
    }
    Ok(outcomes)
}

/// Reads the log file libtest wrote (empty when it wrote none).
fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Traces a whole test binary at once, its tests in parallel as `cargo test` runs them,
/// and attributes what it saw.
pub fn run_batch(
    settings: &Settings,
    binary: &TestBinary,
    selection: &Selection,
    cases: &[TestCase],
    config: &PolicyConfig,
) -> Batch {
    let untrusted = |why: String| Batch {
        untrusted: Some(why),
        ..Batch::default()
    };
    let mut args: Vec<String> = selection.filters.clone();
    if selection.exact {
        args.push("--exact".into());
    }
    for skip in &selection.skip {
        args.push("--skip".into());
        args.push(skip.clone());
    }
    if selection.ignored_only {
        args.push("--ignored".into());
    }
    if selection.include_ignored {
        args.push("--include-ignored".into());
    }
    let dir = match tempfile::Builder::new()
        .prefix("leakcheck-batch-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => return untrusted(format!("cannot create a temporary directory: {e}")),
    };
    let log = dir.path().join("libtest.log");
    let attribute_file = dir.path().join("attributes");
    args.extend([
        "--test-threads".to_string(),
        settings.threads.to_string(),
        "--color".into(),
        "never".into(),
        "--logfile".into(),
        log.display().to_string(),
    ]);
    let cmd = test_binary_command(
        settings,
        binary,
        args,
        Output::Captured {
            attribute_file: &attribute_file,
        },
    );
    let (judge, run) = match leakcheck::trace(&settings.tracer, &cmd, config.resolve("")) {
        Ok(traced) => traced,
        Err(e) => return untrusted(format!("could not trace the batch run: {e}")),
    };
    let run_order: Vec<&str> = cases
        .iter()
        .filter(|c| selection.runs(c))
        .map(|c| c.name.as_str())
        .collect();
    let log = read_log(&log);
    let mut batch = judge_batch(&judge, &run.status, &log, cases, &run_order, config);
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    batch.modes = libtest::modes(&String::from_utf8_lossy(&run.output), &names);
    batch.ignore_reasons = libtest::ignore_reasons(&log, &names);
    // A `#[leak_free(...)]` test brings its own policy: judge each test on its own.
    if std::fs::metadata(&attribute_file).is_ok_and(|m| m.len() > 0) {
        batch.untrusted = Some("a #[leak_free(...)] test brings its own policy".to_string());
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_matched_to_tests_in_start_order() {
        let threads = [
            None,
            Some("tests::integrat".to_string()),
            Some("helper".to_string()),
            Some("tests::integrat".to_string()),
        ];
        let order = ["tests::integration_a", "tests::integration_b"];
        let exact = match_threads(&threads, &order);
        assert_eq!(exact[&1], "tests::integration_a");
        assert_eq!(exact[&3], "tests::integration_b");
        // A name that disagrees ends the matching: the rest stays ambiguous.
        let threads = [Some("tests::b".to_string()), Some("tests::a".to_string())];
        assert!(match_threads(&threads, &["tests::a", "tests::b"]).is_empty());
    }

    #[test]
    fn the_log_gives_outcomes_of_listed_tests_only() {
        let names = ["a::b", "a::c", "src/lib.rs - f (line 5)"];
        let log = "ok a::b\nfailed: boom a b a::c\nignored src/lib.rs - f (line 5)\n";
        let outcomes = parse_log(log, &names).unwrap();
        assert_eq!(outcomes["a::b"], Outcome::Passed);
        assert_eq!(outcomes["a::c"], Outcome::Failed);
        assert_eq!(outcomes["src/lib.rs - f (line 5)"], Outcome::Ignored);
        assert!(parse_log("ok a::b\nok zz_fake\n", &["a::b"]).is_err());
        assert!(parse_log("ok a::b\n", &["a::b", "a::c"]).is_err());
        assert!(parse_log("running 2 tests\n", &["a::b"]).is_err());
    }
}
