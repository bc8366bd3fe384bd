//! What a typed line means: the event the parser reads from the line's text, read off
//! its values directly (the native tracer's events, without a text round trip).
//!
//! The rules are the parser's (`call.rs`, `sockaddr.rs`), for the subset of strace's
//! syntax the native tracer writes, and fail closed the same way: memory that was not
//! read is an undecoded address, a short address too, and a connect or bind without an
//! address is refused as the parser refuses its line.

use super::line::{Addr, Buf, Call, Iov, Line, Msg, MsgHdr, Msgs, Ret, SockAddrBytes, Spawn};
use super::render;
use crate::event::{EventKind, IoUringCall, NetlinkType, SendCall, SockAddr, PAYLOAD_MAX};
use std::net::{IpAddr, SocketAddrV4};

impl Line<'_> {
    /// The event this line shows; Err (why) for a line the parser would refuse.
    pub fn event_kind(&self) -> Result<EventKind, String> {
        let (call, ret) = match self {
            Line::End(end) => return Ok(EventKind::Exit(end.clone())),
            Line::Frame(frame) => return Ok(EventKind::Frame((*frame).clone())),
            Line::Call(call, ret) => (call, *ret),
        };
        Ok(match call {
            Call::Socket {
                family,
                ty,
                protocol,
            } => EventKind::Socket {
                family: Some(i32::from(*family)),
                sock_type: Some((ty & super::names::SOCK_TYPE_MASK as u64) as i32),
                protocol: Some(*protocol),
                fd: new_fd(ret),
            },
            Call::Connect { fd, addr, .. } => EventKind::Connect {
                fd: *fd,
                addr: address(addr, false).ok_or("connect with a NULL address")?,
                ok: ret.ok(),
            },
            Call::Bind { fd, addr, .. } => EventKind::Bind {
                fd: *fd,
                addr: address(addr, false).ok_or("bind with a NULL address")?,
                ok: ret.ok(),
            },
            Call::Listen { fd, .. } => EventKind::Listen {
                fd: *fd,
                ok: ret.ok(),
            },
            Call::GetSockName { .. } if !ret.ok() => EventKind::Nothing,
            Call::GetSockName { fd, addr, name, .. } => {
                let name = match name {
                    Some((name, _)) => address(name, false),
                    None => Some(SockAddr::Undecoded(format!("{addr:#x}"))),
                };
                match name {
                    Some(addr) => EventKind::SockName { fd: *fd, addr },
                    None => EventKind::Nothing,
                }
            }
            Call::SendTo {
                fd,
                buf,
                flags,
                dest,
                ..
            } => {
                let mut netlink_types = Vec::new();
                if let Buf::Netlink { bytes, protocol } = buf {
                    netlink(bytes, *protocol, &mut netlink_types);
                }
                EventKind::Send {
                    call: SendCall::Sendto,
                    fd: *fd,
                    destinations: address(dest, true).into_iter().collect(),
                    payloads: text(buf).into_iter().collect(),
                    netlink_types,
                    truncated: false,
                    fastopen: fastopen(*flags),
                }
            }
            Call::SendMsg { fd, msg, flags } => {
                let mut sent = Sent::default();
                match msg {
                    MsgHdr::Pointer(p) => sent.destinations.push(pointer(*p)),
                    MsgHdr::Read(m) => sent.message(m),
                }
                sent.event(SendCall::Sendmsg, *fd, *flags)
            }
            Call::SendMmsg { fd, vec, flags, .. } => {
                let mut sent = Sent::default();
                match vec {
                    Msgs::Pointer(p) => sent.destinations.push(pointer(*p)),
                    Msgs::Read(msgs) => {
                        for m in msgs.iter() {
                            sent.message(m);
                        }
                    }
                }
                sent.event(SendCall::Sendmmsg, *fd, *flags)
            }
            Call::Ioctl { request, .. } => EventKind::Ioctl {
                request: Some(*request),
            },
            Call::IoUringSetup { .. } => EventKind::IoUring {
                call: IoUringCall::Setup,
            },
            Call::IoUringEnter { .. } => EventKind::IoUring {
                call: IoUringCall::Enter,
            },
            Call::IoUringRegister { .. } => EventKind::IoUring {
                call: IoUringCall::Register,
            },
            Call::SetName { name } => EventKind::SetName(String::from_utf8_lossy(name).into_owned()),
            Call::CloneUntraced { .. } => EventKind::Escape {
                call: "clone",
                why: "clone() with CLONE_UNTRACED: the new task is not traced".to_string(),
            },
            Call::Ptrace { seize, .. } => EventKind::Escape {
                call: "ptrace",
                why: format!(
                    "the program traces another process itself ({}): that process's calls are hidden from leakcheck",
                    if *seize { "PTRACE_SEIZE" } else { "PTRACE_ATTACH" }
                ),
            },
            Call::SeccompListener { .. } => EventKind::Escape {
                call: "seccomp",
                why: "the program installs a seccomp filter with its own listener, which can hide its calls from the tracer"
                    .to_string(),
            },
            Call::Exec { path } => EventKind::Exec {
                path: path.to_string(),
                ok: ret.ok(),
            },
            Call::Spawn(how) => match ret {
                Ret::Value(child) if child > 0 => match u32::try_from(child) {
                    Ok(child) => EventKind::Spawn {
                        child,
                        thread: matches!(how, Spawn::Clone { thread: true }),
                    },
                    Err(_) => EventKind::Nothing,
                },
                _ => EventKind::Nothing,
            },
        })
    }
}

/// The descriptor a call returned; None when it failed.
fn new_fd(ret: Ret) -> Option<i32> {
    match ret {
        Ret::Value(v) if v >= 0 => i32::try_from(v).ok(),
        _ => None,
    }
}

/// MSG_FASTOPEN is among a send's flags.
fn fastopen(flags: u32) -> bool {
    flags & libc::MSG_FASTOPEN as u32 != 0
}

/// What a sendmsg or sendmmsg carries, message by message.
#[derive(Default)]
struct Sent {
    destinations: Vec<SockAddr>,
    payloads: Vec<Vec<u8>>,
    netlink_types: Vec<NetlinkType>,
}

impl Sent {
    /// A msghdr's destination, and what its first buffer holds: netlink messages or
    /// data that was read.
    fn message(&mut self, m: &Msg) {
        self.destinations.extend(address(&m.name, true));
        match &m.iov {
            Iov::First {
                base: Buf::Netlink { bytes, protocol },
                ..
            } => netlink(bytes, *protocol, &mut self.netlink_types),
            Iov::First { base, .. } => self.payloads.extend(text(base)),
            Iov::Pointer(_) => {}
        }
    }

    fn event(self, call: SendCall, fd: i32, flags: u32) -> EventKind {
        EventKind::Send {
            call,
            fd,
            destinations: self.destinations,
            payloads: self.payloads,
            netlink_types: self.netlink_types,
            truncated: false,
            fastopen: fastopen(flags),
        }
    }
}

/// The data a buffer shows, when it was read (at most [`PAYLOAD_MAX`] bytes, as the
/// parser keeps of strace's strings).
fn text(buf: &Buf) -> Option<Vec<u8>> {
    match buf {
        Buf::Text { bytes, .. } => Some(bytes[..bytes.len().min(PAYLOAD_MAX)].to_vec()),
        _ => None,
    }
}

/// The type of each netlink message in `bytes`, on a socket of `protocol`.
fn netlink(bytes: &[u8], protocol: Option<i32>, out: &mut Vec<NetlinkType>) {
    out.extend(
        render::netlink_headers(bytes).map(|(_, ty)| match protocol {
            Some(libc::NETLINK_ROUTE) => NetlinkType::Route(ty),
            None => NetlinkType::Bare(ty),
            Some(_) => NetlinkType::Other,
        }),
    );
}

fn pointer(p: u64) -> SockAddr {
    SockAddr::Undecoded(format!("{p:#x}"))
}

/// A socket-address argument (None: NULL). A send's AF_UNSPEC destination keeps what
/// `sa_data` holds, which an AF_INET socket sends to.
fn address(addr: &Addr, send: bool) -> Option<SockAddr> {
    let bytes = match addr {
        Addr::Null => return None,
        Addr::Pointer(p) => return Some(pointer(*p)),
        Addr::Read(bytes) => bytes,
    };
    Some(sockaddr(bytes, send))
}

fn sockaddr(b: &SockAddrBytes, send: bool) -> SockAddr {
    // A structure too short for its family's fields is undecoded, named by its text.
    let undecoded = || {
        let mut text = String::new();
        render::addr(&mut text, &Addr::Read(*b));
        SockAddr::Undecoded(text)
    };
    match i32::from(b.family()) {
        libc::AF_INET => match b.ipv4() {
            Some((port, ip)) => SockAddr::ip(IpAddr::V4(ip), port),
            None => undecoded(),
        },
        libc::AF_INET6 => match b.ipv6() {
            Some((port, _, ip, _)) => SockAddr::ip(IpAddr::V6(ip), port),
            None => undecoded(),
        },
        libc::AF_UNIX => {
            let path = b.unix_path();
            let (is_abstract, name) = match path.split_first() {
                None => (false, path),
                Some((0, rest)) => (true, rest),
                Some(_) => {
                    let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                    (false, &path[..end])
                }
            };
            SockAddr::Unix {
                path: String::from_utf8_lossy(name).into_owned(),
                is_abstract,
            }
        }
        libc::AF_NETLINK => SockAddr::Netlink,
        libc::AF_UNSPEC if send => {
            let d = b.data();
            SockAddr::SendUnspec((d.len() >= 6).then(|| {
                SocketAddrV4::new(
                    std::net::Ipv4Addr::new(d[2], d[3], d[4], d[5]),
                    u16::from_be_bytes([d[0], d[1]]),
                )
            }))
        }
        libc::AF_UNSPEC => SockAddr::Unspec,
        family => SockAddr::Other(Some(family)),
    }
}
