//! Unit tests of what a finding says of itself, fed strace lines: the program that made
//! the attempt, the name a lookup asked for, how to fix it.

use super::*;
use crate::policy::PolicyConfig;
use crate::syntax::Parser;
use crate::verdict::{Finding, Verdict};

fn judge(lines: &[&str]) -> Verdict {
    let config = PolicyConfig::from_allow_list(&["127.0.0.1:9050"], "test").expect("allow list");
    let mut judge = Judge::new(config.resolve(""));
    let mut parser = Parser::new();
    let start = r#"1 execve("/target/debug/deps/net-1a2b", ["net"], 0x7f /* 1 var */) = 0"#;
    for line in std::iter::once(&start).chain(lines) {
        parser
            .feed(line, &mut |event, shown| judge.observe(&event, shown))
            .expect(line);
    }
    parser
        .feed("1 +++ exited with 0 +++", &mut |event, shown| {
            judge.observe(&event, shown)
        })
        .unwrap();
    judge.finish()
}

fn only(verdict: &Verdict) -> &Finding {
    assert_eq!(verdict.findings.len(), 1, "{verdict:#?}");
    &verdict.findings[0]
}

const UDP: &str = "1 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3";
const CONNECT_53: &str = r#"1 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0"#;
/// glibc's A and AAAA queries for example.com, as strace prints them.
const SENDMMSG: &str = r#"1 sendmmsg(3, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\2378\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=29}, {msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\2379\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\34\0\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=29}], 2, MSG_NOSIGNAL) = 2"#;

#[test]
fn a_lookup_names_its_question_on_the_connects_finding() {
    let v = judge(&[UDP, CONNECT_53, SENDMMSG]);
    let f = only(&v);
    assert_eq!((f.kind, f.syscall.as_str()), (Kind::Dns, "connect"));
    assert_eq!(f.query.as_deref(), Some("example.com (A, AAAA)"));
    assert_eq!(f.program.as_deref(), Some("/target/debug/deps/net-1a2b"));
    assert_eq!(f.hint.as_deref(), Some(Kind::Dns.hint()));
    // Another name on another socket, a retry of the first: one finding, each name once.
    let second = r#"1 sendto(4, "\1\2\1\0\0\1\0\0\0\0\0\0\1b\3org\0\0\1\0\1", 23, MSG_NOSIGNAL, NULL, 0) = 23"#;
    let v = judge(&[
        UDP,
        CONNECT_53,
        SENDMMSG,
        &UDP.replace("= 3", "= 4"),
        &CONNECT_53.replace("connect(3", "connect(4"),
        second,
        SENDMMSG,
    ]);
    let f = only(&v);
    assert_eq!(f.occurrences, 2);
    assert_eq!(f.query.as_deref(), Some("example.com (A, AAAA); b.org (A)"));
}

#[test]
fn a_query_sent_with_its_destination_is_that_sends() {
    let line = r#"1 sendto(3, "\0224\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1", 29, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("192.0.2.53")}, 16) = -1 ENETUNREACH (Network is unreachable)"#;
    let v = judge(&["1 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3", line]);
    let f = only(&v);
    assert_eq!((f.kind, f.syscall.as_str()), (Kind::Dns, "sendto"));
    assert_eq!(f.query.as_deref(), Some("example.com (A)"));
    let msg = r#"1 sendmsg(3, {msg_name={sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::53", &sin6_addr), sin6_scope_id=0}, msg_namelen=28, msg_iov=[{iov_base="\0224\1\0\0\1\0\0\0\0\0\0\3www\7example\3com\0\0\34\0\1", iov_len=33}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 33"#;
    let v = judge(&["1 socket(AF_INET6, SOCK_DGRAM, IPPROTO_IP) = 3", msg]);
    assert_eq!(only(&v).query.as_deref(), Some("www.example.com (AAAA)"));
}

#[test]
fn dns_over_tcp_skips_the_length() {
    let v = judge(&[
        "1 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3",
        &CONNECT_53.replace("= 0", "= -1 EINPROGRESS (Operation now in progress)"),
        r#"1 sendto(3, "\0\35\0224\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\20\0\1", 31, 0, NULL, 0) = 31"#,
    ]);
    assert_eq!(only(&v).query.as_deref(), Some("example.com (TXT)"));
}

#[test]
fn what_is_no_query_gives_none_and_the_finding_stays() {
    for payload in [r#""garbage""#, r#""\0224\201\200\0\1""#, "0x7ffd1234"] {
        let line = format!("1 sendto(3, {payload}, 9, MSG_NOSIGNAL, NULL, 0) = 9");
        let v = judge(&[UDP, CONNECT_53, &line]);
        let f = only(&v);
        assert_eq!((f.kind, f.query.as_deref()), (Kind::Dns, None), "{payload}");
    }
    // Data on a socket connected elsewhere names nothing, even if it looks like DNS.
    let v = judge(&[
        UDP,
        &CONNECT_53.replace("htons(53)", "htons(5353)"),
        SENDMMSG,
    ]);
    assert!(v.findings.iter().all(|f| f.query.is_none()), "{v:#?}");
    // A reconnect elsewhere ends the lookup.
    let v = judge(&[
        UDP,
        CONNECT_53,
        &CONNECT_53.replace("htons(53)", "htons(5353)"),
        SENDMMSG,
    ]);
    assert!(v.findings.iter().all(|f| f.query.is_none()), "{v:#?}");
}

#[test]
fn nscd_findings_name_the_host_not_the_first_request() {
    let lines = [
        "1 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3",
        r#"1 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = 0"#,
        // GETFDHST `hosts`, then GETAI `example.com`.
        r#"1 sendto(3, "\2\0\0\0\r\0\0\0\6\0\0\0hosts\0", 18, MSG_NOSIGNAL, NULL, 0) = 18"#,
        r#"1 sendto(3, "\2\0\0\0\16\0\0\0\f\0\0\0example.com\0", 24, MSG_NOSIGNAL, NULL, 0) = 24"#,
    ];
    let v = judge(&lines);
    let f = only(&v);
    assert_eq!(f.destination.as_deref(), Some("unix:/var/run/nscd/socket"));
    assert_eq!(f.occurrences, 2);
    assert!(
        f.trace.contains("hosts"),
        "the first occurrence is quoted: {}",
        f.trace
    );
    assert_eq!(f.query.as_deref(), Some("example.com (A, AAAA)"));
}

#[test]
fn systemd_resolved_calls_name_the_host() {
    let v = judge(&[
        "1 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3",
        r#"1 connect(3, {sa_family=AF_UNIX, sun_path="/run/systemd/resolve/io.systemd.Resolve"}, 42) = 0"#,
        r#"1 sendto(3, "{\"method\":\"io.systemd.Resolve.ResolveHostname\",\"parameters\":{\"name\":\"example.com\",\"family\":2}}\0", 97, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 97"#,
    ]);
    let f = only(&v);
    assert_eq!((f.kind, f.syscall.as_str()), (Kind::Dns, "connect"));
    assert_eq!(f.query.as_deref(), Some("example.com (A)"));
}

#[test]
fn a_child_program_is_named_and_a_fork_runs_its_parents() {
    let v = judge(&[
        "1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 2",
        r#"2 execve("/usr/bin/getent", ["getent", "hosts", "example.com"], 0x7ffc /* 20 vars */) = 0"#,
        "2 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3",
        &CONNECT_53.replace("1 connect", "2 connect"),
        "2 +++ exited with 2 +++",
        "1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 3",
        "3 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4",
        r#"3 connect(4, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, 16) = -1 ENETUNREACH (Network is unreachable)"#,
        "3 +++ exited with 0 +++",
    ]);
    let program = |kind| {
        v.findings
            .iter()
            .find(|f| f.kind == kind)
            .and_then(|f| f.program.as_deref())
    };
    assert_eq!(program(Kind::Dns), Some("/usr/bin/getent"));
    assert_eq!(program(Kind::Connect), Some("/target/debug/deps/net-1a2b"));
    assert_eq!(
        v.findings
            .iter()
            .find(|f| f.kind == Kind::Connect)
            .unwrap()
            .hint
            .as_deref(),
        Some(Kind::Connect.hint())
    );
}

#[test]
fn a_route_probe_gets_its_own_hint() {
    let v = judge(&[
        UDP,
        r#"1 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, 16) = 0"#,
        r#"1 getsockname(3, {sa_family=AF_INET, sin_port=htons(41000), sin_addr=inet_addr("10.0.0.2")}, [16]) = 0"#,
    ]);
    let f = only(&v);
    assert_eq!(f.kind, Kind::RouteProbe);
    assert_eq!(f.hint.as_deref(), Some(Kind::RouteProbe.hint()));
}
