//! `cargo leakcheck [cargo test options] [TESTNAME] [-- libtest options]`: build, plan,
//! run every binary, report.

use super::context::{Settings, TraceOptions};
use super::select::{Partition, Selection};
use super::{binary, plan};
use crate::cargo::{self, BuildOptions, Workspace};
use crate::error::Error;
use crate::policy_layers::{self, ManifestLayers, PolicyOptions};
use crate::reporter::{Event, Reporter, ReporterOptions};
use leakcheck::tracer::Backend;
use std::time::Duration;

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

/// `RUST_TEST_THREADS`, as libtest reads it (a flag overrides it).
fn env_test_threads() -> Option<usize> {
    std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
}

/// Tests at once when nobody said: one more than the cores. Each test thread and each
/// run of its own waits on the tracer as it starts (a stop when it is created, one when
/// it names itself), and meanwhile its core would idle; the one more keeps the cores
/// busy (measured: a CPU-bound suite's batch 178 → 152 ms on 2 cores; 4 threads, 157).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) + 1
}

/// Whether there is a manifest for cargo to build: the one given, or a `Cargo.toml` in
/// the current directory or above it, where cargo looks.
fn has_manifest(manifest_path: Option<&std::path::Path>) -> bool {
    match manifest_path {
        Some(path) => path.is_file(),
        None => std::env::current_dir()
            .is_ok_and(|dir| dir.ancestors().any(|d| d.join("Cargo.toml").is_file())),
    }
}

/// Runs one planned binary with its package's stand-in, telling the reporter.
fn run_binary(
    settings: &Settings,
    planned: &plan::PlannedBinary,
    batch_mode: bool,
    reporter: &mut Reporter,
) {
    let settings = settings.for_config(&planned.config);
    binary::run(&settings, planned, batch_mode, &mut |event| {
        reporter.report(event)
    });
}

/// Runs `cargo leakcheck`; returns the exit status.
pub fn run(options: TestOptions, output: ReporterOptions) -> Result<u8, Error> {
    let mut reporter = Reporter::for_tests(output);
    // The build starts first and runs while the workspace and the policy are read
    // (cargo's freshness check is most of a warm run's fixed cost); a configuration or
    // setup error found meanwhile stops it, before cargo has much to say.
    // Without a manifest to build, only `cargo metadata` runs: its error says it once.
    let manifest = options.build.manifest_path.as_deref();
    let build = if has_manifest(manifest) {
        Some(cargo::build::start(&options.build)?)
    } else {
        None
    };
    let ws = match Workspace::load(manifest) {
        Ok(ws) => ws,
        Err(mut error) => {
            if build.is_some_and(cargo::build::Build::failed_too) {
                error.stderr = "cargo said why, above".into();
            }
            return Err(error.into());
        }
    };
    crate::timings::mark("start, and cargo metadata beside the build");
    let manifests = ManifestLayers::of(&ws)?;
    let top_layer = policy_layers::env_and_cli_layers(&options.policy)?;
    let tracer = Backend::select(options.trace.tracer.as_deref())
        .map_err(|e| Error::Tracer(e.to_string()))?;
    let build = match build {
        Some(build) => build,
        None => cargo::build::start(&options.build)?,
    };
    let binaries = build.finish(&options.build, &ws)?;
    crate::timings::mark("the rest of cargo test --no-run");
    let threads = options
        .test_threads
        .or(options.selection.test_threads)
        .or_else(env_test_threads)
        .unwrap_or_else(default_threads)
        .max(1);
    let settings = Settings {
        tracer,
        isolate_network: options.trace.isolate_network,
        stand_in: options.trace.stand_in.clone(),
        timeout: options.timeout,
        threads,
        workspace: ws.root().to_path_buf(),
    };
    // A partition's part of a binary is no whole binary: its batch would run the rest.
    let batch_mode = !options.per_test && options.partition.is_none();
    // Doctests run last, and listing them is a rustdoc run of its own: it goes on in the
    // background while the test binaries run (a partition numbers tests over every
    // binary in order, so then everything is listed first).
    let (tests, doctests): (Vec<_>, Vec<_>) = if options.partition.is_some() {
        (binaries, Vec::new())
    } else {
        binaries.into_iter().partition(|b| !b.doctests)
    };
    let plan_of = |binaries| {
        plan::plan(
            &settings,
            binaries,
            &options.selection,
            options.partition,
            &manifests,
            &top_layer,
        )
    };
    let plan = std::thread::scope(|scope| -> Result<Vec<plan::PlannedBinary>, Error> {
        let doc_plan = (!doctests.is_empty()).then(|| scope.spawn(|| plan_of(doctests)));
        let mut plan = plan_of(tests)?;
        let run_all = |plan: &[plan::PlannedBinary], reporter: &mut Reporter| {
            for planned in plan {
                run_binary(&settings, planned, batch_mode, reporter);
            }
        };
        run_all(&plan, &mut reporter);
        if let Some(doc_plan) = doc_plan {
            let docs = doc_plan.join().map_err(|_| {
                Error::List("listing the doctests failed: its thread panicked".into())
            })??;
            run_all(&docs, &mut reporter);
            plan.extend(docs);
        }
        Ok(plan)
    })?;
    for (index, finding) in super::isolation::shared(reporter.tests(), &plan) {
        let entry = &reporter.tests()[index];
        let test = format!("{} {}", entry.binary, entry.name);
        reporter.report(Event::Amended {
            index,
            test,
            finding,
        });
    }
    reporter.finish(&ws.target_dir().join("leakcheck").join("report.json"))
}
