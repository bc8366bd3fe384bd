//! `cargo leakcheck run -- COMMAND`: trace a whole command, the Heteronculous use.

use crate::cargo::{metadata::in_cargo_project, Workspace};
use crate::cli::RunArgs;
use crate::config::{self, ManifestLayers};
use crate::exit;
use leakcheck::policy::PolicyConfig;
use leakcheck::report::{render_verdict, Outcome, Report, TestReport};
use leakcheck::tracer::{Backend, ProgramStatus, TracedCommand};
use leakcheck::VerdictKind;
use std::path::PathBuf;
use std::time::Duration;

/// Runs the `run` subcommand; returns the exit status.
pub fn run(args: RunArgs) -> u8 {
    match try_run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            exit::SETUP
        }
    }
}

fn try_run(args: RunArgs) -> Result<u8, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    // Inside a cargo project, its metadata is the base of the policy.
    let (mut config, target_dir) = if in_cargo_project(&cwd) {
        let ws = Workspace::load(None).map_err(|e| e.to_string())?;
        let manifests = ManifestLayers::of(&ws).map_err(|e| e.to_string())?;
        (
            manifests.for_package(ws.package_at(&cwd).as_deref()),
            ws.target_dir().to_path_buf(),
        )
    } else {
        (PolicyConfig::default(), cwd.join("target"))
    };
    let heteronculous = PolicyConfig::from_env_heteronculous().map_err(|e| e.to_string())?;
    config = config.merge(heteronculous);
    config = config.merge(config::env_and_cli_layers(&args.policy)?);

    let mut command_line = args.command.into_iter();
    let program = command_line.next().ok_or("no command given after `--`")?;
    let mut cmd = TracedCommand::new(program, command_line);
    cmd.isolate_network = args.policy.isolate_network;
    let secs = args.timeout;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!(
            "--timeout {secs}: expected a positive number of seconds"
        ));
    }
    cmd.timeout = Some(Duration::from_secs_f64(secs));
    cmd.keep_leftovers = args.keep_leftovers;
    let display = cmd.display();
    let policy = config.resolve(&display);
    let tracer = Backend::select(args.policy.tracer.as_deref()).map_err(|e| e.to_string())?;

    eprintln!(
        "leakcheck: tracing `{display}`{}",
        if cmd.isolate_network {
            " in an isolated network namespace"
        } else {
            ""
        }
    );
    let checked = leakcheck::check(&tracer, &cmd, policy).map_err(|e| e.to_string())?;
    let verdict = &checked.verdict;
    let status = &checked.run.status;
    eprintln!("leakcheck: `{display}` finished: {status}");
    eprint!("{}", render_verdict(verdict, "leakcheck: "));

    let outcome = match status {
        ProgramStatus::TimedOut => Outcome::TimedOut,
        s if s.success() => Outcome::Passed,
        _ => Outcome::Failed,
    };
    let binary = PathBuf::from(&cmd.program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut entry = TestReport::new(&binary, &display, outcome, verdict);
    entry.duration_ms = Some(checked.run.duration.as_millis() as u64);
    let report = Report {
        tests: vec![entry],
        ..Report::default()
    };
    let report_path = args
        .policy
        .report
        .unwrap_or_else(|| target_dir.join("leakcheck").join("report.json"));
    report
        .write(&report_path)
        .map_err(|e| format!("cannot write the report to {}: {e}", report_path.display()))?;
    eprintln!("leakcheck: report written to {}", report_path.display());
    crate::github::emit(&report);

    Ok(if verdict.verdict != VerdictKind::Clean {
        exit::LEAKED
    } else if outcome != Outcome::Passed && !args.policy.leaks_only {
        exit::TEST_FAILED
    } else {
        exit::CLEAN
    })
}
