//! `cargo leakcheck`: build, list, run every test in its own traced process, report.

use crate::cargo_build::{self, TestBinary};
use crate::cli::{ColorChoice, MessageFormat, TestArgs};
use crate::config::{self, Workspace};
use crate::exit;
use crate::list::{self, Partition, Selection, TestCase};
use leakcheck::judge::Judge;
use leakcheck::policy::PolicyConfig;
use leakcheck::report::{render_verdict, Outcome, Report, TestReport};
use leakcheck::tracer::{Backend, ProgramStatus, TracedCommand, Tracer};
use leakcheck::{Verdict, VerdictKind};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set in every test process leakcheck runs, so that `#[leak_free]` does not trace twice.
pub use leakcheck::leak_free::TRACED_ENV;

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
    results: Mutex<Vec<(usize, TestReport)>>,
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
    let top_layer = config::env_and_cli_layers(&args.policy)?;
    let tracer = Backend::select(args.policy.tracer.as_deref()).map_err(|e| e.to_string())?;
    let binaries = cargo_build::build(&args, &ws.metadata).map_err(|e| e.to_string())?;

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
    let ctx = Arc::new(RunContext {
        tracer,
        isolate_network: args.policy.isolate_network,
        timeout: Duration::from_secs_f64(args.timeout),
        json,
        results: Mutex::new(Vec::new()),
    });

    let mut order = 0usize;
    let mut all_cases: Vec<(String, TestCase)> = Vec::new();
    for (binary, cases, filtered_out, list_judges) in &plan {
        let package = ws
            .package_layers
            .get(&binary.package)
            .cloned()
            .unwrap_or_default();
        let layer: Arc<PolicyConfig> = Arc::new(
            ws.workspace_layer
                .clone()
                .merge(package)
                .merge(top_layer.clone()),
        );
        let binary = Arc::new(binary.clone());
        let list_judges = Arc::new(list_judges.clone());
        if !json {
            eprintln!("     Running {}", binary.header());
        }
        let mut known_clean = std::collections::HashSet::new();
        // A finding of the list runs fails every test: those go through `run_one`.
        let list_clean = cases.iter().all(|c| {
            list_verdicts(&list_judges, &layer.resolve(&c.name))
                .all(|v| v.verdict == VerdictKind::Clean && v.findings.is_empty())
        });
        if !args.per_test && partition.is_none() && list_clean {
            let batch = run_batch(&ctx, &binary, &selection, &layer, threads, args.color);
            if let Some(BatchResult::Narrowed { tests, suspects }) = batch {
                known_clean = tests
                    .into_iter()
                    .filter(|(name, outcome)| {
                        *outcome == Outcome::Passed && !suspects.contains(name)
                    })
                    .map(|(name, _)| name)
                    .collect();
                if !json {
                    eprintln!(
                        "leakcheck: {} of {} tests may have leaked; tracing each of them on its own",
                        suspects.len(),
                        cases.len()
                    );
                }
            } else if let Some(BatchResult::Clean(batch)) = batch {
                if !json {
                    print!("{}", batch.output);
                }
                for (name, outcome) in batch.tests {
                    let slot = order;
                    order += 1;
                    let case = TestCase {
                        ignored: outcome == Outcome::Ignored,
                        name,
                    };
                    all_cases.push((binary.report_name(), case.clone()));
                    if outcome == Outcome::Ignored {
                        continue;
                    }
                    let verdict = Verdict {
                        verdict: VerdictKind::Clean,
                        findings: Vec::new(),
                        problems: Vec::new(),
                        allow: layer.resolve(&case.name).allow_list(),
                    };
                    let entry =
                        TestReport::new(&binary.report_name(), &case.name, outcome, &verdict);
                    if json {
                        emit_json(&entry);
                    }
                    if let Ok(mut results) = ctx.results.lock() {
                        results.push((slot, entry));
                    }
                }
                continue;
            }
        }
        let mut trials = Vec::with_capacity(cases.len());
        for case in cases {
            let ctx = Arc::clone(&ctx);
            let binary_for_trial = Arc::clone(&binary);
            let layer = Arc::clone(&layer);
            let list_judges = Arc::clone(&list_judges);
            let case_for_trial = case.clone();
            let slot = order;
            order += 1;
            all_cases.push((binary.report_name(), case.clone()));
            if known_clean.contains(&case.name) {
                // Passed in the batch run, and none of its threads made a finding.
                trials.push(Trial::test(case.name.clone(), move || {
                    let name = &case_for_trial.name;
                    let verdict = Verdict {
                        verdict: VerdictKind::Clean,
                        findings: Vec::new(),
                        problems: Vec::new(),
                        allow: layer.resolve(name).allow_list(),
                    };
                    let report_name = binary_for_trial.report_name();
                    let entry = TestReport::new(&report_name, name, Outcome::Passed, &verdict);
                    if ctx.json {
                        emit_json(&entry);
                    }
                    if let Ok(mut results) = ctx.results.lock() {
                        results.push((slot, entry));
                    }
                    Ok(())
                }));
                continue;
            }
            trials.push(
                Trial::test(case.name.clone(), move || {
                    run_one(
                        &ctx,
                        &binary_for_trial,
                        &case_for_trial,
                        &layer,
                        &list_judges,
                        slot,
                    )
                })
                .with_ignored_flag(case.ignored),
            );
        }
        let mut margs = Arguments {
            test_threads: Some(threads),
            ignored: selection.ignored_only,
            include_ignored: selection.include_ignored,
            color: Some(color(args.color)),
            ..Arguments::default()
        };
        if json {
            margs.logfile = Some("/dev/null".to_string());
        }
        let conclusion = libtest_mimic::run(&margs, trials);
        // libtest-mimic counts only its own filtering; report ours, as cargo test would.
        let _ = (conclusion, filtered_out);
    }

    let mut results =
        std::mem::take(&mut *ctx.results.lock().map_err(|_| "a test thread crashed")?);
    results.sort_by_key(|(slot, _)| *slot);
    let mut done: Vec<Option<TestReport>> = vec![None; all_cases.len()];
    for (slot, report) in results {
        done[slot] = Some(report);
    }
    let tests: Vec<TestReport> = done
        .into_iter()
        .zip(&all_cases)
        .map(|(report, (binary, case))| {
            report.unwrap_or_else(|| {
                // Not run: ignored (or excluded by --ignored).
                let verdict = Verdict::not_run(Vec::new());
                TestReport::new(binary, &case.name, Outcome::Ignored, &verdict)
            })
        })
        .collect();

    let report = Report {
        tests,
        ..Report::default()
    };
    let report_path = args
        .policy
        .report
        .clone()
        .unwrap_or_else(|| ws.target_dir.join("leakcheck").join("report.json"));
    report
        .write(&report_path)
        .map_err(|e| format!("cannot write the report to {}: {e}", report_path.display()))?;
    if let Some(junit) = &args.junit {
        write_junit(&report, junit)?;
    }
    crate::github::emit(&report);
    let summary = Summary::of(&report);
    if !json {
        eprintln!("{}", summary.line(started.elapsed()));
        eprintln!("leakcheck: report written to {}", report_path.display());
    }
    Ok(summary.exit_code(args.policy.leaks_only))
}

fn color(choice: ColorChoice) -> libtest_mimic::ColorSetting {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => libtest_mimic::ColorSetting::Always,
        ColorChoice::Never => libtest_mimic::ColorSetting::Never,
        ColorChoice::Auto if no_color => libtest_mimic::ColorSetting::Never,
        ColorChoice::Auto => libtest_mimic::ColorSetting::Auto,
    }
}

/// Runs one test in its own traced process; returns what libtest-mimic prints.
fn run_one(
    ctx: &RunContext,
    binary: &TestBinary,
    case: &TestCase,
    config: &PolicyConfig,
    list_judges: &[Judge],
    slot: usize,
) -> Result<(), Failed> {
    let policy = config.resolve(&case.name);
    let allow = policy.allow_list();
    // A `#[leak_free(...)]` test reports its attribute's policy here as it starts; it
    // applies to the verdict on top of everything else.
    let attribute_file = tempfile::NamedTempFile::new()
        .map_err(|e| Failed::from(format!("cannot create a temporary file: {e}")))?;
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
    let mut final_policy = policy.clone();
    let late = || {
        let attribute = leakcheck::leak_free::read_attribute_policy(attribute_file.path())?;
        let late = attribute
            .filter(|(test, _)| *test == case.name)
            .map(|(_, layer)| config.clone().merge(layer).resolve(&case.name));
        if let Some(late) = &late {
            final_policy = late.clone();
        }
        Ok(late)
    };
    let checked = leakcheck::check_with_late_policy(&ctx.tracer as &dyn Tracer, &cmd, policy, late);
    let (mut verdict, status, output) = match checked {
        Ok(checked) => (
            checked.verdict,
            checked.run.status,
            String::from_utf8_lossy(&checked.run.output).into_owned(),
        ),
        Err(e) => (
            Verdict::unobserved(format!("could not trace the test: {e}"), allow),
            ProgramStatus::Exited(-1),
            String::new(),
        ),
    };
    let outcome = match status {
        ProgramStatus::TimedOut => Outcome::TimedOut,
        ProgramStatus::Exited(0) => Outcome::Passed,
        _ => Outcome::Failed,
    };
    add_list_findings(&mut verdict, list_judges, &final_policy);
    // The child must prove it ran the test: a name that matched nothing passes silently.
    if outcome == Outcome::Passed && !output.contains("running 1 test") {
        verdict.problems.push(format!(
            "the test binary did not run `{}` (its output does not say `running 1 test`)",
            case.name
        ));
        if verdict.verdict == VerdictKind::Clean {
            verdict.verdict = VerdictKind::Unverified;
        }
    }

    let mut entry = TestReport::new(&binary.report_name(), &case.name, outcome, &verdict);
    entry.duration_ms = Some(started.elapsed().as_millis() as u64);
    if ctx.json {
        emit_json(&entry);
    }
    let message = failure_message(&case.name, &verdict, &status, outcome, &output, ctx.timeout);
    if let Ok(mut results) = ctx.results.lock() {
        results.push((slot, entry));
    }
    match message {
        Some(message) => Err(Failed::from(message)),
        None => Ok(()),
    }
}

/// The verdicts of a binary's `--list` runs under a test's policy.
fn list_verdicts<'a>(
    list_judges: &'a [Judge],
    policy: &'a leakcheck::Policy,
) -> impl Iterator<Item = Verdict> + 'a {
    list_judges
        .iter()
        .map(|judge| judge.clone().finish_with(Some(policy.clone())))
}

/// Adds what the binary's `--list` runs did to a test's verdict: a static initializer
/// that leaks there leaks in every test's process. A finding the test's own run also made
/// (same kind, destination and call) counts once more rather than twice.
fn add_list_findings(verdict: &mut Verdict, list_judges: &[Judge], policy: &leakcheck::Policy) {
    for listed in list_verdicts(list_judges, policy) {
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
    if verdict.leaks().next().is_some() {
        verdict.verdict = VerdictKind::Leaked;
    } else if !verdict.problems.is_empty() && verdict.verdict == VerdictKind::Clean {
        verdict.verdict = VerdictKind::Unverified;
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

/// What a clean batch run of a whole test binary gives: libtest's own output and each
/// test's outcome.
struct Batch {
    output: String,
    tests: Vec<(String, Outcome)>,
}

/// What a batch run tells.
enum BatchResult {
    /// Every test is clean.
    Clean(Batch),
    /// Every finding came from a thread named after a test (libtest names each test's
    /// thread): only `suspects` need a traced process of their own; every other test
    /// passed cleanly.
    Narrowed {
        tests: Vec<(String, Outcome)>,
        suspects: std::collections::HashSet<String>,
    },
}

/// Whether a thread name is this test's: the kernel keeps 15 bytes of a thread's name.
fn thread_is_test(thread: &str, test: &str) -> bool {
    const COMM_LEN: usize = 15;
    test.as_bytes().starts_with(thread.as_bytes())
        && (thread.len() == test.len() || thread.len() >= COMM_LEN)
}

/// Traces a whole test binary at once, running its tests in parallel as `cargo test`
/// does. Returns the outcomes only when per-test verdicts follow exactly from the one
/// trace: it ran to its end and holds no finding at all under any of its tests'
/// policies, so every test is clean; or every finding was made by threads named after
/// tests, and only those tests need a run of their own. Otherwise (a finding from an
/// unnamed thread or an exec'd program, the strace backend, a crash, a timeout, an
/// attribute policy reported) returns None, and the caller runs each test in its own
/// traced process to attribute what happened.
fn run_batch(
    ctx: &RunContext,
    binary: &TestBinary,
    selection: &Selection,
    config: &PolicyConfig,
    threads: usize,
    color: ColorChoice,
) -> Option<BatchResult> {
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
    let colored = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    args.extend([
        "--test-threads".to_string(),
        threads.to_string(),
        "--color".into(),
        if colored { "always" } else { "never" }.into(),
    ]);
    let attribute_file = tempfile::NamedTempFile::new().ok()?;
    let cmd = test_command(ctx, binary, args, attribute_file.path());

    let base = config.resolve("");
    let (judge, run) = leakcheck::trace(&ctx.tracer as &dyn Tracer, &cmd, base).ok()?;
    if !matches!(run.status, ProgramStatus::Exited(0 | 101)) {
        return None;
    }
    // A `#[leak_free(...)]` test brings its own policy: judge each test on its own.
    if std::fs::metadata(attribute_file.path()).is_ok_and(|m| m.len() > 0) {
        return None;
    }
    let output = String::from_utf8_lossy(&run.output).into_owned();
    let plain = strip_ansi(&output);
    let tests = parse_libtest_output(&plain)?;
    // One verdict per distinct policy: overrides may give tests different ones.
    let mut groups: Vec<(leakcheck::Policy, Vec<&str>)> = Vec::new();
    let mut by_policy = std::collections::HashMap::new();
    for (name, _) in &tests {
        let policy = config.resolve(name);
        let key = format!("{policy:?}");
        let group = *by_policy.entry(key).or_insert_with(|| {
            groups.push((policy, Vec::new()));
            groups.len() - 1
        });
        groups[group].1.push(name.as_str());
    }
    let mut suspects = std::collections::HashSet::new();
    for (policy, names) in &groups {
        let verdict = judge.clone().finish_with(Some(policy.clone()));
        if verdict.findings.is_empty() && verdict.verdict == VerdictKind::Clean {
            continue;
        }
        if !verdict.problems.is_empty() {
            return None;
        }
        for thread in judge.culprits(policy)? {
            // A thread that is no test's (libtest's main thread, a renamed thread).
            if !tests.iter().any(|(test, _)| thread_is_test(&thread, test)) {
                return None;
            }
            for name in names.iter().filter(|name| thread_is_test(&thread, name)) {
                suspects.insert(name.to_string());
            }
        }
    }
    if groups.is_empty() {
        // No test ran: the trace must still be complete to be trusted.
        let verdict = judge.finish();
        if verdict.verdict != VerdictKind::Clean {
            return None;
        }
    }
    if suspects.is_empty() {
        return Some(BatchResult::Clean(Batch { output, tests }));
    }
    // A failed test's output is in libtest's text, not kept apart: run it again too.
    for (name, outcome) in &tests {
        if *outcome == Outcome::Failed {
            suspects.insert(name.clone());
        }
    }
    Some(BatchResult::Narrowed { tests, suspects })
}

/// Every `test NAME ... RESULT` line of libtest's output, checked against its own counts
/// (`running N tests`, `test result: ...`), so that a run cut short is never trusted.
fn parse_libtest_output(output: &str) -> Option<Vec<(String, Outcome)>> {
    let mut expected = None;
    let mut finished = false;
    let mut tests = Vec::new();
    for line in output.lines() {
        if let Some(n) = line
            .strip_prefix("running ")
            .and_then(|r| r.strip_suffix(" tests").or_else(|| r.strip_suffix(" test")))
        {
            expected = Some(n.trim().parse::<usize>().ok()?);
        } else if line.starts_with("test result: ") {
            finished = true;
        } else if let Some(rest) = line.strip_prefix("test ") {
            let Some((name, result)) = rest.rsplit_once(" ... ") else {
                continue;
            };
            let name = name.trim_end();
            let name = name
                .strip_suffix(" - should panic")
                .unwrap_or(name)
                .to_string();
            let outcome = match result.trim() {
                "ok" => Outcome::Passed,
                "FAILED" => Outcome::Failed,
                r if r.starts_with("ignored") => Outcome::Ignored,
                _ => return None,
            };
            tests.push((name, outcome));
        }
    }
    (finished && expected == Some(tests.len())).then_some(tests)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The failures-section text for a test, or None when it passed and is clean.
fn failure_message(
    name: &str,
    verdict: &Verdict,
    status: &ProgramStatus,
    outcome: Outcome,
    output: &str,
    timeout: Duration,
) -> Option<String> {
    let mut message = String::new();
    if verdict.verdict.fails() {
        message.push_str(&render_verdict(verdict, ""));
    }
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
    (!message.is_empty()).then_some(message)
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

/// Counts across every binary, for the closing line and the exit status.
#[derive(Debug, Default)]
struct Summary {
    run: usize,
    clean: usize,
    leaked: usize,
    unverified: usize,
    failed: usize,
    ignored: usize,
}

impl Summary {
    fn of(report: &Report) -> Summary {
        let mut s = Summary::default();
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

    fn line(&self, elapsed: Duration) -> String {
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

    fn exit_code(&self, leaks_only: bool) -> u8 {
        if self.leaked + self.unverified > 0 {
            exit::LEAKED
        } else if self.failed > 0 && !leaks_only {
            exit::TEST_FAILED
        } else {
            exit::CLEAN
        }
    }
}

fn write_junit(report: &Report, path: &Path) -> Result<(), String> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("leakcheck");
    let mut suites: Vec<TestSuite> = Vec::new();
    for t in &report.tests {
        if suites.last().is_none_or(|s| s.name.as_str() != t.binary) {
            suites.push(TestSuite::new(t.binary.clone()));
        }
        let status = if t.outcome == Outcome::Ignored {
            TestCaseStatus::skipped()
        } else if t.verdict.fails() || t.outcome != Outcome::Passed {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let verdict = Verdict {
                verdict: t.verdict,
                findings: t.findings.clone(),
                problems: t.problems.clone(),
                allow: t.allow.clone(),
            };
            let what = if t.verdict.fails() {
                format!("network {}", t.verdict)
            } else {
                format!("test {}", t.outcome.as_str())
            };
            status.set_message(what);
            status.set_type(t.verdict.as_str());
            status.set_description(render_verdict(&verdict, ""));
            status
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(t.name.clone(), status);
        case.set_classname(t.binary.clone());
        if let Some(ms) = t.duration_ms {
            case.set_time(Duration::from_millis(ms));
        }
        if let Some(suite) = suites.last_mut() {
            suite.add_test_case(case);
        }
    }
    junit.add_test_suites(suites);
    let text = junit
        .to_string()
        .map_err(|e| format!("cannot render JUnit XML: {e}"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write JUnit XML to {}: {e}", path.display()))
}
