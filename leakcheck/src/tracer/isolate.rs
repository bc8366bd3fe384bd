//! `--isolate-network`: run the traced program in a fresh network namespace.
//!
//! A leak is then observed (strace sees the attempt) but cannot leave the machine: the
//! namespace has only a loopback interface, which is brought up so that tests talking to
//! their own servers or to a proxy started inside still work.
//!
//! The nameservers of `/etc/resolv.conf` are added to that loopback interface (inside
//! the namespace only): a resolver's UDP connect to one then succeeds and its query is
//! sent, to `lo`, where nothing listens. The tracer sees the query, so a `dns` finding
//! names the host asked for, and the lookup fails at once (port unreachable) instead of
//! never being sent (the connect would fail with ENETUNREACH).
//!
//! [`NetworkIsolation::enter`] runs between fork and exec (`pre_exec`), so it only makes
//! system calls and never allocates: everything it needs is prepared beforehand.

use nix::sched::{unshare, CloneFlags};
use std::io;
use std::net::IpAddr;

/// What entering a namespace needs, prepared before the fork.
#[derive(Debug, Clone)]
pub struct NetworkIsolation {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    nameservers: LoopbackAddresses,
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
            nameservers: LoopbackAddresses::new(&nameservers(), "ns"),
        }
    }

    /// Moves the calling process into a new network namespace with loopback up (and the
    /// nameservers on it).
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
        bring_loopback_up()?;
        // Best effort: without them a lookup's connect fails and its name is not seen,
        // which still makes the finding.
        // SAFETY: ioctls on structures prepared in `new`.
        let _ = unsafe { self.nameservers.add() };
        Ok(())
    }
}

/// The nameservers of `/etc/resolv.conf` that a fresh namespace lacks: not loopback
/// (127.0.0.53 and friends are on `lo` already), not scoped link-local ones (`fe80::1%eth0`
/// is not an address alone), at most glibc's three.
pub fn nameservers() -> Vec<IpAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    parse_nameservers(&text)
}

fn parse_nameservers(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let unusable = ip.is_loopback() || ip.is_unspecified() || ip.is_multicast();
        if !unusable && !out.contains(&ip) && out.len() < 3 {
            out.push(ip);
        }
    }
    out
}

/// Addresses to add to `lo` with ioctls, prepared before a fork (as `/32` and `/128`:
/// a class-sized prefix on `lo` would make every address of the class local).
#[derive(Clone)]
pub(crate) struct LoopbackAddresses {
    v4: Vec<libc::ifreq>,
    v6: Vec<libc::in6_addr>,
}

impl std::fmt::Debug for LoopbackAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackAddresses")
            .field("v4", &self.v4.len())
            .field("v6", &self.v6.len())
            .finish()
    }
}

// SAFETY: plain C structures, only read.
unsafe impl Send for LoopbackAddresses {}
unsafe impl Sync for LoopbackAddresses {}

impl LoopbackAddresses {
    /// `addresses`, each IPv4 one on an alias of `lo` named `lo:LABELn`.
    pub(crate) fn new(addresses: &[IpAddr], label: &str) -> LoopbackAddresses {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, addr) in addresses.iter().enumerate() {
            match addr {
                IpAddr::V4(ip) => {
                    // SAFETY: zeroed C structures are valid.
                    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
                    let name = format!("lo:{label}{i}");
                    // Room for the NUL: IFNAMSIZ is 16.
                    for (dst, src) in ifr.ifr_name.iter_mut().take(15).zip(name.bytes()) {
                        *dst = src as libc::c_char;
                    }
                    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                    sin.sin_family = libc::AF_INET as libc::sa_family_t;
                    sin.sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
                    // SAFETY: a sockaddr_in fits in the request's union.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            (&sin as *const libc::sockaddr_in).cast::<u8>(),
                            (&mut ifr.ifr_ifru as *mut libc::__c_anonymous_ifr_ifru).cast::<u8>(),
                            std::mem::size_of::<libc::sockaddr_in>(),
                        );
                    }
                    v4.push(ifr);
                }
                IpAddr::V6(ip) => v6.push(libc::in6_addr {
                    s6_addr: ip.octets(),
                }),
            }
        }
        LoopbackAddresses { v4, v6 }
    }

    /// `ip addr add ADDR/32 dev lo` (`/128` for IPv6) for each address.
    ///
    /// # Safety
    ///
    /// Only system calls: callable between fork and exec.
    pub(crate) unsafe fn add(&self) -> io::Result<()> {
        // SAFETY: ioctls on prepared structures; sockets closed on every path.
        unsafe {
            if !self.v4.is_empty() {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                for ifr in &self.v4 {
                    let mut mask = *ifr;
                    let sin = (&mut mask.ifr_ifru as *mut libc::__c_anonymous_ifr_ifru)
                        .cast::<libc::sockaddr_in>();
                    (*sin).sin_addr.s_addr = u32::MAX;
                    if libc::ioctl(fd, libc::SIOCSIFADDR as _, ifr) < 0
                        || libc::ioctl(fd, libc::SIOCSIFNETMASK as _, &mask) < 0
                    {
                        let e = io::Error::last_os_error();
                        libc::close(fd);
                        return Err(e);
                    }
                }
                libc::close(fd);
            }
            if !self.v6.is_empty() {
                let fd = libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                for addr in &self.v6 {
                    let req = libc::in6_ifreq {
                        ifr6_addr: *addr,
                        ifr6_prefixlen: 128,
                        // lo is interface 1 in a new network namespace.
                        ifr6_ifindex: 1,
                    };
                    if libc::ioctl(fd, libc::SIOCSIFADDR as _, &req) < 0 {
                        let e = io::Error::last_os_error();
                        libc::close(fd);
                        return Err(e);
                    }
                }
                libc::close(fd);
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_a_namespace_lacks() {
        let conf = "# comment\nsearch example\nnameserver 10.255.255.53\nnameserver 127.0.0.53\n\
                    nameserver fe80::1%eth0\nnameserver 2001:db8::53\nnameserver 10.255.255.53\n\
                    nameserver ::1\nnameserver 0.0.0.0\nnameserver bogus\nnameserver 192.0.2.1\n\
                    nameserver 192.0.2.2\noptions timeout:1\n";
        let want: Vec<IpAddr> = ["10.255.255.53", "2001:db8::53", "192.0.2.1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(parse_nameservers(conf), want);
        assert!(parse_nameservers("").is_empty());
    }
}
