//! Unit tests of the judge, fed strace lines.

use super::*;
use crate::kind::Kind;
use crate::policy::PolicyConfig;
use crate::syntax::Parser;
use crate::verdict::{FindingSeverity, Verdict, VerdictKind};

fn policy(allow: &[&str], ip: bool) -> Policy {
    let mut config = PolicyConfig::from_allow_list(allow, "test").expect("allow list");
    config.set_ip(ip);
    config.resolve("")
}

/// Plays the live look-ups: answers one question.
type Answer<'a> = &'a mut dyn FnMut(&mut Judge, Question);

const START: &str = r#"1 execve("/x", ["/x"], 0x7f /* 1 var */) = 0"#;
const END: &str = "1 +++ exited with 0 +++";

/// Feeds `lines` (between an execve and an exit of pid 1); `answer` plays the live
/// look-ups when given.
fn judge_with(lines: &[&str], allow: &[&str], mut answer: Option<Answer>) -> Verdict {
    let mut parser = Parser::new();
    let mut judge = Judge::new(policy(allow, true));
    judge.set_live(answer.is_some());
    for line in std::iter::once(&START).chain(lines).chain([&END]) {
        parser
            .feed(line, &mut |event, shown| {
                judge.observe(&event, shown);
                if let Some(answer) = answer.as_mut() {
                    for question in judge.take_questions() {
                        answer(&mut judge, question);
                    }
                }
            })
            .expect(line);
    }
    judge.finish()
}

fn judge(lines: &[&str], allow: &[&str]) -> Verdict {
    judge_with(lines, allow, None)
}

fn kinds(verdict: &Verdict) -> Vec<(Kind, String, FindingSeverity)> {
    verdict
        .findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.destination.clone().unwrap_or_default(),
                f.severity,
            )
        })
        .collect()
}

const PROXY: &[&str] = &["127.0.0.1:9050"];
const TCP: &str = "1 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 3";
const TCP_NATIVE: &str = "1 socket(AF_INET, SOCK_STREAM, 0) = 3";
const UDP: &str = "1 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3";
const UDP6: &str = "1 socket(AF_INET6, SOCK_DGRAM, 17) = 3";
const CONNECT_PROXY: &str = r#"1 connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#;
const FAR: &str = r#"{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}"#;

fn sendto(flags: &str, addr: &str) -> String {
    format!(r#"1 sendto(3, "x", 1, {flags}, {addr}, 16) = 1"#)
}

#[test]
fn tcp_sendto_address_is_ignored_without_fastopen() {
    for socket in [TCP, TCP_NATIVE] {
        for flags in ["MSG_NOSIGNAL", "0", "0x4000", "MSG_DONTWAIT|MSG_NOSIGNAL"] {
            let line = sendto(flags, FAR);
            let v = judge(&[socket, CONNECT_PROXY, &line], PROXY);
            assert_eq!(v.verdict, VerdictKind::Clean, "{flags}: {v:#?}");
        }
        for flags in [
            "MSG_FASTOPEN",
            "MSG_FASTOPEN|MSG_NOSIGNAL",
            "0x20000000",
            "0x20004000",
        ] {
            let line = sendto(flags, FAR);
            let v = judge(&[socket, &line], PROXY);
            assert_eq!(
                kinds(&v),
                [(Kind::Send, "192.0.2.1:80".into(), FindingSeverity::Leak)],
                "{flags}"
            );
        }
    }
    // The socket's type unknown (never seen created): judged by the address.
    let line = sendto("MSG_NOSIGNAL", FAR);
    assert_eq!(judge(&[&line], PROXY).verdict, VerdictKind::Leaked);
    // UDP: the address is the destination.
    assert_eq!(judge(&[UDP, &line], PROXY).verdict, VerdictKind::Leaked);
    // sendmsg on TCP likewise.
    let msg = format!(
        r#"1 sendmsg(3, {{msg_name={FAR}, msg_namelen=16, msg_iov=[{{iov_base="x", iov_len=1}}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}, MSG_NOSIGNAL) = 1"#
    );
    assert_eq!(
        judge(&[TCP, CONNECT_PROXY, &msg], PROXY).verdict,
        VerdictKind::Clean
    );
}

const UDP_LO6: &str = r#"1 connect(3, {sa_family=AF_INET6, sin6_port=htons(9050), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0"#;
const SOCKNAME6: &str = r#"1 getsockname(3, {sa_family=AF_INET6, sin6_port=htons(40000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, [28]) = 0"#;
const UNSPEC: &str =
    r#"1 connect(3, {sa_family=AF_UNSPEC, sa_data="\0\0\0\0\0\0\0\0\0\0\0\0\0\0"}, 16) = 0"#;

#[test]
fn udp_connect_then_getsockname_is_a_route_probe() {
    let v = judge(&[UDP6, UDP_LO6, SOCKNAME6], PROXY);
    assert_eq!(v.verdict, VerdictKind::Clean);
    assert_eq!(
        kinds(&v),
        [(
            Kind::RouteProbe,
            "[::1]:9050".into(),
            FindingSeverity::Warning
        )]
    );
    // Data on the connected socket: the connect was a leak.
    let send = r#"1 sendto(3, "x", 1, MSG_NOSIGNAL, NULL, 0) = 1"#;
    let v = judge(&[UDP6, UDP_LO6, SOCKNAME6, send], PROXY);
    assert_eq!(
        kinds(&v),
        [(Kind::Connect, "[::1]:9050".into(), FindingSeverity::Leak)]
    );
    // No getsockname: a leak (write() is not traced).
    assert_eq!(judge(&[UDP6, UDP_LO6], PROXY).verdict, VerdictKind::Leaked);
    // Reconnected without getsockname in between: the first connect was no probe.
    assert_eq!(
        judge(&[UDP6, UDP_LO6, UNSPEC, UDP_LO6, SOCKNAME6], PROXY).verdict,
        VerdictKind::Leaked
    );
    // glibc's sort: reset with AF_UNSPEC between probes, each with getsockname.
    let v = judge(
        &[UDP6, UDP_LO6, SOCKNAME6, UNSPEC, UDP_LO6, SOCKNAME6],
        PROXY,
    );
    assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
    // The socket reused by a new socket() without getsockname: a leak.
    assert_eq!(
        judge(&[UDP6, UDP_LO6, UDP6, SOCKNAME6], PROXY).verdict,
        VerdictKind::Leaked
    );
    // A TCP connect to the same destination is a leak even if a probe shares it.
    let tcp6 = "1 socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) = 4";
    let tcp_connect = UDP_LO6.replace("connect(3", "connect(4");
    let v = judge(&[UDP6, UDP_LO6, SOCKNAME6, tcp6, &tcp_connect], PROXY);
    assert_eq!(v.verdict, VerdictKind::Leaked);
    // Allowed: nothing at all.
    assert!(judge(&[UDP6, UDP_LO6, SOCKNAME6], &["[::1]:9050"])
        .findings
        .is_empty());
}

const NSCD: &str = r#"1 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)"#;
const NSCD_OK: &str =
    r#"1 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = 0"#;
const UNIX: &str = "1 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3";
const SOCKS_GREETING: &str = r#"1 sendto(3, "\5\1\0", 3, MSG_NOSIGNAL, NULL, 0) = 3"#;
const SOCKS_NATIVE: &str = "1 sendto(3, 0x7f0000001000, 3, 0x4000, NULL, 0) = ?";

#[test]
fn a_reused_descriptor_forgets_nscd() {
    // python requests, socks5h://localhost:9050, no nscd.
    for send in [SOCKS_GREETING, SOCKS_NATIVE] {
        let v = judge(&[UNIX, NSCD, TCP, CONNECT_PROXY, send], PROXY);
        assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
        let v = judge(&[UNIX, NSCD_OK, TCP, CONNECT_PROXY, send], PROXY);
        assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
        // A failed connect alone clears the peer too.
        let v = judge(&[UNIX, NSCD, send], PROXY);
        assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
    }
    // A real hosts request to nscd is still a lookup.
    let hosts =
        r#"1 sendto(3, "\2\0\0\0\16\0\0\0\f\0\0\0example.com\0", 24, MSG_NOSIGNAL, NULL, 0) = 24"#;
    let v = judge(&[UNIX, NSCD_OK, hosts], PROXY);
    assert_eq!(kinds(&v)[0].0, Kind::Dns);
}

#[test]
fn a_reused_descriptor_forgets_its_type() {
    let udp4 = "1 socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 3";
    let line = sendto("0", FAR);
    let v = judge(&[TCP, CONNECT_PROXY, udp4, &line], PROXY);
    assert_eq!(
        kinds(&v)[0],
        (Kind::Send, "192.0.2.1:80".into(), FindingSeverity::Leak)
    );
    // dup onto the number: the copy is what it was copied from.
    let dup = "1 dup2(4, 3) = 3";
    let v = judge(
        &[
            TCP,
            CONNECT_PROXY,
            udp4.replace("= 3", "= 4").as_str(),
            dup,
            &line,
        ],
        PROXY,
    );
    assert_eq!(v.verdict, VerdictKind::Leaked);
}

#[test]
fn unspecified_addresses_are_judged_as_loopback() {
    let any = r#"1 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("0.0.0.0")}, 16) = -1 ECONNREFUSED (Connection refused)"#;
    let v = judge(&[TCP, any], PROXY);
    assert_eq!(
        kinds(&v),
        [(
            Kind::Connect,
            "127.0.0.1:8080".into(),
            FindingSeverity::Leak
        )]
    );
    let proxy = any.replace("8080", "9050");
    assert_eq!(judge(&[TCP, &proxy], PROXY).verdict, VerdictKind::Clean);
    let any6 = r#"1 connect(3, {sa_family=AF_INET6, sin6_port=htons(9050), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)"#;
    let v = judge(
        &["1 socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) = 3", any6],
        PROXY,
    );
    assert_eq!(
        kinds(&v),
        [(Kind::Connect, "[::1]:9050".into(), FindingSeverity::Leak)]
    );
    assert!(judge(&[any6], &["[::1]:9050"]).findings.is_empty());
}

const UNSPEC_FAR: &str = r#"{sa_family=AF_UNSPEC, sa_data="\0P\300\0\2\1\0\0\0\0\0\0\0\0"}"#;

#[test]
fn unspec_sends_are_judged_by_the_socket_family() {
    let line = sendto("0", UNSPEC_FAR);
    let v = judge(&[UDP, &line], PROXY);
    assert_eq!(
        kinds(&v),
        [(Kind::Send, "192.0.2.1:80".into(), FindingSeverity::Leak)]
    );
    // AF_INET6: no address, the connected (allowed) peer.
    let proxy6 = UDP_LO6;
    let v = judge(&[UDP6, proxy6, &line], &["[::1]:9050"]);
    assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
    // sendmsg's msg_name likewise.
    let msg = format!(
        r#"1 sendmsg(3, {{msg_name={UNSPEC_FAR}, msg_namelen=16, msg_iov=[{{iov_base="x", iov_len=1}}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}, 0) = 1"#
    );
    assert_eq!(judge(&[UDP, &msg], PROXY).verdict, VerdictKind::Leaked);
    // Port 0 is refused by the kernel; a socket of unknown family reads it as AF_INET.
    let zero = sendto(
        "0",
        r#"{sa_family=AF_UNSPEC, sa_data="\0\0\0\0\0\0\0\0\0\0\0\0\0\0"}"#,
    );
    assert_eq!(judge(&[UDP, &zero], PROXY).verdict, VerdictKind::Clean);
    assert_eq!(judge(&[&line], PROXY).verdict, VerdictKind::Leaked);
    // An AF_UNSPEC connect stays a disconnect.
    assert_eq!(judge(&[UDP, UNSPEC], PROXY).verdict, VerdictKind::Clean);
    // An AF_INET socket refuses an IPv6 address.
    let v6 = r#"{sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}"#;
    assert_eq!(
        judge(&[UDP, &sendto("0", v6)], PROXY).verdict,
        VerdictKind::Clean
    );
    assert_eq!(
        judge(&[UDP6, &sendto("0", v6)], PROXY).verdict,
        VerdictKind::Leaked
    );
}

#[test]
fn own_servers_count_only_for_their_protocol() {
    let udp_bind = r#"1 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.2")}, 16) = 0"#;
    let tcp = "1 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4";
    let tcp_connect = r#"1 connect(4, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.2")}, 16) = -1 ECONNREFUSED (Connection refused)"#;
    assert_eq!(
        judge(&[UDP, udp_bind, tcp, tcp_connect], PROXY).verdict,
        VerdictKind::Leaked
    );
    // A UDP send there is the tree's own.
    let udp_send = r#"1 sendto(4, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.2")}, 16) = 1"#;
    let udp4 = "1 socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 4";
    assert_eq!(
        judge(&[UDP, udp_bind, udp4, udp_send], PROXY).verdict,
        VerdictKind::Clean
    );
    // A TCP listener on 127.0.0.1:P: connects to [::1]:P and 127.0.0.1:P are its.
    let bind = r#"1 bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#;
    let listen = "1 listen(3, 4) = 0";
    let name = r#"1 getsockname(3, {sa_family=AF_INET, sin_port=htons(41000), sin_addr=inet_addr("127.0.0.1")}, [16]) = 0"#;
    let tcp6 = "1 socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP) = 4";
    let to6 = r#"1 connect(4, {sa_family=AF_INET6, sin6_port=htons(41000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)"#;
    let v = judge(&[TCP, bind, listen, name, tcp6, to6], PROXY);
    assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
    // Bound but not listening: not a server.
    assert_eq!(
        judge(&[TCP, bind, name, tcp6, to6], PROXY).verdict,
        VerdictKind::Leaked
    );
    // A wildcard UDP socket does not make another loopback address's TCP port its.
    let any6 = r#"1 bind(3, {sa_family=AF_INET6, sin6_port=htons(41000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::", &sin6_addr), sin6_scope_id=0}, 28) = 0"#;
    assert_eq!(
        judge(&[UDP6, any6, tcp6, to6], PROXY).verdict,
        VerdictKind::Leaked
    );
}

#[test]
fn live_questions_about_ports_and_descriptors() {
    let tcp_connect = r#"1 connect(3, {sa_family=AF_INET, sin_port=htons(41000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#;
    let mut asked = Vec::new();
    let mut owner = |judge: &mut Judge, q: Question| {
        if let Question::Owned { proto, addr, .. } = &q {
            judge.note_owned(*proto, *addr);
        }
        asked.push(q);
    };
    let v = judge_with(&[TCP, tcp_connect], PROXY, Some(&mut owner));
    assert_eq!(v.verdict, VerdictKind::Clean, "{v:#?}");
    assert_eq!(
        asked,
        [Question::Owned {
            pid: 1,
            proto: Proto::Tcp,
            addr: "127.0.0.1:41000".parse().unwrap()
        }]
    );
    // Allowed destinations and far ones are not asked about.
    // (Where an implicitly bound UDP socket is bound may be asked any time.)
    let mut none = |_: &mut Judge, q: Question| {
        assert!(matches!(q, Question::Local { .. }), "asked {q:?}");
    };
    judge_with(&[TCP, CONNECT_PROXY], PROXY, Some(&mut none));
    let far = format!("1 connect(3, {FAR}, 16) = -1 ENETUNREACH (Network is unreachable)");
    judge_with(&[TCP, &far], PROXY, Some(&mut none));

    // A send without address on a descriptor the trace never showed.
    let send = r#"1 sendto(7, "x", 1, MSG_NOSIGNAL, NULL, 0) = 1"#;
    let answers: [(Descriptor, VerdictKind, Option<Kind>); 5] = [
        (Descriptor::Local, VerdictKind::Clean, None),
        (
            Descriptor::Ip {
                v6: false,
                proto: Some(Proto::Tcp),
                peer: Some("192.0.2.1:80".parse().unwrap()),
                accepted: false,
            },
            VerdictKind::Leaked,
            Some(Kind::Connect),
        ),
        (
            Descriptor::Ip {
                v6: false,
                proto: Some(Proto::Tcp),
                peer: Some("127.0.0.1:50000".parse().unwrap()),
                accepted: true,
            },
            VerdictKind::Clean,
            None,
        ),
        (
            Descriptor::Raw("PACKET".into()),
            VerdictKind::Leaked,
            Some(Kind::RawSocket),
        ),
        (
            Descriptor::Unknown("gone".into()),
            VerdictKind::Unverified,
            None,
        ),
    ];
    for (answer, verdict, kind) in answers {
        let mut reply = |judge: &mut Judge, q: Question| match q {
            Question::Descriptor(d) => {
                assert_eq!((d.pid, d.fd), (1, 7));
                judge.note_descriptor(d, answer.clone());
            }
            other => panic!("{other:?}"),
        };
        let v = judge_with(&[send], PROXY, Some(&mut reply));
        assert_eq!(v.verdict, verdict, "{v:#?}");
        if let Some(kind) = kind {
            assert_eq!(v.findings[0].kind, kind);
            assert_eq!(v.findings[0].syscall, "sendto");
        }
    }
    // Known descriptors are not asked about; a recorded trace is judged as before.
    judge_with(
        &[UDP, CONNECT_PROXY, r#"1 sendto(3, "x", 1, 0, NULL, 0) = 1"#],
        PROXY,
        Some(&mut none),
    );
    assert_eq!(judge(&[send], PROXY).verdict, VerdictKind::Clean);
    // socketpair, accept and dup lines make descriptors known.
    for origin in [
        "1 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [7, 8]) = 0",
        "1 accept4(3, NULL, NULL, SOCK_CLOEXEC) = 7",
        "1 fcntl(3, F_DUPFD_CLOEXEC, 3) = 7",
    ] {
        judge_with(&[TCP, origin, send], PROXY, Some(&mut none));
    }
}

#[test]
fn inherited_sockets_are_attempts() {
    let mut judge = Judge::new(policy(PROXY, true));
    judge.note_inherited(
        9,
        &[
            InheritedSocket {
                fd: 7,
                v6: false,
                proto: Some(Proto::Udp),
                raw: false,
                peer: Some("127.0.0.1:9".parse().unwrap()),
            },
            InheritedSocket {
                fd: 8,
                v6: true,
                proto: Some(Proto::Tcp),
                raw: false,
                peer: None,
            },
        ],
    );
    let v = judge.clone().finish_with(None);
    let connect = v.findings.iter().find(|f| f.kind == Kind::Connect).unwrap();
    assert_eq!(connect.destination.as_deref(), Some("127.0.0.1:9"));
    assert_eq!(connect.syscall, "inherited");
    assert!(v.findings.iter().all(|f| f.kind != Kind::IpSocket));
    let v = judge
        .clone()
        .finish_with(Some(policy(&["127.0.0.1:9"], false)));
    assert_eq!(v.findings.len(), 1);
    assert_eq!(v.findings[0].kind, Kind::IpSocket);
    let v = judge.finish_with(Some(policy(&["127.0.0.1:9"], true)));
    assert!(v.findings.is_empty());
}
