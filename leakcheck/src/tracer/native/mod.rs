//! The native backend: ptrace and a seccomp filter, without strace.
//!
//! strace stops a traced call twice (entry and exit), reads and formats every argument,
//! and writes its text to a pipe that another thread reads back: about 55 µs per call
//! on a 2-core machine, which made a suite of small UDP tests three times slower. This
//! backend installs its own seccomp filter, so the kernel stops the program only on the
//! calls that can carry a destination (and on `ioctl` only for the two requests that
//! enumerate interfaces), and it stops the send calls once, at entry, where the
//! destination is already in the arguments.
//!
//! Each call it stops is decoded into a typed line ([`crate::syntax::Line`]: the
//! arguments, what it read of the tracee's memory, the result), whose event the observer
//! gets directly. The line is rendered in strace's syntax only when its text is wanted: a
//! kept trace (`LEAKCHECK_KEEP_TRACE`, which replays to the same verdict) and the `trace`
//! field of a finding. A send's result is not waited for (`= ?`): an attempt counts
//! whatever it returns.
//!
//! Fail-closed rules: memory it cannot read stays a raw pointer (an undecoded address,
//! which makes the verdict unverified), and a system call of another ABI (32-bit
//! `int 0x80`, x32) becomes a problem of the run.
//!
//! A call that makes a new finding (the observer says so: `Observer::wants_stack`) has
//! its thread's stack unwound while it still waits ([`crate::stack`]), from all of its
//! registers at a ptrace stop, from its stack and program counters
//! (`/proc/TID/syscall`) in a seccomp notification; the frames follow the call as
//! events. Calls that make no new finding cost nothing more.
//!
//! Files: `filter.rs` (the seccomp program, written with the assembler in `bpf.rs`, and
//! its installation), `arch.rs` (what differs between x86_64 and aarch64), `kernel.rs`
//! (the ptrace, process_vm_readv and seccomp-listener calls), `decode.rs` (a stopped
//! call's arguments into a typed line), `stops.rs` (the ptrace loop), `notify.rs` (the
//! seccomp notifications), `shared.rs` (what the two loops share, and the stacks they
//! unwind); this file starts the program and the loops.

mod arch;
mod bpf;
mod decode;
mod filter;
mod kernel;
mod notify;
mod shared;
mod stops;

use crate::leftover::Tasks;
use crate::tracer::process::{self, resolve_program, Captured, Launch};
use crate::tracer::run::{Observer, ProgramStatus, RunResult, TraceError, TracedCommand, Tracer};
use decode::Decoder;
use filter::{install_filter, seccomp_filter};
use nix::unistd::Pid;
use notify::{notify_loop, take_listener};
use shared::{Shared, Sockets};
use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Instant;
use stops::Session;

/// The native backend (Linux on x86_64 and aarch64).
#[derive(Debug, Clone, Default)]
pub struct NativeBackend {
    _private: (),
}

impl NativeBackend {
    /// The native backend, if this machine can run it.
    pub fn new() -> Option<NativeBackend> {
        arch::SUPPORTED.then_some(NativeBackend { _private: () })
    }
}

impl Tracer for NativeBackend {
    fn run(
        &self,
        cmd: &TracedCommand,
        observer: &mut dyn Observer,
    ) -> Result<RunResult, TraceError> {
        resolve_program(cmd)?;
        let mut command = Command::new(&cmd.program);
        command.args(&cmd.args);
        let mut launch = Launch::new(command, cmd)?;
        let own_group = launch.own_group;
        let notify = notify_supported();
        let filter = seccomp_filter(notify);
        let trace_filter = seccomp_filter(false);
        // The child hands its listener descriptor over through these (see `take_listener`).
        let (hand_r, hand_w) = io::pipe()?;
        let (ack_r, ack_w) = io::pipe()?;
        let (hand_fd, ack_fd) = (hand_w.as_raw_fd(), ack_r.as_raw_fd());
        // SAFETY: the closure only makes async-signal-safe system calls (ptrace, prctl,
        // seccomp, getpid, write, read) on data prepared before the fork.
        unsafe {
            launch.pre_exec(cmd, move || {
                // The calling thread becomes the tracer; the program stops with SIGTRAP
                // right after its execve, before its first instruction. std passes only
                // an errno back from here, so each failure gets an errno of its own.
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) != 0 {
                    return Err(io::Error::from_raw_os_error(ERRNO_TRACED));
                }
                let filter_failed = |_| io::Error::from_raw_os_error(ERRNO_FILTER);
                if !notify {
                    // Until the tracer sets PTRACE_O_TRACESECCOMP, a traced call fails
                    // with ENOSYS; execve is not one, and the program stops right after it.
                    return install_filter(&trace_filter, false)
                        .map(drop)
                        .map_err(filter_failed);
                }
                let listener = match install_filter(&filter, true) {
                    Ok(fd) => fd,
                    // A kernel without seccomp user notification: ptrace stops only.
                    Err(_) => install_filter(&trace_filter, false).map_err(filter_failed)?,
                };
                // The listener is close-on-exec: the tracer takes a copy now, and the
                // child waits until it has.
                let msg: [i32; 2] = [libc::getpid(), listener];
                let sent = libc::write(hand_fd, msg.as_ptr().cast(), 8);
                let mut ack = 0u8;
                let read = libc::read(ack_fd, (&mut ack as *mut u8).cast(), 1);
                if sent != 8 || read != 1 || ack != b'1' {
                    return Err(io::Error::from_raw_os_error(ERRNO_FILTER));
                }
                Ok(())
            });
        }

        let shared = Shared {
            observer: Mutex::new((observer, String::with_capacity(256))),
            sockets: Mutex::new(Sockets::default()),
            problems: Mutex::new(Vec::new()),
            tasks: Tasks::default(),
        };
        let started = Instant::now();
        let (root_status, output) = std::thread::scope(|scope| {
            let helper = notify.then(|| scope.spawn(move || take_listener(hand_r, ack_w)));
            let spawned = launch.spawn();
            // The parent's copies of the child's ends: closing them lets the helper see
            // end-of-file if the child died before handing over.
            drop(hand_w);
            drop(ack_r);
            let listener = helper.and_then(|h| h.join().ok().flatten());
            let (child, output) = spawned.map_err(|e| spawn_error(e, cmd))?;
            let root = Pid::from_raw(child.id() as i32);
            // The child is reaped by the trace loop below, never by `Child::wait`.
            drop(child);

            let shared = &shared;
            shared.tasks.started(root.as_raw() as u32);
            let (watch_tx, watch_rx) = mpsc::channel();
            let dog = process::watchdog(cmd, root, own_group, None, &shared.tasks);
            let watchdog = scope.spawn(move || dog.run(&watch_rx));
            let (done_r, done_w) = io::pipe()?;
            let notifier = listener
                .map(|listener| scope.spawn(move || notify_loop(&listener, &done_r, shared)));
            let mut session = Session {
                shared,
                decoder: Decoder::default(),
                root,
                tracees: HashMap::new(),
                root_status: None,
                watch: Some(watch_tx),
            };
            session.run();
            drop(done_w);
            drop(session.watch.take());
            if let Some(notifier) = notifier {
                let _ = notifier.join();
            }
            let _ = watchdog.join();
            Ok::<_, TraceError>((session.root_status.take(), output))
        })?;
        drop(launch);

        if let Ok((observer, _)) = shared.observer.into_inner() {
            observer.ended();
        }
        let leftovers = shared.tasks.take_leftovers();
        let mut problems = shared.problems.into_inner().unwrap_or_default();
        let output = output.map(Captured::collect).unwrap_or_default();
        let status = process::status(cmd, &shared.tasks, &mut problems, |problems| {
            root_status.unwrap_or_else(|| {
                problems.push("lost track of the traced program".to_string());
                ProgramStatus::Signaled(libc::SIGKILL)
            })
        });
        Ok(RunResult {
            status,
            output,
            problems,
            duration: started.elapsed(),
            leftovers,
        })
    }
}

/// Whether seccomp user notification can carry the send calls: it needs
/// `pidfd_getfd` (Linux 5.6) to take the listener from the child. Off with
/// `LEAKCHECK_NATIVE_NOTIFY=0`, which makes every send a ptrace stop (for tests).
fn notify_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    if std::env::var_os("LEAKCHECK_NATIVE_NOTIFY").is_some_and(|v| v == "0") {
        return false;
    }
    *SUPPORTED.get_or_init(|| {
        // SAFETY: a probe with an invalid descriptor: EBADF if the call exists.
        let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) };
        r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
    })
}

/// The errno the child reports when PTRACE_TRACEME fails (something already traces it).
const ERRNO_TRACED: i32 = libc::EALREADY;
/// The errno the child reports when the seccomp filter cannot be installed.
const ERRNO_FILTER: i32 = libc::EOPNOTSUPP;

fn spawn_error(e: io::Error, cmd: &TracedCommand) -> TraceError {
    match e.raw_os_error() {
        Some(ERRNO_TRACED) => TraceError::Ptrace(format!(
            "cannot trace `{}`: ptrace(PTRACE_TRACEME) was refused{}",
            cmd.display(),
            process::already_traced_hint()
        )),
        Some(ERRNO_FILTER) => TraceError::Ptrace(format!(
            "cannot trace `{}`: the kernel refused leakcheck's seccomp filter (is seccomp disabled, or forbidden by a container's policy?)\n(hint: LEAKCHECK_TRACER=strace traces without it, more slowly)",
            cmd.display()
        )),
        _ => process::spawn_error(e, cmd, cmd.program.to_string_lossy().into_owned()),
    }
}
