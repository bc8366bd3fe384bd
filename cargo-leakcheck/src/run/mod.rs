//! The test runner: plans a run, traces the tests, decides their verdicts, and tells the
//! reporter ([`crate::reporter`]) through [`crate::reporter::Event`]s.
//!
//! `cargo leakcheck` builds the tests ([`crate::cargo`]), [`plan`]s the run (listing
//! every binary with [`list`], choosing with [`select`]), then runs each [`binary`]:
//! its [`batch`] trace, the tests run alone by [`single`], what [`merge`]s into a
//! verdict; every test process starts from the one [`test_command`].
//! `cargo leakcheck run -- COMMAND` traces one [`command`].

pub mod batch;
pub mod binary;
pub mod command;
pub mod list;
pub mod merge;
pub mod plan;
pub mod select;
pub mod single;
pub mod test_command;

use crate::cargo::{self, BuildOptions, Workspace};
use crate::error::Error;
use crate::policy_layers::{self, ManifestLayers, PolicyOptions};
use crate::reporter::{Reporter, ReporterOptions};
use leakcheck::report::Outcome;
use leakcheck::tracer::{Backend, ProgramStatus};
use select::{Partition, Selection};
use std::time::Duration;

/// How to trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// `--isolate-network`: a fresh network namespace, loopback only.
    pub isolate_network: bool,
    /// `--tracer native|strace` (else `LEAKCHECK_TRACER`, else the default).
    pub tracer: Option<String>,
}

/// `cargo leakcheck [cargo test options] [TESTNAME] [-- libtest options]`.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// What to build.
    pub build: BuildOptions,
    /// The policy given on the command line.
    pub policy: PolicyOptions,
    /// How to trace.
    pub trace: TraceOptions,
    /// Which tests run (`TESTNAME` and the libtest options).
    pub selection: Selection,
    /// `--partition`: which part of them.
    pub partition: Option<Partition>,
    /// `--per-test`: every test in its own traced process from the start.
    pub per_test: bool,
    /// `--test-threads N` (before `--`).
    pub test_threads: Option<usize>,
    /// `--timeout`: how long one traced process may run.
    pub timeout: Duration,
}

/// What every traced run of a test binary shares; read by the worker threads.
#[derive(Debug)]
pub struct Settings {
    /// The tracer.
    pub tracer: Backend,
    /// Whether each process runs in a network namespace of its own.
    pub isolate_network: bool,
    /// When a process is terminated.
    pub timeout: Duration,
    /// Tests run at once (and the batch run's `--test-threads`).
    pub threads: usize,
}

/// Runs `cargo leakcheck`; returns the exit status.
pub fn tests(options: TestOptions, output: ReporterOptions) -> Result<u8, Error> {
    let mut reporter = Reporter::for_tests(output);
    // Configuration and setup errors come before the build, so that they are not lost
    // in cargo's output and cost nothing.
    let ws = Workspace::load(options.build.manifest_path.as_deref())?;
    let manifests = ManifestLayers::of(&ws)?;
    let top_layer = policy_layers::env_and_cli_layers(&options.policy)?;
    let tracer = Backend::select(options.trace.tracer.as_deref())
        .map_err(|e| Error::Tracer(e.to_string()))?;
    let binaries = cargo::build::build(&options.build, &ws)?;
    let threads = options
        .test_threads
        .or(options.selection.test_threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let settings = Settings {
        tracer,
        isolate_network: options.trace.isolate_network,
        timeout: options.timeout,
        threads,
    };
    let plan = plan::plan(
        &settings,
        binaries,
        &options.selection,
        options.partition,
        &manifests,
        &top_layer,
    )?;
    // A partition's part of a binary is no whole binary: its batch would run the rest.
    let batch_mode = !options.per_test && options.partition.is_none();
    for planned in &plan {
        binary::run(
            &settings,
            planned,
            &options.selection,
            batch_mode,
            &mut |event| reporter.report(event),
        );
    }
    reporter.finish(&ws.target_dir().join("leakcheck").join("report.json"))
}

/// A test's (or a command's) own result, from how its process ended.
pub fn outcome_of(status: &ProgramStatus) -> Outcome {
    match status {
        ProgramStatus::TimedOut => Outcome::TimedOut,
        s if s.success() => Outcome::Passed,
        _ => Outcome::Failed,
    }
}
