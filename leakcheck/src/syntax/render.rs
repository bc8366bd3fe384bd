//! Typed lines written in strace's syntax: the text the native tracer shows (a subset of
//! what strace writes, which the parser reads back).
//!
//! Short socket addresses are written without the fields they lack (which the parser
//! reports as undecoded), memory that was not read as its pointer, and a send's result,
//! which is never waited for, as `?`.

use super::line::{Addr, Buf, Call, Iov, Line, Msg, MsgHdr, Msgs, Ret, SockAddrBytes, Spawn};
use super::names;
use crate::event::ProcessEnd;
use std::fmt::Write as _;

/// Appends `pid` and the line: `1234 connect(3, {...}, 16) = 0`. A frame line has no
/// pid, as strace writes it: it belongs to the call before.
pub fn line(out: &mut String, pid: u32, line: &Line) {
    if !matches!(line, Line::Frame(_)) {
        let _ = write!(out, "{pid} ");
    }
    text(out, line);
}

/// Appends the line without its pid (what a finding quotes after the pid).
pub fn text(out: &mut String, line: &Line) {
    match line {
        Line::Call(call_, ret_) => {
            call(out, call_);
            out.push_str(" = ");
            ret(out, *ret_);
        }
        Line::End(ProcessEnd::Exited(code)) => {
            let _ = write!(out, "+++ exited with {code} +++");
        }
        Line::End(ProcessEnd::Killed(signal)) => {
            let _ = write!(out, "+++ killed by {signal} +++");
        }
        Line::Frame(frame) => super::frame::render(out, frame),
    }
}

fn ret(out: &mut String, ret: Ret) {
    match ret {
        Ret::Unknown => out.push('?'),
        Ret::Value(v) => {
            let _ = write!(out, "{v}");
        }
        Ret::Errno(errno) => names::write_errno(out, errno),
    }
}

fn call(out: &mut String, call: &Call) {
    match call {
        Call::Socket {
            family,
            ty,
            protocol,
        } => {
            out.push_str("socket(");
            names::write_family(out, *family);
            out.push_str(", ");
            names::write_socket_type(out, *ty);
            let _ = write!(out, ", {protocol})");
        }
        Call::Connect { fd, addr: a, len } | Call::Bind { fd, addr: a, len } => {
            let name = if matches!(call, Call::Connect { .. }) {
                "connect"
            } else {
                "bind"
            };
            let _ = write!(out, "{name}({fd}, ");
            addr(out, a);
            let _ = write!(out, ", {len})");
        }
        Call::Listen { fd, backlog } => {
            let _ = write!(out, "listen({fd}, {backlog})");
        }
        Call::GetSockName {
            fd,
            addr: a,
            len,
            name,
        } => match name {
            None => {
                let _ = write!(out, "getsockname({fd}, {a:#x}, {len:#x})");
            }
            Some((name, name_len)) => {
                let _ = write!(out, "getsockname({fd}, ");
                addr(out, name);
                let _ = write!(out, ", [{name_len}])");
            }
        },
        Call::SendTo {
            fd,
            buf: b,
            len,
            flags,
            dest,
            addrlen,
        } => {
            let _ = write!(out, "sendto({fd}, ");
            buf(out, b);
            let _ = write!(out, ", {len}, {flags:#x}, ");
            addr(out, dest);
            let _ = write!(out, ", {addrlen})");
        }
        Call::SendMsg { fd, msg: m, flags } => {
            let _ = write!(out, "sendmsg({fd}, ");
            match m {
                MsgHdr::Pointer(p) => {
                    let _ = write!(out, "{p:#x}");
                }
                MsgHdr::Read(m) => msghdr(out, m),
            }
            let _ = write!(out, ", {flags:#x})");
        }
        Call::SendMmsg {
            fd,
            vec,
            vlen,
            flags,
        } => {
            let _ = write!(out, "sendmmsg({fd}, ");
            match vec {
                Msgs::Pointer(p) => {
                    let _ = write!(out, "{p:#x}");
                }
                Msgs::Read(msgs) => {
                    out.push('[');
                    for (i, m) in msgs.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str("{msg_hdr=");
                        msghdr(out, m);
                        out.push('}');
                    }
                    out.push(']');
                }
            }
            let _ = write!(out, ", {vlen}, {flags:#x})");
        }
        Call::Ioctl { fd, request, arg } => {
            let _ = write!(out, "ioctl({fd}, ");
            match names::ioctl_name(*request) {
                Some(name) => out.push_str(name),
                None => {
                    let _ = write!(out, "{request:#x}");
                }
            }
            let _ = write!(out, ", {arg:#x})");
        }
        Call::IoUringSetup { entries, params } => {
            let _ = write!(out, "io_uring_setup({entries}, {params:#x})");
        }
        Call::IoUringEnter {
            fd,
            to_submit,
            min_complete,
        } => {
            let _ = write!(
                out,
                "io_uring_enter({fd}, {to_submit}, {min_complete}, ...)"
            );
        }
        Call::IoUringRegister { fd, opcode } => {
            let _ = write!(out, "io_uring_register({fd}, {opcode}, ...)");
        }
        Call::SetName { name } => {
            out.push_str("prctl(PR_SET_NAME, ");
            c_string(out, name);
            out.push(')');
        }
        Call::CloneUntraced { stack, flags } => {
            let _ = write!(
                out,
                "clone(child_stack={stack:#x}, flags=CLONE_UNTRACED|{flags:#x})"
            );
        }
        Call::Ptrace { seize, pid } => {
            let request = if *seize {
                "PTRACE_SEIZE"
            } else {
                "PTRACE_ATTACH"
            };
            let _ = write!(out, "ptrace({request}, {pid})");
        }
        Call::SeccompListener { prog } => {
            let _ = write!(
                out,
                "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, {prog:#x})"
            );
        }
        Call::Exec { path } => {
            out.push_str("execve(");
            c_string(out, path.as_bytes());
            out.push_str(", [...], [...])");
        }
        Call::Spawn(Spawn::Fork) => out.push_str("fork()"),
        Call::Spawn(Spawn::Vfork) => out.push_str("vfork()"),
        Call::Spawn(Spawn::Clone { thread }) => {
            let flags = if *thread { "CLONE_THREAD" } else { "SIGCHLD" };
            let _ = write!(out, "clone(child_stack=NULL, flags={flags})");
        }
    }
}

/// A socket-address argument.
pub(super) fn addr(out: &mut String, addr: &Addr) {
    match addr {
        Addr::Null => out.push_str("NULL"),
        Addr::Pointer(p) => {
            let _ = write!(out, "{p:#x}");
        }
        Addr::Read(bytes) => sockaddr(out, bytes),
    }
}

/// A socket address as strace prints it.
fn sockaddr(out: &mut String, b: &SockAddrBytes) {
    let family = b.family();
    out.push_str("{sa_family=");
    names::write_family(out, family);
    match family as i32 {
        libc::AF_INET => {
            if let Some((port, ip)) = b.ipv4() {
                let _ = write!(
                    out,
                    ", sin_port=htons({port}), sin_addr=inet_addr(\"{ip}\")"
                );
            }
        }
        libc::AF_INET6 => {
            if let Some((port, flow, ip, scope)) = b.ipv6() {
                let _ = write!(
                    out,
                    ", sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), inet_pton(AF_INET6, \"{ip}\", &sin6_addr), sin6_scope_id={scope}"
                );
            }
        }
        libc::AF_UNIX => {
            let path = b.unix_path();
            if path.is_empty() {
                // An unnamed socket: strace prints the family alone.
            } else if path[0] == 0 {
                out.push_str(", sun_path=@");
                c_string(out, &path[1..]);
            } else {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                out.push_str(", sun_path=");
                c_string(out, &path[..end]);
            }
        }
        libc::AF_NETLINK => {
            let (pid, groups) = b.netlink();
            let _ = write!(out, ", nl_pid={pid}, nl_groups={groups:08x}");
        }
        _ => {
            out.push_str(", sa_data=");
            c_string(out, b.data());
        }
    }
    out.push('}');
}

/// A send's data.
fn buf(out: &mut String, buf: &Buf) {
    match buf {
        Buf::Pointer(p) => {
            let _ = write!(out, "{p:#x}");
        }
        Buf::Text { bytes, cut } => {
            c_string(out, bytes);
            if *cut {
                out.push_str("...");
            }
        }
        Buf::Netlink { bytes, protocol } => netlink(out, bytes, *protocol),
    }
}

/// `{msg_name=..., msg_namelen=.., msg_iov=..., msg_iovlen=.., ...}`
fn msghdr(out: &mut String, msg: &Msg) {
    out.push_str("{msg_name=");
    addr(out, &msg.name);
    let _ = write!(out, ", msg_namelen={}, msg_iov=", msg.namelen);
    match &msg.iov {
        Iov::Pointer(p) => {
            let _ = write!(out, "{p:#x}");
        }
        Iov::First { base, len } => {
            out.push_str("[{iov_base=");
            buf(out, base);
            let _ = write!(out, ", iov_len={len}}}]");
        }
    }
    let _ = write!(out, ", msg_iovlen={}, ...}}", msg.iovlen);
}

/// The netlink messages of a request (`[{nlmsg_len=.., nlmsg_type=.., ...}, ...]`).
///
/// A type is named only for NETLINK_ROUTE: the same number means something else under
/// another protocol (strace prints a bare hex number when it does not know the
/// protocol, and so does this, for sockets created before the trace).
pub(super) fn netlink(out: &mut String, b: &[u8], protocol: Option<i32>) {
    out.push('[');
    for (i, (len, ty)) in netlink_headers(b).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{{nlmsg_len={len}, nlmsg_type=");
        match (protocol, names::route_type_name(ty)) {
            (Some(libc::NETLINK_ROUTE), Some(name)) => out.push_str(name),
            (Some(libc::NETLINK_ROUTE) | None, _) => {
                let _ = write!(out, "{ty:#x}");
            }
            (Some(proto), _) => {
                let _ = write!(out, "NETLINK{proto}_{ty:#x}");
            }
        }
        out.push_str(", ...}");
    }
    out.push(']');
}

/// The length and type of each netlink message header in `b` (a header needs its length
/// and type read; a bogus length ends the walk).
pub(super) fn netlink_headers(b: &[u8]) -> impl Iterator<Item = (u32, u16)> + '_ {
    use std::mem::{offset_of, size_of};
    const LEN: usize = offset_of!(libc::nlmsghdr, nlmsg_len);
    const TYPE: usize = offset_of!(libc::nlmsghdr, nlmsg_type);
    let field = |at: usize, n: usize| b.get(at..at + n);
    let mut at = Some(0usize);
    std::iter::from_fn(move || {
        let here = at?;
        let len = u32::from_ne_bytes(field(here + LEN, 4)?.try_into().ok()?);
        let ty = u16::from_ne_bytes(field(here + TYPE, 2)?.try_into().ok()?);
        // Messages are 4-byte aligned (NLMSG_ALIGN).
        let step = (len as usize + 3) & !3;
        at = (step >= size_of::<libc::nlmsghdr>()).then_some(here + step);
        Some((len, ty))
    })
}

/// Appends `bytes` as a C string literal the way strace prints one.
pub(super) fn c_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
}
