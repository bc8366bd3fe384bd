//! A copy of another process's descriptor (`pidfd_open` + `pidfd_getfd`, Linux 5.6):
//! the stand-in's listening sockets out of its holder, the seccomp listener out of the
//! traced child, a traced socket to read its addresses from. The kernel allows it to a
//! process that may ptrace the other one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Copies descriptor `fd` of process `pid` into this one (close-on-exec).
pub(crate) fn copy_fd(pid: i32, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: plain system calls; each descriptor returned is owned exactly once.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as RawFd);
        let copy = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0);
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(copy as RawFd))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_descriptor_of_this_process_is_copied() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let copy = super::copy_fd(
            std::process::id() as i32,
            std::os::fd::AsRawFd::as_raw_fd(&file),
        );
        assert!(copy.is_ok(), "{copy:?}");
        assert!(super::copy_fd(std::process::id() as i32, 1_000_000).is_err());
    }
}
