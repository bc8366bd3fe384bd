//! `cargo leakcheck`: build, list, trace every test, report.
//!
//! By default each test binary is traced once as a whole ([`crate::batch`]); tests whose
//! threads made a finding, failed tests, and every test when the batch cannot be trusted
//! or holds a finding no test can be named for, are then traced again one process each.
//! No finding of the batch is dropped: one its test's own run does not reproduce stays
//! with the test, marked as seen only beside the other tests, and then every test of
//! the binary runs alone; what no test reproduces is the binary's own entry.

use crate::batch::{self, Batch};
use crate::cargo::{self, TestBinary, Workspace};
use crate::cli::{ColorChoice, MessageFormat, TestArgs};
use crate::config::{self, ManifestLayers};
use crate::exit;
use crate::list::{self, Partition, Selection, TestCase};
use crate::printer::{Printer, Status};
use crate::summary::Summary;
use leakcheck::judge::Judge;
use leakcheck::policy::PolicyConfig;
use leakcheck::report::{render_verdict, BinaryReport, Outcome, Report, TestReport};
use leakcheck::tracer::{Backend, ProgramStatus, TracedCommand, Tracer};
use leakcheck::verdict::FindingSeverity;
use leakcheck::{Finding, Verdict, VerdictKind};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in every test process leakcheck runs, so that `#[leak_free]` does not trace twice.
pub use leakcheck::leak_free::TRACED_ENV;

/// The note on a batch finding that the test's own run did not reproduce.
const BESIDE_OTHERS: &str = "seen only in the batch run, beside the other tests (shared state or timing): the test's own run did not reproduce it";

/// Runs `cargo leakcheck`; returns the exit status.
pub fn run(args: TestArgs) -> u8 {
    match try_run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            exit::SETUP
        }
    }
}

/// Everything a test run needs besides the test itself; shared by the worker threads.
struct RunContext {
    tracer: Backend,
    isolate_network: bool,
    timeout: Duration,
    json: bool,
    color: bool,
    threads: usize,
}

fn try_run(args: TestArgs) -> Result<u8, String> {
    let started = Instant::now();
    let selection = Selection::parse(args.filter.as_deref(), &args.libtest)?;
    let partition = args
        .partition
        .as_deref()
        .map(str::parse::<Partition>)
        .transpose()?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(format!(
            "--timeout {}: expected a positive number of seconds",
            args.timeout
        ));
    }
    // Configuration and setup errors come before the build, so that they are not lost
    // in cargo's output and cost nothing.
    let ws = Workspace::load(args.manifest_path.as_deref()).map_err(|e| e.to_string())?;
    let manifests = ManifestLayers::of(&ws).map_err(|e| e.to_string())?;
    let top_layer = config::env_and_cli_layers(&args.policy)?;
    let tracer = Backend::select(args.policy.tracer.as_deref()).map_err(|e| e.to_string())?;
    let binaries = cargo::build::build(&args.build_options(), &ws).map_err(|e| e.to_string())?;

    let mut plan: Vec<(TestBinary, Vec<TestCase>, usize, Vec<Judge>)> = Vec::new();
    let mut index = 0u64;
    for binary in binaries {
        // Traced and isolated like the tests; each test's own policy judges it later.
        let list::Listing {
            cases,
            mut filtered_out,
            judges,
        } = list::list(
            &binary,
            &selection,
            &tracer,
            args.policy.isolate_network,
            Duration::from_secs_f64(args.timeout),
            &leakcheck::Policy::default(),
        )?;
        let mut kept = Vec::with_capacity(cases.len());
        for case in cases {
            let keep = partition.is_none_or(|p| p.keeps(index, &binary.report_name(), &case.name));
            index += 1;
            if keep {
                kept.push(case);
            } else {
                filtered_out += 1;
            }
        }
        plan.push((binary, kept, filtered_out, judges));
    }

    let threads = args
        .test_threads
        .or(selection.test_threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let json = args.message_format == MessageFormat::Json;
    let ctx = RunContext {
        tracer,
        isolate_network: args.policy.isolate_network,
        timeout: Duration::from_secs_f64(args.timeout),
        json,
        color: use_color(args.color),
        threads,
    };

    let mut report = Report::default();
    for (binary, cases, filtered_out, list_judges) in &plan {
        let layer = manifests
            .for_package(Some(&binary.package))
            .merge(top_layer.clone());
        if !json {
            eprintln!("     Running {}", binary.header());
        }
        let batch = !args.per_test && partition.is_none();
        let listed = Listed {
            judges: list_judges,
            config: &layer,
        };
        let (tests, own) = run_binary(
            &ctx,
            binary,
            cases,
            *filtered_out,
            &listed,
            &selection,
            batch,
        );
        report.tests.extend(tests);
        report.binaries.extend(own);
    }

    let report_path = args
        .policy
        .report
        .clone()
        .unwrap_or_else(|| ws.target_dir().join("leakcheck").join("report.json"));
    report
        .write(&report_path)
        .map_err(|e| format!("cannot write the report to {}: {e}", report_path.display()))?;
    if let Some(junit) = &args.junit {
        crate::junit::write_junit(&report, junit)?;
    }
    crate::github::emit(&report);
    let summary = Summary::of(&report);
    if !json {
        eprintln!("{}", summary.line(started.elapsed()));
        eprintln!("leakcheck: report written to {}", report_path.display());
    }
    Ok(summary.exit_code(args.policy.leaks_only))
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// A test's entry and its `failures:` text (None when it passed and is clean).
struct Done {
    entry: TestReport,
    /// What the test itself said when it failed (not the verdict: that is rendered from
    /// the entry when the line is printed).
    own: Option<String>,
    /// The policy a `#[leak_free(...)]` attribute gave the test in its own run.
    attribute: Option<leakcheck::Policy>,
}

/// Runs one binary's tests (see the module's doc); prints its block; returns every
/// test's entry, in list order, and the binary's own entry when it has one.
fn run_binary(
    ctx: &RunContext,
    binary: &TestBinary,
    cases: &[TestCase],
    filtered_out: usize,
    listed: &Listed,
    selection: &Selection,
    batch_mode: bool,
) -> (Vec<TestReport>, Option<BinaryReport>) {
    let config = listed.config;
    let report_name = binary.report_name();
    let printer = Printer::start(cases.len(), ctx.color, ctx.json);
    let mut done: HashMap<String, TestReport> = HashMap::new();
    let runnable: Vec<TestCase> = cases
        .iter()
        .filter(|c| selection.runs(c))
        .cloned()
        .collect();
    for case in cases.iter().filter(|c| !selection.runs(c)) {
        let verdict = Verdict::not_run(config.resolve(&case.name).allow_list());
        let entry = TestReport::new(&report_name, &case.name, Outcome::Ignored, &verdict);
        record(
            ctx,
            listed,
            &printer,
            &mut done,
            Done {
                entry,
                own: None,
                attribute: None,
            },
        );
    }

    let batch = (batch_mode && !runnable.is_empty())
        .then(|| run_batch(ctx, binary, selection, cases, config));
    let all: Vec<&TestCase> = runnable.iter().collect();
    let first: Vec<&TestCase> = match &batch {
        None => all.clone(),
        Some(b) if b.untrusted.is_some() || !b.binary.is_empty() => {
            if !ctx.json {
                let why = b.untrusted.clone().unwrap_or_else(|| {
                    "the batch run made attempts that no test's thread made".to_string()
                });
                eprintln!("leakcheck: {why}; tracing each test on its own");
            }
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
            if !first.is_empty() && !ctx.json {
                eprintln!(
                    "leakcheck: {} of {} tests may have leaked or failed; tracing each of them on its own",
                    first.len(),
                    runnable.len()
                );
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
    run_solo(ctx, binary, &first, config, |case, result| {
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
        keep_unreproduced(&mut result.entry, &warnings);
        if missing.is_empty() {
            record(ctx, listed, &printer, &mut done, result);
        } else {
            done.insert(case.name.clone(), result.entry.clone());
            held.push((result, missing));
        }
    });
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
    if unreproduced || !reproduced_all(&seen.binary, &solo.findings) {
        if !rest.is_empty() && !ctx.json {
            eprintln!(
                "leakcheck: the batch run made attempts that no test's own run reproduced; tracing the other {} tests on their own",
                rest.len()
            );
        }
        run_solo(ctx, binary, &rest, config, |case, mut result| {
            solo.note(seen, case, &result);
            // These made no leak in the batch; what they made there stays, marked.
            if let Some(kept) = seen.by_test.get(&case.name) {
                keep_unreproduced(&mut result.entry, kept);
            }
            record(ctx, listed, &printer, &mut done, result);
        });
    } else {
        // Passed in the batch run, and no task of theirs made more than warnings.
        for case in rest {
            let verdict = Verdict {
                verdict: VerdictKind::Clean,
                findings: seen.by_test.get(&case.name).cloned().unwrap_or_default(),
                problems: Vec::new(),
                allow: config.resolve(&case.name).allow_list(),
            };
            let mut entry = TestReport::new(&report_name, &case.name, Outcome::Passed, &verdict);
            entry.duration_ms = seen.durations.get(&case.name).map(|d| d.as_millis() as u64);
            record(
                ctx,
                listed,
                &printer,
                &mut done,
                Done {
                    entry,
                    own: None,
                    attribute: None,
                },
            );
        }
    }
    for (mut result, mut missing) in held {
        let name = result.entry.name.clone();
        // The batch judged under the manifest's policy; the test's own run learnt its
        // attribute's, which may allow what the batch saw.
        if let Some(policy) = &result.attribute {
            let under = seen.findings_for(&name, policy);
            missing.retain(|f| under.iter().any(|u| batch::same(u, f)));
        }
        // Made only by a pool or runtime thread the test started, and made by another
        // test's own run where the batch saw it elsewhere: that test's work.
        let shared = seen.shared.get(&name).map(Vec::as_slice).unwrap_or(&[]);
        // Made by a thread whose kept name other tests share, and one of them
        // reproduced it alone: that one's.
        let ambiguous = seen.ambiguous.get(&name).map(Vec::as_slice).unwrap_or(&[]);
        let missing: Vec<Finding> = missing
            .into_iter()
            .filter(|f| {
                let elsewhere = shared.iter().any(|s| batch::same(s, f))
                    && solo.unexplained.iter().any(|s| batch::same(s, f));
                let sibling = ambiguous
                    .iter()
                    .any(|(a, others)| batch::same(a, f) && others.iter().any(|o| solo.made(o, f)));
                !(elsewhere || sibling)
            })
            .collect();
        keep_unreproduced(&mut result.entry, &missing);
        record(ctx, listed, &printer, &mut done, result);
    }
    printer.finish(filtered_out);

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
            f.note = Some(
                "seen in the batch run, made by no test's thread, and reproduced by no test alone"
                    .to_string(),
            );
            f
        })
        .collect();
    let own = (!own.is_empty()).then(|| {
        let mut verdict = Verdict {
            verdict: VerdictKind::Clean,
            findings: own,
            problems: Vec::new(),
            allow: config.resolve("").allow_list(),
        };
        verdict.settle();
        if !ctx.json {
            eprint!(
                "leakcheck: {report_name}: what no test can be named for:\n{}",
                render_verdict(&verdict, "  ")
            );
        }
        BinaryReport {
            binary: report_name.clone(),
            verdict: verdict.verdict,
            findings: verdict.findings,
            allow: verdict.allow,
        }
    });
    let tests = cases.iter().filter_map(|c| done.remove(&c.name)).collect();
    (tests, own)
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

/// A binary's `--list` runs, judged under each test's policy when its entry is made: a
/// static initializer that leaks there leaks in every test's process too.
struct Listed<'a> {
    judges: &'a [Judge],
    config: &'a PolicyConfig,
}

impl Listed<'_> {
    /// The list runs' verdicts under `policy`.
    fn verdicts<'a>(&'a self, policy: &'a leakcheck::Policy) -> impl Iterator<Item = Verdict> + 'a {
        self.judges
            .iter()
            .map(|judge| judge.clone().finish_with(Some(policy.clone())))
    }

    /// Adds what the list runs did to a test's entry. A finding the test's own run also
    /// made (same kind, destination and call) counts once more rather than twice.
    fn add_to(&self, d: &mut Done) {
        if d.entry.verdict == VerdictKind::NotRun {
            return;
        }
        let policy = self.config.resolve(&d.entry.name);
        let mut verdict = Verdict {
            verdict: d.entry.verdict,
            findings: std::mem::take(&mut d.entry.findings),
            problems: std::mem::take(&mut d.entry.problems),
            allow: d.entry.allow.clone(),
        };
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
        d.entry.verdict = verdict.verdict;
        d.entry.findings = verdict.findings;
        d.entry.problems = verdict.problems;
    }

    /// What the list runs did under the binary's own policy, when no test ran to carry it.
    fn own(&self) -> Vec<Finding> {
        self.verdicts(&self.config.resolve(""))
            .flat_map(|v| v.findings)
            .collect()
    }
}

/// Prints a finished test and keeps its entry.
fn record(
    ctx: &RunContext,
    listed: &Listed,
    printer: &Printer,
    done: &mut HashMap<String, TestReport>,
    mut d: Done,
) {
    listed.add_to(&mut d);
    if ctx.json {
        emit_json(&d.entry);
    }
    let status = if d.entry.outcome == Outcome::Ignored {
        Status::Ignored
    } else if d.entry.verdict.fails() || d.own.is_some() {
        Status::Failed
    } else {
        Status::Ok
    };
    let failure = (status == Status::Failed).then(|| failure_text(&d.entry, d.own.as_deref()));
    printer.result(&d.entry.name, status, failure);
    done.insert(d.entry.name.clone(), d.entry);
}

/// Adds to a test's entry the batch findings its own run did not reproduce, marked so;
/// returns whether there were any.
fn keep_unreproduced(entry: &mut TestReport, batch: &[Finding]) -> bool {
    let missing: Vec<Finding> = batch
        .iter()
        .filter(|f| !entry.findings.iter().any(|s| batch::same(s, f)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return false;
    }
    let mut verdict = Verdict {
        verdict: entry.verdict,
        findings: std::mem::take(&mut entry.findings),
        problems: std::mem::take(&mut entry.problems),
        allow: entry.allow.clone(),
    };
    for mut finding in missing {
        finding.note = Some(BESIDE_OTHERS.to_string());
        verdict.findings.push(finding);
    }
    verdict.findings.sort_by_key(|f| f.severity);
    verdict.settle();
    entry.verdict = verdict.verdict;
    entry.findings = verdict.findings;
    entry.problems = verdict.problems;
    true
}

/// A test's `failures:` text once its verdict changed: the verdict, then what the test
/// itself said.
fn failure_text(entry: &TestReport, own: Option<&str>) -> String {
    let mut text = String::new();
    if entry.verdict.fails() {
        let verdict = Verdict {
            verdict: entry.verdict,
            findings: entry.findings.clone(),
            problems: entry.problems.clone(),
            allow: entry.allow.clone(),
        };
        text.push_str(&render_verdict(&verdict, ""));
    }
    text.push_str(own.unwrap_or(""));
    text
}

/// Runs `cases` one traced process each, `ctx.threads` at a time; `each` gets every
/// result as it comes.
fn run_solo(
    ctx: &RunContext,
    binary: &TestBinary,
    cases: &[&TestCase],
    config: &PolicyConfig,
    mut each: impl FnMut(&TestCase, Done),
) {
    if cases.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..ctx.threads.min(cases.len()) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else {
                    return;
                };
                let done = run_one(ctx, binary, case, config);
                if tx.send((i, done)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (i, done) in rx {
            each(cases[i], done);
        }
    });
}

/// Runs one test in its own traced process.
fn run_one(ctx: &RunContext, binary: &TestBinary, case: &TestCase, config: &PolicyConfig) -> Done {
    let policy = config.resolve(&case.name);
    let allow = policy.allow_list();
    let report_name = binary.report_name();
    let unobserved = |why: String| {
        let verdict = Verdict::unobserved(why, allow.clone());
        let entry = TestReport::new(&report_name, &case.name, Outcome::Failed, &verdict);
        let own = None;
        Done {
            entry,
            own,
            attribute: None,
        }
    };
    // A `#[leak_free(...)]` test reports its attribute's policy here as it starts; it
    // applies to the verdict on top of everything else.
    let attribute_file = match tempfile::NamedTempFile::new() {
        Ok(file) => file,
        Err(e) => return unobserved(format!("cannot create a temporary file: {e}")),
    };
    let mut args: Vec<String> = vec![
        case.name.clone(),
        "--exact".into(),
        "--test-threads".into(),
        "1".into(),
    ];
    if case.ignored {
        args.push("--ignored".into());
    }
    let cmd = test_command(ctx, binary, args, attribute_file.path());

    let started = Instant::now();
    let mut attribute = None;
    let late = || {
        let layer = leakcheck::leak_free::read_attribute_policy(attribute_file.path())?;
        let late = layer
            .filter(|(test, _)| *test == case.name)
            .map(|(_, layer)| config.clone().merge(layer).resolve(&case.name));
        attribute.clone_from(&late);
        Ok(late)
    };
    let checked = leakcheck::check_with_late_policy(&ctx.tracer as &dyn Tracer, &cmd, policy, late);
    let (mut verdict, status, output) = match checked {
        Ok(checked) => (
            checked.verdict,
            checked.run.status,
            String::from_utf8_lossy(&checked.run.output).into_owned(),
        ),
        Err(e) => return unobserved(format!("could not trace the test: {e}")),
    };
    let outcome = match status {
        ProgramStatus::TimedOut => Outcome::TimedOut,
        ProgramStatus::Exited(0) => Outcome::Passed,
        _ => Outcome::Failed,
    };
    // The child must prove it ran the test: a name that matched nothing passes silently.
    if outcome == Outcome::Passed && !output.contains("running 1 test") {
        verdict.problems.push(format!(
            "the test binary did not run `{}` (its output does not say `running 1 test`)",
            case.name
        ));
        verdict.settle();
    }

    let mut entry = TestReport::new(&report_name, &case.name, outcome, &verdict);
    entry.duration_ms = Some(started.elapsed().as_millis() as u64);
    let own = own_failure(&case.name, &status, outcome, &output, ctx.timeout);
    Done {
        entry,
        own,
        attribute,
    }
}

/// A test binary's command as `cargo test` would run it, marked as traced (so that
/// `#[leak_free]` does not trace again) and told where to report an attribute's policy.
fn test_command(
    ctx: &RunContext,
    binary: &TestBinary,
    args: Vec<String>,
    attribute_file: &Path,
) -> TracedCommand {
    let mut cmd = TracedCommand::new(&binary.path, args);
    cmd.env = binary.env.clone();
    cmd.env.push((TRACED_ENV.into(), "1".into()));
    cmd.env.push((
        leakcheck::leak_free::ATTRIBUTE_POLICY_ENV.into(),
        attribute_file.into(),
    ));
    cmd.cwd = Some(binary.manifest_dir.clone());
    cmd.isolate_network = ctx.isolate_network;
    cmd.capture_output = true;
    cmd.timeout = Some(ctx.timeout);
    cmd
}

fn emit_json(entry: &TestReport) {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    value["type"] = "test".into();
    println!("{value}");
}

/// Traces a whole test binary at once, its tests in parallel as `cargo test` runs them,
/// and attributes what it saw (see [`crate::batch`]).
fn run_batch(
    ctx: &RunContext,
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
        ctx.threads.to_string(),
        "--color".into(),
        "never".into(),
        "--logfile".into(),
        log.display().to_string(),
    ]);
    let cmd = test_command(ctx, binary, args, &attribute_file);
    let (judge, run) = match leakcheck::trace(&ctx.tracer as &dyn Tracer, &cmd, config.resolve(""))
    {
        Ok(traced) => traced,
        Err(e) => return untrusted(format!("could not trace the batch run: {e}")),
    };
    let run_order: Vec<&str> = cases
        .iter()
        .filter(|c| selection.runs(c))
        .map(|c| c.name.as_str())
        .collect();
    let mut batch = batch::judge_batch(
        &judge,
        &run.status,
        &batch::read_log(&log),
        cases,
        &run_order,
        config,
    );
    // A `#[leak_free(...)]` test brings its own policy: judge each test on its own.
    if std::fs::metadata(&attribute_file).is_ok_and(|m| m.len() > 0) {
        batch.untrusted = Some("a #[leak_free(...)] test brings its own policy".to_string());
    }
    batch
}

/// What a test itself said in its `failures:` entry (a timeout, a crash, its captured
/// output), or None when it passed.
fn own_failure(
    name: &str,
    status: &ProgramStatus,
    outcome: Outcome,
    output: &str,
    timeout: Duration,
) -> Option<String> {
    let mut message = String::new();
    match outcome {
        Outcome::Passed | Outcome::Ignored => {}
        Outcome::TimedOut => message.push_str(&format!(
            "test timed out after {} s and was terminated\n",
            timeout.as_secs_f64()
        )),
        Outcome::Failed => {
            if let ProgramStatus::Signaled(_) = status {
                message.push_str(&format!("process didn't exit successfully: {status}\n"));
            }
            message.push_str(captured_output(name, output));
        }
    }
    (outcome == Outcome::Failed || outcome == Outcome::TimedOut).then_some(message)
}

/// libtest's captured output of a failed test, without libtest's own lines around it.
fn captured_output<'a>(name: &str, output: &'a str) -> &'a str {
    let marker = format!("---- {name} stdout ----\n");
    match output.find(&marker) {
        Some(start) => {
            let body = &output[start + marker.len()..];
            let end = body.find("\n\nfailures:\n").map_or(body.len(), |e| e + 1);
            &body[..end]
        }
        None => output,
    }
}
