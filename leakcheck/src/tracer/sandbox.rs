//! A network (and UTS) namespace made before a traced run, for the stand-in proxy.
//!
//! `--isolate-network` alone gives each traced program a fresh namespace of its own, made
//! between fork and exec. The stand-in must listen *inside* the program's namespace but
//! be no part of the traced tree, so the namespace is made first, by a holder process
//! (`cat`, blocked on a pipe) whose `pre_exec` unshares it, brings loopback up, plants
//! the canaries (the host name, addresses on `lo`) and opens the stand-in's listening
//! sockets. leakcheck then copies those sockets out of the holder (`pidfd_getfd`), keeps
//! the namespaces by descriptor (`/proc/PID/ns/*`) and lets the holder end at once: a
//! child left running would be waited for by the native tracer's loop, which waits for
//! every child of its thread. The traced program joins the namespaces with `setns`
//! between fork and exec ([`Join::enter`]). Nothing of this touches the
//! host's files: abstract unix sockets live in the network namespace, unix socket paths
//! are not served. As with `--isolate-network`, the resolv.conf nameservers are added to
//! `lo` so that a lookup's query is sent (and seen) there.

use super::isolate::{bring_loopback_up, nameservers, write_proc, LoopbackAddresses};
use crate::pidfd::copy_fd;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// What the namespace holds: canaries, and the endpoints the stand-in listens on.
#[derive(Debug, Clone, Default)]
pub struct SandboxSpec {
    /// The host name inside (UTS namespace); None keeps the host's (no UTS namespace).
    pub hostname: Option<String>,
    /// Addresses added to `lo` (canaries, and non-loopback proxy addresses to serve on).
    pub addresses: Vec<IpAddr>,
    /// TCP endpoints to listen on.
    pub tcp: Vec<SocketAddr>,
    /// Abstract unix socket names to listen on (without the `@`).
    pub unix_abstract: Vec<String>,
}

/// A listening socket made inside the namespace.
#[derive(Debug)]
pub struct SandboxListener {
    /// The endpoint as the report names it (`127.0.0.1:9050`, `unix:@name`).
    pub name: String,
    /// The socket.
    pub fd: OwnedFd,
    /// A TCP socket (else an abstract unix socket).
    pub tcp: bool,
}

/// The namespaces of a run, kept open by descriptor; dropping it lets them go once the
/// traced programs have left them.
#[derive(Debug)]
pub struct Sandbox {
    net: OwnedFd,
    uts: Option<OwnedFd>,
    user: Option<OwnedFd>,
    listeners: Vec<SandboxListener>,
}

/// The first descriptor number the holder puts its listening sockets at.
const LISTEN_FD_BASE: RawFd = 200;

impl Sandbox {
    /// Makes the namespace. Errors name what could not be set up.
    pub fn create(spec: &SandboxSpec) -> io::Result<Sandbox> {
        let setup = Setup::prepare(spec)?;
        let mut command = Command::new("cat");
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: `Setup::run` only makes system calls on data prepared above.
        unsafe {
            command.pre_exec(move || setup.run());
        }
        let mut holder = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot set up the stand-in's network namespace (loopback, canaries, listening on {}): {e}",
                    listening(spec)
                ),
            )
        })?;
        let pid = holder.id() as i32;
        type Taken = (
            OwnedFd,
            Option<OwnedFd>,
            Option<OwnedFd>,
            Vec<SandboxListener>,
        );
        let result = (|| -> io::Result<Taken> {
            let ns = |name: &str| -> io::Result<OwnedFd> {
                Ok(File::open(format!("/proc/{pid}/ns/{name}"))?.into())
            };
            let net = ns("net")?;
            let uts = spec.hostname.as_ref().map(|_| ns("uts")).transpose()?;
            let own_user = std::fs::read_link("/proc/self/ns/user")?;
            let their_user = std::fs::read_link(format!("/proc/{pid}/ns/user"))?;
            let user = (own_user != their_user).then(|| ns("user")).transpose()?;
            let mut listeners = Vec::new();
            let names = spec.tcp.iter().map(|a| (a.to_string(), true)).chain(
                spec.unix_abstract
                    .iter()
                    .map(|n| (format!("unix:@{n}"), false)),
            );
            for (i, (name, tcp)) in names.enumerate() {
                let fd = copy_fd(pid, LISTEN_FD_BASE + i as RawFd)?;
                listeners.push(SandboxListener { name, fd, tcp });
            }
            Ok((net, uts, user, listeners))
        })();
        // cat ends at end of file; the namespaces live on in the descriptors taken.
        drop(holder.stdin.take());
        if result.is_err() {
            let _ = holder.kill();
        }
        let _ = holder.wait();
        match result {
            Ok((net, uts, user, listeners)) => Ok(Sandbox {
                net,
                uts,
                user,
                listeners,
            }),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot take over the stand-in's network namespace: {e}"),
            )),
        }
    }

    /// The listening sockets, to hand to the stand-in (once).
    pub fn take_listeners(&mut self) -> Vec<SandboxListener> {
        std::mem::take(&mut self.listeners)
    }

    /// What a traced program needs to join the namespaces between fork and exec.
    pub(crate) fn join(&self) -> Join {
        Join {
            user: self.user.as_ref().map(AsRawFd::as_raw_fd),
            net: self.net.as_raw_fd(),
            uts: self.uts.as_ref().map(AsRawFd::as_raw_fd),
        }
    }
}

/// The namespace descriptors a traced program joins (they stay open across fork; they
/// are close-on-exec, so the program never sees them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Join {
    user: Option<RawFd>,
    net: RawFd,
    uts: Option<RawFd>,
}

impl Join {
    /// Joins the namespaces: only system calls (runs between fork and exec).
    pub(crate) fn enter(&self) -> io::Result<()> {
        let setns = |fd: RawFd, kind: libc::c_int| -> io::Result<()> {
            // SAFETY: setns on a descriptor this process holds.
            if unsafe { libc::setns(fd, kind) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        };
        if let Some(user) = self.user {
            setns(user, libc::CLONE_NEWUSER)?;
        }
        setns(self.net, libc::CLONE_NEWNET)?;
        if let Some(uts) = self.uts {
            setns(uts, libc::CLONE_NEWUTS)?;
        }
        Ok(())
    }
}

fn listening(spec: &SandboxSpec) -> String {
    let names: Vec<String> = spec
        .tcp
        .iter()
        .map(ToString::to_string)
        .chain(spec.unix_abstract.iter().map(|n| format!("unix:@{n}")))
        .collect();
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

/// What the holder does between fork and exec, prepared before the fork.
struct Setup {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    hostname: Option<CString>,
    addresses: LoopbackAddresses,
    nameservers: LoopbackAddresses,
    tcp: Vec<(libc::sockaddr_storage, libc::socklen_t, libc::c_int)>,
    unix: Vec<(libc::sockaddr_un, libc::socklen_t)>,
}

// SAFETY: plain data (C structures and byte buffers), only read in the child.
unsafe impl Send for Setup {}
unsafe impl Sync for Setup {}

impl Setup {
    fn prepare(spec: &SandboxSpec) -> io::Result<Setup> {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let hostname = spec
            .hostname
            .as_ref()
            .map(|h| CString::new(h.as_str()))
            .transpose()
            .map_err(|_| io::Error::other("a host name with a NUL byte"))?;
        let addresses = LoopbackAddresses::new(&spec.addresses, "lc");
        let nameservers: Vec<IpAddr> = nameservers()
            .into_iter()
            .filter(|ns| !spec.addresses.contains(ns))
            .collect();
        let nameservers = LoopbackAddresses::new(&nameservers, "ns");
        let mut tcp = Vec::new();
        for addr in &spec.tcp {
            // SAFETY: zeroed C structures are valid.
            let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let len = match addr {
                SocketAddr::V4(a) => {
                    let sin = &mut storage as *mut _ as *mut libc::sockaddr_in;
                    // SAFETY: sockaddr_storage is large enough for sockaddr_in.
                    unsafe {
                        (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                        (*sin).sin_port = a.port().to_be();
                        (*sin).sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                    }
                    std::mem::size_of::<libc::sockaddr_in>()
                }
                SocketAddr::V6(a) => {
                    let sin6 = &mut storage as *mut _ as *mut libc::sockaddr_in6;
                    // SAFETY: sockaddr_storage is large enough for sockaddr_in6.
                    unsafe {
                        (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                        (*sin6).sin6_port = a.port().to_be();
                        (*sin6).sin6_addr.s6_addr = a.ip().octets();
                    }
                    std::mem::size_of::<libc::sockaddr_in6>()
                }
            };
            let family = if addr.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            tcp.push((storage, len as libc::socklen_t, family));
        }
        let mut unix = Vec::new();
        for name in &spec.unix_abstract {
            // SAFETY: zeroed C structures are valid.
            let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
            if name.len() + 1 > sun.sun_path.len() {
                return Err(io::Error::other(format!(
                    "the abstract socket name `{name}` is too long"
                )));
            }
            for (dst, src) in sun.sun_path[1..].iter_mut().zip(name.bytes()) {
                *dst = src as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
            unix.push((sun, len as libc::socklen_t));
        }
        Ok(Setup {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            hostname,
            addresses,
            nameservers,
            tcp,
            unix,
        })
    }

    /// In the holder, between fork and exec: only system calls.
    fn run(&self) -> io::Result<()> {
        let mut flags = libc::CLONE_NEWNET;
        if self.hostname.is_some() {
            flags |= libc::CLONE_NEWUTS;
        }
        // SAFETY: unshare and the calls below touch only prepared data.
        unsafe {
            if libc::unshare(flags) != 0 {
                if io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
                    return Err(io::Error::last_os_error());
                }
                // Without CAP_SYS_ADMIN: a user namespace that maps the caller to itself.
                if libc::unshare(libc::CLONE_NEWUSER | flags) != 0 {
                    return Err(io::Error::last_os_error());
                }
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", &self.uid_map)?;
                write_proc(c"/proc/self/gid_map", &self.gid_map)?;
            }
            bring_loopback_up()?;
            if let Some(name) = &self.hostname {
                if libc::sethostname(name.as_ptr(), name.as_bytes().len()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            self.addresses.add()?;
            // Best effort, as in `NetworkIsolation::enter`.
            let _ = self.nameservers.add();
            let mut next = LISTEN_FD_BASE;
            for (addr, len, family) in &self.tcp {
                let fd = libc::socket(*family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let one: libc::c_int = 1;
                let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                let one_ptr = (&one as *const libc::c_int).cast();
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, one_ptr, size);
                // An address just added to lo may not be usable yet: bind it anyway.
                libc::setsockopt(fd, libc::IPPROTO_IP, libc::IP_FREEBIND, one_ptr, size);
                if *family == libc::AF_INET6 {
                    libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, one_ptr, size);
                }
                listen_at(
                    fd,
                    (addr as *const libc::sockaddr_storage).cast(),
                    *len,
                    next,
                )?;
                next += 1;
            }
            for (addr, len) in &self.unix {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                listen_at(fd, (addr as *const libc::sockaddr_un).cast(), *len, next)?;
                next += 1;
            }
        }
        Ok(())
    }
}

/// Binds and listens `fd`, then moves it to descriptor `at` (inherited across exec).
unsafe fn listen_at(
    fd: RawFd,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
    at: RawFd,
) -> io::Result<()> {
    // SAFETY: the caller's socket and address.
    unsafe {
        if libc::bind(fd, addr, len) != 0 || libc::listen(fd, 1024) != 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        if libc::dup2(fd, at) < 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        libc::close(fd);
    }
    Ok(())
}
