//! Unit tests of the parser.

use super::call::has_fastopen;
use super::*;
use crate::event::{Event, EventKind, NetlinkType, ProcessEnd, SendCall, SockAddr};

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
            payloads,
            ..
        } => {
            assert!(destinations.is_empty());
            assert!(payloads[0].starts_with(b"x\"}"));
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
        matches!(kind, EventKind::Send { netlink_types, destinations, .. } if netlink_types == vec![NetlinkType::Route(libc::RTM_GETADDR)] && destinations == vec![SockAddr::Netlink])
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
            family: Some(libc::AF_INET),
            sock_type: Some(libc::SOCK_RAW),
            protocol: Some(libc::IPPROTO_ICMP),
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
            family: Some(libc::AF_UNIX),
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

#[test]
fn names_read_as_libc_numbers() {
    assert_eq!(
        one("1 socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3"),
        EventKind::Socket {
            family: Some(libc::AF_VSOCK),
            sock_type: Some(libc::SOCK_STREAM),
            protocol: Some(0),
            fd: Some(3)
        }
    );
    assert_eq!(
        one("1 socket(0x2d /* AF_??? */, 0x7 /* SOCK_??? */|SOCK_NONBLOCK, 99) = 3"),
        EventKind::Socket {
            family: Some(0x2d),
            sock_type: Some(7),
            protocol: Some(99),
            fd: Some(3)
        }
    );
    // Names leakcheck has no number for.
    assert_eq!(
        one("1 socket(AF_FUTURE, SOCK_FUTURE, IPPROTO_FUTURE) = -1 EAFNOSUPPORT (Address family not supported by protocol)"),
        EventKind::Socket {
            family: None,
            sock_type: None,
            protocol: None,
            fd: None
        }
    );
    let kind = one(
        "9 sendto(3, [{nlmsg_len=20, nlmsg_type=SOCK_DIAG_BY_FAMILY, ...}, {nlmsg_len=20, nlmsg_type=0x16, ...}, {nlmsg_len=20, nlmsg_type=RTM_NEWADDR, ...}], 60, 0, NULL, 0) = 60",
    );
    assert!(
        matches!(&kind, EventKind::Send { netlink_types, .. } if netlink_types == &[NetlinkType::Other, NetlinkType::Bare(0x16), NetlinkType::Route(libc::RTM_NEWADDR)]),
        "{kind:?}"
    );
    for (line, request) in [
        (
            "1 ioctl(3, SIOCGIFCONF, {ifc_len=40}) = 0",
            Some(libc::SIOCGIFCONF as u32),
        ),
        (
            "1 ioctl(3, 0x8915, 0x7ffc) = 0",
            Some(libc::SIOCGIFADDR as u32),
        ),
        ("1 ioctl(1, TCGETS, 0x7ffc) = 0", None),
    ] {
        assert_eq!(one(line), EventKind::Ioctl { request }, "{line}");
    }
    assert_eq!(
        one("1 io_uring_enter(4, 1, 0, 0, NULL, 8) = 1"),
        EventKind::IoUring {
            call: crate::event::IoUringCall::Enter
        }
    );
}

fn frame(module: &str, offset: u64) -> EventKind {
    EventKind::Frame(crate::event::Frame {
        module: module.to_string(),
        offset,
    })
}

#[test]
fn strace_stack_lines_are_frames_of_the_call_before() {
    let events = parse(&[
        r#"31 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16) = -1 ENETUNREACH (Network is unreachable)"#,
        " > /usr/lib/x86_64-linux-gnu/libc.so.6(__connect+0x10) [0x10a7c0]",
        " > /t/debug/deps/demo-1f2e(demo::tests::leaks+0x21) [0x17b11]",
        " > unexpected_backtracing_error [0x7f00]",
        "32 +++ exited with 0 +++",
    ]);
    let kinds: Vec<(u32, EventKind)> = events.into_iter().map(|e| (e.pid, e.kind)).collect();
    assert_eq!(kinds.len(), 4, "{kinds:#?}");
    assert_eq!(
        kinds[1],
        (31, frame("/usr/lib/x86_64-linux-gnu/libc.so.6", 0x10a7c0))
    );
    assert_eq!(kinds[2], (31, frame("/t/debug/deps/demo-1f2e", 0x17b11)));
    assert!(matches!(kinds[3], (32, EventKind::Exit(_))));
}

#[test]
fn a_split_calls_frames_follow_its_resumed_half() {
    let events = parse(&[
        r#"40 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16 <unfinished ...>"#,
        // Nothing to belong to: the call has not been yielded yet.
        " > /lib/libc.so.6(__connect+0x10) [0x10]",
        r#"41 sendto(4, "q", 1, 0, NULL, 0) = 1"#,
        " > /lib/libc.so.6(sendto+0x13) [0x20]",
        "40 <... connect resumed>) = -1 ENETUNREACH (Network is unreachable)",
        " > /lib/libc.so.6(__connect+0x10) [0x30]",
    ]);
    let kinds: Vec<(u32, EventKind)> = events.into_iter().map(|e| (e.pid, e.kind)).collect();
    assert_eq!(kinds.len(), 4, "{kinds:#?}");
    assert_eq!(kinds[1], (41, frame("/lib/libc.so.6", 0x20)));
    assert!(matches!(kinds[2], (40, EventKind::Connect { .. })));
    assert_eq!(kinds[3], (40, frame("/lib/libc.so.6", 0x30)));
}

#[test]
fn a_stack_line_before_any_call_or_after_a_notice_belongs_to_nothing() {
    let events = parse(&[
        " > /lib/libc.so.6(f+0x1) [0x10]",
        "50 +++ exited with 0 +++",
        " > /lib/libc.so.6(f+0x1) [0x10]",
    ]);
    assert_eq!(events.len(), 1, "{events:#?}");
}
