//! Command-line parsing and dispatch.

use crate::exit;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// Turns proxy leaks into failing tests.
#[derive(Debug, Parser)]
#[command(
    name = "cargo leakcheck",
    bin_name = "cargo leakcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 clean; 1 a leak or an unverified verdict; 101 tests failed but nothing leaked; 2 usage, configuration or setup error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trace any command as a whole (e.g. `cargo leakcheck run -- ./run_tests.sh`).
    Run(RunArgs),
}

/// Options shared by every way of running.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// Allow an endpoint: IP:PORT, [IPV6]:PORT, CIDR:PORT, PORT may be N, N-M or *;
    /// unix:PATH or unix:@NAME. Repeat or separate with commas.
    #[arg(long = "allow", value_name = "ENDPOINT", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Run in a fresh network namespace (loopback only): leaks are seen but cannot leave.
    #[arg(long)]
    pub isolate_network: bool,
    /// Where to write the JSON report [default: target/leakcheck/report.json].
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// A failing command or test does not fail the run; only leaks do.
    #[arg(long)]
    pub leaks_only: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Terminate the command after this many seconds (its verdict is then unverified).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// The command to trace, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Parses arguments and runs; returns the process exit status.
pub fn main(args: Vec<OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::SETUP
            } else {
                exit::CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Some(Command::Run(args)) => crate::run_cmd::run(args),
        None => {
            eprintln!("error: `cargo leakcheck` without `run` is not available yet; use `cargo leakcheck run -- COMMAND`");
            exit::SETUP
        }
    }
}
