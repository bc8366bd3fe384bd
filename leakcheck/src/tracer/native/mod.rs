//! The native backend: ptrace and a seccomp filter, without strace.
//!
//! strace stops a traced call twice (entry and exit), reads and formats every argument,
//! and writes its text to a pipe that another thread reads back: about 55 µs per call
//! on a 2-core machine, which made a suite of small UDP tests three times slower. This
//! backend installs its own seccomp filter, so the kernel stops the program only on the
//! calls that can carry a destination (and on `ioctl` only for the two requests that
//! enumerate interfaces), and it stops the send calls once, at entry, where the
//! destination is already in the arguments.
//!
//! It writes the same lines strace would (a subset of strace's syntax), so the parser and
//! the judge stay the one place where leaks are decided, a kept trace
//! (`LEAKCHECK_KEEP_TRACE`) can be replayed, and the report shows familiar lines. A send's
//! result is not waited for and is printed as `= ?`: an attempt counts whatever it
//! returns.
//!
//! Fail-closed rules: memory it cannot read is printed as a raw pointer (the parser then
//! reports an undecoded address), and a system call of another ABI (32-bit `int 0x80`,
//! x32) becomes a problem of the run.

mod arch;
mod bpf;
mod decode;
mod filter;
mod kernel;
mod notify;
mod stops;

use crate::leftover::Tasks;
use crate::tracer::process::{self, resolve_program, Captured, Launch};
use crate::tracer::{ProgramStatus, RunResult, TraceError, TracedCommand, Tracer};
use decode::Decoder;
use filter::{install_filter, seccomp_filter};
use nix::unistd::Pid;
use notify::{notify_loop, take_listener};
use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Instant;
use stops::Session;

/// The native backend (Linux on x86_64 and aarch64).
#[derive(Debug, Clone, Default)]
pub struct NativeBackend {
    _private: (),
}

impl NativeBackend {
    /// The native backend, if this machine can run it.
    pub fn new() -> Option<NativeBackend> {
        arch::SUPPORTED.then_some(NativeBackend { _private: () })
    }
}

/// What the tracer knows of a socket it saw created: enough to decode sends on it.
#[derive(Debug, Clone, Copy)]
struct SocketInfo {
    family: u16,
    protocol: i32,
}

/// Sockets seen created, by thread and descriptor; by descriptor alone as a fallback,
/// because a socket may be used by a thread other than the one that created it.
#[derive(Debug, Default)]
struct Sockets {
    by_thread: HashMap<(Pid, i32), SocketInfo>,
    by_fd: HashMap<i32, SocketInfo>,
}

impl Sockets {
    fn get(&self, pid: Pid, fd: u64) -> Option<SocketInfo> {
        let fd = fd as i32;
        self.by_thread
            .get(&(pid, fd))
            .or_else(|| self.by_fd.get(&fd))
            .copied()
    }
}

/// What the ptrace thread and the notification thread share.
struct Shared<'a> {
    sink: Mutex<&'a mut (dyn FnMut(&str) + Send)>,
    sockets: Mutex<Sockets>,
    problems: Mutex<Vec<String>>,
    /// Every task seen and not yet ended, for the watchdog.
    tasks: Tasks,
}

impl Shared<'_> {
    fn emit(&self, line: &str) {
        if let Ok(mut sink) = self.sink.lock() {
            (*sink)(line);
        }
    }

    fn problem(&self, problem: String) {
        if let Ok(mut problems) = self.problems.lock() {
            if problems.len() < 20 && !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }

    fn socket(&self, pid: Pid, fd: u64) -> Option<SocketInfo> {
        self.sockets.lock().ok()?.get(pid, fd)
    }
}

impl Tracer for NativeBackend {
    fn run(
        &self,
        cmd: &TracedCommand,
        sink: &mut (dyn FnMut(&str) + Send),
    ) -> Result<RunResult, TraceError> {
        resolve_program(cmd)?;
        let mut command = Command::new(&cmd.program);
        command.args(&cmd.args);
        let mut launch = Launch::new(command, cmd)?;
        let own_group = launch.own_group;
        let notify = notify_supported();
        let filter = seccomp_filter(notify);
        let trace_filter = seccomp_filter(false);
        // The child hands its listener descriptor over through these (see `take_listener`).
        let (hand_r, hand_w) = io::pipe()?;
        let (ack_r, ack_w) = io::pipe()?;
        let (hand_fd, ack_fd) = (hand_w.as_raw_fd(), ack_r.as_raw_fd());
        // SAFETY: the closure only makes async-signal-safe system calls (ptrace, prctl,
        // seccomp, getpid, write, read) on data prepared before the fork.
        unsafe {
            launch.pre_exec(cmd, move || {
                // The calling thread becomes the tracer; the program stops with SIGTRAP
                // right after its execve, before its first instruction. std passes only
                // an errno back from here, so each failure gets an errno of its own.
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) != 0 {
                    return Err(io::Error::from_raw_os_error(ERRNO_TRACED));
                }
                let filter_failed = |_| io::Error::from_raw_os_error(ERRNO_FILTER);
                if !notify {
                    // Until the tracer sets PTRACE_O_TRACESECCOMP, a traced call fails
                    // with ENOSYS; execve is not one, and the program stops right after it.
                    return install_filter(&trace_filter, false)
                        .map(drop)
                        .map_err(filter_failed);
                }
                let listener = match install_filter(&filter, true) {
                    Ok(fd) => fd,
                    // A kernel without seccomp user notification: ptrace stops only.
                    Err(_) => install_filter(&trace_filter, false).map_err(filter_failed)?,
                };
                // The listener is close-on-exec: the tracer takes a copy now, and the
                // child waits until it has.
                let msg: [i32; 2] = [libc::getpid(), listener];
                let sent = libc::write(hand_fd, msg.as_ptr().cast(), 8);
                let mut ack = 0u8;
                let read = libc::read(ack_fd, (&mut ack as *mut u8).cast(), 1);
                if sent != 8 || read != 1 || ack != b'1' {
                    return Err(io::Error::from_raw_os_error(ERRNO_FILTER));
                }
                Ok(())
            });
        }

        let shared = Shared {
            sink: Mutex::new(sink),
            sockets: Mutex::new(Sockets::default()),
            problems: Mutex::new(Vec::new()),
            tasks: Tasks::default(),
        };
        let started = Instant::now();
        let (root_status, output) = std::thread::scope(|scope| {
            let helper = notify.then(|| scope.spawn(move || take_listener(hand_r, ack_w)));
            let spawned = launch.spawn();
            // The parent's copies of the child's ends: closing them lets the helper see
            // end-of-file if the child died before handing over.
            drop(hand_w);
            drop(ack_r);
            let listener = helper.and_then(|h| h.join().ok().flatten());
            let (child, output) = spawned.map_err(|e| spawn_error(e, cmd))?;
            let root = Pid::from_raw(child.id() as i32);
            // The child is reaped by the trace loop below, never by `Child::wait`.
            drop(child);

            let shared = &shared;
            shared.tasks.started(root.as_raw() as u32);
            let (watch_tx, watch_rx) = mpsc::channel();
            let dog = process::watchdog(cmd, root, own_group, None, &shared.tasks);
            let watchdog = scope.spawn(move || dog.run(&watch_rx));
            let (done_r, done_w) = io::pipe()?;
            let notifier = listener
                .map(|listener| scope.spawn(move || notify_loop(&listener, &done_r, shared)));
            let mut session = Session {
                shared,
                decoder: Decoder::default(),
                root,
                tracees: HashMap::new(),
                line: String::with_capacity(256),
                root_status: None,
                watch: Some(watch_tx),
            };
            session.run();
            drop(done_w);
            drop(session.watch.take());
            if let Some(notifier) = notifier {
                let _ = notifier.join();
            }
            let _ = watchdog.join();
            Ok::<_, TraceError>((session.root_status.take(), output))
        })?;
        drop(launch);

        let leftovers = shared.tasks.take_leftovers();
        let mut problems = shared.problems.into_inner().unwrap_or_default();
        let output = output.map(Captured::collect).unwrap_or_default();
        let status = process::status(cmd, &shared.tasks, &mut problems, |problems| {
            root_status.unwrap_or_else(|| {
                problems.push("lost track of the traced program".to_string());
                ProgramStatus::Signaled(libc::SIGKILL)
            })
        });
        Ok(RunResult {
            status,
            output,
            problems,
            duration: started.elapsed(),
            leftovers,
        })
    }
}

/// Whether seccomp user notification can carry the send calls: it needs
/// `pidfd_getfd` (Linux 5.6) to take the listener from the child. Off with
/// `LEAKCHECK_NATIVE_NOTIFY=0`, which makes every send a ptrace stop (for tests).
fn notify_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    if std::env::var_os("LEAKCHECK_NATIVE_NOTIFY").is_some_and(|v| v == "0") {
        return false;
    }
    *SUPPORTED.get_or_init(|| {
        // SAFETY: a probe with an invalid descriptor: EBADF if the call exists.
        let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) };
        r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
    })
}

/// The errno the child reports when PTRACE_TRACEME fails (something already traces it).
const ERRNO_TRACED: i32 = libc::EALREADY;
/// The errno the child reports when the seccomp filter cannot be installed.
const ERRNO_FILTER: i32 = libc::EOPNOTSUPP;

fn spawn_error(e: io::Error, cmd: &TracedCommand) -> TraceError {
    match e.raw_os_error() {
        Some(ERRNO_TRACED) => TraceError::Ptrace(format!(
            "cannot trace `{}`: ptrace(PTRACE_TRACEME) was refused{}",
            cmd.display(),
            process::already_traced_hint()
        )),
        Some(ERRNO_FILTER) => TraceError::Ptrace(format!(
            "cannot trace `{}`: the kernel refused leakcheck's seccomp filter (is seccomp disabled, or forbidden by a container's policy?)\n(hint: LEAKCHECK_TRACER=strace traces without it, more slowly)",
            cmd.display()
        )),
        _ => process::spawn_error(e, cmd, cmd.program.to_string_lossy().into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::decode::{write_c_string, write_netlink, write_sockaddr};
    use super::filter::seccomp_filter;
    use crate::event::{EventKind, NetlinkType, SockAddr};
    use crate::syntax::Parser;

    fn parse(line: &str) -> EventKind {
        let mut out = Vec::new();
        Parser::new()
            .parse_line(line, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        out.remove(0).kind
    }

    fn sockaddr_in(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        b.extend(port.to_be_bytes());
        b.extend(ip);
        b.extend([0u8; 8]);
        b
    }

    fn connect_line(addr: &[u8]) -> String {
        let mut text = String::from("7 connect(3, ");
        write_sockaddr(&mut text, addr);
        text.push_str(", 16) = -1 ENETUNREACH (Network is unreachable)");
        text
    }

    fn connect_dest(addr: &[u8]) -> SockAddr {
        match parse(&connect_line(addr)) {
            EventKind::Connect {
                addr, ok: false, ..
            } => addr,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ipv4_round_trips_through_the_parser() {
        assert_eq!(
            connect_dest(&sockaddr_in(53, [1, 2, 3, 4])),
            SockAddr::Ip("1.2.3.4:53".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_and_mapped_round_trip() {
        let mut b = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        b.extend(443u16.to_be_bytes());
        b.extend([0u8; 4]);
        b.extend(
            "2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        b.extend(1u32.to_ne_bytes());
        assert_eq!(
            connect_dest(&b),
            SockAddr::Ip("[2001:db8::1]:443".parse().unwrap())
        );
        b[8..24].copy_from_slice(
            &"::ffff:9.9.9.9"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        assert_eq!(
            connect_dest(&b),
            SockAddr::Ip("9.9.9.9:443".parse().unwrap())
        );
    }

    #[test]
    fn short_addresses_are_undecoded() {
        let b = sockaddr_in(53, [1, 2, 3, 4]);
        assert!(matches!(connect_dest(&b[..6]), SockAddr::Undecoded(_)));
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend([0u8; 10]);
        assert!(matches!(connect_dest(&v6), SockAddr::Undecoded(_)));
    }

    #[test]
    fn unix_paths_abstract_names_and_unnamed() {
        let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        b.extend(b"/run/nscd/socket\0junk");
        assert_eq!(
            connect_dest(&b),
            SockAddr::Unix {
                path: "/run/nscd/socket".into(),
                is_abstract: false
            }
        );
        let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        b.extend(b"\0we\"ird\n\xff name");
        assert_eq!(
            connect_dest(&b),
            SockAddr::Unix {
                path: String::from_utf8_lossy(b"we\"ird\n\xff name").into_owned(),
                is_abstract: true
            }
        );
        let b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        assert_eq!(
            connect_dest(&b),
            SockAddr::Unix {
                path: String::new(),
                is_abstract: false
            }
        );
    }

    #[test]
    fn other_families_are_named_or_numbered() {
        let mut b = (libc::AF_VSOCK as u16).to_ne_bytes().to_vec();
        b.extend([0u8; 14]);
        assert_eq!(connect_dest(&b), SockAddr::Other(Some(libc::AF_VSOCK)));
        let mut b = 0x2du16.to_ne_bytes().to_vec();
        b.extend([0u8; 14]);
        assert!(matches!(connect_dest(&b), SockAddr::Other(_)));
        let mut b = (libc::AF_UNSPEC as u16).to_ne_bytes().to_vec();
        b.extend([0u8; 14]);
        assert_eq!(connect_dest(&b), SockAddr::Unspec);
    }

    #[test]
    fn netlink_types_are_named_only_for_route() {
        let mut msg = 20u32.to_ne_bytes().to_vec();
        msg.extend(0x16u16.to_ne_bytes());
        msg.extend([0u8; 14]);
        let types = |protocol| {
            let mut text = String::from("5 sendto(3, ");
            write_netlink(&mut text, &msg, protocol);
            text.push_str(", 20, 0, NULL, 0) = ?");
            match parse(&text) {
                EventKind::Send { netlink_types, .. } => netlink_types,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            types(Some(libc::NETLINK_ROUTE)),
            [NetlinkType::Route(libc::RTM_GETADDR)]
        );
        assert_eq!(types(None), [NetlinkType::Bare(0x16)]);
        assert_eq!(types(Some(libc::NETLINK_GENERIC)), [NetlinkType::Other]);
    }

    #[test]
    fn payload_strings_round_trip() {
        let payload: Vec<u8> = (0u8..=255).collect();
        let mut text = String::from("5 sendto(3, ");
        write_c_string(&mut text, &payload);
        text.push_str(", 256, 0, NULL, 0) = ?");
        match parse(&text) {
            EventKind::Send {
                payload: Some(p),
                destinations,
                ..
            } => {
                assert_eq!(p, payload);
                assert!(destinations.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_getsockname_without_result_tells_nothing() {
        // What a getsockname cut short by its task's death is written as.
        assert_eq!(
            parse("5 getsockname(3, 0x7ffc0000, 0x7ffc0010) = ?"),
            EventKind::Nothing
        );
    }

    #[test]
    fn filter_jumps_land_inside_the_program() {
        let prog = seccomp_filter(true);
        let jumps = prog
            .iter()
            .enumerate()
            .filter(|(_, ins)| u32::from(ins.code) & 0x07 == libc::BPF_JMP);
        for (i, ins) in jumps {
            assert!(i + 1 + (ins.jt as usize) < prog.len());
            assert!(i + 1 + (ins.jf as usize) < prog.len());
        }
    }
}
