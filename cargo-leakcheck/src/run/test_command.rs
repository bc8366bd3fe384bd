//! The one command line a test binary runs with, whatever the run is for (`--list`, the
//! batch, one test alone): as `cargo test` would run it, under the tracer.

use super::context::Settings;
use crate::cargo::TestBinary;
use leakcheck::leak_free::{ATTRIBUTE_POLICY_ENV, STAND_IN_ENV, TRACED_ENV};
use leakcheck::tracer::TracedCommand;
use std::ffi::OsString;
use std::path::Path;

/// What becomes of the test binary's output, and whether it may report a
/// `#[leak_free(...)]` attribute's policy.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    /// `--list`: its stdout is read; its stderr is the user's (a failing list run's
    /// messages are for them).
    StdoutOnly,
    /// A test run: stdout and stderr captured, for the `failures:` entry; a
    /// `#[leak_free(...)]` test reports its attribute's policy to `attribute_file`.
    Captured {
        /// Where the attribute's policy goes.
        attribute_file: &'a Path,
    },
}

/// `binary ARGS` in its package's directory with cargo's environment, marked as traced
/// (so that `#[leak_free]` does not trace again, and knows which stand-in proxy it has),
/// isolated and timed out as the run says.
/// For doctests, `cargo test --doc ... -- ARGS`: a test run gets libtest's pretty lines
/// (its modes, `- compile`, are read from them) where cargo's `--quiet` would make them
/// terse.
pub fn test_binary_command<S: Into<OsString>>(
    settings: &Settings,
    binary: &TestBinary,
    args: impl IntoIterator<Item = S>,
    output: Output,
) -> TracedCommand {
    let mut all: Vec<OsString> = binary.args.iter().map(OsString::from).collect();
    if binary.doctests && matches!(output, Output::Captured { .. }) {
        all.extend(["--format".into(), "pretty".into()]);
    }
    all.extend(args.into_iter().map(Into::into));
    let mut cmd = TracedCommand::new(&binary.path, all);
    cmd.env = binary.env.clone();
    cmd.env.push((TRACED_ENV.into(), "1".into()));
    match output {
        Output::StdoutOnly => cmd.stdout_only = true,
        Output::Captured { attribute_file } => {
            cmd.env
                .push((ATTRIBUTE_POLICY_ENV.into(), attribute_file.into()));
            // No stand-in, unless the run gets one: then the tracer says which.
            cmd.env.push((STAND_IN_ENV.into(), "off".into()));
            cmd.capture_output = true;
        }
    }
    // cargo runs a test binary in its package's directory; cargo itself, for doctests,
    // runs where the user ran us (its configuration and relative paths are found there).
    if !binary.doctests {
        cmd.cwd = Some(binary.manifest_dir.clone());
    }
    cmd.isolate_network = settings.isolate_network;
    cmd.workspace = Some(settings.workspace.clone());
    cmd.stand_in = settings.stand_in.clone();
    cmd.timeout = Some(settings.timeout);
    cmd
}
