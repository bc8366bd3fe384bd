//! What a traced run takes and gives, whichever backend runs it: the [`TracedCommand`],
//! the [`Tracer`] trait, the [`RunResult`] and the setup errors.

use crate::event::Event;
use crate::leftover::Leftover;
use crate::syntax::{ParseError, Shown};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A program to run under the tracer.
#[derive(Debug, Clone, Default)]
pub struct TracedCommand {
    /// The program (a path, or a name looked up on PATH).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables to set on top of the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory; the current one when None.
    pub cwd: Option<PathBuf>,
    /// Run in a fresh network namespace with only loopback.
    pub isolate_network: bool,
    /// Capture stdout and stderr together (as libtest does) instead of inheriting them.
    pub capture_output: bool,
    /// Capture stdout alone and leave stderr the caller's (a `--list` run: its listing is
    /// read, its diagnostics are the user's); takes precedence over `capture_output`.
    pub stdout_only: bool,
    /// Terminate the program (and every process it started) after this long.
    pub timeout: Option<Duration>,
    /// Trace what the program leaves running until it ends, as strace -f does, instead
    /// of stopping it [`GRACE`](crate::leftover::GRACE) after the program exited.
    pub keep_leftovers: bool,
    /// Serve a stand-in proxy on the allowed endpoints, in a network namespace made for
    /// the run (implies `isolate_network`): see [`crate::standin`].
    pub stand_in: Option<crate::standin::Plan>,
    /// The root of the source tree whose code the findings' locations name (the cargo
    /// workspace); None: the cargo workspace around the working directory, or that
    /// directory itself.
    pub workspace: Option<PathBuf>,
    /// The namespace the program joins instead of making its own (the stand-in's).
    pub(crate) sandbox: Option<std::sync::Arc<super::sandbox::Sandbox>>,
}

impl TracedCommand {
    /// A command with arguments and default settings.
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> TracedCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        TracedCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..TracedCommand::default()
        }
    }

    /// Applies the environment, working directory and output capture to the process
    /// that runs the program (strace, or the program itself); returns the read end of
    /// the output pipe when output is captured.
    pub(crate) fn configure(&self, command: &mut Command) -> io::Result<Option<io::PipeReader>> {
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if !self.capture_output && !self.stdout_only {
            return Ok(None);
        }
        let (reader, writer) = io::pipe()?;
        command.stdin(Stdio::null());
        if self.stdout_only {
            command.stdout(writer);
        } else {
            command.stdout(writer.try_clone()?);
            command.stderr(writer);
        }
        Ok(Some(reader))
    }

    /// The command line as a user would type it, for messages.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| {
                let s = a.to_string_lossy();
                if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '\'') {
                    format!("'{}'", s.replace('\'', r"'\''"))
                } else {
                    s.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How the traced program ended, as far as the tracer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
    /// Ran past its timeout and was terminated.
    TimedOut,
}

impl ProgramStatus {
    /// Whether the program succeeded.
    pub fn success(&self) -> bool {
        *self == ProgramStatus::Exited(0)
    }
}

impl std::fmt::Display for ProgramStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramStatus::Exited(code) => write!(f, "exit status {code}"),
            ProgramStatus::Signaled(sig) => match Signal::try_from(*sig) {
                Ok(s) => write!(f, "killed by {s}"),
                Err(_) => write!(f, "killed by signal {sig}"),
            },
            ProgramStatus::TimedOut => f.write_str("timed out"),
        }
    }
}

/// What a traced run produced besides its trace.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How the program (strace's child) ended.
    pub status: ProgramStatus,
    /// stdout and stderr interleaved, when captured.
    pub output: Vec<u8>,
    /// Reasons the trace may be incomplete, found by the backend.
    pub problems: Vec<String>,
    /// Wall time.
    pub duration: Duration,
    /// What the program left running, which was stopped after it exited.
    pub leftovers: Vec<Leftover>,
}

/// A setup error: the run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// strace is not installed.
    #[error("strace was not found{where_}\n(hint: leakcheck traces programs with strace; install it: `sudo apt-get install strace` on Debian/Ubuntu, `sudo dnf install strace` on Fedora, `apk add strace` on Alpine, or point LEAKCHECK_STRACE at it)")]
    StraceMissing {
        /// Where we looked.
        where_: String,
    },
    /// The program to trace does not exist.
    #[error("cannot run `{program}`: not found{hint}")]
    ProgramNotFound {
        /// The program as given.
        program: String,
        /// Where we looked.
        hint: String,
    },
    /// The network namespace could not be created.
    #[error("cannot isolate the network: {0}\n(hint: --isolate-network needs root, CAP_SYS_ADMIN, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1))")]
    Isolation(io::Error),
    /// The stand-in proxy could not be set up (its namespace, an endpoint to listen on).
    #[error("cannot start the stand-in proxy: {0}\n(hint: --stand-in serves the allowed endpoints inside a network namespace made for the run; it needs what --isolate-network needs, Linux 5.6 (pidfd_getfd), and each allowed endpoint free to listen on)")]
    StandIn(io::Error),
    /// Spawning the tracer (strace) or, with the native backend, the program failed.
    #[error("cannot start {path}: {source}")]
    Spawn {
        /// What was started.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The native backend cannot trace here.
    #[error("{0}")]
    Ptrace(String),
    /// `LEAKCHECK_TRACER` names no backend.
    #[error("unknown tracer `{0}`\n(hint: LEAKCHECK_TRACER takes `native` (ptrace and seccomp, the default) or `strace`)")]
    UnknownTracer(String),
    /// Another I/O failure while setting up the trace.
    #[error("cannot set up the trace: {0}")]
    Io(#[from] io::Error),
}

/// Where a tracer delivers what it observes, in trace order.
pub trait Observer: Send {
    /// One event, and how the trace shows it. Called while the program runs (a send under
    /// seccomp notification even while it waits), so that live look-ups still see the
    /// descriptors the event names.
    fn event(&mut self, event: &Event, shown: Shown<'_>);

    /// Part of the trace could not be read (a line strace wrote that the parser rejects,
    /// or a call the native tracer read that the parser would reject): the trace is not
    /// to be trusted.
    fn unreadable(&mut self, error: &ParseError);

    /// The traced processes are gone: what follows is judged from the trace alone.
    fn ended(&mut self) {}

    /// Whether the observer wants the trace as text too (`LEAKCHECK_KEEP_TRACE`).
    fn wants_text(&self) -> bool {
        false
    }

    /// One line of the trace as text, when [`Observer::wants_text`]: strace's own lines,
    /// the native tracer's rendered in strace's syntax.
    fn text(&mut self, _line: &str) {}

    /// Whether the event just handed over wants the stack of its call (it made a
    /// finding): a tracer that can unwind the waiting task then hands over its frames as
    /// [`EventKind::Frame`](crate::event::EventKind::Frame) events, innermost first.
    fn wants_stack(&self) -> bool {
        false
    }
}

/// A tracing backend.
pub trait Tracer: Send + Sync {
    /// Runs `cmd`, handing `observer` every event as it is traced. Returns once the
    /// program and the tracer have ended.
    fn run(
        &self,
        cmd: &TracedCommand,
        observer: &mut dyn Observer,
    ) -> Result<RunResult, TraceError>;
}
