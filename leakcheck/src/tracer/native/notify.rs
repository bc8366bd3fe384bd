//! The seccomp-notification side of a run: the send calls, answered while their caller
//! waits.

use super::decode::Decoder;
use super::filter::{syscall_of, Syscall};
use super::kernel::{copy_fd, hung_up, let_continue, receive, Listener};
use super::shared::{Halt, Shared};
use crate::syntax::{Line, Ret};
use nix::unistd::Pid;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// The parent's side of the listener handover: reads the child's pid and listener
/// number, copies the descriptor with `pidfd_getfd`, and lets the child go on.
pub(super) fn take_listener(hand: io::PipeReader, ack: io::PipeWriter) -> Option<Listener> {
    let mut msg = [0u8; 8];
    (&hand).read_exact(&mut msg).ok()?;
    let pid = i32::from_ne_bytes(msg[..4].try_into().ok()?);
    let fd = i32::from_ne_bytes(msg[4..].try_into().ok()?);
    let listener = if fd < 0 { None } else { copy_fd(pid, fd) };
    let ok = fd < 0 || listener.is_some();
    let _ = (&ack).write_all(if ok { b"1" } else { b"0" });
    listener
}

/// Reads a send's arguments and writes its line while its caller waits, then lets the
/// call go on.
pub(super) fn answer(
    listener: &OwnedFd,
    req: &libc::seccomp_notif,
    shared: &Shared,
    decoder: &mut Decoder,
) {
    let pid = Pid::from_raw(req.pid as i32);
    match syscall_of(req.data.nr as u64) {
        Some(call @ (Syscall::SendTo | Syscall::SendMsg | Syscall::SendMmsg)) => {
            let socket = shared.socket(pid, req.data.args[0]);
            let send = decoder.send(pid, call, &req.data.args, socket);
            // The line is written while the call waits: the judge may look the sender's
            // descriptor, or the port it sends to, up in /proc (leakcheck::ports), which
            // only works while they are still open.
            shared.emit(pid, &Line::Call(send, Ret::Unknown), Halt::Notified);
        }
        _ => shared.problem(format!(
            "unexpected seccomp notification for system call {}",
            req.data.nr
        )),
    }
    let_continue(listener, req.id);
}

/// Answers seccomp notifications (the send calls) until the trace is over: reads the
/// destination and writes the line while the caller waits, then lets the call go on.
pub(super) fn notify_loop(listener: &Listener, done: &io::PipeReader, shared: &Shared) {
    let mut decoder = Decoder::default();
    let sync = listener.sync;
    let listener = &listener.fd;
    loop {
        if sync {
            // Every system call costs here (about 2 µs on a VM), so a kernel that has
            // synchronous wake-up (6.6), and therefore also wakes a blocked receive when
            // the filter loses its last user (5.8), is asked directly, without poll.
            match receive(listener) {
                Ok(req) => answer(listener, &req, shared, &mut decoder),
                Err(libc::EINTR) => {}
                // A caller that died before we read its call, or a filter without any
                // user left (then for good: the trace is over).
                Err(libc::ENOENT) if !hung_up(listener) => {}
                Err(_) => return,
            }
            continue;
        }
        let mut fds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: done.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two live descriptors.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            shared.problem(format!(
                "waiting for seccomp notifications failed: {}",
                io::Error::last_os_error()
            ));
            return;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            // ENOENT: the caller died (or was interrupted) before we read it.
            if let Ok(req) = receive(listener) {
                answer(listener, &req, shared, &mut decoder);
            }
            continue;
        }
        // The filter has no user left (POLLHUP), or the trace loop is done.
        if fds[0].revents != 0 || fds[1].revents != 0 {
            return;
        }
    }
}
