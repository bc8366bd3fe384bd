//! The kernel interfaces of the native tracer: `PTRACE_GET_SYSCALL_INFO`, resuming a
//! tracee, reading its memory, and the seccomp listener (its copy, notifications and
//! their answers). Each wrapper is one system call.

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `struct ptrace_syscall_info` (Linux 5.3).
#[repr(C)]
#[derive(Default)]
pub(super) struct SyscallInfo {
    pub(super) op: u8,
    pub(super) _pad: [u8; 3],
    pub(super) arch: u32,
    pub(super) _instruction_pointer: u64,
    pub(super) _stack_pointer: u64,
    /// entry/seccomp: nr, args[6] (and ret_data); exit: rval, is_error.
    pub(super) data: [u64; 8],
}

pub(super) const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
pub(super) const SYSCALL_INFO_EXIT: u8 = 2;
pub(super) const SYSCALL_INFO_SECCOMP: u8 = 3;

pub(super) fn syscall_info(pid: Pid) -> io::Result<SyscallInfo> {
    let mut info = SyscallInfo::default();
    // SAFETY: the kernel writes at most `size_of` bytes into `info`.
    let n = unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO,
            pid.as_raw(),
            std::mem::size_of::<SyscallInfo>(),
            &mut info as *mut SyscallInfo,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
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

pub(super) fn read_u32(pid: Pid, addr: u64, scratch: &mut Vec<u8>) -> Option<u32> {
    read_mem(pid, addr, 4, scratch)?;
    Some(u32::from_ne_bytes(scratch[..4].try_into().ok()?))
}

/// The parent's copy of the seccomp listener.
pub(super) struct Listener {
    pub(super) fd: OwnedFd,
    /// Linux 6.6's synchronous wake-up is on (see [`copy_fd`]).
    pub(super) sync: bool,
}

pub(super) fn copy_fd(pid: i32, fd: i32) -> Option<Listener> {
    // SAFETY: plain system calls; each descriptor returned is owned exactly once.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            return None;
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let copy = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0);
        if copy < 0 {
            return None;
        }
        let listener = OwnedFd::from_raw_fd(copy as i32);
        // Linux 6.6: wake the supervisor on the caller's CPU and switch to it directly.
        // Without it a notification costs a cross-CPU wake-up each way (65 µs against
        // 7 µs on a 2-vCPU VM); older kernels refuse it and simply run slower.
        let sync = libc::ioctl(listener.as_raw_fd(), NOTIF_SET_FLAGS, NOTIF_FD_SYNC_WAKE_UP) == 0;
        Some(Listener { fd: listener, sync })
    }
}

/// `struct seccomp_notif`
#[repr(C)]
#[derive(Default)]
pub(super) struct Notif {
    pub(super) id: u64,
    pub(super) pid: u32,
    pub(super) flags: u32,
    pub(super) nr: i32,
    pub(super) arch: u32,
    pub(super) instruction_pointer: u64,
    pub(super) args: [u64; 6],
}

/// `struct seccomp_notif_resp`
#[repr(C)]
pub(super) struct NotifResp {
    pub(super) id: u64,
    pub(super) val: i64,
    pub(super) error: i32,
    pub(super) flags: u32,
}

pub(super) const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
pub(super) const NOTIF_SEND: libc::c_ulong = 0xc018_2101;
pub(super) const NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
pub(super) const NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
pub(super) const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

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
pub(super) fn receive(listener: &OwnedFd) -> Result<Notif, i32> {
    let mut req = Notif::default();
    // SAFETY: the kernel fills `req`, which it requires zeroed.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_RECV, &mut req as *mut Notif) };
    if r == 0 {
        Ok(req)
    } else {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}
