//! `cargo leakcheck wrap -- BINARY ARGS...`: the one test process a runner starts
//! (cargo-nextest's wrapper script, see [`crate::nextest`]), traced and judged under the
//! policy of its package and test, so that a leak fails that test in the runner's own
//! output.
//!
//! nextest runs the wrapper as `WRAPPER BINARY --exact NAME --nocapture` (and
//! `WRAPPER BINARY --list --format terse [--ignored]` to list), with the test's name in
//! `NEXTEST_TEST_NAME`, its binary's in `NEXTEST_BINARY_ID`, and cargo's variables
//! (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`). The test's output is the runner's: it is
//! not captured. The wrapper ends as the test did (its exit code; a signal that killed
//! the test is raised again, so the runner reports that signal), except that a leak or
//! an unverified verdict ends it with 1 and the report on stderr.

use super::context::{outcome_of, TraceOptions};
use crate::cargo::Workspace;
use crate::error::Error;
use crate::exit;
use crate::policy_layers::{self, ManifestLayers, PolicyOptions};
use crate::reporter::{Event, Reporter, ReporterOptions};
use leakcheck::leak_free::{
    read_attribute_policy, ATTRIBUTE_POLICY_ENV, ISOLATE_ENV, STAND_IN_ENV, TRACED_ENV,
};
use leakcheck::policy::PolicyConfig;
use leakcheck::report::TestReport;
use leakcheck::tracer::{Backend, ProgramStatus, TracedCommand};
use leakcheck::Verdict;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `cargo leakcheck wrap [options] -- BINARY ARGS...`.
#[derive(Debug, Clone)]
pub struct WrapOptions {
    /// The policy given on the command line.
    pub policy: PolicyOptions,
    /// How to trace (`--isolate-network`; `LEAKCHECK_ISOLATE_NETWORK=1` too).
    pub trace: TraceOptions,
    /// `--timeout`: when the test and everything it started are terminated.
    pub timeout: Duration,
    /// The test process's command line (never empty).
    pub command: Vec<OsString>,
}

/// The test a runner asked for, from its environment and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WrappedTest {
    /// The test's name; empty for a `--list` run or a command that names no test.
    name: String,
    /// The test binary, as the report names it: nextest's binary id, else the file name.
    binary: String,
    /// The test's package, whose policy applies.
    package: Option<String>,
    /// The package's directory (`CARGO_MANIFEST_DIR`).
    manifest_dir: Option<PathBuf>,
}

impl WrappedTest {
    fn new(command: &[OsString], env: impl Fn(&str) -> Option<String>) -> WrappedTest {
        let args: Vec<String> = command
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let listing = env("NEXTEST_TEST_PHASE").as_deref() == Some("list")
            || args.iter().any(|a| a == "--list");
        // nextest names the test in the environment; another runner in libtest's
        // arguments (`--exact NAME`); else the command line names it.
        let name = if listing {
            String::new()
        } else {
            env("NEXTEST_TEST_NAME")
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    args.iter()
                        .any(|a| a == "--exact")
                        .then(|| args.iter().find(|a| !a.starts_with('-')).cloned())
                        .flatten()
                })
                .unwrap_or_default()
        };
        let binary = env("NEXTEST_BINARY_ID")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| {
                command
                    .first()
                    .and_then(|p| Path::new(p).file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        WrappedTest {
            name,
            binary,
            package: env("CARGO_PKG_NAME").filter(|p| !p.is_empty()),
            manifest_dir: env("CARGO_MANIFEST_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// Runs `cargo leakcheck wrap`; returns the exit status (or raises the test's signal).
pub fn run(options: WrapOptions, output: ReporterOptions) -> Result<u8, Error> {
    let test = WrappedTest::new(&options.command, |k| std::env::var(k).ok());
    let manifest = test
        .manifest_dir
        .as_ref()
        .map(|d| d.join("Cargo.toml"))
        .filter(|m| m.is_file());
    // The package's metadata, when the test runs from its sources.
    let workspace = manifest
        .as_deref()
        .map(|m| Workspace::load(Some(m)))
        .transpose()?;
    let mut config = match &workspace {
        Some(ws) => ManifestLayers::of(ws)?.for_package(test.package.as_deref()),
        None => PolicyConfig::default(),
    };
    config = config.merge(policy_layers::env_and_cli_layers(&options.policy)?);
    let tracer = Backend::select(options.trace.tracer.as_deref())
        .map_err(|e| Error::Tracer(e.to_string()))?;

    let mut command = options.command.into_iter();
    let program = command
        .next()
        .ok_or_else(|| Error::Usage("no test command given after `--`".to_string()))?;
    let mut cmd = TracedCommand::new(program, command);
    let attribute_file = tempfile::NamedTempFile::new()
        .map_err(|e| Error::Trace(format!("cannot create a temporary file: {e}")))?;
    cmd.env.push((TRACED_ENV.into(), "1".into()));
    cmd.env
        .push((ATTRIBUTE_POLICY_ENV.into(), attribute_file.path().into()));
    // No stand-in, unless the run gets one: then the tracer says which.
    cmd.env.push((STAND_IN_ENV.into(), "off".into()));
    // `--stand-in`, else `stand-in = ...` in the package's metadata.
    cmd.stand_in = options.trace.stand_in.clone().or_else(|| config.stand_in());
    cmd.isolate_network = options.trace.isolate_network
        || cmd.stand_in.is_some()
        || std::env::var_os(ISOLATE_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    cmd.timeout = Some(options.timeout);
    // The test's own workspace; else the one around the directory nextest runs it in.
    cmd.workspace = workspace.as_ref().map(|ws| ws.root().to_path_buf());
    let display = cmd.display();
    let name = if test.name.is_empty() {
        display.clone()
    } else {
        test.name.clone()
    };

    // A `#[leak_free(...)]` test reports its attribute's policy as it starts.
    let run = |cmd: &TracedCommand, policy| {
        let mut attribute = None;
        let late = || {
            let read =
                read_attribute_policy(attribute_file.path())?.filter(|read| read.test == test.name);
            let late = read
                .as_ref()
                .map(|read| config.clone().merge(read.layer.clone()).resolve(&name));
            attribute = read;
            Ok(late)
        };
        leakcheck::check_with_late_policy(&tracer, cmd, policy, late)
            .map(|checked| (checked, attribute))
    };
    let mut attempt = run(&cmd, config.resolve(&name));
    // A `#[leak_free(stand-in = ...)]` test that this stand-in does not fit ran no body:
    // it runs again with the one it asks for.
    if let Ok((_, Some(read))) = &attempt {
        if read.rerun.is_some() {
            let merged = config.clone().merge(read.layer.clone());
            if read.layer.stand_in.is_some() {
                cmd.stand_in = merged.stand_in();
            }
            cmd.isolate_network |= cmd.stand_in.is_some();
            attempt = run(&cmd, merged.resolve(&name));
        }
    }
    let (verdict, status, duration, streams) = match attempt {
        Ok((checked, attribute)) => {
            let mut verdict = checked.verdict;
            if let Some(why) = attribute.and_then(|read| read.rerun) {
                verdict.problems.push(format!(
                    "the test did not run its body: {why}, even in the run made for it"
                ));
                verdict.settle();
            }
            let run = checked.run;
            (verdict, run.status, run.duration, checked.streams)
        }
        Err(e) => {
            let why = format!("could not trace the test: {e}");
            let allow = config.resolve(&name).allow_list();
            (
                Verdict::unobserved(why, allow),
                ProgramStatus::Exited(exit::LEAKED.into()),
                Duration::ZERO,
                Vec::new(),
            )
        }
    };
    let mut entry = TestReport::new(&test.binary, &name, outcome_of(&status), &verdict);
    entry.duration_ms = Some(duration.as_millis() as u64);
    entry.streams = streams;

    let mut reporter = Reporter::for_wrap(output);
    reporter.report(Event::WrapFinished { entry });
    let target = workspace.as_ref().map_or_else(
        || std::env::current_dir().unwrap_or_default().join("target"),
        |ws| ws.target_dir().to_path_buf(),
    );
    let report = default_report(&target, &test.binary, &name);
    let code = reporter.finish(&report)?;
    Ok(match code {
        exit::LEAKED => exit::LEAKED,
        // --leaks-only: a failing test does not fail.
        exit::CLEAN if !status.success() => exit::CLEAN,
        _ => match status {
            ProgramStatus::Exited(code) => u8::try_from(code).unwrap_or(1),
            ProgramStatus::Signaled(signal) => raise(signal),
            ProgramStatus::TimedOut => exit::LEAKED,
        },
    })
}

/// Where a wrapped test's report goes by default: one file per test,
/// `target/leakcheck/nextest/BINARY/NAME.json` (tests run in processes of their own, and
/// at once).
fn default_report(target: &Path, binary: &str, name: &str) -> PathBuf {
    target
        .join("leakcheck")
        .join("nextest")
        .join(file_name(binary))
        .join(format!("{}.json", file_name(name)))
}

/// A name as a file name: `/` and NUL escaped, a leading dot too, and a name too long for
/// a file system shortened with a hash of the whole.
fn file_name(name: &str) -> String {
    let mut out = name
        .replace('%', "%25")
        .replace('/', "%2F")
        .replace('\0', "%00");
    if out.starts_with('.') {
        out.replace_range(..1, "%2E");
    }
    const MAX: usize = 200;
    if out.len() > MAX {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let mut cut = MAX - 17;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}-{hash:016x}", &out[..cut]);
    }
    out
}

/// Ends this process with the signal that killed the test, as a shell does not but the
/// runner expects (nextest reports `SIGSEGV`, `SIGABRT`...): its default action is
/// restored, it is unblocked and raised. If it does not end the process (a signal whose
/// default is to be ignored), the status is a shell's: 128 + the signal.
fn raise(signal: i32) -> u8 {
    use nix::sys::signal::{self as sig, SigHandler, SigSet, Signal};
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if let Ok(signal) = Signal::try_from(signal) {
        // SAFETY: SIG_DFL installs no handler; nothing else in this process depends on
        // the disposition, and the process is about to end.
        let _ = unsafe { sig::signal(signal, SigHandler::SigDfl) };
        let mut set = SigSet::empty();
        set.add(signal);
        let _ = set.thread_unblock();
        let _ = sig::raise(signal);
    }
    u8::try_from(128 + signal.clamp(0, 127)).unwrap_or(255)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn wrapped(command: &[&str], env: &[(&str, &str)]) -> WrappedTest {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let command: Vec<OsString> = command.iter().map(OsString::from).collect();
        WrappedTest::new(&command, |k| env.get(k).cloned())
    }

    #[test]
    fn the_test_is_what_nextest_says() {
        let env = [
            ("NEXTEST_TEST_NAME", "tests::udp_leak"),
            ("NEXTEST_BINARY_ID", "fixture::net"),
            ("NEXTEST_TEST_PHASE", "run"),
            ("CARGO_PKG_NAME", "fixture"),
            ("CARGO_MANIFEST_DIR", "/w/fixture"),
        ];
        let test = wrapped(
            &["/t/deps/net-1", "--exact", "tests::udp_leak", "--nocapture"],
            &env,
        );
        assert_eq!(
            test,
            WrappedTest {
                name: "tests::udp_leak".into(),
                binary: "fixture::net".into(),
                package: Some("fixture".into()),
                manifest_dir: Some("/w/fixture".into()),
            }
        );
        // Another runner: the name from the arguments, the binary's file name.
        let test = wrapped(&["/t/deps/net-1", "--exact", "a::b"], &[]);
        assert_eq!(
            (test.name.as_str(), test.binary.as_str()),
            ("a::b", "net-1")
        );
        // A list run has no test.
        let listing = wrapped(&["/t/deps/net-1", "--list", "--format", "terse"], &env[1..]);
        assert_eq!(listing.name, "");
    }

    #[test]
    fn reports_are_one_file_per_test() {
        let path = default_report(Path::new("/t"), "fixture::net", "tests::a/b");
        assert_eq!(
            path,
            Path::new("/t/leakcheck/nextest/fixture::net/tests::a%2Fb.json")
        );
        let long = file_name(&"x".repeat(300));
        assert_eq!(long.len(), 200);
        assert_ne!(long, file_name(&"x".repeat(301)));
        assert_eq!(file_name(".hidden"), "%2Ehidden");
    }
}
