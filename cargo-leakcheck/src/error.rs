//! Every way a run can stop short of a verdict, and the one exit status they share.

use crate::cargo::{BuildError, MetadataError};
use crate::exit;

/// Why `cargo leakcheck` could not finish: printed once, as `error: MESSAGE`, and the
/// run exits with [`exit::SETUP`] (DESIGN.md: usage, configuration or setup error).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or a libtest option after `--` has a value leakcheck cannot use.
    #[error("{0}")]
    Usage(String),
    /// `cargo metadata` failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The policy is bad: the manifests', `LEAKCHECK_ALLOW`, Heteronculous' variables or
    /// `--allow` (the message names where and what was expected).
    #[error("{0}")]
    Policy(String),
    /// The tracer cannot be used (strace missing, already traced...).
    #[error("{0}")]
    Tracer(String),
    /// The tests did not build.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A test binary's `--list` run failed or printed what libtest does not.
    #[error("{0}")]
    List(String),
    /// A command could not be traced at all.
    #[error("{0}")]
    Trace(String),
    /// The current directory cannot be read.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(std::io::Error),
    /// A report (JSON, JUnit) cannot be written.
    #[error("{0}")]
    Write(String),
}

impl Error {
    /// The exit status of a run that ended with this error.
    pub fn exit_code(&self) -> u8 {
        exit::SETUP
    }

    /// Whether the user has already read why (cargo's own message for a selection it
    /// rejected, as `cargo test` shows it): then nothing is added to it.
    pub fn already_reported(&self) -> bool {
        matches!(self, Error::Build(BuildError::Rejected))
    }
}
