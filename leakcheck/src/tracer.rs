//! Tracing backends: run a program and hand every trace line to a sink as it is written.
//!
//! Two backends sit behind [`Tracer`]: [`StraceBackend`] runs strace, and
//! [`NativeBackend`](crate::native::NativeBackend) traces with ptrace and its own seccomp
//! filter, writing the same lines at a fraction of the cost. [`Backend::select`] picks
//! one (`LEAKCHECK_TRACER`); the parser and the judge never know which.

use crate::isolate::NetworkIsolation;
pub use crate::leftover::Leftover;
use crate::leftover::{Tasks, Watchdog};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The system calls strace stops on. `%network` would add recv*, getsockopt and friends,
/// which cost a stop each and never carry a destination; io_uring and execve are not in
/// `%network` and must be named. socketpair, accept, dup and fcntl (F_DUPFD) show where a
/// descriptor comes from: strace's lines arrive after the call, too late to look a
/// short-lived descriptor up in /proc. clone/fork and prctl tell which test a task
/// belongs to (its ancestry, and the name libtest gives a test's thread); ptrace and
/// seccomp can take calls out of sight.
pub const TRACED_SYSCALLS: &str = "socket,connect,bind,listen,getsockname,sendto,sendmsg,sendmmsg,\
ioctl,io_uring_setup,io_uring_enter,io_uring_register,execve,execveat,\
socketpair,accept,accept4,dup,dup2,dup3,fcntl,\
clone,clone3,fork,vfork,prctl,ptrace,seccomp";

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

/// A tracing backend.
pub trait Tracer: Send + Sync {
    /// Runs `cmd`, calling `sink` with every trace line (without its newline) as it is
    /// written. Returns once the program and the tracer have ended.
    fn run(
        &self,
        cmd: &TracedCommand,
        sink: &mut (dyn FnMut(&str) + Send),
    ) -> Result<RunResult, TraceError>;
}

/// The backend to trace with, chosen once per run.
#[derive(Debug, Clone)]
pub enum Backend {
    /// ptrace and leakcheck's own seccomp filter.
    Native(crate::native::NativeBackend),
    /// strace.
    Strace(StraceBackend),
}

impl Backend {
    /// Picks the backend: `choice` (`native` or `strace`, from `--tracer` or
    /// `LEAKCHECK_TRACER`) when given; else strace when `LEAKCHECK_STRACE` names one, the
    /// native backend where it runs (Linux on x86_64 or aarch64), and strace elsewhere.
    pub fn select(choice: Option<&str>) -> Result<Backend, TraceError> {
        let env = std::env::var("LEAKCHECK_TRACER").ok();
        let choice = choice.or(env.as_deref()).filter(|c| !c.is_empty());
        match choice {
            Some("strace") => StraceBackend::locate().map(Backend::Strace),
            Some("native") => crate::native::NativeBackend::new()
                .map(Backend::Native)
                .ok_or_else(|| {
                    TraceError::Ptrace(
                        "the native tracer runs on Linux x86_64 and aarch64 only\n(hint: LEAKCHECK_TRACER=strace)"
                            .to_string(),
                    )
                }),
            Some(other) => Err(TraceError::UnknownTracer(other.to_string())),
            None if std::env::var_os("LEAKCHECK_STRACE").is_some() => {
                StraceBackend::locate().map(Backend::Strace)
            }
            None => match crate::native::NativeBackend::new() {
                Some(native) => Ok(Backend::Native(native)),
                None => StraceBackend::locate().map(Backend::Strace),
            },
        }
    }

    /// `native` or `strace`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            Backend::Strace(_) => "strace",
        }
    }
}

impl Tracer for Backend {
    fn run(
        &self,
        cmd: &TracedCommand,
        sink: &mut (dyn FnMut(&str) + Send),
    ) -> Result<RunResult, TraceError> {
        match self {
            Backend::Native(native) => native.run(cmd, sink),
            Backend::Strace(strace) => strace.run(cmd, sink),
        }
    }
}

/// The strace backend.
#[derive(Debug, Clone)]
pub struct StraceBackend {
    strace: PathBuf,
}

impl StraceBackend {
    /// Finds strace: `LEAKCHECK_STRACE`, else `strace` on PATH.
    pub fn locate() -> Result<StraceBackend, TraceError> {
        if let Some(path) = std::env::var_os("LEAKCHECK_STRACE") {
            let path = PathBuf::from(path);
            if is_executable(&path) {
                return Ok(StraceBackend { strace: path });
            }
            return Err(TraceError::StraceMissing {
                where_: format!(" at LEAKCHECK_STRACE={}", path.display()),
            });
        }
        match find_in_path(OsStr::new("strace")) {
            Some(strace) => Ok(StraceBackend { strace }),
            None => Err(TraceError::StraceMissing {
                where_: " on PATH".to_string(),
            }),
        }
    }

    /// Uses the strace at `path`.
    pub fn with_path(path: impl Into<PathBuf>) -> StraceBackend {
        StraceBackend {
            strace: path.into(),
        }
    }

    /// strace's command line for `cmd`, writing the trace to `output`.
    pub fn command_line(&self, cmd: &TracedCommand, output: &Path) -> Command {
        let mut command = Command::new(&self.strace);
        // No `-e signal=none`: it also hides `+++ killed by SIG... +++`, and without that
        // line a crashed program is indistinguishable from a tracer that died.
        command
            .args(["-f", "--seccomp-bpf", "-q", "-s", "1024"])
            .args(["-e", &format!("trace={TRACED_SYSCALLS}")])
            .arg("-o")
            .arg(output)
            .arg("--")
            .arg(&cmd.program)
            .args(&cmd.args);
        command
    }
}

impl Tracer for StraceBackend {
    fn run(
        &self,
        cmd: &TracedCommand,
        sink: &mut (dyn FnMut(&str) + Send),
    ) -> Result<RunResult, TraceError> {
        resolve_program(cmd)?;
        // The trace goes through a FIFO in a private directory rather than an inherited
        // pipe: strace cannot keep an inherited descriptor from its tracee, and the FIFO's
        // name is removed as soon as strace has opened it.
        let dir = tempfile::Builder::new().prefix("leakcheck-").tempdir()?;
        let fifo = dir.path().join("trace");
        nix::unistd::mkfifo(
            &fifo,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .map_err(io::Error::from)?;

        let mut command = self.command_line(cmd, &fifo);
        let captured = cmd.configure(&mut command)?;
        let own_group = cmd.timeout.is_some() || cmd.capture_output;
        let isolation = cmd.isolate_network.then(NetworkIsolation::new);
        // SAFETY: the closure only makes async-signal-safe system calls (setpgid,
        // unshare, open/write/ioctl/close) on data prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                if own_group {
                    nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
                }
                if let Some(isolation) = &isolation {
                    isolation.enter()?;
                }
                Ok(())
            });
        }

        let started = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            // strace was found above, so a failure other than "not found" comes from
            // entering the namespace in pre_exec.
            Err(e) if cmd.isolate_network && e.kind() != io::ErrorKind::NotFound => {
                return Err(TraceError::Isolation(e));
            }
            Err(source) => {
                return Err(TraceError::Spawn {
                    path: format!("strace ({})", self.strace.display()),
                    source,
                })
            }
        };
        drop(command);
        let pid = child.id();

        let output = captured.map(capture_output);

        let opened = AtomicBool::new(false);
        let mut problems = Vec::new();
        let tasks = Tasks::default();
        let status: io::Result<ExitStatus> = std::thread::scope(|scope| {
            let (watch_tx, watch_rx) = mpsc::channel();
            let dog = Watchdog {
                root: Pid::from_raw(pid as i32),
                own_group,
                timeout: cmd.timeout,
                stop_leftovers: !cmd.keep_leftovers,
                tracer: Some(pid),
                tasks: &tasks,
            };
            let watchdog = scope.spawn(move || dog.run(&watch_rx));
            let tasks = &tasks;
            let opened = &opened;
            let fifo = &fifo;
            let reader = scope.spawn(move || {
                // The first task in the trace is the program; when it ends, what it left
                // running has a grace period (see `leftover`).
                let mut root = None;
                let mut track = |line: &str| {
                    let (tid, rest) = crate::parser::split_pid(line);
                    if rest.starts_with("+++ exited with") || rest.starts_with("+++ killed by") {
                        tasks.ended(tid);
                        if root == Some(tid) {
                            let _ = watch_tx.send(crate::leftover::Event::RootExited);
                        }
                    } else {
                        root.get_or_insert(tid);
                        tasks.started(tid);
                    }
                    sink(line);
                };
                read_trace(fifo, opened, &mut track)
            });
            let status = child.wait();
            if !opened.load(Ordering::SeqCst) {
                // strace ended without opening the trace: unblock the reader's open().
                // Close our end at once: if the reader had opened the FIFO just before
                // (and not yet said so), it must still see end-of-file.
                if let Ok(fd) = nix::fcntl::open(
                    fifo.as_path(),
                    nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_NONBLOCK,
                    nix::sys::stat::Mode::empty(),
                ) {
                    let _ = nix::unistd::close(fd);
                }
            }
            match reader.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(format!("reading the trace failed: {e}")),
                Err(_) => problems.push("the trace reader crashed".to_string()),
            }
            let _ = watchdog.join();
            status
        });
        let timed_out = tasks.timed_out();
        let leftovers = tasks.take_leftovers();
        let status = status?;
        let output = output.map(Captured::collect).unwrap_or_default();

        let status = if timed_out {
            let secs = cmd.timeout.unwrap_or_default().as_secs_f64();
            problems.push(format!(
                "timed out after {secs:.0} s and was terminated: the trace is incomplete"
            ));
            ProgramStatus::TimedOut
        } else if let Some(code) = status.code() {
            ProgramStatus::Exited(code)
        } else {
            ProgramStatus::Signaled(status.signal().unwrap_or(0))
        };
        if !opened.load(Ordering::SeqCst) {
            problems.push(format!(
                "strace never wrote a trace ({status}){}",
                already_traced_hint()
            ));
        }
        Ok(RunResult {
            status,
            output,
            problems,
            duration: started.elapsed(),
            leftovers,
        })
    }
}

/// The traced program's stdout and stderr, read by a thread as they come.
pub(crate) struct Captured {
    output: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

/// Starts reading the program's output pipe.
pub(crate) fn capture_output(mut reader: io::PipeReader) -> Captured {
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

fn read_trace(
    fifo: &Path,
    opened: &AtomicBool,
    sink: &mut (dyn FnMut(&str) + Send),
) -> io::Result<()> {
    let file = File::open(fifo)?;
    opened.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_file(fifo);
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(512);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        match std::str::from_utf8(&line) {
            Ok(text) => sink(text),
            Err(_) => sink(&String::from_utf8_lossy(&line)),
        }
    }
}

/// A hint for the one common reason strace cannot trace: something already traces us.
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

fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
