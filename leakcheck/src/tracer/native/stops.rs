//! The ptrace side of a run: every stop of every tracee, turned into trace lines.

use super::arch;
use super::decode::{write_c_string, write_errno, write_family, write_socket_type, Decoder};
use super::filter::{call_of, Call};
use super::kernel::{read_u32, resume, syscall_info, SyscallInfo};
use super::{Shared, SocketInfo};
use crate::leftover;
use crate::tracer::ProgramStatus;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::sync::mpsc;

/// A call stopped at entry whose line waits for its result.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) call: Call,
    pub(super) args: [u64; 6],
    /// The line so far, without ` = result`.
    pub(super) text: String,
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
    pub(super) line: String,
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

    pub(super) fn emit(&mut self, pid: Pid, text: &str, ret: &str) {
        self.line.clear();
        let _ = write!(self.line, "{pid} {text} = {ret}");
        self.shared.emit(&self.line);
    }

    pub(super) fn emit_notice(&mut self, pid: Pid, notice: &str) {
        self.line.clear();
        let _ = write!(self.line, "{pid} +++ {notice} +++");
        self.shared.emit(&self.line);
    }

    pub(super) fn emit_exec(&mut self, pid: Pid) {
        let path = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut text = String::from("execve(");
        write_c_string(&mut text, path.as_bytes());
        text.push_str(", [...], [...])");
        self.line.clear();
        let _ = write!(self.line, "{pid} {text} = 0");
        self.shared.emit(&self.line);
    }

    /// A seccomp stop: the call is at entry. Returns whether to see its exit.
    pub(super) fn on_entry(&mut self, pid: Pid, arch: u32, nr: u64, a: [u64; 6]) -> bool {
        if arch != arch::AUDIT_ARCH || arch::X32_BIT.is_some_and(|bit| nr as u32 & bit != 0) {
            self.problem(format!(
                "pid {pid} made a system call of another ABI (arch {arch:#x}, nr {nr}), which the native tracer does not decode; run with LEAKCHECK_TRACER=strace"
            ));
            return false;
        }
        let Some(call) = call_of(nr) else {
            return false;
        };
        let mut text = String::with_capacity(160);
        let fd = a[0] as i32;
        match call {
            Call::Socket => {
                text.push_str("socket(");
                write_family(&mut text, a[0] as u16);
                text.push_str(", ");
                write_socket_type(&mut text, a[1]);
                let _ = write!(text, ", {})", a[2] as i32);
            }
            Call::Connect | Call::Bind => {
                text.push_str(if call == Call::Connect {
                    "connect("
                } else {
                    "bind("
                });
                let _ = write!(text, "{fd}, ");
                self.decoder.write_addr(pid, &mut text, a[1], a[2]);
                let _ = write!(text, ", {})", a[2] as u32);
            }
            Call::Listen => {
                let _ = write!(text, "listen({fd}, {})", a[1] as i32);
            }
            Call::GetSockName => {
                // The address is known at exit; a call that never gets there (its task
                // died) is written with its pointers, and tells nothing.
                let _ = write!(text, "getsockname({fd}, {:#x}, {:#x})", a[1], a[2]);
            }
            Call::SendTo | Call::SendMsg | Call::SendMmsg => {
                // Stopped here only when the kernel cannot notify (see `Notifier`): the
                // destination is in the arguments, so the exit is not waited for.
                let socket = self.shared.socket(pid, a[0]);
                self.decoder.send_text(pid, call, &a, socket, &mut text);
                self.emit(pid, &text, "?");
                return false;
            }
            Call::Ioctl => {
                const SIOCGIFCONF: u32 = libc::SIOCGIFCONF as u32;
                const SIOCGIFADDR: u32 = libc::SIOCGIFADDR as u32;
                let request = match a[1] as u32 {
                    SIOCGIFCONF => "SIOCGIFCONF".to_string(),
                    SIOCGIFADDR => "SIOCGIFADDR".to_string(),
                    other => format!("{other:#x}"),
                };
                let _ = write!(text, "ioctl({fd}, {request}, {:#x})", a[2]);
            }
            Call::IoUringSetup => {
                let _ = write!(text, "io_uring_setup({}, {:#x})", a[0] as u32, a[1]);
            }
            Call::IoUringEnter => {
                let _ = write!(
                    text,
                    "io_uring_enter({fd}, {}, {}, ...)",
                    a[1] as u32, a[2] as u32
                );
            }
            Call::IoUringRegister => {
                let _ = write!(text, "io_uring_register({fd}, {}, ...)", a[1] as u32);
            }
            // The filter stops these only in the cases that matter; they are written at
            // entry, since their result does not change what they tell.
            Call::Prctl => {
                text.push_str("prctl(PR_SET_NAME, ");
                let name = self.decoder.read_c_string(pid, a[1], 16);
                write_c_string(&mut text, &name);
                text.push(')');
                self.emit(pid, &text, "?");
                return false;
            }
            Call::Clone => {
                let flags = a[0] & !(libc::CLONE_UNTRACED as u64);
                let _ = write!(
                    text,
                    "clone(child_stack={:#x}, flags=CLONE_UNTRACED|{flags:#x})",
                    a[1]
                );
                self.emit(pid, &text, "?");
                return false;
            }
            Call::Ptrace => {
                let request = if a[0] as u32 == libc::PTRACE_ATTACH {
                    "PTRACE_ATTACH"
                } else {
                    "PTRACE_SEIZE"
                };
                let _ = write!(text, "ptrace({request}, {})", a[1] as i32);
                self.emit(pid, &text, "?");
                return false;
            }
            Call::Seccomp => {
                let _ = write!(
                    text,
                    "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, {:#x})",
                    a[2]
                );
                self.emit(pid, &text, "?");
                return false;
            }
            Call::Clone3 => return false,
        }
        let tracee = self.tracees.entry(pid).or_default();
        tracee.pending = Some(Pending {
            call,
            args: a,
            text,
        });
        true
    }

    /// A syscall-exit stop: completes and emits the pending line.
    pub(super) fn on_exit(&mut self, pid: Pid, info: &SyscallInfo) {
        let Some(mut pending) = self.tracees.get_mut(&pid).and_then(|t| t.pending.take()) else {
            return;
        };
        let (rval, is_error) = if let SyscallInfo::Exit { rval, is_error } = *info {
            (rval, is_error)
        } else {
            self.emit(pid, &pending.text, "?");
            return;
        };
        let a = pending.args;
        match pending.call {
            Call::Socket if !is_error => {
                let socket = SocketInfo {
                    family: a[0] as u16,
                    protocol: a[2] as i32,
                };
                if let Ok(mut sockets) = self.shared.sockets.lock() {
                    sockets.by_thread.insert((pid, rval as i32), socket);
                    sockets.by_fd.insert(rval as i32, socket);
                }
            }
            Call::GetSockName => {
                let fd = a[0] as i32;
                let mut text = std::mem::take(&mut pending.text);
                text.clear();
                if is_error {
                    let _ = write!(text, "getsockname({fd}, {:#x}, {:#x})", a[1], a[2]);
                } else {
                    let _ = write!(text, "getsockname({fd}, ");
                    let len = read_u32(pid, a[2], &mut self.decoder.scratch).unwrap_or(0);
                    self.decoder
                        .write_addr(pid, &mut text, a[1], u64::from(len));
                    let _ = write!(text, ", [{len}])");
                }
                pending.text = text;
            }
            _ => {}
        }
        let mut ret = String::new();
        if is_error {
            write_errno(&mut ret, -rval);
        } else {
            let _ = write!(ret, "{rval}");
        }
        self.emit(pid, &pending.text, &ret);
    }

    /// A tracee is gone: finish its line and say how it ended.
    pub(super) fn on_death(&mut self, pid: Pid, end: ProgramStatus) {
        if let Some(Tracee {
            pending: Some(pending),
            ..
        }) = self.tracees.remove(&pid)
        {
            self.emit(pid, &pending.text, "?");
        }
        let notice = match &end {
            ProgramStatus::Exited(code) => format!("exited with {code}"),
            ProgramStatus::Signaled(sig) => match Signal::try_from(*sig) {
                Ok(s) => format!("killed by {}", s.as_str()),
                Err(_) => format!("killed by SIGRT_{sig}"),
            },
            ProgramStatus::TimedOut => unreachable!("a death is an exit or a signal"),
        };
        self.emit_notice(pid, &notice);
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
                let see_exit = match syscall_info(pid) {
                    Ok(SyscallInfo::Seccomp { arch, nr, args }) => {
                        self.on_entry(pid, arch, nr, args)
                    }
                    Ok(info) => {
                        self.problem(format!(
                            "unexpected stop kind {} at a seccomp stop",
                            info.op()
                        ));
                        false
                    }
                    Err(e) => {
                        self.problem(format!(
                            "cannot read a traced system call (PTRACE_GET_SYSCALL_INFO needs Linux 5.3; LEAKCHECK_TRACER=strace works on older kernels): {e}"
                        ));
                        false
                    }
                };
                let request = if see_exit {
                    libc::PTRACE_SYSCALL
                } else {
                    libc::PTRACE_CONT
                };
                resume(pid, request, 0);
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
                if let Ok(child) = nix::sys::ptrace::getevent(pid) {
                    let child = child as i32;
                    // Its attach SIGSTOP may come before or after this event.
                    self.tracees.entry(Pid::from_raw(child)).or_default();
                    self.shared.tasks.started(child as u32);
                    let thread = event == libc::PTRACE_EVENT_CLONE && is_thread(child);
                    // The line strace would write: it tells the judge whose task this is.
                    let flags = if thread { "CLONE_THREAD" } else { "SIGCHLD" };
                    let call = match event {
                        libc::PTRACE_EVENT_FORK => "fork()".to_string(),
                        libc::PTRACE_EVENT_VFORK => "vfork()".to_string(),
                        _ => format!("clone(child_stack=NULL, flags={flags})"),
                    };
                    self.line.clear();
                    let _ = write!(self.line, "{pid} {call} = {child}");
                    self.shared.emit(&self.line);
                }
                resume(pid, libc::PTRACE_CONT, 0);
            }
            _ => resume(pid, libc::PTRACE_CONT, 0),
        }
    }
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
