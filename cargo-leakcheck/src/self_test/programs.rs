//! The control programs: what runs inside the traced process
//! (`cargo-leakcheck __control NAME`). Each one makes exactly the system calls of its
//! shape, with libc, and ignores what they return: an attempt counts whatever it
//! returned, and inside a fresh network namespace most of them fail (ENETUNREACH).
//!
//! Safety: every program first checks that the only network interface is `lo` (a fresh
//! network namespace, as the self-test gives it) and refuses with exit status
//! [`REFUSED`] otherwise, so that running one by hand never sends a packet anywhere.
//! Every program arms `alarm(6)`, and the program the leftover control leaves running
//! ends by itself within 5 s: nothing outlives the self-test for long even if the tracer
//! failed to stop it.

use std::mem::{size_of, zeroed};

/// The exit status of a program that refused to run outside a fresh network namespace.
pub const REFUSED: u8 = 3;

/// TEST-NET-1 (RFC 5737): never routed; unreachable in a namespace anyway.
const OUTSIDE: [u8; 4] = [192, 0, 2, 1];
/// A name server address in TEST-NET-1.
const NAME_SERVER: [u8; 4] = [192, 0, 2, 53];
/// The allowed endpoint of the self-test's policy.
const PROXY: ([u8; 4], u16) = ([127, 0, 0, 1], 9050);

/// Runs the program `name`; returns its exit status, or None for a name that is none of
/// them.
pub fn run(name: &str) -> Option<u8> {
    let program = PROGRAMS.iter().find(|(n, _)| *n == name)?.1;
    if let Err(why) = require_fresh_namespace() {
        eprintln!("leakcheck self-test control: SAFETY: {why}; run it only through `cargo leakcheck self-test`, which gives it a fresh network namespace. Refusing.");
        return Some(REFUSED);
    }
    // SAFETY: alarm only arms a timer; its default action ends a program that hangs.
    unsafe { libc::alarm(6) };
    program();
    Some(0)
}

/// Every program by name: `KIND` is the control of that kind, `KIND-twin` its clean twin.
/// `noop` only checks the namespace.
const PROGRAMS: &[(&str, fn())] = &[
    ("noop", noop),
    ("connect", connect_outside),
    ("connect-twin", connect_proxy),
    ("send", send_outside),
    ("send-twin", send_proxy),
    ("dns", dns_query),
    ("dns-twin", numeric_lookup),
    ("ip-socket", ip_socket),
    ("ip-socket-twin", unix_socket),
    ("raw-socket", raw_socket),
    ("raw-socket-twin", udp_socket),
    ("untraceable", clone_untraced),
    ("untraceable-twin", clone_traced),
    ("interface-enumeration", siocgifconf),
    ("interface-enumeration-twin", siocgifflags),
    ("listen", listen_any),
    ("listen-twin", listen_loopback),
    ("route-probe", route_probe),
    ("route-probe-twin", route_probe_proxy),
    ("leftover-process", leave_program),
    ("leftover-process-twin", wait_for_child),
    // Not in the table: the strace backend learns of a task from its first traced call,
    // so a forked child that makes none is neither stopped nor reported there yet.
    ("leftover-process-fork", leave_child),
    ("sleeper", sleep_five_seconds),
];

/// The names of every program.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROGRAMS.iter().map(|(name, _)| *name)
}

/// Ok when `lo` is the only interface of this network namespace.
fn require_fresh_namespace() -> Result<(), String> {
    let dev = std::fs::read_to_string("/proc/net/dev")
        .map_err(|e| format!("cannot read /proc/net/dev ({e})"))?;
    match other_interfaces(&dev).first() {
        None => Ok(()),
        Some(name) => Err(format!(
            "this network namespace has an interface other than lo ({name})"
        )),
    }
}

/// The interfaces other than `lo` in `/proc/net/dev`'s text (two header lines, then
/// `NAME: counters` per interface).
pub fn other_interfaces(dev: &str) -> Vec<String> {
    dev.lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| name != "lo")
        .collect()
}

fn noop() {}

fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> Option<Fd> {
    // SAFETY: a plain system call; the descriptor is owned by the returned Fd.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    (fd >= 0).then_some(Fd(fd))
}

/// A descriptor closed on drop.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn ipv4(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from_ne_bytes(ip);
    sa
}

fn connect(fd: &Fd, sa: &libc::sockaddr_in) {
    // SAFETY: sa lives across the call and its length is given.
    unsafe {
        libc::connect(
            fd.0,
            (sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
}

fn send_to(fd: &Fd, data: &[u8], sa: &libc::sockaddr_in) {
    // SAFETY: data and sa live across the call and their lengths are given.
    unsafe {
        libc::sendto(
            fd.0,
            data.as_ptr().cast(),
            data.len(),
            0,
            (sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
}

fn bind(fd: &Fd, sa: &libc::sockaddr_in) {
    // SAFETY: sa lives across the call and its length is given.
    unsafe {
        libc::bind(
            fd.0,
            (sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
}

fn getsockname(fd: &Fd) {
    // SAFETY: the buffer and its length live across the call.
    unsafe {
        let mut sa: libc::sockaddr_in = zeroed();
        let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        libc::getsockname(fd.0, (&mut sa as *mut libc::sockaddr_in).cast(), &mut len);
    }
}

/// `connect`: TCP connect() to 192.0.2.1:80.
fn connect_outside() {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_STREAM, 0) {
        connect(&fd, &ipv4(OUTSIDE, 80));
    }
}

/// Twin: TCP connect() to the allowed 127.0.0.1:9050 (refused: nobody listens).
fn connect_proxy() {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_STREAM, 0) {
        connect(&fd, &ipv4(PROXY.0, PROXY.1));
    }
}

/// `send`: a UDP datagram sendto() 192.0.2.1:9999.
fn send_outside() {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
        send_to(&fd, b"leakcheck self-test", &ipv4(OUTSIDE, 9999));
    }
}

/// Twin: a UDP datagram to the allowed 127.0.0.1:9050.
fn send_proxy() {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
        send_to(&fd, b"leakcheck self-test", &ipv4(PROXY.0, PROXY.1));
    }
}

/// `dns`: a DNS query (A self-test.leakcheck.invalid) sent with UDP to 192.0.2.53:53.
/// Not getaddrinfo: glibc would ask nscd or systemd-resolved over a unix socket, which
/// lives outside the network namespace and would really resolve.
fn dns_query() {
    let mut query = vec![0x1c, 0x3d, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["self-test", "leakcheck", "invalid"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
        send_to(&fd, &query, &ipv4(NAME_SERVER, 53));
    }
}

/// Twin: getaddrinfo("127.0.0.1", "9050") with AI_NUMERICHOST|AI_NUMERICSERV (no lookup
/// at all), then a connect() to the result, which is allowed.
fn numeric_lookup() {
    // SAFETY: hints is plain data; the result list is freed once; the strings are
    // NUL-terminated literals.
    unsafe {
        let mut hints: libc::addrinfo = zeroed();
        hints.ai_family = libc::AF_INET;
        hints.ai_socktype = libc::SOCK_STREAM;
        hints.ai_flags = libc::AI_NUMERICHOST | libc::AI_NUMERICSERV;
        let mut list: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c"127.0.0.1".as_ptr(), c"9050".as_ptr(), &hints, &mut list) != 0 {
            return;
        }
        if let Some(ai) = list.as_ref() {
            if let Some(fd) = socket(ai.ai_family, ai.ai_socktype, ai.ai_protocol) {
                libc::connect(fd.0, ai.ai_addr, ai.ai_addrlen);
            }
        }
        libc::freeaddrinfo(list);
    }
}

/// `ip-socket` (policy `ip = false`): an IPv4 socket, created and closed.
fn ip_socket() {
    drop(socket(libc::AF_INET, libc::SOCK_STREAM, 0));
}

/// Twin (policy `ip = false`): a unix socket, created and closed.
fn unix_socket() {
    drop(socket(libc::AF_UNIX, libc::SOCK_STREAM, 0));
}

/// `raw-socket`: socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), closed without sending.
fn raw_socket() {
    drop(socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP));
}

/// Twin: a UDP socket, closed without sending.
fn udp_socket() {
    drop(socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDP));
}

/// A fork-like raw clone (no new stack) with `extra` flags; the child ends at once.
fn clone_and_wait(extra: libc::c_long) {
    // SAFETY: this process is single-threaded; the child only calls _exit. Flags come
    // first on x86_64 and aarch64; the other arguments are unused without their flags.
    unsafe {
        let pid = libc::syscall(
            libc::SYS_clone,
            extra | libc::SIGCHLD as libc::c_long,
            0,
            0,
            0,
            0,
        );
        if pid == 0 {
            libc::_exit(0);
        }
        if pid > 0 {
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// `untraceable`: clone(CLONE_UNTRACED|SIGCHLD): a child out of the tracer's sight.
fn clone_untraced() {
    clone_and_wait(libc::CLONE_UNTRACED as libc::c_long);
}

/// Twin: the same clone without CLONE_UNTRACED.
fn clone_traced() {
    clone_and_wait(0);
}

/// `interface-enumeration`: ioctl(SIOCGIFCONF), the old way to list the host's addresses.
fn siocgifconf() {
    let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) else {
        return;
    };
    // SAFETY: ifconf points at a buffer that lives across the call, with its length.
    unsafe {
        let mut buf: [libc::ifreq; 8] = zeroed();
        let mut conf: libc::ifconf = zeroed();
        conf.ifc_len = size_of::<[libc::ifreq; 8]>() as libc::c_int;
        conf.ifc_ifcu.ifcu_req = buf.as_mut_ptr();
        libc::ioctl(fd.0, libc::SIOCGIFCONF as _, &mut conf);
    }
}

/// Twin: ioctl(SIOCGIFFLAGS) on `lo`: an interface's flags, not the host's addresses.
fn siocgifflags() {
    let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) else {
        return;
    };
    // SAFETY: ifreq is plain data that lives across the call.
    unsafe {
        let mut ifr: libc::ifreq = zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        libc::ioctl(fd.0, libc::SIOCGIFFLAGS as _, &mut ifr);
    }
}

fn listen_on(ip: [u8; 4]) {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_STREAM, 0) {
        bind(&fd, &ipv4(ip, 0));
        // SAFETY: a plain system call on our descriptor.
        unsafe { libc::listen(fd.0, 1) };
    }
}

/// `listen`: a TCP listener on 0.0.0.0 (every interface).
fn listen_any() {
    listen_on([0, 0, 0, 0]);
}

/// Twin: a TCP listener on 127.0.0.1.
fn listen_loopback() {
    listen_on([127, 0, 0, 1]);
}

fn udp_connect_and_getsockname(ip: [u8; 4], port: u16) {
    if let Some(fd) = socket(libc::AF_INET, libc::SOCK_DGRAM, 0) {
        connect(&fd, &ipv4(ip, port));
        getsockname(&fd);
    }
}

/// `route-probe`: a UDP socket connect()ed to 192.0.2.1:80, then getsockname() and no
/// data (glibc's address sorting does this).
fn route_probe() {
    udp_connect_and_getsockname(OUTSIDE, 80);
}

/// Twin: the same to the allowed 127.0.0.1:9050.
fn route_probe_proxy() {
    udp_connect_and_getsockname(PROXY.0, PROXY.1);
}

/// Forks a child that sleeps (at most `secs` seconds, in short naps) and then ends.
fn fork_sleeper(secs: u32) -> libc::pid_t {
    // SAFETY: this process is single-threaded; the child only calls nanosleep and _exit.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let nap = libc::timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            for _ in 0..secs * 10 {
                libc::nanosleep(&nap, std::ptr::null_mut());
            }
            libc::_exit(0);
        }
        pid
    }
}

/// `leftover-process`: starts a program (this one, as `sleeper`) and exits without
/// waiting for it, as a test that forgets the server it started; leakcheck stops the
/// program a second later.
fn leave_program() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::process::Command::new(exe)
            .args([super::CONTROL_ARG, "sleeper"])
            .spawn();
    }
}

/// The program [`leave_program`] leaves running: sleeps 5 s (in short naps) and ends.
fn sleep_five_seconds() {
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `leftover-process-fork`: forks a child that sleeps up to 5 s (making no traced call)
/// and exits without waiting for it.
fn leave_child() {
    fork_sleeper(5);
}

/// Twin: forks a child that ends at once and waits for it.
fn wait_for_child() {
    let pid = fork_sleeper(0);
    if pid > 0 {
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lo_is_a_fresh_namespace() {
        let fresh = "Inter-|   Receive    |  Transmit\n face |bytes    packets|bytes\n    lo:       0       0 0\n";
        assert!(other_interfaces(fresh).is_empty());
        let host = format!("{fresh}  eth0: 1 2 3\nwlp2s0: 4 5 6\n");
        assert_eq!(other_interfaces(&host), ["eth0", "wlp2s0"]);
    }

    fn stand_in_kind(kind: leakcheck::Kind) -> bool {
        use leakcheck::Kind::*;
        matches!(
            kind,
            ProtocolLeak | ProxyIpRequest | SocksNoAuth | SharedIsolation | ProxyProtocolError
        )
    }

    #[test]
    fn every_kind_has_a_control_and_a_twin() {
        // The stand-in's kinds need a stand-in to talk to: tests/standin.rs checks them.
        for kind in leakcheck::Kind::ALL
            .into_iter()
            .filter(|k| !stand_in_kind(*k))
        {
            let name = kind.as_str();
            assert!(names().any(|n| n == name), "{name}");
            assert!(names().any(|n| n == format!("{name}-twin")), "{name}-twin");
        }
        assert!(run("no-such-control").is_none());
    }
}
