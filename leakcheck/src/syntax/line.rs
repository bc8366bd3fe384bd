//! A line of the trace as typed values: a system call as the native tracer read it (its
//! arguments, what it read of the tracee's memory, its result), or how a task ended.
//!
//! The native tracer builds one per call it stops, reads the event off it
//! ([`Line::event_kind`]) and renders it in strace's syntax ([`super::render`]) only when
//! the text is wanted: for `LEAKCHECK_KEEP_TRACE`, and for the `trace` field of a finding.
//! Every value the text shows is here, so that the rendering is the text the native
//! tracer always wrote; and `parse(render(line))` gives the event `Line::event_kind`
//! gives, which the tests of this module check.

use crate::event::ProcessEnd;
use std::borrow::Cow;
use std::mem::offset_of;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The largest socket address read: a `sockaddr_storage`.
pub const MAX_SOCKADDR: usize = std::mem::size_of::<libc::sockaddr_storage>();

/// The bytes of a socket address, as read from the tracee (at most [`MAX_SOCKADDR`], at
/// least the two of its family).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SockAddrBytes {
    len: u8,
    bytes: [u8; MAX_SOCKADDR],
}

impl SockAddrBytes {
    /// The first [`MAX_SOCKADDR`] bytes of `bytes`; None when there are fewer than two.
    pub fn new(bytes: &[u8]) -> Option<SockAddrBytes> {
        if bytes.len() < 2 {
            return None;
        }
        let len = bytes.len().min(MAX_SOCKADDR);
        let mut copy = [0u8; MAX_SOCKADDR];
        copy[..len].copy_from_slice(&bytes[..len]);
        Some(SockAddrBytes {
            len: len as u8,
            bytes: copy,
        })
    }

    /// The bytes read.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The address family (`sa_family`).
    pub fn family(&self) -> u16 {
        u16::from_ne_bytes([self.bytes[0], self.bytes[1]])
    }

    fn at<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.as_slice().get(at..at + N)?.try_into().ok()
    }

    /// An AF_INET address: port and address (None when too short for them).
    pub fn ipv4(&self) -> Option<(u16, Ipv4Addr)> {
        let port = u16::from_be_bytes(self.at(offset_of!(libc::sockaddr_in, sin_port))?);
        let ip = Ipv4Addr::from(self.at::<4>(offset_of!(libc::sockaddr_in, sin_addr))?);
        Some((port, ip))
    }

    /// An AF_INET6 address: port, flow label, address and scope (0 when the structure
    /// stops before it); None when too short for the address.
    pub fn ipv6(&self) -> Option<(u16, u32, Ipv6Addr, u32)> {
        let port = u16::from_be_bytes(self.at(offset_of!(libc::sockaddr_in6, sin6_port))?);
        let flow = u32::from_be_bytes(self.at(offset_of!(libc::sockaddr_in6, sin6_flowinfo))?);
        let ip = Ipv6Addr::from(self.at::<16>(offset_of!(libc::sockaddr_in6, sin6_addr))?);
        let scope = self
            .at(offset_of!(libc::sockaddr_in6, sin6_scope_id))
            .map_or(0, u32::from_ne_bytes);
        Some((port, flow, ip, scope))
    }

    /// An AF_UNIX address's `sun_path` bytes, as long as they were read.
    pub fn unix_path(&self) -> &[u8] {
        &self.as_slice()[offset_of!(libc::sockaddr_un, sun_path)..]
    }

    /// An AF_NETLINK address's port id and groups (0 where the structure stops short).
    pub fn netlink(&self) -> (u32, u32) {
        let field = |at| self.at(at).map_or(0, u32::from_ne_bytes);
        (
            field(offset_of!(libc::sockaddr_nl, nl_pid)),
            field(offset_of!(libc::sockaddr_nl, nl_groups)),
        )
    }

    /// What follows the family (`sa_data` of a generic `struct sockaddr`).
    pub fn data(&self) -> &[u8] {
        &self.as_slice()[offset_of!(libc::sockaddr, sa_data)..]
    }
}

impl std::fmt::Debug for SockAddrBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SockAddrBytes")
            .field(&self.as_slice())
            .finish()
    }
}

/// A socket-address argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// NULL.
    Null,
    /// Memory that could not be read, or a length too short for a family: the pointer.
    Pointer(u64),
    /// What was read.
    Read(SockAddrBytes),
}

/// A send's data, as far as the tracer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buf<'a> {
    /// Not read (an IP socket's payload is nobody's business, but for DNS queries), or
    /// unreadable.
    Pointer(u64),
    /// The first bytes, on a socket that may talk to a resolver daemon or to port 53;
    /// `cut` when the data goes on.
    Text {
        /// The bytes read.
        bytes: Cow<'a, [u8]>,
        /// Only the first bytes were read.
        cut: bool,
    },
    /// Netlink messages.
    Netlink {
        /// The bytes read.
        bytes: Cow<'a, [u8]>,
        /// The socket's netlink protocol, when the tracer saw it created.
        protocol: Option<i32>,
    },
}

/// A `struct msghdr` as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg<'a> {
    /// `msg_name`.
    pub name: Addr,
    /// `msg_namelen`.
    pub namelen: u32,
    /// `msg_iov`.
    pub iov: Iov<'a>,
    /// `msg_iovlen`.
    pub iovlen: u64,
}

/// A msghdr's `msg_iov`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Iov<'a> {
    /// Not read (only a netlink request's first buffer is).
    Pointer(u64),
    /// The first `struct iovec`: its data and length.
    First {
        /// `iov_base`, read.
        base: Buf<'a>,
        /// `iov_len`.
        len: u64,
    },
}

/// sendmsg's header argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgHdr<'a> {
    /// Memory that could not be read: the pointer.
    Pointer(u64),
    /// The header read.
    Read(Msg<'a>),
}

/// sendmmsg's vector argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msgs<'a> {
    /// Memory that could not be read: the pointer.
    Pointer(u64),
    /// The headers read, one per message.
    Read(&'a [Msg<'a>]),
}

/// How a process was made (the ptrace event that announced it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawn {
    /// fork()
    Fork,
    /// vfork()
    Vfork,
    /// clone(): a thread when CLONE_THREAD.
    Clone {
        /// A thread of the caller's process.
        thread: bool,
    },
}

/// A system call and its arguments, as the native tracer read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call<'a> {
    /// socket(family, type, protocol)
    Socket {
        /// The family, as the kernel reads it (16 bits).
        family: u16,
        /// The type, with its flags.
        ty: u64,
        /// The protocol.
        protocol: i32,
    },
    /// connect(fd, addr, len)
    Connect {
        /// The descriptor.
        fd: i32,
        /// The address.
        addr: Addr,
        /// Its length.
        len: u32,
    },
    /// bind(fd, addr, len)
    Bind {
        /// The descriptor.
        fd: i32,
        /// The address.
        addr: Addr,
        /// Its length.
        len: u32,
    },
    /// listen(fd, backlog)
    Listen {
        /// The descriptor.
        fd: i32,
        /// The backlog.
        backlog: i32,
    },
    /// getsockname(fd, addr, len): the name is read when the call succeeded.
    GetSockName {
        /// The descriptor.
        fd: i32,
        /// Where the kernel writes the address.
        addr: u64,
        /// Where the kernel writes its length.
        len: u64,
        /// The address and its length, read after a successful call.
        name: Option<(Addr, u32)>,
    },
    /// sendto(fd, buf, len, flags, dest, addrlen)
    SendTo {
        /// The descriptor.
        fd: i32,
        /// The data.
        buf: Buf<'a>,
        /// Its length.
        len: u64,
        /// The flags.
        flags: u32,
        /// The destination.
        dest: Addr,
        /// Its length.
        addrlen: u32,
    },
    /// sendmsg(fd, msg, flags)
    SendMsg {
        /// The descriptor.
        fd: i32,
        /// The header.
        msg: MsgHdr<'a>,
        /// The flags.
        flags: u32,
    },
    /// sendmmsg(fd, vec, vlen, flags)
    SendMmsg {
        /// The descriptor.
        fd: i32,
        /// The headers.
        vec: Msgs<'a>,
        /// The number of messages asked for.
        vlen: u32,
        /// The flags.
        flags: u32,
    },
    /// ioctl(fd, request, arg)
    Ioctl {
        /// The descriptor.
        fd: i32,
        /// The request.
        request: u32,
        /// Its argument.
        arg: u64,
    },
    /// io_uring_setup(entries, params)
    IoUringSetup {
        /// The ring size.
        entries: u32,
        /// The parameters.
        params: u64,
    },
    /// io_uring_enter(fd, to_submit, min_complete, ...)
    IoUringEnter {
        /// The ring.
        fd: i32,
        /// Submissions.
        to_submit: u32,
        /// Completions waited for.
        min_complete: u32,
    },
    /// io_uring_register(fd, opcode, ...)
    IoUringRegister {
        /// The ring.
        fd: i32,
        /// What is registered.
        opcode: u32,
    },
    /// prctl(PR_SET_NAME, name)
    SetName {
        /// The name (at most 16 bytes, what was readable of it).
        name: Cow<'a, [u8]>,
    },
    /// clone(stack, CLONE_UNTRACED|flags)
    CloneUntraced {
        /// The child's stack.
        stack: u64,
        /// The other flags.
        flags: u64,
    },
    /// ptrace(PTRACE_ATTACH or PTRACE_SEIZE, pid)
    Ptrace {
        /// PTRACE_SEIZE rather than PTRACE_ATTACH.
        seize: bool,
        /// The process.
        pid: i32,
    },
    /// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog)
    SeccompListener {
        /// The program.
        prog: u64,
    },
    /// A successful execve: the program it runs.
    Exec {
        /// The file name execve was given (`AT_EXECFN`), else `/proc/PID/exe`.
        path: Cow<'a, str>,
    },
    /// A new task (its id is the result).
    Spawn(Spawn),
}

/// A call's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Not waited for (a send: the attempt counts whatever it returns), or never seen
    /// (the task died first): `?`.
    Unknown,
    /// The value returned.
    Value(i64),
    /// The call failed with this errno.
    Errno(i64),
}

impl Ret {
    /// Whether the call succeeded (what strace's text tells: a value that is not
    /// negative).
    pub fn ok(self) -> bool {
        matches!(self, Ret::Value(v) if v >= 0)
    }
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// A system call and its result.
    Call(Call<'a>, Ret),
    /// A task ended.
    End(ProcessEnd),
    /// A frame of the stack of the task's call just before (a ` > ` line, as `strace -k`
    /// writes them).
    Frame(&'a crate::event::Frame),
}
