//! Turns strace's text into [`Event`]s.
//!
//! The parser picks destinations by system call name and argument position, never by
//! scanning a whole line for `{sa_family=`: payload strings, `ioctl` and `recvfrom`
//! lines carry text that looks like addresses. Strings are skipped by honouring strace's
//! C escapes, so a payload cannot forge an address field.
//!
//! A line it does not understand is an error, never a silent skip: the caller turns it
//! into an `unverified` verdict.

use crate::event::{Event, EventKind, ProcessEnd, SendCall, SockAddr};
use std::collections::HashMap;
use std::net::IpAddr;

/// A trace line the parser could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse trace line ({reason}): {line}")]
pub struct ParseError {
    /// What was wrong.
    pub reason: String,
    /// The line as read.
    pub line: String,
}

/// A streaming parser: feed it lines in trace order.
///
/// It keeps the first half of calls that strace split across threads
/// (`<unfinished ...>`) until their `<... resumed>` line arrives.
#[derive(Debug, Default)]
pub struct Parser {
    pending: HashMap<u32, String>,
}

impl Parser {
    /// A parser with no pending calls.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Parses one line (without its newline), appending the events it yields to `out`.
    ///
    /// The first half of a split call yields nothing; the call is yielded when it resumes,
    /// or, if its process dies first, when the process's exit line arrives (the attempt
    /// counts even though it never returned).
    pub fn parse_line(&mut self, line: &str, out: &mut Vec<Event>) -> Result<(), ParseError> {
        let err = |reason: &str| ParseError {
            reason: reason.to_string(),
            line: line.to_string(),
        };
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Ok(());
        }
        let (pid, rest) = split_pid(trimmed);

        if let Some(notice) = rest.strip_prefix("+++ ") {
            let end = parse_exit(notice).ok_or_else(|| err("unknown process notice"))?;
            // A thread superseded by another thread's execve keeps its pending call: the
            // execve resumes under this pid.
            let flush = matches!(end, EventKind::Exit(_));
            if let Some(pending) = flush.then(|| self.pending.remove(&pid)).flatten() {
                // The call never returned: judge what its first half shows.
                let call = format!("{pending}) = ?");
                let mut event = parse_call(pid, &call).map_err(|reason| err(&reason))?;
                event.joined = Some(call);
                out.push(event);
            }
            out.push(Event {
                pid,
                kind: end,
                joined: None,
            });
            return Ok(());
        }
        if rest.starts_with("--- ") {
            // Signal deliveries carry nothing to judge.
            return Ok(());
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let close = resumed
                .find(" resumed>")
                .ok_or_else(|| err("malformed resumed call"))?;
            let tail = &resumed[close + " resumed>".len()..];
            let head = self
                .pending
                .remove(&pid)
                .ok_or_else(|| err("a call resumed that never started"))?;
            let joined = format!("{head}{tail}");
            if let Some(half) = strip_unfinished(&joined) {
                self.pending.insert(pid, half.to_string());
                return Ok(());
            }
            let mut event = parse_call(pid, &joined).map_err(|reason| err(&reason))?;
            event.joined = Some(joined);
            out.push(event);
            return Ok(());
        }
        if let Some(half) = strip_unfinished(rest) {
            self.pending.insert(pid, half.to_string());
            return Ok(());
        }
        // An execve from a non-leader thread: the call resumes under the leader's pid.
        if let Some((half, new_pid)) = strip_pid_changed(rest) {
            self.pending.insert(new_pid, half.to_string());
            return Ok(());
        }
        out.push(parse_call(pid, rest).map_err(|reason| err(&reason))?);
        Ok(())
    }

    /// Calls that started and never resumed (a trace that ended mid-call).
    pub fn take_unfinished(&mut self, out: &mut Vec<Event>) -> Vec<ParseError> {
        let mut errors = Vec::new();
        let mut pending: Vec<_> = self.pending.drain().collect();
        pending.sort();
        for (pid, head) in pending {
            let call = format!("{head}) = ?");
            match parse_call(pid, &call) {
                Ok(mut event) => {
                    event.joined = Some(call);
                    out.push(event);
                }
                Err(reason) => errors.push(ParseError { reason, line: head }),
            }
        }
        errors
    }
}

fn strip_pid_changed(text: &str) -> Option<(&str, u32)> {
    let body = text.strip_suffix(" ...>")?;
    let start = body.rfind("<pid changed to ")?;
    let pid = body[start + "<pid changed to ".len()..].parse().ok()?;
    Some((text[..start].trim_end(), pid))
}

fn strip_unfinished(text: &str) -> Option<&str> {
    text.strip_suffix("<unfinished ...>").map(str::trim_end)
}

pub(crate) fn split_pid(line: &str) -> (u32, &str) {
    let line = line.trim_start();
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        // strace prints no PID when it traces a single process without -f.
        return (0, line);
    }
    let pid = line[..digits].parse().unwrap_or(0);
    (pid, line[digits..].trim_start())
}

fn parse_exit(notice: &str) -> Option<EventKind> {
    let notice = notice.strip_suffix("+++")?.trim_end();
    if let Some(code) = notice.strip_prefix("exited with ") {
        return code
            .trim()
            .parse()
            .ok()
            .map(|c| EventKind::Exit(ProcessEnd::Exited(c)));
    }
    if let Some(signal) = notice.strip_prefix("killed by ") {
        let name = signal.split_whitespace().next()?.to_string();
        return Some(EventKind::Exit(ProcessEnd::Killed(name)));
    }

    if notice.starts_with("superseded by execve") {
        return Some(EventKind::Nothing);
    }
    None
}

/// The return value part of a line: `= 0`, `= -1 ENOENT (...)`, `= ?`.
struct Return<'a> {
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

fn parse_call(pid: u32, call: &str) -> Result<Event, String> {
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
    if !KNOWN_CALLS.contains(&name) {
        // The tracers write only the calls they trace: anything else is a corrupted or
        // forged line, and dropping it could drop a leak.
        return Err(format!("`{name}` is not a system call leakcheck traces"));
    }
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
            family: arg(0)?.to_string(),
            sock_type: arg(1)?.to_string(),
            protocol: arg(2)?.to_string(),
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
                    joined: None,
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
                payload: parse_string(buf),
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
                payload: None,
                netlink_types: netlink_types(msg),
                truncated,
                fastopen: has_fastopen(arg(2)?),
            }
        }
        "sendmmsg" => {
            let vec = arg(1)?;
            let mut destinations = Vec::new();
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
                }
            }
            EventKind::Send {
                call: SendCall::Sendmmsg,
                fd: fd(0)?,
                destinations,
                payload: None,
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
                EventKind::Escape(format!(
                    "{name}() with CLONE_UNTRACED: the new task is not traced"
                ))
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
            EventKind::Escape(format!(
                "the program traces another process itself ({}): that process's calls are hidden from leakcheck",
                arg(0)?
            ))
        }
        "seccomp"
            if arg(0)? == "SECCOMP_SET_MODE_FILTER"
                && arg(1)?.contains("SECCOMP_FILTER_FLAG_NEW_LISTENER") =>
        {
            EventKind::Escape(
                "the program installs a seccomp filter with its own listener, which can hide its calls from the tracer"
                    .to_string(),
            )
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
                family: arg(0)?.to_string(),
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
            request: arg(1)?.to_string(),
        },
        "io_uring_setup" | "io_uring_enter" | "io_uring_register" => EventKind::IoUring {
            call: name.to_string(),
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
    Ok(Event {
        pid,
        kind,
        joined: None,
    })
}

/// The descriptor a call returned; None when it failed.
fn new_fd(ret: &Return) -> Option<i32> {
    if ret.ok() {
        ret.number().and_then(|n| i32::try_from(n).ok())
    } else {
        None
    }
}

/// `-1 (errno 18446744073709551574)`: no errno is that large; strace shows the negated
/// number of a system call it did not report.
fn lost_syscall(ret: &str) -> bool {
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
const KNOWN_CALLS: [&str; 30] = [
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
fn socket_type_ok(text: &str) -> bool {
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

fn is_pointer(text: &str) -> bool {
    text.starts_with("0x") || text.bytes().all(|b| b.is_ascii_digit())
}

/// The `msg_name` of a `struct msghdr` as strace prints it; None when it is NULL or absent.
fn msghdr_name(msghdr: &str) -> Result<Option<SockAddr>, String> {
    let fields = struct_fields(msghdr).ok_or("msghdr is not a structure")?;
    match field(&fields, "msg_name") {
        Some(name) => parse_send_sockaddr(name),
        // strace and the native tracer always write msg_name (NULL or not).
        None => Ok(Some(SockAddr::Undecoded(msghdr.to_string()))),
    }
}

/// Whether a send's flags argument has MSG_FASTOPEN: strace names the flags
/// (`MSG_FASTOPEN|MSG_NOSIGNAL`, unknown bits as hex), the native tracer writes a number
/// (`0x20000000`). Flags it cannot read count as MSG_FASTOPEN: the destination is then
/// judged (fail closed).
fn has_fastopen(flags: &str) -> bool {
    const MSG_FASTOPEN: u64 = 0x2000_0000;
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

/// A send's destination: like [`parse_sockaddr`], but AF_UNSPEC keeps what `sa_data`
/// holds, which an AF_INET socket sends to.
fn parse_send_sockaddr(text: &str) -> Result<Option<SockAddr>, String> {
    let addr = parse_sockaddr(text)?;
    if addr != Some(SockAddr::Unspec) {
        return Ok(addr);
    }
    let v4 = struct_fields(text.trim())
        .and_then(|fields| field(&fields, "sa_data").and_then(parse_string))
        .filter(|data| data.len() >= 6)
        .map(|d| {
            std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::new(d[2], d[3], d[4], d[5]),
                u16::from_be_bytes([d[0], d[1]]),
            )
        });
    Ok(Some(SockAddr::SendUnspec(v4)))
}

/// Finds the index of the `)` that closes the `(` at `open`, skipping strings and nesting.
fn matching_close(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i)?,
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (bytes[i] == b')').then_some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Given the index of an opening quote, returns the index of the closing one.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Splits on `sep` outside strings, braces, brackets and parentheses; trims each part.
fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match skip_string(bytes, i) {
                Some(end) => i = end,
                None => break,
            },
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            b if depth == 0 && b == sep as u8 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts
}

/// The fields of `{a=1, b={...}, f(x)}`; None when the text is not a structure.
fn struct_fields(text: &str) -> Option<Vec<&str>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    Some(split_top_level(inner, ','))
}

/// The value of `key=value` among structure fields.
fn field<'a>(fields: &[&'a str], key: &str) -> Option<&'a str> {
    fields.iter().find_map(|f| {
        f.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::trim)
    })
}

/// Parses a socket address argument. `NULL` is `Ok(None)`.
fn parse_sockaddr(text: &str) -> Result<Option<SockAddr>, String> {
    let text = text.trim();
    if text == "NULL" {
        return Ok(None);
    }
    let Some(fields) = struct_fields(text) else {
        return Ok(Some(SockAddr::Undecoded(text.to_string())));
    };
    let Some(family) = field(&fields, "sa_family") else {
        return Ok(Some(SockAddr::Undecoded(text.to_string())));
    };
    let undecoded = || Ok(Some(SockAddr::Undecoded(text.to_string())));
    match family {
        "AF_INET" => {
            let port = field(&fields, "sin_port").and_then(parse_port);
            let ip = field(&fields, "sin_addr")
                .and_then(|v| v.strip_prefix("inet_addr("))
                .and_then(parse_string)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<IpAddr>().ok());
            match (ip, port) {
                (Some(ip), Some(port)) => Ok(Some(SockAddr::ip(ip, port))),
                _ => undecoded(),
            }
        }
        "AF_INET6" => {
            let port = field(&fields, "sin6_port").and_then(parse_port);
            let ip = fields
                .iter()
                .find_map(|f| {
                    let f = f.strip_prefix("sin6_addr=").unwrap_or(f);
                    f.strip_prefix("inet_pton(AF_INET6,")
                })
                .and_then(parse_string)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<IpAddr>().ok());
            match (ip, port) {
                (Some(ip), Some(port)) => Ok(Some(SockAddr::ip(ip, port))),
                _ => undecoded(),
            }
        }
        // An unnamed socket is printed as its family alone; any other field but
        // sun_path is a structure strace did not write.
        "AF_UNIX" | "AF_LOCAL" if fields.len() > 1 && field(&fields, "sun_path").is_none() => {
            undecoded()
        }
        "AF_UNIX" | "AF_LOCAL" => match field(&fields, "sun_path") {
            None => Ok(Some(SockAddr::Unix {
                path: String::new(),
                is_abstract: false,
            })),
            Some(path) => {
                let (is_abstract, quoted) = match path.strip_prefix('@') {
                    Some(rest) => (true, rest),
                    None => (false, path),
                };
                match parse_string(quoted) {
                    Some(bytes) => Ok(Some(SockAddr::Unix {
                        path: String::from_utf8_lossy(&bytes).into_owned(),
                        is_abstract,
                    })),
                    None => undecoded(),
                }
            }
        },
        "AF_NETLINK" => Ok(Some(SockAddr::Netlink)),
        "AF_UNSPEC" => Ok(Some(SockAddr::Unspec)),
        other => Ok(Some(SockAddr::Other(other.to_string()))),
    }
}

/// `htons(53)` → 53.
fn parse_port(text: &str) -> Option<u16> {
    text.strip_prefix("htons(")?.strip_suffix(')')?.parse().ok()
}

/// Decodes the first quoted string in `text` (C escapes undone). None when there is none.
pub fn parse_string(text: &str) -> Option<Vec<u8>> {
    let start = text.find('"')?;
    let bytes = text.as_bytes();
    let end = skip_string(bytes, start)?;
    Some(unescape(&bytes[start + 1..end]))
}

fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = raw[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'v' => 0x0b_u8.into(),
            b'f' => 0x0c_u8.into(),
            b'a' => 0x07_u8.into(),
            b'b' => 0x08_u8.into(),
            b'e' => 0x1b_u8.into(),
            b'\\' | b'"' | b'\'' => Some(c),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
        } else if c == b'x' {
            let hex: Vec<u8> = raw[i..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .copied()
                .collect();
            let value = std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(value.unwrap_or(b'x'));
            i += hex.len();
        } else if (b'0'..=b'7').contains(&c) {
            let mut value = u32::from(c - b'0');
            let mut taken = 0;
            while taken < 2 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                value = value * 8 + u32::from(raw[i] - b'0');
                i += 1;
                taken += 1;
            }
            out.push(value as u8);
        } else {
            out.push(c);
        }
    }
    out
}

/// Netlink message types named in a request, looked for outside strings only.
fn netlink_types(text: &str) -> Vec<String> {
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
            let value: String = text[i + KEY.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            types.push(value);
            i += KEY.len();
            continue;
        }
        i += 1;
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Vec<Event> {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for line in lines {
            parser.parse_line(line, &mut out).expect(line);
        }
        out
    }

    fn one(line: &str) -> EventKind {
        let mut events = parse(&[line]);
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0).kind
    }

    fn ip(s: &str) -> SockAddr {
        SockAddr::Ip(s.parse().unwrap())
    }

    #[test]
    fn connect_ipv4_failed_attempt_counts() {
        let kind = one(
            r#"4242  connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16) = -1 ENETUNREACH (Network is unreachable)"#,
        );
        assert_eq!(
            kind,
            EventKind::Connect {
                fd: 3,
                addr: ip("1.2.3.4:80"),
                ok: false
            }
        );
    }

    #[test]
    fn connect_ipv6_with_scope_and_flowinfo() {
        let kind = one(
            r#"12 connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=if_nametoindex("lo")}, 28) = -1 ENETUNREACH (Network is unreachable)"#,
        );
        assert!(matches!(kind, EventKind::Connect { addr, .. } if addr == ip("[2001:db8::1]:443")));
    }

    #[test]
    fn ipv4_mapped_is_judged_as_ipv4() {
        let kind = one(
            r#"12 connect(3, {sa_family=AF_INET6, sin6_port=htons(9050), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0"#,
        );
        assert!(matches!(kind, EventKind::Connect { addr, .. } if addr == ip("127.0.0.1:9050")));
    }

    #[test]
    fn unix_paths_and_abstract_names() {
        let kind = one(
            r#"1 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)"#,
        );
        assert!(
            matches!(kind, EventKind::Connect { addr: SockAddr::Unix { path, is_abstract: false }, .. } if path == "/var/run/nscd/socket")
        );
        let kind = one(
            r#"1 connect(3, {sa_family=AF_UNIX, sun_path=@"abs\"tract\n"}, 19) = -1 ECONNREFUSED (Connection refused)"#,
        );
        assert!(
            matches!(kind, EventKind::Connect { addr: SockAddr::Unix { path, is_abstract: true }, .. } if path == "abs\"tract\n")
        );
    }

    #[test]
    fn unspec_connect_is_a_disconnect() {
        let kind = one(
            r#"1 connect(3, {sa_family=AF_UNSPEC, sa_data="\0\0\0\0\0\0\0\0\0\0\0\0\0\0"}, 16) = 0"#,
        );
        assert!(matches!(
            kind,
            EventKind::Connect {
                addr: SockAddr::Unspec,
                ..
            }
        ));
    }

    #[test]
    fn sendto_payload_cannot_fake_an_address() {
        let kind = one(
            r#"7 sendto(3, "x\"}, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"8.8.8.8\")}", 60, 0, NULL, 0) = 60"#,
        );
        match kind {
            EventKind::Send {
                destinations,
                payload,
                ..
            } => {
                assert!(destinations.is_empty());
                assert!(payload.unwrap().starts_with(b"x\"}"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sendto_with_destination_and_fastopen() {
        let kind = one(
            r#"7 sendto(3, "GET / HTTP/1.0\r\n\r\n", 18, MSG_FASTOPEN, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16) = -1 ENETUNREACH (Network is unreachable)"#,
        );
        assert!(
            matches!(kind, EventKind::Send { destinations, .. } if destinations == vec![ip("1.2.3.4:80")])
        );
    }

    #[test]
    fn sendmsg_msg_name() {
        let kind = one(
            r#"7 sendmsg(3, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("1.2.3.4")}, msg_namelen=16, msg_iov=[{iov_base="dnsq", iov_len=4}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = -1 ENETUNREACH (Network is unreachable)"#,
        );
        assert!(
            matches!(kind, EventKind::Send { call: SendCall::Sendmsg, destinations, .. } if destinations == vec![ip("1.2.3.4:53")])
        );
        let kind = one(
            r#"7 sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="x", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 1"#,
        );
        assert!(matches!(kind, EventKind::Send { destinations, .. } if destinations.is_empty()));
    }

    #[test]
    fn sendmmsg_vector_and_truncation() {
        let kind = one(
            r#"7 sendmmsg(3, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base="a", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}, {msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, msg_namelen=16, msg_iov=[{iov_base="b", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}, ...], 5, 0) = 2"#,
        );
        match kind {
            EventKind::Send {
                destinations,
                truncated,
                ..
            } => {
                assert_eq!(destinations, vec![ip("127.0.0.1:9050"), ip("192.0.2.1:80")]);
                assert!(truncated);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn netlink_request_types() {
        let kind = one(
            r#"9 sendto(3, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1, nlmsg_pid=0}, {ifa_family=AF_UNSPEC, ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20"#,
        );
        assert!(
            matches!(kind, EventKind::Send { netlink_types, destinations, .. } if netlink_types == vec!["RTM_GETADDR"] && destinations == vec![SockAddr::Netlink])
        );
    }

    #[test]
    fn unfinished_and_resumed_across_threads() {
        let events = parse(&[
            r#"101 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, 16 <unfinished ...>"#,
            r#"102 connect(4, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, 16 <unfinished ...>"#,
            r#"101 <... connect resumed>) = -1 ENETUNREACH (Network is unreachable)"#,
            r#"102 <... connect resumed>) = 0"#,
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].pid, 101);
        assert!(
            matches!(&events[0].kind, EventKind::Connect { addr, .. } if *addr == ip("192.0.2.1:80"))
        );
        assert!(
            matches!(&events[1].kind, EventKind::Connect { addr, ok: true, .. } if *addr == ip("127.0.0.1:9050"))
        );
    }

    #[test]
    fn a_call_cut_by_death_still_counts() {
        let events = parse(&[
            r#"5 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, 16 <unfinished ...>"#,
            "5 +++ killed by SIGKILL +++",
        ]);
        assert!(
            matches!(&events[0].kind, EventKind::Connect { addr, .. } if *addr == ip("192.0.2.1:80"))
        );
        assert_eq!(
            events[1].kind,
            EventKind::Exit(ProcessEnd::Killed("SIGKILL".into()))
        );
    }

    #[test]
    fn undecoded_pointer_is_kept_as_undecoded() {
        let kind = one("3 connect(3, 0x1, 16) = -1 EFAULT (Bad address)");
        assert!(matches!(
            kind,
            EventKind::Connect {
                addr: SockAddr::Undecoded(_),
                ..
            }
        ));
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for bad in [
            "1 connect(3, {sa_family=AF_INET",
            "1 <... connect resumed>) = 0",
            "1 +++ something odd +++",
            "garbage",
            "1 connect(3, {sa_family=AF_INET}, 16)",
            "\u{0}\u{1}",
            "1 (((((",
            "1 connect(",
        ] {
            assert!(parser.parse_line(bad, &mut out).is_err(), "{bad}");
        }
    }

    #[test]
    fn socket_and_exit_lines() {
        assert_eq!(
            one("3 socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = 4"),
            EventKind::Socket {
                family: "AF_INET".into(),
                sock_type: "SOCK_RAW".into(),
                protocol: "IPPROTO_ICMP".into(),
                fd: Some(4)
            }
        );
        assert_eq!(
            one("3 +++ exited with 7 +++"),
            EventKind::Exit(ProcessEnd::Exited(7))
        );
        assert_eq!(
            one("3 +++ killed by SIGSEGV (core dumped) +++"),
            EventKind::Exit(ProcessEnd::Killed("SIGSEGV".into()))
        );
    }

    #[test]
    fn execve_from_a_thread_resumes_under_the_leader() {
        let events = parse(&[
            r#"9093  execve("/proc/self/exe", ["./x", "phase2"], 0x7ffc21e69548 /* 2 vars */ <pid changed to 9092 ...>"#,
            "9092  +++ superseded by execve in pid 9093 +++",
            "9092  <... execve resumed>)             = 0",
        ]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[1].kind, EventKind::Exec { ok: true, .. }));
        let events = parse(&[
            r#"9803  execve("/proc/self/exe", ["./x"], 0x7f /* 2 vars */ <pid changed to 9802 ...>"#,
            "9802  +++ superseded by execve in pid 9803 +++",
            "9802  <... execve resumed>)             = -1 (errno 18446744073709551574)",
        ]);
        assert!(matches!(&events[1].kind, EventKind::Lost(_)), "{events:?}");
    }

    #[test]
    fn send_flags_fastopen_named_or_numbered() {
        for (flags, fastopen) in [
            ("0", false),
            ("MSG_NOSIGNAL", false),
            ("MSG_DONTWAIT|MSG_NOSIGNAL", false),
            ("0x4000", false),
            ("0x40", false),
            ("MSG_FASTOPEN", true),
            ("MSG_FASTOPEN|MSG_NOSIGNAL", true),
            ("MSG_NOSIGNAL|MSG_FASTOPEN", true),
            ("0x20000000", true),
            ("0x20004000", true),
            ("536870912", true),
            ("MSG_NOSIGNAL|0x80000000", false),
            // Unreadable flags count as MSG_FASTOPEN (the address is then judged).
            ("flags?", true),
        ] {
            assert_eq!(has_fastopen(flags), fastopen, "{flags}");
        }
        let kind = one(
            r#"7 sendto(3, "x", 1, MSG_FASTOPEN|MSG_NOSIGNAL, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16) = 1"#,
        );
        assert!(matches!(kind, EventKind::Send { fastopen: true, .. }));
        let kind = one(
            "7 sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=0x1, msg_iovlen=1, ...}, 0x4000) = ?",
        );
        assert!(matches!(
            kind,
            EventKind::Send {
                fastopen: false,
                ..
            }
        ));
    }

    #[test]
    fn unspec_send_destination_keeps_sa_data() {
        let kind = one(
            r#"7 sendto(3, "x", 1, 0, {sa_family=AF_UNSPEC, sa_data="\0P\300\0\2\1\0\0\0\0\0\0\0\0"}, 16) = 1"#,
        );
        assert!(
            matches!(&kind, EventKind::Send { destinations, .. } if destinations == &[SockAddr::SendUnspec(Some("192.0.2.1:80".parse().unwrap()))]),
            "{kind:?}"
        );
        let kind = one(
            r#"7 sendmsg(3, {msg_name={sa_family=AF_UNSPEC, sa_data="\0"}, msg_namelen=16, msg_iov=[{iov_base="x", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 1"#,
        );
        assert!(
            matches!(&kind, EventKind::Send { destinations, .. } if destinations == &[SockAddr::SendUnspec(None)])
        );
        // A connect is still a disconnect.
        let kind = one(
            r#"1 connect(3, {sa_family=AF_UNSPEC, sa_data="\0P\300\0\2\1\0\0\0\0\0\0\0\0"}, 16) = 0"#,
        );
        assert!(matches!(
            kind,
            EventKind::Connect {
                addr: SockAddr::Unspec,
                ..
            }
        ));
    }

    #[test]
    fn descriptor_origins() {
        assert_eq!(
            one("1 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [3, 4]) = 0"),
            EventKind::SocketPair {
                family: "AF_UNIX".into(),
                fds: Some((3, 4))
            }
        );
        assert_eq!(
            one(
                r#"1 accept4(5, {sa_family=AF_INET, sin_port=htons(33746), sin_addr=inet_addr("127.0.0.1")}, [128 => 16], SOCK_CLOEXEC) = 7"#
            ),
            EventKind::Accept {
                fd: 5,
                new_fd: Some(7),
                peer: Some(ip("127.0.0.1:33746"))
            }
        );
        assert_eq!(
            one("1 accept(5, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)"),
            EventKind::Accept {
                fd: 5,
                new_fd: None,
                peer: None
            }
        );
        for (line, fd, new_fd) in [
            ("1 dup(3) = 4", 3, 4),
            ("1 dup2(3, 10) = 10", 3, 10),
            ("1 dup3(3, 10, O_CLOEXEC) = 10", 3, 10),
            ("1 fcntl(7, F_DUPFD_CLOEXEC, 3) = 8", 7, 8),
        ] {
            assert_eq!(
                one(line),
                EventKind::Dup {
                    fd,
                    new_fd: Some(new_fd)
                },
                "{line}"
            );
        }
        assert_eq!(
            one("1 fcntl(7, F_GETFL) = 0x2 (flags O_RDWR)"),
            EventKind::Nothing
        );
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(
            parse_string(r#""\2\0\0\0\16\0\0\0\f\0\0\0a\0""#).unwrap(),
            b"\x02\0\0\0\x0e\0\0\0\x0c\0\0\0a\0"
        );
        assert_eq!(parse_string(r#""\1234""#).unwrap(), b"S4");
    }
}
