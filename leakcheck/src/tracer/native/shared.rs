//! What the ptrace thread and the notification thread share: the observer (and the
//! events they hand it, with the stack of a call that made a finding), the sockets seen
//! created, the run's problems and its tasks.

use super::kernel;
use crate::event::{Event, EventKind};
use crate::leftover::Tasks;
use crate::stack::{self, Regs};
use crate::syntax::{render, Line, ParseError, Shown};
use crate::tracer::run::Observer;
use nix::unistd::Pid;
use std::collections::HashMap;
use std::sync::Mutex;

/// What the tracer knows of a socket it saw created: enough to decode sends on it.
#[derive(Debug, Clone, Copy)]
pub(super) struct SocketInfo {
    pub(super) family: u16,
    pub(super) protocol: i32,
    /// Its last connect was to port 53: what it sends is a DNS query.
    pub(super) dns: bool,
}

/// Sockets seen created, by thread and descriptor; by descriptor alone as a fallback,
/// because a socket may be used by a thread other than the one that created it.
#[derive(Debug, Default)]
pub(super) struct Sockets {
    pub(super) by_thread: HashMap<(Pid, i32), SocketInfo>,
    pub(super) by_fd: HashMap<i32, SocketInfo>,
}

impl Sockets {
    /// `pid` connected `fd` (of `family`) to port 53, or elsewhere: whether its sends
    /// are DNS queries. A socket the trace did not see created gets an entry when it is
    /// a DNS one.
    pub(super) fn connected(&mut self, pid: Pid, fd: i32, family: u16, dns: bool) {
        let known = self.get(pid, fd as u64);
        let info = match known {
            Some(info) => SocketInfo { dns, ..info },
            None if dns => SocketInfo {
                family,
                protocol: 0,
                dns,
            },
            None => return,
        };
        self.by_thread.insert((pid, fd), info);
        self.by_fd.insert(fd, info);
    }

    pub(super) fn get(&self, pid: Pid, fd: u64) -> Option<SocketInfo> {
        let fd = fd as i32;
        self.by_thread
            .get(&(pid, fd))
            .or_else(|| self.by_fd.get(&fd))
            .copied()
    }
}

/// How the task of a line waits while the line is handed on: which of its registers can
/// be read, to unwind its stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Halt {
    /// In a ptrace stop, and the line is handed on by the thread that traces it: all of
    /// its registers (`PTRACE_GETREGSET`).
    Ptrace,
    /// In a seccomp notification, not ptrace-stopped: its stack and program counters
    /// (`/proc/TID/syscall`).
    Notified,
}

/// What the ptrace thread and the notification thread share.
pub(super) struct Shared<'a> {
    /// Who is told, and the buffer a line's text is written into when it wants the text.
    pub(super) observer: Mutex<(&'a mut dyn Observer, String)>,
    pub(super) sockets: Mutex<Sockets>,
    pub(super) problems: Mutex<Vec<String>>,
    /// Every task seen and not yet ended, for the watchdog.
    pub(super) tasks: Tasks,
}

impl Shared<'_> {
    /// Hands the event a line shows to the observer, with the line to quote (and its
    /// text first, when the observer keeps the trace as text). A line the parser would
    /// refuse is refused the same way, with the same message. When the call made a
    /// finding that wants its stack, the task (still waiting, as `halt` says) is unwound
    /// and each frame follows as an event, as strace's ` > ` lines follow its call.
    pub(super) fn emit(&self, tid: Pid, line: &Line, halt: Halt) {
        let Ok(mut guard) = self.observer.lock() else {
            return;
        };
        let (observer, text) = &mut *guard;
        let pid = tid.as_raw() as u32;
        if observer.wants_text() {
            text.clear();
            render::line(text, pid, line);
            observer.text(text);
        }
        match line.event_kind() {
            Ok(kind) => {
                observer.event(&Event { pid, kind }, Shown::Line(line));
                if matches!(line, Line::Call(..)) && observer.wants_stack() {
                    emit_stack(&mut **observer, text, tid, halt);
                }
            }
            Err(reason) => {
                text.clear();
                render::line(text, pid, line);
                let error = ParseError {
                    reason,
                    line: text.clone(),
                };
                observer.unreadable(&error);
            }
        }
    }

    pub(super) fn problem(&self, problem: String) {
        if let Ok(mut problems) = self.problems.lock() {
            if problems.len() < 20 && !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }

    pub(super) fn socket(&self, pid: Pid, fd: u64) -> Option<SocketInfo> {
        self.sockets.lock().ok()?.get(pid, fd)
    }
}

/// Unwinds task `tid`, which waits as `halt` says, and hands each frame to the observer
/// (with its text first, when the trace is kept as text).
fn emit_stack(observer: &mut dyn Observer, text: &mut String, tid: Pid, halt: Halt) {
    let pid = tid.as_raw() as u32;
    let regs = match halt {
        Halt::Ptrace => kernel::registers(tid),
        Halt::Notified => Regs::of_blocked(pid),
    };
    let Some(regs) = regs else {
        return;
    };
    for frame in stack::unwind(pid, regs) {
        let line = Line::Frame(&frame);
        if observer.wants_text() {
            text.clear();
            render::line(text, pid, &line);
            observer.text(text);
        }
        let kind = EventKind::Frame(frame.clone());
        observer.event(&Event { pid, kind }, Shown::Line(&line));
    }
}
