//! The ptrace side of a run: every stop of every tracee, turned into trace lines.

use super::arch;
use super::decode::{is_dns, Decoder};
use super::filter::{syscall_of, Syscall};
use super::kernel::{resume, syscall_info, SyscallInfo};
use super::shared::{Halt, Shared, SocketInfo};
use crate::event::ProcessEnd;
use crate::leftover;
use crate::syntax::{Addr, Call, Line, Ret, Spawn};
use crate::tracer::run::ProgramStatus;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::sync::mpsc;

/// A call stopped at entry whose line waits for its result.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) call: Call<'static>,
    pub(super) args: [u64; 6],
}

#[derive(Debug, Default)]
pub(super) struct Tracee {
    /// Seen its first stop (a new tracee starts with a SIGSTOP that is ours, not its own).
    pub(super) started: bool,
    pub(super) pending: Option<Pending>,
}

/// The ptrace side of a run: every stop of every tracee.
pub(super) struct Session<'s, 'a> {
    pub(super) shared: &'s Shared<'a>,
    pub(super) decoder: Decoder,
    pub(super) root: Pid,
    pub(super) tracees: HashMap<Pid, Tracee>,
    pub(super) root_status: Option<ProgramStatus>,
    /// Tells the watchdog when the program itself has ended.
    pub(super) watch: Option<mpsc::Sender<leftover::Event>>,
}

pub(super) const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL;

impl Session<'_, '_> {
    pub(super) fn problem(&mut self, problem: String) {
        self.shared.problem(problem);
    }

    /// The line of the program the task now runs (it made a successful execve).
    pub(super) fn emit_exec(&mut self, pid: Pid) {
        let exec = Call::Exec {
            path: Cow::Owned(exec_path(pid)),
        };
        self.shared
            .emit(pid, &Line::Call(exec, Ret::Value(0)), Halt::Ptrace);
    }

    /// A seccomp stop: the call is at entry. Returns whether to see its exit, and a line
    /// to write once the tracee goes on (what it tells was read while it was stopped).
    pub(super) fn on_entry(
        &mut self,
        pid: Pid,
        arch: u32,
        nr: u64,
        a: [u64; 6],
    ) -> (bool, Option<Line<'static>>) {
        if arch != arch::AUDIT_ARCH || arch::X32_BIT.is_some_and(|bit| nr as u32 & bit != 0) {
            self.problem(format!(
                "pid {pid} made a system call of another ABI (arch {arch:#x}, nr {nr}), which the native tracer does not decode; run with LEAKCHECK_TRACER=strace"
            ));
            return (false, None);
        }
        let Some(call) = syscall_of(nr) else {
            return (false, None);
        };
        match call {
            Syscall::SendTo | Syscall::SendMsg | Syscall::SendMmsg => {
                // Stopped here only when the kernel cannot notify (see `notify`): the
                // destination is in the arguments, so the exit is not waited for.
                let socket = self.shared.socket(pid, a[0]);
                let send = self.decoder.send(pid, call, &a, socket);
                self.shared
                    .emit(pid, &Line::Call(send, Ret::Unknown), Halt::Ptrace);
                (false, None)
            }
            // A thread's name is written after it goes on (it makes no finding, and a
            // task's name is read at the end of the trace).
            Syscall::Prctl => {
                let entry = self.decoder.entry(pid, call, &a);
                (false, Some(Line::Call(entry, Ret::Unknown)))
            }
            // The filter stops these only in the cases that matter; they are written at
            // entry, since their result does not change what they tell, while the tracee
            // waits (a finding may want its stack).
            Syscall::Clone | Syscall::Ptrace | Syscall::Seccomp => {
                let entry = self.decoder.entry(pid, call, &a);
                self.shared
                    .emit(pid, &Line::Call(entry, Ret::Unknown), Halt::Ptrace);
                (false, None)
            }
            Syscall::Clone3 => (false, None),
            _ => {
                let call = self.decoder.entry(pid, call, &a);
                let tracee = self.tracees.entry(pid).or_default();
                tracee.pending = Some(Pending { call, args: a });
                (true, None)
            }
        }
    }

    /// A syscall-exit stop: completes and emits the pending line.
    pub(super) fn on_exit(&mut self, pid: Pid, info: &SyscallInfo) {
        let Some(mut pending) = self.tracees.get_mut(&pid).and_then(|t| t.pending.take()) else {
            return;
        };
        let SyscallInfo::Exit { rval, is_error } = *info else {
            self.shared
                .emit(pid, &Line::Call(pending.call, Ret::Unknown), Halt::Ptrace);
            return;
        };
        let a = pending.args;
        match &mut pending.call {
            Call::Socket {
                family, protocol, ..
            } if !is_error => {
                let socket = SocketInfo {
                    family: *family,
                    protocol: *protocol,
                    dns: false,
                };
                if let Ok(mut sockets) = self.shared.sockets.lock() {
                    sockets.by_thread.insert((pid, rval as i32), socket);
                    sockets.by_fd.insert(rval as i32, socket);
                }
            }
            Call::Connect {
                fd,
                addr: addr @ Addr::Read(_),
                ..
            } => {
                // Whatever it returned: a send may follow a connect that is in progress.
                let (fd, addr) = (*fd, *addr);
                if let (Ok(mut sockets), Addr::Read(bytes)) = (self.shared.sockets.lock(), addr) {
                    sockets.connected(pid, fd, bytes.family(), is_dns(&addr));
                }
            }
            Call::GetSockName { name, .. } if !is_error => {
                *name = Some(self.decoder.sockname(pid, a[1], a[2]));
            }
            _ => {}
        }
        let ret = if is_error {
            Ret::Errno(-rval)
        } else {
            Ret::Value(rval)
        };
        self.shared
            .emit(pid, &Line::Call(pending.call, ret), Halt::Ptrace);
    }

    /// A tracee is gone: finish its line and say how it ended.
    pub(super) fn on_death(&mut self, pid: Pid, end: ProgramStatus) {
        if let Some(Tracee {
            pending: Some(pending),
            ..
        }) = self.tracees.remove(&pid)
        {
            self.shared
                .emit(pid, &Line::Call(pending.call, Ret::Unknown), Halt::Ptrace);
        }
        let notice = match &end {
            ProgramStatus::Exited(code) => ProcessEnd::Exited(*code),
            ProgramStatus::Signaled(sig) => ProcessEnd::Killed(match Signal::try_from(*sig) {
                Ok(s) => s.as_str().to_string(),
                Err(_) => format!("SIGRT_{sig}"),
            }),
            ProgramStatus::TimedOut => unreachable!("a death is an exit or a signal"),
        };
        self.shared.emit(pid, &Line::End(notice), Halt::Ptrace);
        self.shared.tasks.ended(pid.as_raw() as u32);
        if pid == self.root {
            self.root_status = Some(end);
            if let Some(watch) = &self.watch {
                let _ = watch.send(leftover::Event::RootExited);
            }
        }
    }

    /// Waits for stops until no tracee is left.
    pub(super) fn run(&mut self) {
        loop {
            let mut status: libc::c_int = 0;
            // __WNOTHREAD: other threads of this process run their own traces and
            // children; only this thread's tracees are ours.
            // SAFETY: plain waitpid into a local.
            let waited =
                unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
            if waited < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return,
                    _ => {
                        self.problem(format!(
                            "waiting for the traced program failed: {}",
                            io::Error::last_os_error()
                        ));
                        return;
                    }
                }
            }
            let pid = Pid::from_raw(waited);
            if libc::WIFEXITED(status) {
                self.on_death(pid, ProgramStatus::Exited(libc::WEXITSTATUS(status)));
                continue;
            }
            if libc::WIFSIGNALED(status) {
                self.on_death(pid, ProgramStatus::Signaled(libc::WTERMSIG(status)));
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let sig = libc::WSTOPSIG(status);
            let event = status >> 16;
            self.on_stop(pid, sig, event);
        }
    }

    pub(super) fn on_stop(&mut self, pid: Pid, sig: i32, event: i32) {
        let first = !self.tracees.get(&pid).is_some_and(|t| t.started);
        if first {
            self.tracees.entry(pid).or_default().started = true;
            self.shared.tasks.started(pid.as_raw() as u32);
            if pid == self.root {
                // The root stops with SIGTRAP right after its execve (PTRACE_TRACEME):
                // the options apply from here on.
                if let Err(e) = nix::sys::ptrace::setoptions(
                    pid,
                    nix::sys::ptrace::Options::from_bits_truncate(OPTIONS),
                ) {
                    self.problem(format!("cannot set ptrace options: {e}"));
                }
                self.emit_exec(pid);
                resume(pid, libc::PTRACE_CONT, 0);
                return;
            }
            if sig == libc::SIGSTOP && event == 0 {
                // A new thread or child, auto-attached: its SIGSTOP is the attach's.
                resume(pid, libc::PTRACE_CONT, 0);
                return;
            }
        }
        if sig == (libc::SIGTRAP | 0x80) {
            match syscall_info(pid) {
                Ok(info) => self.on_exit(pid, &info),
                Err(e) => self.problem(format!("cannot read a system call's result: {e}")),
            }
            resume(pid, libc::PTRACE_CONT, 0);
            return;
        }
        match event {
            0 => {
                // A signal for the tracee, or a group-stop (which GETSIGINFO refuses).
                let stop_signal = matches!(
                    sig,
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
                );
                if stop_signal && nix::sys::ptrace::getsiginfo(pid).is_err() {
                    resume(pid, libc::PTRACE_CONT, 0);
                } else {
                    resume(pid, libc::PTRACE_CONT, sig);
                }
            }
            libc::PTRACE_EVENT_SECCOMP => {
                let (see_exit, line) = match syscall_info(pid) {
                    Ok(SyscallInfo::Seccomp { arch, nr, args }) => {
                        self.on_entry(pid, arch, nr, args)
                    }
                    Ok(info) => {
                        self.problem(format!(
                            "unexpected stop kind {} at a seccomp stop",
                            info.op()
                        ));
                        (false, None)
                    }
                    Err(e) => {
                        self.problem(format!(
                            "cannot read a traced system call (PTRACE_GET_SYSCALL_INFO needs Linux 5.3; LEAKCHECK_TRACER=strace works on older kernels): {e}"
                        ));
                        (false, None)
                    }
                };
                let request = if see_exit {
                    libc::PTRACE_SYSCALL
                } else {
                    libc::PTRACE_CONT
                };
                resume(pid, request, 0);
                if let Some(line) = line {
                    // A name: no finding, so no stack is read from the running tracee.
                    self.shared.emit(pid, &line, Halt::Ptrace);
                }
            }
            libc::PTRACE_EVENT_EXEC => {
                if let Ok(former) = nix::sys::ptrace::getevent(pid) {
                    let former = Pid::from_raw(former as i32);
                    if former != pid {
                        // A thread ran execve: it now has the leader's id and its old
                        // id is gone without an exit notice.
                        self.tracees.remove(&former);
                    }
                }
                if let Some(t) = self.tracees.get_mut(&pid) {
                    t.pending = None;
                }
                self.emit_exec(pid);
                resume(pid, libc::PTRACE_CONT, 0);
            }
            libc::PTRACE_EVENT_CLONE | libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                let child = nix::sys::ptrace::getevent(pid);
                // The parent goes on first (libtest's main thread starts the next test):
                // the child stays stopped until this loop has seen its attach stop, so
                // its line still comes before anything it does.
                resume(pid, libc::PTRACE_CONT, 0);
                if let Ok(child) = child {
                    let child = child as i32;
                    // Its attach SIGSTOP may come before or after this event.
                    self.tracees.entry(Pid::from_raw(child)).or_default();
                    self.shared.tasks.started(child as u32);
                    // The line strace would write: it tells the judge whose task this is.
                    let how = match event {
                        libc::PTRACE_EVENT_FORK => Spawn::Fork,
                        libc::PTRACE_EVENT_VFORK => Spawn::Vfork,
                        _ => Spawn::Clone {
                            thread: is_thread(child),
                        },
                    };
                    let spawn = Line::Call(Call::Spawn(how), Ret::Value(i64::from(child)));
                    self.shared.emit(pid, &spawn, Halt::Ptrace);
                }
            }
            _ => resume(pid, libc::PTRACE_CONT, 0),
        }
    }
}

/// The program a task runs after its execve, as the call named it: the auxiliary
/// vector's `AT_EXECFN`, the file name given to execve (what strace shows: a script, not
/// its interpreter; `/usr/bin/python3`, not the file the link points to). Else, and for
/// `fexecve` (`/dev/fd/N`), `/proc/PID/exe`.
fn exec_path(pid: Pid) -> String {
    const WORD: usize = std::mem::size_of::<usize>();
    let execfn = std::fs::read(format!("/proc/{pid}/auxv"))
        .ok()
        .and_then(|auxv| {
            auxv.chunks_exact(2 * WORD).find_map(|pair| {
                let key = usize::from_ne_bytes(pair[..WORD].try_into().ok()?);
                let value = usize::from_ne_bytes(pair[WORD..].try_into().ok()?);
                (key == libc::AT_EXECFN as usize).then_some(value as u64)
            })
        })
        .and_then(|at| remote_c_string(pid, at, libc::PATH_MAX as usize))
        .filter(|path| !path.is_empty() && !path.starts_with("/dev/fd/"));
    execfn.unwrap_or_else(|| {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The NUL-terminated string at `at` in the tracee (at most `max` bytes), read a page
/// at a time: a string near the end of a mapping is read up to that end only.
fn remote_c_string(pid: Pid, mut at: u64, max: usize) -> Option<String> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    while out.len() < max {
        let len = (PAGE - at % PAGE).min((max - out.len()) as u64) as usize;
        super::kernel::read_mem(pid, at, len, &mut chunk)?;
        match chunk.iter().position(|&b| b == 0) {
            Some(end) => {
                out.extend_from_slice(&chunk[..end]);
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            None => out.extend_from_slice(&chunk),
        }
        at += len as u64;
    }
    None
}

/// Whether task `tid` is a thread of another task's process (`Tgid` differs).
pub(super) fn is_thread(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse::<i32>().ok())
        })
        .is_some_and(|tgid| tgid != tid)
}
