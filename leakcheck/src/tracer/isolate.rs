//! `--isolate-network`: run the traced program in a fresh network namespace.
//!
//! A leak is then observed (strace sees the attempt) but cannot leave the machine: the
//! namespace has only a loopback interface, which is brought up so that tests talking to
//! their own servers or to a proxy started inside still work.
//!
//! [`NetworkIsolation::enter`] runs between fork and exec (`pre_exec`), so it only makes
//! system calls and never allocates: everything it needs is prepared beforehand.

use nix::sched::{unshare, CloneFlags};
use std::io;

/// What entering a namespace needs, prepared before the fork.
#[derive(Debug, Clone)]
pub struct NetworkIsolation {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl Default for NetworkIsolation {
    fn default() -> Self {
        Self::new()
    }
}

impl NetworkIsolation {
    /// Prepares the maps needed when the process lacks CAP_SYS_ADMIN and must go through a
    /// user namespace.
    pub fn new() -> NetworkIsolation {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        NetworkIsolation {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }

    /// Moves the calling process into a new network namespace with loopback up.
    ///
    /// Tries a plain network namespace first (root, CAP_SYS_ADMIN); without that
    /// privilege, a user namespace that maps the caller to itself.
    pub fn enter(&self) -> io::Result<()> {
        match unshare(CloneFlags::CLONE_NEWNET) {
            Ok(()) => {}
            Err(nix::errno::Errno::EPERM) => {
                unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
                    .map_err(io::Error::from)?;
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", &self.uid_map)?;
                write_proc(c"/proc/self/gid_map", &self.gid_map)?;
            }
            Err(e) => return Err(e.into()),
        }
        bring_loopback_up()
    }
}

pub(crate) fn write_proc(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: plain system calls on a NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if written < 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// `ip link set lo up`, with two ioctls.
pub(crate) fn bring_loopback_up() -> io::Result<()> {
    // SAFETY: ifreq is plain data; the socket is closed on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let result = if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut ifr) < 0 {
            Err(io::Error::last_os_error())
        } else {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &ifr) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        result
    }
}
