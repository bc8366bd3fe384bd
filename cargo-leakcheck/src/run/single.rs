//! Tests traced one process each, [`Settings::threads`] at a time.

use super::context::{outcome_of, Settings};
use super::doctest;
use super::libtest;
use super::select::TestCase;
use super::test_command::{test_binary_command, Output};
use crate::cargo::TestBinary;
use crate::reporter::Shown;
use leakcheck::leak_free::{read_attribute_policy, AttributePolicy};
use leakcheck::policy::PolicyConfig;
use leakcheck::report::{Outcome, TestReport};
use leakcheck::tracer::ProgramStatus;
use leakcheck::{Policy, Verdict};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A test's result before the list runs' findings are added to it.
#[derive(Debug)]
pub struct Done {
    /// Its report entry.
    pub entry: TestReport,
    /// What the test itself said when it failed (not the verdict: the reporter words that
    /// from the entry).
    pub own: Option<String>,
    /// The policy a `#[leak_free(...)]` attribute gave the test in its own run.
    pub attribute: Option<leakcheck::Policy>,
    /// What libtest's line shows of it besides its name and status.
    pub shown: Shown,
}

impl Done {
    /// A test that did not run its own process (its entry says why), shown as `shown`.
    pub fn without_run(entry: TestReport, shown: Shown) -> Done {
        Done {
            entry,
            own: None,
            attribute: None,
            shown,
        }
    }
}

/// Runs `cases` one traced process each, `settings.threads` at a time; `each` gets every
/// result as it comes, on the calling thread.
pub fn run_each(
    settings: &Settings,
    binary: &TestBinary,
    cases: &[&TestCase],
    names: &[String],
    config: &PolicyConfig,
    mut each: impl FnMut(&TestCase, Done),
) {
    if cases.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..settings.threads.min(cases.len()) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else {
                    return;
                };
                let done = run_one(settings, binary, case, names, config);
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

/// Runs one test in its own traced process (`names`: every test of the binary).
fn run_one(
    settings: &Settings,
    binary: &TestBinary,
    case: &TestCase,
    names: &[String],
    config: &PolicyConfig,
) -> Done {
    let policy = config.resolve(&case.name);
    let allow = policy.allow_list();
    let report_name = binary.report_name();
    let unobserved = |why: String| {
        let verdict = Verdict::unobserved(why, allow.clone());
        Done::without_run(
            TestReport::new(&report_name, &case.name, Outcome::Failed, &verdict),
            Shown::default(),
        )
    };
    // A `#[leak_free(...)]` test reports its attribute's policy here as it starts; it
    // applies to the verdict on top of everything else.
    let attribute_file = match tempfile::NamedTempFile::new() {
        Ok(file) => file,
        Err(e) => return unobserved(format!("cannot create a temporary file: {e}")),
    };
    let mut args: Vec<String> = if binary.doctests {
        match doctest::alone_args(&case.name, names) {
            Ok(args) => args,
            Err(why) => return unobserved(why),
        }
    } else {
        vec![case.name.clone(), "--exact".into()]
    };
    args.extend(["--test-threads".into(), "1".into()]);
    if case.ignored {
        args.push("--ignored".into());
    }
    let started = Instant::now();
    let run = |settings: &Settings, policy: Policy| {
        let cmd = test_binary_command(
            settings,
            binary,
            &args,
            Output::Captured {
                attribute_file: attribute_file.path(),
            },
        );
        let mut attribute = None;
        let late = || {
            let read =
                read_attribute_policy(attribute_file.path())?.filter(|read| read.test == case.name);
            let late = read
                .as_ref()
                .map(|read| config.clone().merge(read.layer.clone()).resolve(&case.name));
            attribute = read;
            Ok(late)
        };
        let checked = leakcheck::check_with_late_policy(&settings.tracer, &cmd, policy, late);
        checked.map(|checked| (checked, attribute))
    };
    let mut attempt = run(settings, policy);
    // A `#[leak_free(stand-in = ...)]` test that the run's stand-in does not fit ran no
    // body: it runs again with the stand-in it asks for.
    if let Ok((_, Some(read))) = &attempt {
        if read.rerun.is_some() {
            let (settings, policy) = fitting(settings, config, read, &case.name);
            attempt = run(&settings, policy);
        }
    }
    let (checked, attribute) = match attempt {
        Ok(attempt) => attempt,
        Err(e) => return unobserved(format!("could not trace the test: {e}")),
    };
    let mut verdict = checked.verdict;
    if let Some(why) = attribute.as_ref().and_then(|read| read.rerun.as_ref()) {
        verdict.problems.push(format!(
            "the test did not run its body: {why}, even in the run made for it"
        ));
        verdict.settle();
    }
    let attribute = attribute.map(|read| config.clone().merge(read.layer).resolve(&case.name));
    let status = checked.run.status;
    let output = String::from_utf8_lossy(&checked.run.output).into_owned();
    let streams = checked.streams;
    let outcome = outcome_of(&status);
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
    entry.streams = streams;
    let own = own_failure(&case.name, &status, outcome, &output, settings.timeout);
    let shown = Shown {
        mode: libtest::mode(&output, &case.name),
        ignore_reason: None,
    };
    Done {
        entry,
        own,
        attribute,
        shown,
    }
}

/// The settings and policy of a test's run with the stand-in its attribute asks for (its
/// own, else the run's), serving the endpoints its whole policy allows.
fn fitting(
    settings: &Settings,
    config: &PolicyConfig,
    read: &AttributePolicy,
    name: &str,
) -> (Settings, Policy) {
    let merged = config.clone().merge(read.layer.clone());
    let stand_in = match &read.layer.stand_in {
        Some(_) => merged.stand_in(),
        None => settings.stand_in.clone(),
    };
    let settings = Settings {
        isolate_network: settings.isolate_network || stand_in.is_some(),
        stand_in,
        ..settings.clone()
    };
    (settings, merged.resolve(name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_entry_is_the_tests_own_output() {
        let output = "running 1 test\ntest a::b ... FAILED\n\nfailures:\n\n---- a::b stdout ----\nboom\n\n\nfailures:\n    a::b\n";
        // libtest ends the captured output with a blank line of its own.
        assert_eq!(captured_output("a::b", output), "boom\n\n");
        assert_eq!(captured_output("a::c", "whatever"), "whatever");
        let timeout = Duration::from_secs(3);
        let crashed = own_failure(
            "a::b",
            &ProgramStatus::Signaled(6),
            Outcome::Failed,
            "x",
            timeout,
        );
        assert_eq!(
            crashed.as_deref(),
            Some("process didn't exit successfully: killed by SIGABRT\nx")
        );
        let slow = own_failure(
            "a::b",
            &ProgramStatus::TimedOut,
            Outcome::TimedOut,
            "",
            timeout,
        );
        assert_eq!(
            slow.as_deref(),
            Some("test timed out after 3 s and was terminated\n")
        );
        let passed = own_failure(
            "a::b",
            &ProgramStatus::Exited(0),
            Outcome::Passed,
            "",
            timeout,
        );
        assert_eq!(passed, None);
    }
}
