//! The judge: turns events into findings and a verdict, under a policy.
//!
//! It is fed in trace order and keeps only what later events need (which socket is bound
//! where, which unix socket talks to a resolver daemon), so that a trace of millions of
//! calls is judged in bounded memory. It fails closed: anything it could not observe
//! fully becomes a problem, and a problem makes the verdict `unverified`.

use crate::attribution::{Origin, Tasks};
use crate::event::{Event, EventKind, ProcessEnd, SockAddr};
use crate::kind::{Kind, Severity};
use crate::leftover::Leftover;
use crate::parser::{split_pid, ParseError};
use crate::policy::Policy;
use crate::verdict::{Finding, FindingSeverity, Verdict, VerdictKind};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;

/// Where glibc's nscd client connects: a hosts request here is a name lookup.
const NSCD_SOCKETS: [&str; 2] = ["/var/run/nscd/socket", "/run/nscd/socket"];
/// systemd-resolved's varlink sockets: any connection is a name lookup.
const RESOLVED_DIRS: [&str; 2] = ["/run/systemd/resolve/", "/var/run/systemd/resolve/"];
/// nscd request types that look up hosts: GETHOSTBYNAME(v6), GETHOSTBYADDR(v6),
/// GETFDHST (maps the hosts cache, after which lookups need no system call), GETAI.
const NSCD_HOST_REQUESTS: [i32; 6] = [4, 5, 6, 7, 13, 14];
/// Socket families that cannot reach the network.
const LOCAL_FAMILIES: [&str; 5] = ["AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_ALG", "AF_UNSPEC"];

/// How the judge knows the traced program ran to its end.
#[derive(Debug, Clone, Default)]
struct Root {
    pid: Option<u32>,
    started: bool,
    end: Option<ProcessEnd>,
}

/// What a finding is about, kept until the end so that the policy (possibly one learnt
/// only when the run is over, like a `#[leak_free]` attribute's) decides then.
#[derive(Debug, Clone)]
enum Target {
    /// Nothing an allow entry can match.
    None,
    /// An IP destination: allow entries and the tree's own servers may exempt it.
    Ip(SocketAddr),
    /// A resolver daemon's unix socket: a `unix:` allow entry may exempt it.
    Unix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FindingKey {
    kind: Kind,
    destination: Option<String>,
    syscall: String,
}

/// Judges one traced run. Feed it every event, then call [`Judge::finish`].
///
/// It is `Clone` so that one trace can be judged under several policies (a batch of
/// tests with different overrides).
#[derive(Debug, Clone)]
pub struct Judge {
    policy: Policy,
    findings: Vec<Finding>,
    /// What each finding is about, parallel to `findings`.
    targets: Vec<Target>,
    index: HashMap<FindingKey, usize>,
    owned: HashSet<SocketAddr>,
    owned_any_ports: HashSet<u16>,
    families: HashMap<(u32, i32), String>,
    bound: HashMap<(u32, i32), SockAddr>,
    bound_by_fd: HashMap<i32, SockAddr>,
    unix_peers: HashMap<(u32, i32), String>,
    problems: Vec<String>,
    root: Root,
    /// Every task of the trace and its parent: which test each belongs to.
    tasks: Tasks,
    /// For each finding, the tasks that made it; None when there were too many to keep
    /// (then it is the binary's as a whole).
    makers: Vec<Option<HashSet<usize>>>,
}

/// How many distinct tasks a finding keeps before giving up on attribution.
const MAX_MAKERS: usize = 4096;

impl Judge {
    /// A judge for one run under `policy`.
    pub fn new(policy: Policy) -> Judge {
        Judge {
            policy,
            findings: Vec::new(),
            targets: Vec::new(),
            index: HashMap::new(),
            owned: HashSet::new(),
            owned_any_ports: HashSet::new(),
            families: HashMap::new(),
            bound: HashMap::new(),
            bound_by_fd: HashMap::new(),
            unix_peers: HashMap::new(),
            problems: Vec::new(),
            root: Root::default(),
            tasks: Tasks::default(),
            makers: Vec::new(),
        }
    }

    /// The policy this judge applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Records that the trace cannot be trusted, and why.
    pub fn problem(&mut self, problem: impl Into<String>) {
        let problem = problem.into();
        // A broken trace tends to repeat itself; keep the report readable.
        if self.problems.len() < 20 && !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Records a line the parser could not read.
    pub fn parse_error(&mut self, error: &ParseError) {
        self.problem(error.to_string());
    }

    /// Judges one event; `line` is the trace line it came from.
    pub fn observe(&mut self, event: &Event, line: &str) {
        if self.root.pid.is_none() {
            self.root.pid = Some(event.pid);
        }
        let pid = event.pid;
        self.tasks.task(pid);
        match &event.kind {
            EventKind::Socket {
                family,
                sock_type,
                fd,
                ..
            } => {
                if let Some(fd) = fd {
                    self.families.insert((pid, *fd), family.clone());
                }
                self.judge_socket(event, line, family, sock_type);
            }
            EventKind::Connect { fd, addr, .. } => {
                if let SockAddr::Unix { path, .. } = addr {
                    self.unix_peers.insert((pid, *fd), path.clone());
                }
                self.judge_destination(event, line, "connect", Kind::Connect, addr);
            }
            EventKind::Send {
                call,
                fd,
                destinations,
                payload,
                netlink_types,
                truncated,
            } => {
                let syscall = call.as_str();
                if *truncated {
                    self.problem(format!(
                        "{syscall}() vector cut short by strace: some destinations were not seen: {}",
                        self.trace_text(event, line)
                    ));
                }
                // 0x16 is RTM_GETADDR as strace prints it when it cannot tell the
                // netlink protocol of the socket (an unbound socket).
                if netlink_types
                    .iter()
                    .any(|t| t == "RTM_GETADDR" || t == "0x16")
                {
                    self.report(
                        event,
                        line,
                        Kind::InterfaceEnumeration,
                        None,
                        syscall,
                        Target::None,
                    );
                }
                for dest in destinations {
                    self.judge_destination(event, line, syscall, Kind::Send, dest);
                }
                if destinations.is_empty() {
                    self.judge_resolver_request(event, line, syscall, *fd, payload.as_deref());
                }
            }
            EventKind::Bind { fd, addr, ok } => {
                self.bound.insert((pid, *fd), addr.clone());
                self.bound_by_fd.insert(*fd, addr.clone());
                if *ok {
                    self.own(addr);
                }
            }
            EventKind::SockName { fd, addr } => {
                self.bound.insert((pid, *fd), addr.clone());
                self.bound_by_fd.insert(*fd, addr.clone());
                self.own(addr);
            }
            EventKind::Listen { fd, .. } => self.judge_listen(event, line, *fd),
            EventKind::Ioctl { request } => {
                if request == "SIOCGIFCONF" || request == "SIOCGIFADDR" {
                    self.report(
                        event,
                        line,
                        Kind::InterfaceEnumeration,
                        None,
                        "ioctl",
                        Target::None,
                    );
                }
            }
            EventKind::IoUring { call } => {
                let call = call.clone();
                self.report(event, line, Kind::Untraceable, None, &call, Target::None);
            }
            EventKind::Exec { ok, .. } => {
                if Some(pid) == self.root.pid && *ok {
                    self.root.started = true;
                }
            }
            EventKind::Exit(end) => {
                if Some(pid) == self.root.pid {
                    self.root.end = Some(end.clone());
                }
                self.tasks.ended(pid);
            }
            EventKind::Spawn { child, thread } => self.tasks.spawned(pid, *child, *thread),
            EventKind::SetName(name) => self.tasks.named(pid, name),
            EventKind::Escape(why) => {
                let text = self.trace_text(event, line);
                let call = text
                    .split_once(' ')
                    .and_then(|(_, c)| c.split_once('('))
                    .map_or("?", |(name, _)| name)
                    .to_string();
                self.problem(format!("{why}: {text}"));
                self.report(event, line, Kind::Untraceable, None, &call, Target::None);
            }
            EventKind::Lost(why) => {
                let why = why.clone();
                self.problem(why);
            }
            EventKind::Nothing => {}
        }
    }

    fn judge_socket(&mut self, event: &Event, line: &str, family: &str, sock_type: &str) {
        let family_name = family.split_whitespace().next().unwrap_or(family);
        let raw_type = sock_type.contains("SOCK_RAW") || sock_type.contains("SOCK_PACKET");
        match family_name {
            "AF_INET" | "AF_INET6" if raw_type => {
                self.report(event, line, Kind::RawSocket, None, "socket", Target::None)
            }
            "AF_INET" | "AF_INET6" => {
                self.report(event, line, Kind::IpSocket, None, "socket", Target::None);
            }
            f if LOCAL_FAMILIES.contains(&f) => {}
            _ => self.report(event, line, Kind::RawSocket, None, "socket", Target::None),
        }
    }

    fn judge_destination(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &str,
        ip_kind: Kind,
        addr: &SockAddr,
    ) {
        match addr {
            SockAddr::Ip(ip) => {
                let kind = if matches!(ip.port(), 53 | 853) {
                    Kind::Dns
                } else {
                    ip_kind
                };
                self.report(
                    event,
                    line,
                    kind,
                    Some(addr.to_string()),
                    syscall,
                    Target::Ip(*ip),
                );
            }
            SockAddr::Unix { path, is_abstract } => {
                if !is_abstract && RESOLVED_DIRS.iter().any(|dir| path.starts_with(dir)) {
                    self.report(
                        event,
                        line,
                        Kind::Dns,
                        Some(addr.to_string()),
                        syscall,
                        Target::Unix(path.clone()),
                    );
                }
            }
            SockAddr::Undecoded(raw) => {
                let text = self.trace_text(event, line);
                self.problem(format!("{syscall}() address not decoded ({raw}): {text}"));
            }
            SockAddr::Other(_) => {
                self.report(event, line, Kind::RawSocket, None, syscall, Target::None);
            }
            SockAddr::Netlink | SockAddr::Unspec => {}
        }
    }

    /// A send without a destination on a unix socket connected to nscd: a name lookup if
    /// the request is a hosts request, or if the request cannot be read (fail closed).
    fn judge_resolver_request(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &str,
        fd: i32,
        payload: Option<&[u8]>,
    ) {
        let Some(path) = self.unix_peers.get(&(event.pid, fd)) else {
            return;
        };
        if !NSCD_SOCKETS.contains(&path.as_str()) {
            return;
        }
        let path = path.clone();
        let request_type = payload
            .filter(|p| p.len() >= 8)
            .map(|p| i32::from_ne_bytes([p[4], p[5], p[6], p[7]]));
        let is_hosts = match request_type {
            Some(t) => NSCD_HOST_REQUESTS.contains(&t),
            None => true,
        };
        if is_hosts {
            let dest = format!("unix:{path}");
            self.report(
                event,
                line,
                Kind::Dns,
                Some(dest),
                syscall,
                Target::Unix(path),
            );
        }
    }

    fn judge_listen(&mut self, event: &Event, line: &str, fd: i32) {
        let bound = self
            .bound
            .get(&(event.pid, fd))
            .or_else(|| self.bound_by_fd.get(&fd))
            .cloned();
        match bound {
            Some(SockAddr::Ip(addr)) if !addr.ip().is_loopback() => {
                self.report(
                    event,
                    line,
                    Kind::Listen,
                    Some(addr.to_string()),
                    "listen",
                    Target::None,
                );
            }
            Some(_) => {}
            None => {
                // listen() on an unbound IP socket binds it to every address.
                let family = self.families.get(&(event.pid, fd)).map(String::as_str);
                if matches!(family, Some("AF_INET" | "AF_INET6")) {
                    self.report(event, line, Kind::Listen, None, "listen", Target::None);
                }
            }
        }
    }

    fn own(&mut self, addr: &SockAddr) {
        if let SockAddr::Ip(ip) = addr {
            if ip.port() == 0 {
                return;
            }
            if ip.ip().is_unspecified() {
                self.owned_any_ports.insert(ip.port());
            } else {
                self.owned.insert(*ip);
            }
        }
    }

    fn trace_text(&self, event: &Event, line: &str) -> String {
        let call = match &event.joined {
            Some(joined) => joined.as_str(),
            None => split_pid(line.trim_end()).1,
        };
        format!("{} {}", event.pid, call)
    }

    fn report(
        &mut self,
        event: &Event,
        line: &str,
        kind: Kind,
        destination: Option<String>,
        syscall: &str,
        target: Target,
    ) {
        let key = FindingKey {
            kind,
            destination,
            syscall: syscall.to_string(),
        };
        let maker = self.tasks.task(event.pid);
        if let Some(&i) = self.index.get(&key) {
            self.findings[i].occurrences += 1;
            self.add_maker(i, maker);
            return;
        }
        let finding = Finding {
            kind,
            // Decided by the policy in `finish`.
            severity: FindingSeverity::Leak,
            syscall: key.syscall.clone(),
            pid: event.pid,
            destination: key.destination.clone(),
            trace: self.trace_text(event, line),
            occurrences: 1,
            note: None,
        };
        self.index.insert(key, self.findings.len());
        self.findings.push(finding);
        self.targets.push(target);
        self.makers.push(Some(HashSet::new()));
        self.add_maker(self.findings.len() - 1, maker);
    }

    fn add_maker(&mut self, finding: usize, maker: Option<usize>) {
        let Some(makers) = &mut self.makers[finding] else {
            return;
        };
        match maker {
            Some(task) if makers.len() < MAX_MAKERS => {
                makers.insert(task);
            }
            Some(task) if makers.contains(&task) => {}
            _ => self.makers[finding] = None,
        }
    }

    /// Records a process the program left running, which the tracer stopped: a warning
    /// by default, attributed like the process's own calls.
    pub fn leftover(&mut self, leftover: &Leftover) {
        let maker = self.tasks.task(leftover.pid);
        self.findings.push(Finding {
            kind: Kind::LeftoverProcess,
            severity: FindingSeverity::Warning,
            syscall: "exit".to_string(),
            pid: leftover.pid,
            destination: None,
            trace: format!(
                "left {} (pid {}) running; stopped it",
                leftover.program, leftover.pid
            ),
            occurrences: 1,
            note: None,
        });
        self.targets.push(Target::None);
        self.makers.push(Some(HashSet::new()));
        self.add_maker(self.findings.len() - 1, maker);
    }

    /// Ends the run: checks the trace was complete and gives the verdict.
    pub fn finish(self) -> Verdict {
        self.finish_with(None)
    }

    /// [`Judge::finish`] under `policy` instead of the one the judge started with, when
    /// given: a policy learnt only after the run (a `#[leak_free]` attribute's, reported
    /// by the test itself) applies exactly, because every candidate finding was kept.
    pub fn finish_with(mut self, policy: Option<Policy>) -> Verdict {
        if let Some(policy) = policy {
            self.policy = policy;
        }
        if !self.root.started {
            self.problem(
                "the tracer never started the program (no successful execve in the trace)",
            );
        } else if self.root.end.is_none() {
            self.problem("the trace ended before the program did: the tracer was stopped or died");
        }
        let kept = self.kept(&self.policy);
        let policy = &self.policy;
        let mut findings: Vec<Finding> = Vec::with_capacity(kept.len());
        let mut all = self.findings.into_iter().enumerate();
        for (index, severity) in kept {
            let Some((_, mut finding)) = all.find(|(i, _)| *i == index) else {
                break;
            };
            finding.severity = severity;
            findings.push(finding);
        }
        // Leaks before warnings; the sort is stable so trace order stays within each.
        findings.sort_by_key(|f| f.severity);
        let verdict = if findings.iter().any(|f| f.severity == FindingSeverity::Leak) {
            VerdictKind::Leaked
        } else if !self.problems.is_empty() {
            VerdictKind::Unverified
        } else {
            VerdictKind::Clean
        };
        Verdict {
            verdict,
            findings,
            problems: self.problems,
            allow: policy.allow_list(),
        }
    }

    /// The findings that survive `policy`, by index, with their severity.
    fn kept(&self, policy: &Policy) -> Vec<(usize, FindingSeverity)> {
        let owned = |t: &SocketAddr| {
            // A loopback destination is only known to be the tree's own server once the
            // whole trace is read: the bind may come from another thread, printed later.
            t.ip().is_loopback()
                && (self.owned.contains(t) || self.owned_any_ports.contains(&t.port()))
        };
        let mut kept = Vec::new();
        for (index, (finding, target)) in self.findings.iter().zip(&self.targets).enumerate() {
            let exempt = match target {
                Target::Ip(ip) => owned(ip) || policy.allows_ip(ip),
                Target::Unix(path) => policy.allows_unix(path, false),
                Target::None => finding.kind == Kind::IpSocket && policy.ip_allowed(),
            };
            let severity = match policy.severity(finding.kind) {
                Severity::Allow => continue,
                Severity::Warn => FindingSeverity::Warning,
                Severity::Deny => FindingSeverity::Leak,
            };
            if !exempt {
                kept.push((index, severity));
            }
        }
        kept
    }

    /// The findings that survive `policy` (with their severity), each with where the
    /// tasks that made it come from (see [`crate::attribution`]).
    pub fn findings_by_origin(&self, policy: &Policy) -> Vec<(Finding, BTreeSet<Origin>)> {
        self.kept(policy)
            .into_iter()
            .map(|(index, severity)| {
                let mut finding = self.findings[index].clone();
                finding.severity = severity;
                let origins = match &self.makers[index] {
                    Some(tasks) if !tasks.is_empty() => {
                        tasks.iter().map(|&t| self.tasks.origin(t)).collect()
                    }
                    _ => BTreeSet::from([Origin::Binary]),
                };
                (finding, origins)
            })
            .collect()
    }

    /// Why the trace cannot be trusted, so far.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The first names of the threads the main thread started, in order (see
    /// [`Tasks::test_threads`]).
    pub fn test_threads(&self) -> Vec<Option<String>> {
        self.tasks.test_threads()
    }

    /// How long each of those threads ran.
    pub fn test_times(&self) -> Vec<Option<std::time::Duration>> {
        self.tasks.test_times()
    }

    /// How the traced program itself ended, if the trace showed it.
    pub fn program_end(&self) -> Option<&ProcessEnd> {
        self.root.end.as_ref()
    }
}
