//! The judge: turns events into findings and a verdict, under a policy.
//!
//! It is fed in trace order and keeps only what later events need (which socket is bound
//! where, which unix socket talks to a resolver daemon), so that a trace of millions of
//! calls is judged in bounded memory. It fails closed: anything it could not observe
//! fully becomes a problem, and a problem makes the verdict `unverified`.
//!
//! One concern per file: `sockets.rs` (what each descriptor is), `destinations.rs`
//! (connects, sends, listens), `servers.rs` (the tree's own servers), `resolver.rs`
//! (requests to a local resolver daemon), `probes.rs` (route probes), `live.rs` (questions
//! about the live system and their answers), `queries.rs` (the names a `dns` finding's
//! lookups asked for), `makers.rs` (the tasks that made each finding, and their program
//! and names), `findings.rs` (findings, and the verdict under the policy known at the
//! end). This file feeds each event to them.

mod destinations;
mod findings;
mod live;
mod makers;
mod probes;
mod proxy;
mod queries;
mod resolver;
mod servers;
mod sockets;
mod stacks;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_finding;

use crate::attribution::Tasks;
use crate::event::{Event, EventKind, NetlinkType, ProcessEnd};
use crate::kind::Kind;
use crate::policy::Policy;
use crate::syntax::{ParseError, Shown};
use crate::verdict::Finding;
use findings::{FindingKey, Target};
pub use live::{Descriptor, DescriptorQuestion, InheritedSocket, Question};
pub use makers::Made;
use probes::ProbeTally;
pub use proxy::{finding_of, stream_kind};
pub use servers::holds;
pub use sockets::Proto;
use sockets::{Family, SocketState};
use stacks::Stacks;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// How the judge knows the traced program ran to its end.
#[derive(Debug, Clone, Default)]
struct Root {
    pid: Option<u32>,
    started: bool,
    end: Option<ProcessEnd>,
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
    /// Addresses the tree's TCP sockets listened on (wildcards included).
    tcp_listeners: HashSet<SocketAddr>,
    /// Addresses the tree's UDP sockets were bound to (wildcards included).
    udp_bound: HashSet<SocketAddr>,
    /// Loopback destinations found owned by the tree in the live system.
    noted_owned: HashSet<(Proto, SocketAddr)>,
    /// What is known of each descriptor, by thread and descriptor.
    sockets: HashMap<(u32, i32), SocketState>,
    /// The thread whose entry for a descriptor number is the newest: a socket may be used
    /// by a thread other than the one that created it.
    latest_by_fd: HashMap<i32, u32>,
    /// Findings made by UDP connects, which may turn out to be route probes.
    probe_tallies: HashMap<usize, ProbeTally>,
    /// Questions about the live system raised since they were last taken.
    questions: Vec<Question>,
    /// Whether someone answers questions (a live run); else the judge decides alone.
    live: bool,
    /// Processes (threads) seen in the trace and not yet ended.
    live_pids: HashSet<u32>,
    problems: Vec<String>,
    root: Root,
    /// Every task of the trace and its parent: which test each belongs to.
    tasks: Tasks,
    /// For each finding, the tasks that made it and what each made of it.
    makers: Vec<makers::Makers>,
    /// The stand-in proxy's TCP endpoints, when the run has one.
    stand_in: Vec<SocketAddr>,
    /// Client sockets connected to the stand-in, by local address: the task (and thread)
    /// that opened each.
    clients: HashMap<SocketAddr, (usize, u32)>,
    /// The stand-in's streams, with the task that opened each (when known).
    proxy_streams: Vec<(crate::standin::Stream, Option<usize>)>,
    /// What the lookups of each `dns` finding asked for, by finding.
    queries: HashMap<usize, crate::query::Queries>,
    /// The task that made each finding's first occurrence, parallel to `findings`: its
    /// program, when the trace showed it only later.
    first_makers: Vec<Option<usize>>,
    /// The frames of the findings' calls.
    stacks: Stacks,
}

/// How many distinct tasks a finding keeps before giving up on attribution.
pub(super) const MAX_MAKERS: usize = 4096;

impl Judge {
    /// A judge for one run under `policy`.
    pub fn new(policy: Policy) -> Judge {
        Judge {
            policy,
            findings: Vec::new(),
            targets: Vec::new(),
            index: HashMap::new(),
            tcp_listeners: HashSet::new(),
            udp_bound: HashSet::new(),
            noted_owned: HashSet::new(),
            sockets: HashMap::new(),
            latest_by_fd: HashMap::new(),
            probe_tallies: HashMap::new(),
            questions: Vec::new(),
            live: false,
            live_pids: HashSet::new(),
            problems: Vec::new(),
            root: Root::default(),
            tasks: Tasks::default(),
            makers: Vec::new(),
            stand_in: Vec::new(),
            clients: HashMap::new(),
            proxy_streams: Vec::new(),
            queries: HashMap::new(),
            first_makers: Vec::new(),
            stacks: Stacks::default(),
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

    /// Judges one event; `shown` is how the trace shows it (what a finding quotes).
    pub fn observe(&mut self, event: &Event, shown: Shown<'_>) {
        let pid = event.pid;
        if let EventKind::Frame(frame) = &event.kind {
            self.stack_event(pid, Some(frame));
            return;
        }
        self.stack_event(pid, None);
        if self.root.pid.is_none() {
            self.root.pid = Some(pid);
        }
        self.tasks.task(pid);
        if !matches!(event.kind, EventKind::Exit(_)) {
            self.live_pids.insert(pid);
        }
        match &event.kind {
            EventKind::Socket {
                family,
                sock_type,
                protocol,
                fd,
            } => {
                if let Some(fd) = fd {
                    self.new_socket(pid, *fd, *family, *sock_type, *protocol);
                }
                self.judge_socket(event, shown, *family, *sock_type);
            }
            EventKind::Connect { fd, addr, ok } => self.judge_connect(event, shown, *fd, addr, *ok),
            EventKind::Send {
                call,
                fd,
                destinations,
                payloads,
                netlink_types,
                truncated,
                fastopen,
            } => {
                let syscall = call.as_str();
                if *truncated {
                    self.problem(format!(
                        "{syscall}() vector cut short by strace: some destinations were not seen: {}",
                        self.trace_text(event, shown)
                    ));
                }
                // A bare 0x16 may be RTM_GETADDR: strace prints a bare number when it
                // cannot tell the netlink protocol of the socket (an unbound socket).
                if netlink_types.iter().any(|t| {
                    matches!(t, NetlinkType::Route(ty) | NetlinkType::Bare(ty) if *ty == libc::RTM_GETADDR)
                }) {
                    self.report(
                        event,
                        shown,
                        Kind::InterfaceEnumeration,
                        None,
                        syscall,
                        Target::None,
                    );
                }
                let made = self.judge_send(event, shown, syscall, *fd, destinations, *fastopen);
                if destinations.is_empty() {
                    self.judge_resolver_request(event, shown, syscall, *fd, payloads.first());
                }
                self.read_queries(pid, *fd, &made, payloads);
            }
            EventKind::Bind { fd, addr, ok } => {
                if *ok {
                    let state = self.socket_mut(pid, *fd);
                    state.bound = Some(addr.clone());
                    let (transport, listening) = (state.transport, state.listening);
                    self.own(transport, listening, addr);
                }
            }
            EventKind::SockName { fd, addr } => {
                let state = self.socket_mut(pid, *fd);
                state.bound = Some(addr.clone());
                let (transport, listening) = (state.transport, state.listening);
                let probed = match &mut state.udp_connect {
                    Some(udp) if !udp.probed => {
                        udp.probed = true;
                        Some(udp.finding)
                    }
                    _ => None,
                };
                if let Some(tally) = probed.and_then(|f| self.probe_tallies.get_mut(&f)) {
                    tally.unprobed = tally.unprobed.saturating_sub(1);
                }
                self.own(transport, listening, addr);
            }
            EventKind::Listen { fd, ok } => {
                self.judge_listen(event, shown, *fd);
                if *ok {
                    let state = self.socket_mut(pid, *fd);
                    state.listening = true;
                    let (transport, bound) = (state.transport, state.bound.clone());
                    if let Some(bound) = bound {
                        self.own(transport, true, &bound);
                    }
                    self.ask_local(pid, *fd);
                }
            }
            EventKind::SocketPair { family, fds } => {
                if let Some((a, b)) = fds {
                    for fd in [*a, *b] {
                        self.new_socket(pid, fd, *family, None, None);
                    }
                }
            }
            EventKind::Accept { fd, new_fd, peer } => {
                if let Some(new_fd) = new_fd {
                    self.accepted(pid, *fd, *new_fd, peer.as_ref());
                }
            }
            EventKind::Dup { fd, new_fd } => {
                if let Some(new_fd) = new_fd {
                    self.dup(pid, *fd, *new_fd);
                }
            }
            EventKind::Ioctl { request } => {
                const SIOCGIFCONF: u32 = libc::SIOCGIFCONF as u32;
                const SIOCGIFADDR: u32 = libc::SIOCGIFADDR as u32;
                if matches!(request, Some(SIOCGIFCONF | SIOCGIFADDR)) {
                    self.report(
                        event,
                        shown,
                        Kind::InterfaceEnumeration,
                        None,
                        "ioctl",
                        Target::None,
                    );
                }
            }
            EventKind::IoUring { call } => {
                self.report(
                    event,
                    shown,
                    Kind::Untraceable,
                    None,
                    call.as_str(),
                    Target::None,
                );
            }
            EventKind::Exec { path, ok } => {
                if *ok {
                    self.tasks.exec(pid, path);
                    if Some(pid) == self.root.pid {
                        self.root.started = true;
                    }
                }
            }
            EventKind::Exit(end) => {
                self.live_pids.remove(&pid);
                if Some(pid) == self.root.pid {
                    self.root.end = Some(end.clone());
                }
                self.tasks.ended(pid);
            }
            EventKind::Spawn { child, thread } => self.tasks.spawned(pid, *child, *thread),
            EventKind::SetName(name) => self.tasks.named(pid, name),
            EventKind::Escape { call, why } => {
                let text = self.trace_text(event, shown);
                self.problem(format!("{why}: {text}"));
                self.report(event, shown, Kind::Untraceable, None, call, Target::None);
            }
            EventKind::Lost(why) => {
                let why = why.clone();
                self.problem(why);
            }
            EventKind::Frame(_) | EventKind::Nothing => {}
        }
    }

    fn judge_socket(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        family: Option<i32>,
        sock_type: Option<i32>,
    ) {
        // SOCK_PACKET, the obsolete packet interface (libc deprecates its constant).
        #[allow(deprecated)]
        const SOCK_PACKET: i32 = libc::SOCK_PACKET;
        let raw_type = matches!(sock_type, Some(libc::SOCK_RAW | SOCK_PACKET));
        match Family::of(family) {
            Family::Inet | Family::Inet6 if raw_type => {
                self.report(event, shown, Kind::RawSocket, None, "socket", Target::None);
            }
            Family::Inet | Family::Inet6 => {
                self.report(event, shown, Kind::IpSocket, None, "socket", Target::None);
            }
            Family::Local => {}
            Family::Other => {
                self.report(event, shown, Kind::RawSocket, None, "socket", Target::None);
            }
        }
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

    /// Tells the judge whether its caller answers [`Question`]s about the live system
    /// (a traced run: [`crate::ports::LiveLookups`]). Without answers (a recorded trace)
    /// the judge decides from the trace alone.
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
        if !live {
            self.questions.clear();
        }
    }

    /// The questions raised since they were last taken (only when live): answer each
    /// before observing the next event. Answers may raise new ones.
    pub fn take_questions(&mut self) -> Vec<Question> {
        std::mem::take(&mut self.questions)
    }

    /// Processes (threads) the trace has shown and not yet seen end.
    pub fn live_pids(&self) -> impl Iterator<Item = u32> + '_ {
        self.live_pids.iter().copied()
    }

    /// The pid the trace began with (the traced program), once seen.
    pub fn root_pid(&self) -> Option<u32> {
        self.root.pid
    }

    /// How the traced program itself ended, if the trace showed it.
    pub fn program_end(&self) -> Option<&ProcessEnd> {
        self.root.end.as_ref()
    }
}
