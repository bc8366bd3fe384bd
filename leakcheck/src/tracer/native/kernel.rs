//! The kernel interfaces of the native tracer: `PTRACE_GET_SYSCALL_INFO`, resuming a
//! tracee, reading its memory and registers, and the seccomp listener (its copy,
//! notifications and their answers). Each wrapper is one system call.

use super::arch;
use crate::stack::Regs;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};

/// What `PTRACE_GET_SYSCALL_INFO` (Linux 5.3) says about a stopped tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SyscallInfo {
    /// A seccomp stop: the call at entry.
    Seccomp {
        /// Its audit architecture.
        arch: u32,
        /// Its number.
        nr: u64,
        /// Its arguments.
        args: [u64; 6],
    },
    /// A syscall-exit stop: the call's result.
    Exit {
        /// The return value (a negated errno when `is_error`).
        rval: i64,
        /// The call failed.
        is_error: bool,
    },
    /// Another kind of stop (`op`, e.g. `PTRACE_SYSCALL_INFO_ENTRY`).
    Other(u8),
}

impl SyscallInfo {
    /// The kernel's name of the stop kind (`op`).
    pub(super) fn op(&self) -> u8 {
        match self {
            SyscallInfo::Seccomp { .. } => libc::PTRACE_SYSCALL_INFO_SECCOMP,
            SyscallInfo::Exit { .. } => libc::PTRACE_SYSCALL_INFO_EXIT,
            SyscallInfo::Other(op) => *op,
        }
    }
}

#[cfg(target_env = "gnu")]
pub(super) fn syscall_info(pid: Pid) -> io::Result<SyscallInfo> {
    // SAFETY: plain data, for which all zeroes is a value.
    let mut info: libc::ptrace_syscall_info = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most `size_of` bytes into `info`.
    let n = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            pid.as_raw(),
            std::mem::size_of::<libc::ptrace_syscall_info>(),
            &mut info as *mut libc::ptrace_syscall_info,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `op` says which member of the union the kernel filled.
    Ok(unsafe {
        match info.op {
            libc::PTRACE_SYSCALL_INFO_SECCOMP => SyscallInfo::Seccomp {
                arch: info.arch,
                nr: info.u.seccomp.nr,
                args: info.u.seccomp.args,
            },
            libc::PTRACE_SYSCALL_INFO_EXIT => SyscallInfo::Exit {
                rval: info.u.exit.sval,
                is_error: info.u.exit.is_error != 0,
            },
            op => SyscallInfo::Other(op),
        }
    })
}

/// libc defines `ptrace_syscall_info` for glibc targets only; the native tracer does not
/// run elsewhere (see `arch::SUPPORTED`).
#[cfg(not(target_env = "gnu"))]
pub(super) fn syscall_info(_pid: Pid) -> io::Result<SyscallInfo> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Resumes a stopped tracee, delivering `signal` (0 for none). Raw, because nix's
/// `Signal` cannot carry real-time signals.
pub(super) fn resume(pid: Pid, request: libc::c_uint, signal: i32) {
    // SAFETY: plain ptrace request; failure means the tracee is gone, which waitpid reports.
    unsafe {
        libc::ptrace(request, pid.as_raw(), 0usize, signal as usize);
    }
}

/// Reads `len` bytes of the tracee's memory; None when any of it is unreadable.
pub(super) fn read_mem(pid: Pid, addr: u64, len: usize, buf: &mut Vec<u8>) -> Option<()> {
    buf.clear();
    if len == 0 {
        return Some(());
    }
    if addr == 0 {
        return None;
    }
    buf.resize(len, 0);
    let remote = [RemoteIoVec {
        base: addr as usize,
        len,
    }];
    match process_vm_readv(pid, &mut [IoSliceMut::new(buf)], &remote) {
        Ok(n) if n == len => Some(()),
        _ => {
            buf.clear();
            None
        }
    }
}

/// The registers of a ptrace-stopped tracee that an unwind starts from
/// (`PTRACE_GETREGSET`); only the thread that traces it may ask.
pub(super) fn registers(pid: Pid) -> Option<Regs> {
    // SAFETY: plain data, for which all zeroes is a value.
    let mut regs: arch::UserRegs = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: (&mut regs as *mut arch::UserRegs).cast(),
        iov_len: std::mem::size_of::<arch::UserRegs>(),
    };
    // SAFETY: the kernel writes at most `iov_len` bytes into `regs`.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            pid.as_raw(),
            libc::NT_PRSTATUS as usize,
            &mut iov as *mut libc::iovec,
        )
    };
    (r == 0).then(|| arch::unwind_regs(&regs))
}

/// The parent's copy of the seccomp listener.
pub(super) struct Listener {
    pub(super) fd: OwnedFd,
    /// Linux 6.6's synchronous wake-up is on (see [`copy_fd`]).
    pub(super) sync: bool,
}

pub(super) fn copy_fd(pid: i32, fd: i32) -> Option<Listener> {
    let listener = crate::pidfd::copy_fd(pid, fd).ok()?;
    // SAFETY: an ioctl on a live descriptor.
    unsafe {
        // Linux 6.6: wake the supervisor on the caller's CPU and switch to it directly.
        // Without it a notification costs a cross-CPU wake-up each way (65 µs against
        // 7 µs on a 2-vCPU VM); older kernels refuse it and simply run slower.
        let sync = libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            NOTIF_FD_SYNC_WAKE_UP,
        ) == 0;
        Some(Listener { fd: listener, sync })
    }
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6), which libc 0.2.191 lacks.
const NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Whether the filter has no user left (every traced task is gone).
pub(super) fn hung_up(listener: &OwnedFd) -> bool {
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one live descriptor, without waiting.
    let r = unsafe { libc::poll(&mut fd, 1, 0) };
    r < 0 || fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Takes the next notification, waiting for one; Err holds the errno.
pub(super) fn receive(listener: &OwnedFd) -> Result<libc::seccomp_notif, i32> {
    // SAFETY: plain data, for which all zeroes is a value (the kernel wants it zeroed).
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel fills `req`.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut req as *mut libc::seccomp_notif,
        )
    };
    if r == 0 {
        Ok(req)
    } else {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

/// Lets the notified call `id` go on as if no filter had stopped it. A caller that is
/// gone meanwhile (ENOENT) is no error: its attempt was reported all the same.
pub(super) fn let_continue(listener: &OwnedFd, id: u64) {
    let resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: the kernel reads `resp`.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &resp as *const libc::seccomp_notif_resp,
        );
    }
}
