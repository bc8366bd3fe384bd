//! Reading a stopped tracee's arguments into a typed line ([`Line`](crate::syntax::Line)):
//! what each call's text would show, read from its registers and memory.
//!
//! Memory that cannot be read stays a pointer (an undecoded address, for the judge). A
//! send's payload is read only where it matters: netlink requests (interface
//! enumeration), the first bytes on a socket that may talk to a resolver daemon (not an
//! IP socket), and DNS queries (data to port 53: the name a `dns` finding names). Which
//! sends go to port 53 is told by their destination or by the socket's connect, both
//! already at hand: other sends on IP sockets cost nothing more.

use super::filter::Syscall;
use super::kernel::read_mem;
use super::shared::SocketInfo;
use crate::event::PAYLOAD_MAX;
use crate::syntax::{Addr, Buf, Call, Iov, Msg, MsgHdr, Msgs, SockAddrBytes, MAX_SOCKADDR};
use nix::unistd::Pid;
use std::borrow::Cow;
use std::mem::{offset_of, size_of};

/// How much of a netlink request is read.
const NETLINK_MAX: usize = 4096;
/// How much of a payload is read on a socket that may talk to a resolver daemon, or
/// to port 53: a whole request.
const TEXT_MAX: usize = PAYLOAD_MAX;
/// How much of a task's name is read (the kernel keeps 16 bytes with the NUL).
const NAME_MAX: usize = 16;

/// A pointer or `size_t` field of a structure read as bytes.
fn word_at(b: &[u8], at: usize) -> Option<u64> {
    const N: usize = size_of::<usize>();
    Some(usize::from_ne_bytes(b.get(at..at + N)?.try_into().ok()?) as u64)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Whether a socket address read is an IP address with port 53: data sent there is a
/// DNS query.
pub(super) fn is_dns(addr: &Addr) -> bool {
    let Addr::Read(bytes) = addr else {
        return false;
    };
    let port = match i32::from(bytes.family()) {
        libc::AF_INET => bytes.ipv4().map(|(port, _)| port),
        libc::AF_INET6 => bytes.ipv6().map(|(port, ..)| port),
        _ => None,
    };
    port == Some(53)
}

/// The fields of a `struct msghdr` the tracer reads (libc's layout of it).
#[derive(Debug, Clone, Copy)]
struct MsgFields {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
}

impl MsgFields {
    fn read(hdr: &[u8]) -> Option<MsgFields> {
        Some(MsgFields {
            name: word_at(hdr, offset_of!(libc::msghdr, msg_name))?,
            namelen: u32_at(hdr, offset_of!(libc::msghdr, msg_namelen))?,
            iov: word_at(hdr, offset_of!(libc::msghdr, msg_iov))?,
            iovlen: word_at(hdr, offset_of!(libc::msghdr, msg_iovlen))?,
        })
    }
}

/// Reads a stopped tracee's arguments, with buffers kept from call to call.
#[derive(Default)]
pub(super) struct Decoder {
    scratch: Vec<u8>,
    payload: Vec<u8>,
    vec: Vec<u8>,
    msgs: Vec<Msg<'static>>,
}

impl Decoder {
    /// The socket address at `addr` (`len` bytes): NULL, what was read, or the pointer
    /// when it is unreadable or too short to hold a family.
    pub(super) fn addr(&mut self, pid: Pid, addr: u64, len: u64) -> Addr {
        if addr == 0 {
            return Addr::Null;
        }
        let len = len.min(MAX_SOCKADDR as u64) as usize;
        if len >= 2 && read_mem(pid, addr, len, &mut self.scratch).is_some() {
            if let Some(bytes) = SockAddrBytes::new(&self.scratch) {
                return Addr::Read(bytes);
            }
        }
        Addr::Pointer(addr)
    }

    /// A NUL-terminated string of at most `max` bytes (what is readable of it).
    fn c_string(&mut self, pid: Pid, addr: u64, max: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(max);
        // Byte by byte only if the string ends near the end of a mapping.
        if read_mem(pid, addr, max, &mut self.scratch).is_some() {
            out.extend(self.scratch.iter().take_while(|&&b| b != 0));
            return out;
        }
        for i in 0..max as u64 {
            match read_mem(pid, addr + i, 1, &mut self.scratch) {
                Some(()) if self.scratch[0] != 0 => out.push(self.scratch[0]),
                _ => break,
            }
        }
        out
    }

    /// Whether the socket address at `addr` is AF_NETLINK (its family alone is read).
    fn is_netlink_addr(&mut self, pid: Pid, addr: u64) -> bool {
        addr != 0
            && read_mem(pid, addr, 2, &mut self.scratch).is_some()
            && self.scratch[..2] == (libc::AF_NETLINK as u16).to_ne_bytes()
    }

    /// A send's data: netlink messages on a netlink socket (or to a netlink address),
    /// the first bytes on a socket that may talk to a resolver daemon or when the data
    /// go to port 53 (`dns`), else the pointer. The bytes are left in `into`.
    fn payload<'b>(
        pid: Pid,
        into: &'b mut Vec<u8>,
        buf: u64,
        len: u64,
        socket: Option<SocketInfo>,
        netlink: bool,
        dns: bool,
    ) -> Buf<'b> {
        let family = socket.map(|s| i32::from(s.family));
        if netlink || family == Some(libc::AF_NETLINK) {
            let want = len.min(NETLINK_MAX as u64) as usize;
            if read_mem(pid, buf, want, into).is_some() {
                let protocol = socket
                    .filter(|s| i32::from(s.family) == libc::AF_NETLINK)
                    .map(|s| s.protocol);
                return Buf::Netlink {
                    bytes: Cow::Borrowed(into),
                    protocol,
                };
            }
        } else if dns || !matches!(family, Some(libc::AF_INET | libc::AF_INET6)) {
            let want = len.min(TEXT_MAX as u64) as usize;
            if read_mem(pid, buf, want, into).is_some() {
                return Buf::Text {
                    bytes: Cow::Borrowed(into),
                    cut: (want as u64) < len,
                };
            }
        }
        Buf::Pointer(buf)
    }

    /// A `struct msghdr`: its name, and on a netlink socket (or to a netlink address)
    /// the messages of its first buffer; to port 53, the first bytes of that buffer.
    fn msg(&mut self, pid: Pid, f: MsgFields, socket: Option<SocketInfo>) -> Msg<'static> {
        let name = self.addr(pid, f.name, u64::from(f.namelen));
        let netlink_name = match name {
            Addr::Read(bytes) => i32::from(bytes.family()) == libc::AF_NETLINK,
            _ => self.is_netlink_addr(pid, f.name),
        };
        let is_netlink =
            netlink_name || socket.is_some_and(|s| i32::from(s.family) == libc::AF_NETLINK);
        let dns = !is_netlink
            && if f.name == 0 {
                socket.is_some_and(|s| s.dns)
            } else {
                is_dns(&name)
            };
        let mut iov = Iov::Pointer(f.iov);
        if (is_netlink || dns)
            && f.iovlen > 0
            && read_mem(pid, f.iov, size_of::<libc::iovec>(), &mut self.scratch).is_some()
        {
            let base = word_at(&self.scratch, offset_of!(libc::iovec, iov_base)).unwrap_or(0);
            let len = word_at(&self.scratch, offset_of!(libc::iovec, iov_len)).unwrap_or(0);
            let mut bytes = Vec::new();
            let buf = match Decoder::payload(pid, &mut bytes, base, len, socket, is_netlink, dns) {
                Buf::Netlink { protocol, .. } => Buf::Netlink {
                    bytes: Cow::Owned(bytes),
                    protocol,
                },
                Buf::Text { cut, .. } => Buf::Text {
                    bytes: Cow::Owned(bytes),
                    cut,
                },
                Buf::Pointer(_) => Buf::Pointer(base),
            };
            iov = Iov::First { base: buf, len };
        }
        Msg {
            name,
            namelen: f.namelen,
            iov,
            iovlen: f.iovlen,
        }
    }

    /// A send call (sendto, sendmsg, sendmmsg) from its arguments, on a socket the
    /// tracer may have seen created.
    pub(super) fn send<'s>(
        &'s mut self,
        pid: Pid,
        call: Syscall,
        a: &[u64; 6],
        socket: Option<SocketInfo>,
    ) -> Call<'s> {
        let fd = a[0] as i32;
        match call {
            Syscall::SendTo => {
                // The destination first: it tells whether the data are netlink messages.
                let dest = self.addr(pid, a[4], a[5]);
                let netlink_dest =
                    matches!(dest, Addr::Read(b) if i32::from(b.family()) == libc::AF_NETLINK);
                let dns = if a[4] == 0 {
                    socket.is_some_and(|s| s.dns)
                } else {
                    is_dns(&dest)
                };
                let buf = if a[4] == 0 || netlink_dest || dns {
                    let (buf, len) = (a[1], a[2]);
                    Decoder::payload(pid, &mut self.payload, buf, len, socket, netlink_dest, dns)
                } else {
                    Buf::Pointer(a[1])
                };
                Call::SendTo {
                    fd,
                    buf,
                    len: a[2],
                    flags: a[3] as u32,
                    dest,
                    addrlen: a[5] as u32,
                }
            }
            Syscall::SendMsg => {
                let fields = read_mem(pid, a[1], size_of::<libc::msghdr>(), &mut self.vec)
                    .and_then(|()| MsgFields::read(&self.vec));
                let msg = match fields {
                    Some(f) => MsgHdr::Read(self.msg(pid, f, socket)),
                    None => MsgHdr::Pointer(a[1]),
                };
                Call::SendMsg {
                    fd,
                    msg,
                    flags: a[2] as u32,
                }
            }
            _ => {
                // The kernel sends at most UIO_MAXIOV messages per call.
                let vlen = (a[2] as u32).min(libc::UIO_MAXIOV as u32) as usize;
                const MMSGHDR: usize = size_of::<libc::mmsghdr>();
                self.msgs.clear();
                let vec = if read_mem(pid, a[1], vlen * MMSGHDR, &mut self.vec).is_some() {
                    for i in 0..vlen {
                        let at = i * MMSGHDR + offset_of!(libc::mmsghdr, msg_hdr);
                        let Some(f) = MsgFields::read(&self.vec[at..]) else {
                            break;
                        };
                        let msg = self.msg(pid, f, socket);
                        self.msgs.push(msg);
                    }
                    Msgs::Read(&self.msgs)
                } else {
                    Msgs::Pointer(a[1])
                };
                Call::SendMmsg {
                    fd,
                    vec,
                    vlen: a[2] as u32,
                    flags: a[3] as u32,
                }
            }
        }
    }

    /// A call other than a send, from its arguments at entry.
    pub(super) fn entry(&mut self, pid: Pid, call: Syscall, a: &[u64; 6]) -> Call<'static> {
        let fd = a[0] as i32;
        match call {
            Syscall::Socket => Call::Socket {
                family: a[0] as u16,
                ty: a[1],
                protocol: a[2] as i32,
            },
            Syscall::Connect => Call::Connect {
                fd,
                addr: self.addr(pid, a[1], a[2]),
                len: a[2] as u32,
            },
            Syscall::Bind => Call::Bind {
                fd,
                addr: self.addr(pid, a[1], a[2]),
                len: a[2] as u32,
            },
            Syscall::Listen => Call::Listen {
                fd,
                backlog: a[1] as i32,
            },
            // The address is read at exit (see `sockname`).
            Syscall::GetSockName => Call::GetSockName {
                fd,
                addr: a[1],
                len: a[2],
                name: None,
            },
            Syscall::Ioctl => Call::Ioctl {
                fd,
                request: a[1] as u32,
                arg: a[2],
            },
            Syscall::IoUringSetup => Call::IoUringSetup {
                entries: a[0] as u32,
                params: a[1],
            },
            Syscall::IoUringEnter => Call::IoUringEnter {
                fd,
                to_submit: a[1] as u32,
                min_complete: a[2] as u32,
            },
            Syscall::IoUringRegister => Call::IoUringRegister {
                fd,
                opcode: a[1] as u32,
            },
            Syscall::Prctl => Call::SetName {
                name: Cow::Owned(self.c_string(pid, a[1], NAME_MAX)),
            },
            Syscall::Clone => Call::CloneUntraced {
                stack: a[1],
                flags: a[0] & !(libc::CLONE_UNTRACED as u64),
            },
            Syscall::Ptrace => Call::Ptrace {
                seize: a[0] as u32 != libc::PTRACE_ATTACH,
                pid: a[1] as i32,
            },
            Syscall::Seccomp => Call::SeccompListener { prog: a[2] },
            Syscall::SendTo | Syscall::SendMsg | Syscall::SendMmsg | Syscall::Clone3 => {
                unreachable!("sends are decoded by `send`; clone3 is refused by the filter")
            }
        }
    }

    /// What a successful getsockname wrote: the address and its length.
    pub(super) fn sockname(&mut self, pid: Pid, addr: u64, len_at: u64) -> (Addr, u32) {
        let len = read_mem(pid, len_at, 4, &mut self.scratch)
            .and_then(|()| u32_at(&self.scratch, 0))
            .unwrap_or(0);
        (self.addr(pid, addr, u64::from(len)), len)
    }
}
