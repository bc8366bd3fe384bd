//! The strace backend: runs `strace -f --seccomp-bpf` and reads its trace as it is
//! written; with [`STACKS_ENV`], `-k` too, whose stack lines follow each call and give
//! the findings their locations.

use super::process::{self, find_in_path, is_executable, resolve_program, Launch};
use super::run::{Observer, ProgramStatus, RunResult, TraceError, TracedCommand, Tracer};
use crate::leftover::Tasks;
use crate::syntax::{Parser, Shown};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

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

/// The strace backend.
#[derive(Debug, Clone)]
pub struct StraceBackend {
    strace: PathBuf,
    /// Run strace with `-k`, for the findings' locations.
    stacks: bool,
}

/// `LEAKCHECK_STRACE_STACKS=1` makes strace print each traced call's stack (`-k`), which
/// gives findings their `location` under this backend. It is off by default: strace
/// unwinds every traced call with libunwind, which made 100,000 loopback datagrams take
/// 4.4 times as long (55 s against 12.7 s on a 2-vCPU VM) and the benchmark's suites 9 to
/// 13 times as long under this backend (`cargo bench --bench suites`: 8.2 s against
/// 0.89 s, 39 s against 3.0 s), where the native tracer unwinds only the calls that make
/// a new finding. strace 6.1's libunwind also loses the frames of code compiled into a
/// Rust test binary past the first one it finds there.
pub const STACKS_ENV: &str = "LEAKCHECK_STRACE_STACKS";

fn stacks_wanted() -> bool {
    std::env::var_os(STACKS_ENV).is_some_and(|v| v == "1")
}

impl StraceBackend {
    /// Finds strace: `LEAKCHECK_STRACE`, else `strace` on PATH.
    pub fn locate() -> Result<StraceBackend, TraceError> {
        if let Some(path) = std::env::var_os("LEAKCHECK_STRACE") {
            let path = PathBuf::from(path);
            if is_executable(&path) {
                return Ok(StraceBackend::with_path(path));
            }
            return Err(TraceError::StraceMissing {
                where_: format!(" at LEAKCHECK_STRACE={}", path.display()),
            });
        }
        match find_in_path(OsStr::new("strace")) {
            Some(strace) => Ok(StraceBackend::with_path(strace)),
            None => Err(TraceError::StraceMissing {
                where_: " on PATH".to_string(),
            }),
        }
    }

    /// Uses the strace at `path` (with `-k` when [`STACKS_ENV`] says so).
    pub fn with_path(path: impl Into<PathBuf>) -> StraceBackend {
        StraceBackend {
            strace: path.into(),
            stacks: stacks_wanted(),
        }
    }

    /// Whether strace prints each call's stack (`-k`), which gives findings a location.
    pub fn with_stacks(mut self, stacks: bool) -> StraceBackend {
        self.stacks = stacks;
        self
    }

    /// strace's command line for `cmd`, writing the trace to `output`.
    pub fn command_line(&self, cmd: &TracedCommand, output: &Path) -> Command {
        let mut command = Command::new(&self.strace);
        // No `-e signal=none`: it also hides `+++ killed by SIG... +++`, and without that
        // line a crashed program is indistinguishable from a tracer that died.
        command.args(["-f", "--seccomp-bpf", "-q", "-s", "1024"]);
        if self.stacks {
            command.arg("-k");
        }
        command
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
        observer: &mut dyn Observer,
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

        let mut launch = Launch::new(self.command_line(cmd, &fifo), cmd)?;
        let own_group = launch.own_group;
        // SAFETY: nothing more than the shared set-up happens between fork and exec.
        unsafe { launch.pre_exec(cmd, || Ok(())) };

        let started = Instant::now();
        // strace was found above, so a failure other than "not found" comes from entering
        // the namespace in pre_exec.
        let (mut child, output) = launch.spawn().map_err(|e| {
            process::spawn_error(e, cmd, format!("strace ({})", self.strace.display()))
        })?;
        drop(launch);
        let pid = child.id();

        let opened = AtomicBool::new(false);
        let mut problems = Vec::new();
        let tasks = Tasks::default();
        let mut parser = Parser::new();
        let status: io::Result<ExitStatus> = std::thread::scope(|scope| {
            let (watch_tx, watch_rx) = mpsc::channel();
            let dog =
                process::watchdog(cmd, Pid::from_raw(pid as i32), own_group, Some(pid), &tasks);
            let watchdog = scope.spawn(move || dog.run(&watch_rx));
            let tasks = &tasks;
            let opened = &opened;
            let fifo = &fifo;
            let parser = &mut parser;
            let observer = &mut *observer;
            let reader = scope.spawn(move || {
                // The first task in the trace is the program; when it ends, what it left
                // running has a grace period (see `leftover`).
                let mut root = None;
                let mut track = |line: &str| {
                    // A stack line (`-k`) has no pid: it names no task.
                    if !crate::syntax::is_frame_line(line) {
                        let (tid, rest) = crate::syntax::split_pid(line);
                        if rest.starts_with("+++ exited with") || rest.starts_with("+++ killed by")
                        {
                            tasks.ended(tid);
                            if root == Some(tid) {
                                let _ = watch_tx.send(crate::leftover::Event::RootExited);
                            }
                        } else {
                            root.get_or_insert(tid);
                            tasks.started(tid);
                        }
                    }
                    if observer.wants_text() {
                        observer.text(line);
                    }
                    let parsed = parser.feed(line, &mut |event, shown| {
                        // A child that makes no traced call of its own is still a task
                        // to stop when it outlives the program.
                        if let crate::event::EventKind::Spawn { child, .. } = event.kind {
                            tasks.started(child);
                        }
                        observer.event(&event, shown)
                    });
                    if let Err(error) = parsed {
                        observer.unreadable(&error);
                    }
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
        let leftovers = tasks.take_leftovers();
        let status = status?;
        // What follows is judged from the trace alone: the processes are gone. Calls that
        // started and never resumed (a trace that ended mid-call) count all the same.
        observer.ended();
        let unfinished = parser.finish();
        for error in &unfinished.errors {
            observer.unreadable(error);
        }
        for (event, text) in &unfinished.calls {
            observer.event(event, Shown::Text(text));
        }
        let output = output.map(process::Captured::collect).unwrap_or_default();

        let status = process::status(cmd, &tasks, &mut problems, |_| match status.code() {
            Some(code) => ProgramStatus::Exited(code),
            None => ProgramStatus::Signaled(status.signal().unwrap_or(0)),
        });
        if !opened.load(Ordering::SeqCst) {
            problems.push(format!(
                "strace never wrote a trace ({status}){}",
                process::already_traced_hint()
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
