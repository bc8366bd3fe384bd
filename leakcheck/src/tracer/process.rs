//! The traced program's process, as both backends start and end it.
//!
//! strace is started as the program's parent and the native backend starts the program
//! itself, but around that they do the same: find the program, prepare the child between
//! fork and exec (a process group of its own, the network namespace), read its output as
//! it comes, run the watchdog (timeout, leftovers), and turn the end into a
//! [`RunResult`](super::RunResult)'s status and problems.

use super::isolate::NetworkIsolation;
use super::run::{ProgramStatus, TraceError, TracedCommand};
use crate::leftover::{Tasks, Watchdog};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A process about to be started for a traced run: strace, or the program itself.
pub(crate) struct Launch {
    command: Command,
    captured: Option<io::PipeReader>,
    /// The process runs in a process group of its own (so that a timeout can end the
    /// whole group).
    pub(crate) own_group: bool,
}

impl Launch {
    /// `command` with `cmd`'s environment, working directory and output capture.
    pub(crate) fn new(mut command: Command, cmd: &TracedCommand) -> io::Result<Launch> {
        let captured = cmd.configure(&mut command)?;
        Ok(Launch {
            command,
            captured,
            own_group: cmd.timeout.is_some() || cmd.capture_output,
        })
    }

    /// Prepares the child between fork and exec: its own process group (see
    /// [`Launch::own_group`]), the network namespace when `cmd` isolates it, then `then`
    /// (the native backend's ptrace and seccomp set-up).
    ///
    /// # Safety
    ///
    /// `then` runs in the forked child: it may only make async-signal-safe system calls on
    /// data prepared before the fork (see [`CommandExt::pre_exec`]).
    pub(crate) unsafe fn pre_exec<F>(&mut self, cmd: &TracedCommand, mut then: F)
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        let own_group = self.own_group;
        let join = cmd.sandbox.as_ref().map(|sandbox| sandbox.join());
        let isolation = (cmd.isolate_network && join.is_none()).then(NetworkIsolation::new);
        // SAFETY: setpgid and NetworkIsolation::enter only make system calls (setpgid,
        // unshare, open/write/ioctl/close) on data prepared here; `then` is the caller's.
        unsafe {
            self.command.pre_exec(move || {
                if own_group {
                    nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
                }
                if let Some(join) = &join {
                    join.enter()?;
                }
                if let Some(isolation) = &isolation {
                    isolation.enter()?;
                }
                then()
            });
        }
    }

    /// Starts the process, and the thread that reads its output when it is captured.
    pub(crate) fn spawn(&mut self) -> io::Result<(Child, Option<Captured>)> {
        let child = self.command.spawn()?;
        Ok((child, self.captured.take().map(capture_output)))
    }
}

/// The error for a failed spawn: a failure other than "not found" comes from entering
/// the network namespace when the run isolates it; else it is a spawn error of `what`.
pub(crate) fn spawn_error(e: io::Error, cmd: &TracedCommand, what: String) -> TraceError {
    if cmd.isolate_network && e.kind() != io::ErrorKind::NotFound {
        return TraceError::Isolation(e);
    }
    TraceError::Spawn {
        path: what,
        source: e,
    }
}

/// The watchdog of a run whose program is `root` (see [`Watchdog`]).
pub(crate) fn watchdog<'a>(
    cmd: &TracedCommand,
    root: Pid,
    own_group: bool,
    tracer: Option<u32>,
    tasks: &'a Tasks,
) -> Watchdog<'a> {
    Watchdog {
        root,
        own_group,
        timeout: cmd.timeout,
        stop_leftovers: !cmd.keep_leftovers,
        tracer,
        tasks,
    }
}

/// How the run ended: timed out (a problem of the run: the trace is incomplete) when
/// the watchdog terminated it, else what `ended` says.
pub(crate) fn status(
    cmd: &TracedCommand,
    tasks: &Tasks,
    problems: &mut Vec<String>,
    ended: impl FnOnce(&mut Vec<String>) -> ProgramStatus,
) -> ProgramStatus {
    if tasks.timed_out() {
        let secs = cmd.timeout.unwrap_or_default().as_secs_f64();
        problems.push(format!(
            "timed out after {secs:.0} s and was terminated: the trace is incomplete"
        ));
        ProgramStatus::TimedOut
    } else {
        ended(problems)
    }
}

/// The traced program's stdout and stderr, read by a thread as they come.
pub(crate) struct Captured {
    output: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

/// Starts reading the program's output pipe.
fn capture_output(mut reader: io::PipeReader) -> Captured {
    let output = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done) = mpsc::channel::<()>();
    let sink = Arc::clone(&output);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut out) = sink.lock() {
                        out.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        let _ = done_tx.send(());
    });
    Captured { output, done }
}

impl Captured {
    /// Everything the program wrote, once the pipe is closed (or 2 s after the program
    /// ended: a daemon the test left behind may hold the pipe open for ever).
    pub(crate) fn collect(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(Duration::from_secs(2));
        let output = self.output.lock().map(|o| o.clone()).unwrap_or_default();
        output
    }
}

/// A hint for the one common reason a program cannot be traced: something already
/// traces us.
pub(crate) fn already_traced_hint() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(str::trim)
        .unwrap_or("0");
    if tracer != "0" {
        format!("\n(hint: leakcheck itself runs under a tracer (pid {tracer}); a process can have only one tracer)")
    } else {
        "\n(hint: if the program is traced by something else (a debugger, another strace), it cannot be traced twice; check strace's message above)".to_string()
    }
}

/// Checks that the program exists (a path, relative to the working directory, or a name
/// on PATH).
pub(crate) fn resolve_program(cmd: &TracedCommand) -> Result<(), TraceError> {
    let program = Path::new(&cmd.program);
    if program.components().count() > 1 {
        let full = match &cmd.cwd {
            Some(cwd) if program.is_relative() => cwd.join(program),
            _ => program.to_path_buf(),
        };
        if full.exists() {
            return Ok(());
        }
        return Err(TraceError::ProgramNotFound {
            program: program.display().to_string(),
            hint: String::new(),
        });
    }
    match find_in_path(&cmd.program) {
        Some(_) => Ok(()),
        None => Err(TraceError::ProgramNotFound {
            program: program.display().to_string(),
            hint: " on PATH".to_string(),
        }),
    }
}

/// The first executable `name` in a directory of PATH.
pub(crate) fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is an executable file.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
