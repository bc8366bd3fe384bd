//! `cargo leakcheck run -- COMMAND`: trace a whole command, the Heteronculous use.

use super::context::{outcome_of, TraceOptions};
use crate::cargo::metadata::{in_cargo_project, Workspace};
use crate::error::Error;
use crate::policy_layers::{self, ManifestLayers, PolicyOptions};
use crate::reporter::{Event, Reporter, ReporterOptions};
use leakcheck::policy::PolicyConfig;
use leakcheck::report::TestReport;
use leakcheck::tracer::{Backend, TracedCommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// `cargo leakcheck run [options] -- COMMAND ARGS...`.
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// The policy given on the command line.
    pub policy: PolicyOptions,
    /// How to trace.
    pub trace: TraceOptions,
    /// `--timeout`: when the command and everything it started are terminated.
    pub timeout: Duration,
    /// `--keep-leftovers`: trace what the command leaves running until it ends.
    pub keep_leftovers: bool,
    /// The command line (never empty).
    pub command: Vec<OsString>,
}

/// Runs the `run` subcommand; returns the exit status.
pub fn run(options: CommandOptions, output: ReporterOptions) -> Result<u8, Error> {
    let mut reporter = Reporter::for_command(output);
    let cwd = std::env::current_dir().map_err(Error::CurrentDir)?;
    // Inside a cargo project, its metadata is the base of the policy, and the findings'
    // locations name the workspace's files; elsewhere those of the current directory.
    let (mut config, target_dir, root) = if in_cargo_project(&cwd) {
        let ws = Workspace::load(None)?;
        let manifests = ManifestLayers::of(&ws)?;
        (
            manifests.for_package(ws.package_at(&cwd).as_deref()),
            ws.target_dir().to_path_buf(),
            ws.root().to_path_buf(),
        )
    } else {
        (PolicyConfig::default(), cwd.join("target"), cwd.clone())
    };
    config = config.merge(policy_layers::heteronculous_layer()?);
    config = config.merge(policy_layers::env_and_cli_layers(&options.policy)?);

    let mut command_line = options.command.into_iter();
    let program = command_line
        .next()
        .ok_or_else(|| Error::Usage("no command given after `--`".to_string()))?;
    let mut cmd = TracedCommand::new(program, command_line);
    cmd.isolate_network = options.trace.isolate_network;
    cmd.stand_in = options.trace.stand_in.clone();
    cmd.timeout = Some(options.timeout);
    cmd.keep_leftovers = options.keep_leftovers;
    cmd.workspace = Some(root);
    let display = cmd.display();
    let policy = config.resolve(&display);
    let tracer = Backend::select(options.trace.tracer.as_deref())
        .map_err(|e| Error::Tracer(e.to_string()))?;

    reporter.report(Event::CommandStarted {
        command: &display,
        isolated: cmd.isolate_network,
    });
    let checked =
        leakcheck::check(&tracer, &cmd, policy).map_err(|e| Error::Trace(e.to_string()))?;
    let status = &checked.run.status;
    let binary = PathBuf::from(&cmd.program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut entry = TestReport::new(&binary, &display, outcome_of(status), &checked.verdict);
    entry.duration_ms = Some(checked.run.duration.as_millis() as u64);
    entry.streams = checked.streams;
    reporter.report(Event::CommandFinished {
        command: &display,
        status,
        entry,
    });
    reporter.finish(&target_dir.join("leakcheck").join("report.json"))
}
