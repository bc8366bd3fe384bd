//! One call's text (`connect(3, {...}, 16) = 0`) into an event.

use super::lex::{
    field, matching_close, parse_string, skip_string, split_top_level, struct_fields,
};
use super::names;
use super::sockaddr::{msghdr_name, parse_send_sockaddr, parse_sockaddr};
use crate::event::{Event, EventKind, IoUringCall, NetlinkType, SendCall, SockAddr, PAYLOAD_MAX};

/// The return value part of a line: `= 0`, `= -1 ENOENT (...)`, `= ?`.
pub(super) struct Return<'a> {
    text: &'a str,
}

impl Return<'_> {
    /// `?`, a number (decimal or hex), or `-1 ERRNO (text)` / `-1 (errno N)`.
    fn well_formed(&self) -> bool {
        let first = self.text.split_whitespace().next().unwrap_or("");
        if first == "?" {
            return true;
        }
        if first == "-1" {
            let rest = self.text["-1".len()..].trim_start();
            return rest.starts_with("(errno ")
                || rest.split_whitespace().next().is_some_and(|e| {
                    e.starts_with('E')
                        && e.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                });
        }
        first.parse::<i64>().is_ok()
            || first
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    fn ok(&self) -> bool {
        !self.text.starts_with('-') && !self.text.starts_with('?')
    }

    fn number(&self) -> Option<i64> {
        let first = self.text.split_whitespace().next()?;
        first.parse().ok()
    }
}

pub(super) fn parse_call(pid: u32, call: &str) -> Result<Event, String> {
    let open = call.find('(').ok_or("no argument list")?;
    let name = &call[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("`{name}` is not a system call name"));
    }
    let close = matching_close(call, open).ok_or("unbalanced argument list")?;
    let args_text = &call[open + 1..close];
    let after = call[close + 1..].trim_start();
    let ret_text = after
        .strip_prefix('=')
        .ok_or("no return value")?
        .trim_start();
    let ret = Return { text: ret_text };
    if !ret.well_formed() {
        return Err(format!("`{ret_text}` is not a return value strace writes"));
    }
    // The tracers write only the calls they trace: anything else is a corrupted or
    // forged line, and dropping it could drop a leak.
    let Some(name) = KNOWN_CALLS.iter().copied().find(|known| *known == name) else {
        return Err(format!("`{name}` is not a system call leakcheck traces"));
    };
    let args = split_top_level(args_text, ',');
    let arg = |i: usize| -> Result<&str, String> {
        args.get(i)
            .copied()
            .ok_or_else(|| format!("{name} has no argument {i}"))
    };
    let fd = |i: usize| -> Result<i32, String> {
        let text = arg(i)?;
        // With -y strace would append <...>; without it the fd is a plain number.
        let digits: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        digits
            .parse()
            .map_err(|_| format!("{name}: `{text}` is not a file descriptor"))
    };

    let kind = match name {
        "socket" if args.len() != 3 || !socket_type_ok(arg(1)?) => {
            return Err(format!("socket() with arguments strace does not write: {args_text}"))
        }
        "socket" => EventKind::Socket {
            family: names::family(arg(0)?),
            sock_type: names::socket_type(arg(1)?),
            protocol: names::protocol(arg(2)?),
            fd: if ret.ok() {
                ret.number().and_then(|n| i32::try_from(n).ok())
            } else {
                None
            },
        },
        "connect" | "bind" => {
            let addr =
                parse_sockaddr(arg(1)?)?.ok_or_else(|| format!("{name} with a NULL address"))?;
            let fd = fd(0)?;
            if name == "connect" {
                EventKind::Connect {
                    fd,
                    addr,
                    ok: ret.ok(),
                }
            } else {
                EventKind::Bind {
                    fd,
                    addr,
                    ok: ret.ok(),
                }
            }
        }
        "listen" => EventKind::Listen {
            fd: fd(0)?,
            ok: ret.ok(),
        },
        "getsockname" => {
            if !ret.ok() {
                return Ok(Event {
                    pid,
                    kind: EventKind::Nothing,
                });
            }
            match parse_sockaddr(arg(1)?)? {
                Some(addr) => EventKind::SockName { fd: fd(0)?, addr },
                None => EventKind::Nothing,
            }
        }
        "sendto" => {
            let buf = arg(1)?;
            let destinations = parse_send_sockaddr(arg(4)?)?.into_iter().collect();
            EventKind::Send {
                call: SendCall::Sendto,
                fd: fd(0)?,
                destinations,
                payloads: string_payload(buf).into_iter().collect(),
                netlink_types: netlink_types(buf),
                truncated: false,
                fastopen: has_fastopen(arg(3)?),
            }
        }
        "sendmsg" => {
            let msg = arg(1)?;
            let (destinations, truncated) = if is_pointer(msg) {
                (vec![SockAddr::Undecoded(msg.to_string())], false)
            } else {
                (msghdr_name(msg)?.into_iter().collect(), false)
            };
            EventKind::Send {
                call: SendCall::Sendmsg,
                fd: fd(0)?,
                destinations,
                payloads: msghdr_payload(msg).into_iter().collect(),
                netlink_types: netlink_types(msg),
                truncated,
                fastopen: has_fastopen(arg(2)?),
            }
        }
        "sendmmsg" => {
            let vec = arg(1)?;
            let mut destinations = Vec::new();
            let mut payloads = Vec::new();
            let mut truncated = false;
            if is_pointer(vec) {
                destinations.push(SockAddr::Undecoded(vec.to_string()));
            } else {
                let inner = vec
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or("sendmmsg vector is not an array")?;
                for item in split_top_level(inner, ',') {
                    if item == "..." {
                        truncated = true;
                        continue;
                    }
                    let fields =
                        struct_fields(item).ok_or("sendmmsg element is not a structure")?;
                    let hdr =
                        field(&fields, "msg_hdr").ok_or("sendmmsg element without msg_hdr")?;
                    destinations.extend(msghdr_name(hdr)?);
                    payloads.extend(msghdr_payload(hdr));
                }
            }
            EventKind::Send {
                call: SendCall::Sendmmsg,
                fd: fd(0)?,
                destinations,
                payloads,
                netlink_types: netlink_types(vec),
                truncated,
                fastopen: has_fastopen(arg(3)?),
            }
        }
        "clone" | "clone3" | "fork" | "vfork" => {
            let flags = match name {
                "clone" => args.iter().find_map(|a| a.strip_prefix("flags=")).unwrap_or(""),
                "clone3" => struct_fields(arg(0)?)
                    .and_then(|f| field(&f, "flags"))
                    .unwrap_or(""),
                _ => "",
            };
            let flag_set: Vec<&str> = flags.split('|').map(str::trim).collect();
            if flag_set.contains(&"CLONE_UNTRACED") {
                EventKind::Escape {
                    call: name,
                    why: format!("{name}() with CLONE_UNTRACED: the new task is not traced"),
                }
            } else {
                match ret.number().and_then(|n| u32::try_from(n).ok()) {
                    Some(child) if ret.ok() && child > 0 => EventKind::Spawn {
                        child,
                        thread: flag_set.contains(&"CLONE_THREAD"),
                    },
                    _ => EventKind::Nothing,
                }
            }
        }
        "prctl" if arg(0)? == "PR_SET_NAME" => match parse_string(arg(1)?) {
            Some(name) => EventKind::SetName(String::from_utf8_lossy(&name).into_owned()),
            None => EventKind::Nothing,
        },
        "ptrace" if matches!(arg(0)?, "PTRACE_ATTACH" | "PTRACE_SEIZE") => {
            EventKind::Escape {
                call: name,
                why: format!(
                    "the program traces another process itself ({}): that process's calls are hidden from leakcheck",
                    arg(0)?
                ),
            }
        }
        "seccomp"
            if arg(0)? == "SECCOMP_SET_MODE_FILTER"
                && arg(1)?.contains("SECCOMP_FILTER_FLAG_NEW_LISTENER") =>
        {
            EventKind::Escape {
                call: name,
                why: "the program installs a seccomp filter with its own listener, which can hide its calls from the tracer"
                    .to_string(),
            }
        }
        "socketpair" => {
            let fds = arg(3)?
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .and_then(|v| {
                    let (a, b) = v.split_once(',')?;
                    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
                });
            EventKind::SocketPair {
                family: names::family(arg(0)?),
                fds: if ret.ok() { fds } else { None },
            }
        }
        "accept" | "accept4" => {
            let peer = if ret.ok() {
                parse_sockaddr(arg(1)?)?
            } else {
                None
            };
            EventKind::Accept {
                fd: fd(0)?,
                new_fd: new_fd(&ret),
                peer,
            }
        }
        "dup" | "dup2" | "dup3" => EventKind::Dup {
            fd: fd(0)?,
            new_fd: new_fd(&ret),
        },
        "fcntl" | "fcntl64" if matches!(arg(1)?, "F_DUPFD" | "F_DUPFD_CLOEXEC") => EventKind::Dup {
            fd: fd(0)?,
            new_fd: new_fd(&ret),
        },
        "ioctl" => EventKind::Ioctl {
            request: names::ioctl_request(arg(1)?),
        },
        "io_uring_setup" => EventKind::IoUring {
            call: IoUringCall::Setup,
        },
        "io_uring_enter" => EventKind::IoUring {
            call: IoUringCall::Enter,
        },
        "io_uring_register" => EventKind::IoUring {
            call: IoUringCall::Register,
        },
        "execve" | "execveat" if lost_syscall(ret_text) => EventKind::Lost(format!(
            "strace lost the system call that followed an execve from a thread ({name} returned `{ret_text}`): a strace --seccomp-bpf limitation"
        )),
        "execve" | "execveat" => {
            let path_arg = if name == "execve" { arg(0)? } else { arg(1)? };
            EventKind::Exec {
                path: parse_string(path_arg)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|| path_arg.to_string()),
                ok: ret.ok(),
            }
        }
        _ => EventKind::Nothing,
    };
    Ok(Event { pid, kind })
}

/// A send's data printed as a string (`"..."`, maybe followed by `...`): its first
/// [`PAYLOAD_MAX`] bytes. Netlink messages and pointers are no string.
fn string_payload(buf: &str) -> Option<Vec<u8>> {
    if !buf.starts_with('"') {
        return None;
    }
    let mut bytes = parse_string(buf)?;
    bytes.truncate(PAYLOAD_MAX);
    Some(bytes)
}

/// The data of a msghdr's first buffer (`msg_iov=[{iov_base="...", iov_len=N}, ...]`),
/// when strace printed it as a string.
fn msghdr_payload(msghdr: &str) -> Option<Vec<u8>> {
    let fields = struct_fields(msghdr)?;
    let iov = field(&fields, "msg_iov")?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let first = split_top_level(iov, ',').into_iter().next()?;
    string_payload(field(&struct_fields(first)?, "iov_base")?)
}

/// The descriptor a call returned; None when it failed.
pub(super) fn new_fd(ret: &Return) -> Option<i32> {
    if ret.ok() {
        ret.number().and_then(|n| i32::try_from(n).ok())
    } else {
        None
    }
}

/// `-1 (errno 18446744073709551574)`: no errno is that large; strace shows the negated
/// number of a system call it did not report.
pub(super) fn lost_syscall(ret: &str) -> bool {
    ret.split("(errno ").nth(1).is_some_and(|n| {
        let digits = n.trim_end_matches(')');
        // Past u64 is lost too: no errno is that large either.
        digits.bytes().all(|b| b.is_ascii_digit())
            && digits
                .parse::<u64>()
                .map_or(!digits.is_empty(), |n| n > 4095)
    })
}

/// Every call the tracers write (strace's trace set, the native tracer's lines).
pub(super) const KNOWN_CALLS: [&str; 30] = [
    "socket",
    "connect",
    "bind",
    "listen",
    "getsockname",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "ioctl",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "execve",
    "execveat",
    "socketpair",
    "accept",
    "accept4",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "fcntl64",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "prctl",
    "ptrace",
    "seccomp",
    "restart_syscall",
];

/// Whether a socket type is one strace writes: `SOCK_X` names and flags, or a number
/// (`0xa /* SOCK_??? */`).
pub(super) fn socket_type_ok(text: &str) -> bool {
    let text = text.split("/*").next().unwrap_or("").trim();
    !text.is_empty()
        && text.split('|').all(|t| {
            let t = t.trim();
            (t.starts_with("SOCK_")
                && t.len() > 5
                && t[5..].bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
                || t.parse::<u64>().is_ok()
                || t.strip_prefix("0x")
                    .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

pub(super) fn is_pointer(text: &str) -> bool {
    text.starts_with("0x") || text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a send's flags argument has MSG_FASTOPEN: strace names the flags
/// (`MSG_FASTOPEN|MSG_NOSIGNAL`, unknown bits as hex), the native tracer writes a number
/// (`0x20000000`). Flags it cannot read count as MSG_FASTOPEN: the destination is then
/// judged (fail closed).
pub(super) fn has_fastopen(flags: &str) -> bool {
    const MSG_FASTOPEN: u64 = libc::MSG_FASTOPEN as u64;
    flags.split('|').map(str::trim).any(|flag| {
        if flag == "MSG_FASTOPEN" {
            return true;
        }
        if flag.starts_with("MSG_") && flag.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return false;
        }
        let number = match flag.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => flag.parse::<u64>().ok(),
        };
        number.is_none_or(|n| n & MSG_FASTOPEN != 0)
    })
}

/// Netlink message types named in a request, looked for outside strings only.
pub(super) fn netlink_types(text: &str) -> Vec<NetlinkType> {
    const KEY: &str = "nlmsg_type=";
    if !text.contains(KEY) {
        return Vec::new();
    }
    let bytes = text.as_bytes();
    let mut types = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            match skip_string(bytes, i) {
                Some(end) => i = end + 1,
                None => break,
            }
            continue;
        }
        if bytes[i..].starts_with(KEY.as_bytes()) {
            let rest = &text[i + KEY.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            types.push(netlink_type(&rest[..end]));
            i += KEY.len();
            continue;
        }
        i += 1;
    }
    types
}

/// One `nlmsg_type=` value: an `RTM_*` name, a bare number (strace prints one when it
/// does not know the socket's netlink protocol), or another protocol's type.
fn netlink_type(value: &str) -> NetlinkType {
    if let Some(ty) = names::route_type(value) {
        return NetlinkType::Route(ty);
    }
    match names::number(value).map(u16::try_from) {
        Some(Ok(ty)) => NetlinkType::Bare(ty),
        _ => NetlinkType::Other,
    }
}
