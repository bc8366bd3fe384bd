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

/// Runs `cargo leakcheck`; returns the exit status.
pub fn run(options: TestOptions, output: ReporterOptions) -> Result<u8, Error> {
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
        stand_in: options.trace.stand_in.clone(),
        timeout: options.timeout,
        threads,
        workspace: ws.root().to_path_buf(),
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
        // `stand-in = true` in a package's metadata, unless the command line chose.
        let stand_in = settings
            .stand_in
            .clone()
            .or_else(|| planned.config.stand_in());
        let settings = Settings {
            isolate_network: settings.isolate_network || stand_in.is_some(),
            stand_in,
            ..settings.clone()
        };
        binary::run(&settings, planned, batch_mode, &mut |event| {
            reporter.report(event)
        });
    }
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
