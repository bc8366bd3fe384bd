//! Typed events: what a tracer observed, whichever tracer it was.
//!
//! The native tracer builds them from the calls it stops; the strace backend parses
//! them from strace's text ([`crate::syntax`]). Families, socket types, protocols and
//! netlink message types are libc's numbers; a name in strace's text that leakcheck has
//! no number for is `None` (or [`NetlinkType::Other`]), which the judge treats like any
//! value it does not look for.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A socket address as strace decoded it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// AF_INET or AF_INET6 (IPv4-mapped IPv6 addresses are already turned into IPv4).
    Ip(SocketAddr),
    /// AF_UNIX: a path, an abstract name (`@name`), or an unnamed socket (empty path).
    Unix {
        /// The path or abstract name, with C escapes undone.
        path: String,
        /// True for the abstract namespace (`sun_path=@"..."`).
        is_abstract: bool,
    },
    /// AF_NETLINK: talks to the kernel only.
    Netlink,
    /// AF_UNSPEC: a disconnect.
    Unspec,
    /// AF_UNSPEC as a send's destination. An AF_INET socket sends to the port and IPv4
    /// address in `sa_data` (bytes 0-1 and 2-5), given here when strace printed them; an
    /// AF_INET6 socket sends to its connected peer (no address).
    SendUnspec(Option<std::net::SocketAddrV4>),
    /// Another family (AF_VSOCK, AF_PACKET, ...): libc's number, None for a name
    /// leakcheck has no number for.
    Other(Option<i32>),
    /// The address could not be decoded (a raw pointer, or a structure strace cut short).
    Undecoded(String),
}

impl SockAddr {
    /// Builds an IP address, judging IPv4-mapped IPv6 addresses as the IPv4 address.
    pub fn ip(ip: IpAddr, port: u16) -> SockAddr {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        SockAddr::Ip(SocketAddr::new(ip, port))
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Ip(addr) => write!(f, "{addr}"),
            SockAddr::Unix {
                path,
                is_abstract: true,
            } => write!(f, "unix:@{path}"),
            SockAddr::Unix { path, .. } => write!(f, "unix:{path}"),
            SockAddr::Netlink => f.write_str("netlink"),
            SockAddr::Unspec => f.write_str("unspec"),
            SockAddr::SendUnspec(Some(v4)) => write!(f, "unspec {v4}"),
            SockAddr::SendUnspec(None) => f.write_str("unspec"),
            SockAddr::Other(Some(family)) => write!(f, "family {family}"),
            SockAddr::Other(None) => f.write_str("unknown family"),
            SockAddr::Undecoded(raw) => write!(f, "undecoded address {raw}"),
        }
    }
}

/// How much of a send's data an event keeps: a name lookup's request fits (a DNS query
/// of the longest name is under 300 bytes; an nscd or varlink request a little more).
pub const PAYLOAD_MAX: usize = 512;

/// The three system calls that can carry a destination with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendCall {
    /// sendto(2)
    Sendto,
    /// sendmsg(2)
    Sendmsg,
    /// sendmmsg(2)
    Sendmmsg,
}

impl SendCall {
    /// The system call's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SendCall::Sendto => "sendto",
            SendCall::Sendmsg => "sendmsg",
            SendCall::Sendmmsg => "sendmmsg",
        }
    }
}

/// A netlink message's type, as far as the trace tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetlinkType {
    /// A NETLINK_ROUTE message type (`RTM_*`: libc's number).
    Route(u16),
    /// A number without its protocol: the tracer could not tell the socket's netlink
    /// protocol (strace prints a bare hex number then), so it may be a route type.
    Bare(u16),
    /// A type of another netlink protocol, or a name leakcheck has no number for.
    Other,
}

/// The io_uring system calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoUringCall {
    /// io_uring_setup(2)
    Setup,
    /// io_uring_enter(2)
    Enter,
    /// io_uring_register(2)
    Register,
}

impl IoUringCall {
    /// The system call's name.
    pub fn as_str(self) -> &'static str {
        match self {
            IoUringCall::Setup => "io_uring_setup",
            IoUringCall::Enter => "io_uring_enter",
            IoUringCall::Register => "io_uring_register",
        }
    }
}

/// How a traced process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    /// `+++ exited with N +++`
    Exited(i32),
    /// `+++ killed by SIGNAME +++`
    Killed(String),
}

/// One traced system call or process event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// socket(family, type, protocol); `fd` is None when it failed.
    Socket {
        /// The address family (`AF_INET`: libc's number).
        family: Option<i32>,
        /// The socket type without its flags (`SOCK_STREAM`: libc's number).
        sock_type: Option<i32>,
        /// The protocol (`IPPROTO_TCP`, `NETLINK_ROUTE`: libc's number, read by the
        /// family).
        protocol: Option<i32>,
        /// The new descriptor.
        fd: Option<i32>,
    },
    /// connect(fd, addr)
    Connect {
        /// Socket descriptor.
        fd: i32,
        /// Destination.
        addr: SockAddr,
        /// Whether the call returned 0.
        ok: bool,
    },
    /// bind(fd, addr)
    Bind {
        /// Socket descriptor.
        fd: i32,
        /// Local address.
        addr: SockAddr,
        /// Whether the call returned 0.
        ok: bool,
    },
    /// listen(fd, backlog)
    Listen {
        /// Socket descriptor.
        fd: i32,
        /// Whether the call returned 0.
        ok: bool,
    },
    /// getsockname(fd) that succeeded: tells the port a `bind(..:0)` got.
    SockName {
        /// Socket descriptor.
        fd: i32,
        /// Local address.
        addr: SockAddr,
    },
    /// sendto/sendmsg/sendmmsg.
    Send {
        /// Which call.
        call: SendCall,
        /// Socket descriptor.
        fd: i32,
        /// Every explicit destination (empty when sent on a connected socket).
        destinations: Vec<SockAddr>,
        /// The first bytes (at most [`PAYLOAD_MAX`]) of each message's data that the
        /// tracer read, in order: sendto's buffer, the first buffer of each sendmsg and
        /// sendmmsg message. strace prints them all; the native tracer reads them where
        /// a resolver may be on the other end (non-IP sockets, port 53).
        payloads: Vec<Vec<u8>>,
        /// Netlink message types in the request (e.g. `RTM_GETADDR`).
        netlink_types: Vec<NetlinkType>,
        /// The vector was cut short by strace: some destinations were not seen.
        truncated: bool,
        /// MSG_FASTOPEN is among the flags (or the flags could not be read): on a TCP
        /// socket the destination is then used (TCP Fast Open), else it is ignored.
        fastopen: bool,
    },
    /// socketpair(family, type, protocol, [fd0, fd1]): two sockets that only reach each
    /// other.
    SocketPair {
        /// The address family (`AF_UNIX`: libc's number).
        family: Option<i32>,
        /// The two descriptors; None when the call failed.
        fds: Option<(i32, i32)>,
    },
    /// accept/accept4(fd, ...): a connection made to a listening socket.
    Accept {
        /// The listening socket.
        fd: i32,
        /// The connection's descriptor; None when the call failed.
        new_fd: Option<i32>,
        /// The peer, when the caller asked for it.
        peer: Option<SockAddr>,
    },
    /// dup/dup2/dup3/fcntl(`F_DUPFD`, `F_DUPFD_CLOEXEC`): `new_fd` is the same file as `fd`.
    Dup {
        /// The descriptor copied.
        fd: i32,
        /// The copy; None when the call failed.
        new_fd: Option<i32>,
    },
    /// ioctl(fd, request, ...)
    Ioctl {
        /// The request (`SIOCGIFCONF`: libc's number).
        request: Option<u32>,
    },
    /// io_uring_setup/enter/register: socket work the tracer cannot see.
    IoUring {
        /// Which call.
        call: IoUringCall,
    },
    /// execve/execveat.
    Exec {
        /// The program path.
        path: String,
        /// Whether the call succeeded.
        ok: bool,
    },
    /// A process or thread ended.
    Exit(ProcessEnd),
    /// strace printed something that means it lost part of the trace (e.g. the bogus
    /// errno after an execve from a non-leader thread under `--seccomp-bpf`).
    Lost(String),
    /// A new thread or process made by this one (clone, clone3, fork, vfork).
    Spawn {
        /// The new task's id.
        child: u32,
        /// A thread of the same process (CLONE_THREAD), not a new process.
        thread: bool,
    },
    /// The task named itself (`prctl(PR_SET_NAME, "tests::x")`): libtest names each test's
    /// thread after the test as it starts, so the first name a thread gives itself tells
    /// which test it runs.
    SetName(String),
    /// Something that takes part of the program out of the tracer's sight: a child made
    /// with CLONE_UNTRACED, a ptrace attach, a seccomp filter with its own listener.
    Escape {
        /// The system call (`clone`, `ptrace`, `seccomp`, ...).
        call: &'static str,
        /// What it hides.
        why: String,
    },
    /// One frame of the stack of the call this task made just before, innermost first:
    /// strace's ` > ` lines (`-k`), or the native tracer's unwinding of a call that made a
    /// finding. It tells where the finding's attempt was made.
    Frame(Frame),
    /// A line that carries nothing to judge (e.g. `+++ superseded by execve +++`).
    Nothing,
}

/// Where one frame of a traced call's stack was: a place in a mapped file. It is made
/// into a source location only for the findings that are reported
/// (`leakcheck::stack::locate`), with the file's debug information.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The file mapped there (a program or a shared library), as the process maps it.
    pub module: String,
    /// The offset in that file of the frame's instruction: just after the system call
    /// for the innermost frame, a return address for the others.
    pub offset: u64,
}

/// One event with the process (thread) that caused it. How the trace shows it travels
/// beside it ([`crate::syntax::Shown`]), for the findings that quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Thread id as strace prints it.
    pub pid: u32,
    /// What happened.
    pub kind: EventKind,
}
