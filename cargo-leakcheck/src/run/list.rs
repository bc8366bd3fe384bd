//! Listing a test binary's tests: `BINARY --list`, traced like the tests themselves.

use super::context::Settings;
use super::select::{Selection, TestCase};
use super::test_command::{test_binary_command, Output};
use crate::cargo::TestBinary;
use crate::error::Error;
use leakcheck::judge::Judge;
use leakcheck::tracer::ProgramStatus;
use leakcheck::Policy;
use std::time::Duration;

/// How long listing a library's doctests may take at least, whatever `--timeout` says.
const DOCTEST_LIST_TIMEOUT: Duration = Duration::from_secs(300);

/// What listing a binary found: the tests that pass the filters (ignored ones included
/// and marked), how many were filtered out, and the list runs' judges.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The selected tests, in the binary's order.
    pub cases: Vec<TestCase>,
    /// How many tests the filters left out.
    pub filtered_out: usize,
    /// Every test the binary lists, selected or not (a doctest run alone must skip the
    /// others by name).
    pub names: Vec<String>,
    /// The unfinished judges of the `--list` runs (traced like any test process). What
    /// they saw belongs to every test of the binary: a static initializer runs in each
    /// test's process as in the list runs. Finish each under a test's own policy.
    pub judges: Vec<Judge>,
}

/// Lists the tests of `binary` that pass the filters (ignored ones included and marked),
/// running `BINARY --list` as its tests will run (same tracer, environment, working
/// directory and network isolation, killed after the timeout) and judging it under
/// `policy`.
pub fn list(
    settings: &Settings,
    binary: &TestBinary,
    selection: &Selection,
    policy: &Policy,
) -> Result<Listing, Error> {
    let run = |ignored| list_names(settings, binary, ignored, policy);
    let (all, all_judge) = run(false)?;
    let mut judges = vec![all_judge];
    // A binary without tests has no ignored ones (a library without doctests is common):
    // the second run would tell nothing.
    let ignored = if all.is_empty() {
        Vec::new()
    } else {
        let (ignored, ignored_judge) = run(true)?;
        judges.push(ignored_judge);
        ignored
    };
    let total = all.len();
    let names = all.clone();
    let cases: Vec<TestCase> = all
        .into_iter()
        .map(|name| TestCase {
            ignored: ignored.contains(&name),
            name,
        })
        .filter(|case| selection.selects(case))
        .collect();
    let filtered_out = total - cases.len();
    Ok(Listing {
        cases,
        filtered_out,
        names,
        judges,
    })
}

fn list_names(
    settings: &Settings,
    binary: &TestBinary,
    ignored: bool,
    policy: &Policy,
) -> Result<(Vec<String>, Judge), Error> {
    let mut args = vec!["--list", "--format", "terse"];
    if ignored {
        args.push("--ignored");
    }
    let mut cmd = test_binary_command(settings, binary, args, Output::StdoutOnly);
    if binary.doctests {
        // cargo builds the library first (`cargo test --no-run` builds only its unit
        // tests): that is no test to hold to a test's --timeout.
        cmd.timeout = cmd.timeout.map(|t| t.max(DOCTEST_LIST_TIMEOUT));
    }
    let (judge, run) = leakcheck::trace(&settings.tracer, &cmd, policy.clone())
        .map_err(|e| Error::List(format!("cannot trace `{}`: {e}", cmd.display())))?;
    if !run.status.success() {
        let hint = if binary.doctests {
            "(hint: `cargo test --doc` shows the same)".to_string()
        } else {
            failure_hint(&run.status, settings.timeout)
        };
        return Err(Error::List(format!(
            "`{}` failed ({}); its messages are above\n{hint}",
            cmd.display(),
            run.status,
        )));
    }
    let text = String::from_utf8_lossy(&run.output);
    let mut names = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_suffix(": test") {
            names.push(name.to_string());
        } else if line.ends_with(": benchmark") || line.trim().is_empty() {
            continue;
        } else {
            return Err(Error::List(format!(
                "`{}` printed an unexpected line: {line:?}\n(hint: a test target with `harness = false` must list its tests as libtest does, e.g. with libtest-mimic)",
                cmd.display()
            )));
        }
    }
    Ok((names, judge))
}

/// Why a `--list` run that ended with `status` may have failed.
fn failure_hint(status: &ProgramStatus, timeout: Duration) -> String {
    match status {
        ProgramStatus::TimedOut => format!(
            "(hint: listing the tests must finish within --timeout ({} s))",
            timeout.as_secs_f64()
        ),
        // The dynamic loader's status (and a shell's) for a program it could not start.
        ProgramStatus::Exited(127) => "(hint: exit status 127: the program could not be started; a shared library it needs may be missing, see the loader's message above)".to_string(),
        _ => "(hint: a test target with `harness = false` must accept libtest's --list, e.g. by using libtest-mimic)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_failure_hints_fit_the_failure() {
        let timeout = Duration::from_secs(5);
        let loader = failure_hint(&ProgramStatus::Exited(127), timeout);
        assert!(loader.contains("shared library"), "{loader}");
        assert!(!loader.contains("harness"), "{loader}");
        let harness = failure_hint(&ProgramStatus::Exited(101), timeout);
        assert!(harness.contains("harness = false"), "{harness}");
        let slow = failure_hint(&ProgramStatus::TimedOut, timeout);
        assert!(slow.contains("--timeout (5 s)"), "{slow}");
    }
}
