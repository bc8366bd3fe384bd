//! What every traced run of a test run shares, and how a process's end is read.

use leakcheck::report::Outcome;
use leakcheck::tracer::{Backend, ProgramStatus};
use std::time::Duration;

/// How to trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// `--isolate-network`: a fresh network namespace, loopback only.
    pub isolate_network: bool,
    /// `--tracer native|strace` (else `LEAKCHECK_TRACER`, else the default).
    pub tracer: Option<String>,
    /// `--stand-in[=MODE]`: a stand-in proxy on the allowed endpoints.
    pub stand_in: Option<leakcheck::standin::Plan>,
}

/// What every traced run of a test binary shares; read by the worker threads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The tracer.
    pub tracer: Backend,
    /// Whether each process runs in a network namespace of its own.
    pub isolate_network: bool,
    /// The stand-in proxy each traced run gets, if any.
    pub stand_in: Option<leakcheck::standin::Plan>,
    /// When a process is terminated.
    pub timeout: Duration,
    /// Tests run at once (and the batch run's `--test-threads`).
    pub threads: usize,
    /// The workspace root: the findings' locations name its files.
    pub workspace: std::path::PathBuf,
}

impl Settings {
    /// The settings of one binary's runs under its policy layers: `stand-in = ...` in
    /// its package's metadata, unless the command line chose.
    pub fn for_config(&self, config: &leakcheck::policy::PolicyConfig) -> Settings {
        let stand_in = self.stand_in.clone().or_else(|| config.stand_in());
        Settings {
            isolate_network: self.isolate_network || stand_in.is_some(),
            stand_in,
            ..self.clone()
        }
    }
}

/// A test's (or a command's) own result, from how its process ended.
pub fn outcome_of(status: &ProgramStatus) -> Outcome {
    match status {
        ProgramStatus::TimedOut => Outcome::TimedOut,
        s if s.success() => Outcome::Passed,
        _ => Outcome::Failed,
    }
}
