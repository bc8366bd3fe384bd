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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

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
    /// An IP destination, and the transport that tried it: allow entries, and the tree's
    /// own servers of the same protocol, may exempt it.
    Ip(SocketAddr, Transport),
    /// A resolver daemon's unix socket: a `unix:` allow entry may exempt it.
    Unix(String),
}

/// The two transports whose own-server exemption the judge knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP: a connect reaches a listening socket.
    Tcp,
    /// UDP: a datagram reaches a bound socket.
    Udp,
}

/// What a socket is, as far as the trace shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
enum Transport {
    /// TCP or UDP over IPv4/IPv6.
    Ip(Proto),
    /// Another IP transport (raw, ICMP, SCTP, UDP-Lite, ...): never the tree's own server.
    Other,
    /// The trace never showed the socket created.
    #[default]
    Unknown,
}

/// The address family of a socket the trace showed created (or connected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Inet,
    Inet6,
    /// AF_UNIX, AF_NETLINK and the other families that cannot reach the network.
    Local,
    /// Anything else (packet, vsock, unknown numbers).
    Other,
}

/// A question the judge cannot answer from the trace, about the live system, raised
/// while observing an event of a traced run (see [`Judge::set_live`]). The caller
/// answers it before the next event: [`Judge::note_owned`], [`Judge::note_descriptor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Does a socket of the traced tree hold `addr` (a loopback address) right now: a
    /// listening TCP socket, or a bound UDP socket (see [`Judge::note_owned`] for the
    /// matching rule)? Asked for a destination the trace never showed bound.
    Owned {
        /// The process that made the attempt (its network namespace is the one to ask).
        pid: u32,
        /// The protocol of the attempt.
        proto: Proto,
        /// The destination.
        addr: SocketAddr,
    },
    /// Where is the socket `fd` of `pid` bound? A UDP socket the kernel bound
    /// implicitly (by connect or its first send), or a listener bound to port 0, whose
    /// port the trace does not show: the answer ([`Judge::note_local`]) makes the port the
    /// tree's own. Asked while the socket is surely open.
    Local {
        /// The process (thread).
        pid: u32,
        /// The descriptor.
        fd: i32,
        /// Its protocol.
        proto: Proto,
    },
    /// What is descriptor `fd` of `pid`? A send without a (usable) destination on a
    /// descriptor whose socket the trace never showed (inherited, received, dup'ed,
    /// accepted).
    Descriptor(DescriptorQuestion),
}

/// See [`Question::Descriptor`]; handed back to [`Judge::note_descriptor`] with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorQuestion {
    /// The process (thread) that sent.
    pub pid: u32,
    /// The descriptor it sent on.
    pub fd: i32,
    syscall: &'static str,
    /// An AF_UNSPEC destination's sa_data (None: the send had no destination at all).
    unspec: Option<Option<SocketAddrV4>>,
    event: Event,
    line: String,
}

/// What a descriptor is, looked up in the live system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descriptor {
    /// Not a socket, or a socket that cannot reach the network (unix, netlink).
    Local,
    /// An IPv4/IPv6 socket.
    Ip {
        /// An AF_INET6 socket.
        v6: bool,
        /// TCP or UDP; None for another IP transport.
        proto: Option<Proto>,
        /// Its peer, when connected.
        peer: Option<SocketAddr>,
        /// It came from accept(): the peer connected to the tree, not the other way.
        accepted: bool,
    },
    /// A raw, packet or other socket whose destinations cannot be checked (its name).
    Raw(String),
    /// It could not be determined (the process is gone, no table lists the socket): why.
    Unknown(String),
}

/// A socket leakcheck's own process hands to the program it starts (not close-on-exec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InheritedSocket {
    /// Its descriptor number (the same in the program).
    pub fd: i32,
    /// AF_INET6 rather than AF_INET.
    pub v6: bool,
    /// TCP or UDP; None for another IP transport.
    pub proto: Option<Proto>,
    /// A raw socket (SOCK_RAW).
    pub raw: bool,
    /// Its peer, when connected.
    pub peer: Option<SocketAddr>,
}

/// What the judge knows of one descriptor, from the trace.
#[derive(Debug, Clone, Default)]
struct SocketState {
    family: Option<Family>,
    transport: Transport,
    /// The local address (a successful bind, or getsockname).
    bound: Option<SockAddr>,
    listening: bool,
    /// The unix socket it connected to.
    unix_peer: Option<String>,
    /// A UDP connect not yet known to be a route probe or a leak: the finding it made.
    udp_connect: Option<UdpConnect>,
}

/// A UDP connect's finding, waiting for what follows on the socket.
#[derive(Debug, Clone, Copy)]
struct UdpConnect {
    finding: usize,
    /// getsockname() followed.
    probed: bool,
}

/// How a finding made by UDP connects may still be a route probe (see [`Judge::kept`]).
#[derive(Debug, Clone, Copy, Default)]
struct ProbeTally {
    /// Connects of this finding not (yet) followed by getsockname.
    unprobed: usize,
    /// Data was sent to it, or the same finding came from something else: a leak.
    real: bool,
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
                    self.new_socket(pid, *fd, family, sock_type, protocol);
                }
                self.judge_socket(event, line, family, sock_type);
            }
            EventKind::Connect { fd, addr, ok } => self.judge_connect(event, line, *fd, addr, *ok),
            EventKind::Send {
                call,
                fd,
                destinations,
                payload,
                netlink_types,
                truncated,
                fastopen,
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
                self.judge_send(event, line, syscall, *fd, destinations, *fastopen);
                if destinations.is_empty() {
                    self.judge_resolver_request(event, line, syscall, *fd, payload.as_deref());
                }
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
                self.judge_listen(event, line, *fd);
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
                        self.new_socket(pid, fd, family, "", "");
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
                self.live_pids.remove(&pid);
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

    /// A socket() that returned `fd`: whatever was known of the descriptor is forgotten
    /// (the number was closed and reused).
    fn new_socket(&mut self, pid: u32, fd: i32, family: &str, sock_type: &str, protocol: &str) {
        let family_name = family.split_whitespace().next().unwrap_or(family);
        let family = match family_name {
            "AF_INET" => Family::Inet,
            "AF_INET6" => Family::Inet6,
            f if LOCAL_FAMILIES.contains(&f) => Family::Local,
            _ => Family::Other,
        };
        let transport = match family {
            Family::Inet | Family::Inet6 => ip_transport(sock_type, protocol),
            _ => Transport::Other,
        };
        let state = SocketState {
            family: Some(family),
            transport,
            ..SocketState::default()
        };
        self.replace_socket(pid, fd, state);
    }

    /// accept() on `fd` made `new_fd`: a connection to the tree, of the listener's kind.
    fn accepted(&mut self, pid: u32, fd: i32, new_fd: i32, peer: Option<&SockAddr>) {
        let listener = self.socket(pid, fd).cloned().unwrap_or_default();
        let family = match (listener.family, peer) {
            (Some(family), _) => Some(family),
            (None, Some(SockAddr::Ip(ip))) if ip.is_ipv6() => Some(Family::Inet6),
            (None, Some(SockAddr::Ip(_))) => Some(Family::Inet),
            (None, Some(SockAddr::Unix { .. })) => Some(Family::Local),
            (None, _) => None,
        };
        self.replace_socket(
            pid,
            new_fd,
            SocketState {
                family,
                transport: listener.transport,
                ..SocketState::default()
            },
        );
    }

    /// dup() and friends: `new_fd` is `fd`'s socket (or, when `fd` is unknown, nothing
    /// known any more).
    fn dup(&mut self, pid: u32, fd: i32, new_fd: i32) {
        if fd == new_fd {
            return;
        }
        let state = self.socket(pid, fd).cloned();
        let state = match state {
            Some(mut state) => {
                // Sends on either descriptor reach the connected peer: the connect is
                // judged as a leak, not a route probe (fail closed).
                if let Some(udp) = state.udp_connect.take() {
                    if let Some(tally) = self.probe_tallies.get_mut(&udp.finding) {
                        tally.real = true;
                    }
                }
                state
            }
            None => {
                if let Some(old) = self.sockets.remove(&(pid, new_fd)) {
                    self.close_udp_connect(old.udp_connect);
                }
                return;
            }
        };
        self.replace_socket(pid, new_fd, state);
    }

    fn replace_socket(&mut self, pid: u32, fd: i32, state: SocketState) {
        if let Some(old) = self.sockets.insert((pid, fd), state) {
            self.close_udp_connect(old.udp_connect);
        }
        self.latest_by_fd.insert(fd, pid);
    }

    /// The entry for `fd` as `pid` sees it: its own, else the newest one for that
    /// number (a descriptor shared by threads, or inherited by a child).
    fn socket_key(&self, pid: u32, fd: i32) -> Option<(u32, i32)> {
        if self.sockets.contains_key(&(pid, fd)) {
            return Some((pid, fd));
        }
        let other = *self.latest_by_fd.get(&fd)?;
        self.sockets
            .contains_key(&(other, fd))
            .then_some((other, fd))
    }

    fn socket(&self, pid: u32, fd: i32) -> Option<&SocketState> {
        self.sockets.get(&self.socket_key(pid, fd)?)
    }

    /// [`Judge::socket`], creating an empty entry of `pid`'s own when there is none.
    fn socket_mut(&mut self, pid: u32, fd: i32) -> &mut SocketState {
        let key = match self.socket_key(pid, fd) {
            Some(key) => key,
            None => {
                self.latest_by_fd.insert(fd, pid);
                (pid, fd)
            }
        };
        self.sockets.entry(key).or_default()
    }

    /// A UDP connect whose socket is reused or reconnected: without getsockname after it,
    /// it was not a route probe.
    fn close_udp_connect(&mut self, udp: Option<UdpConnect>) {
        let Some(udp) = udp else { return };
        if let Some(tally) = self.probe_tallies.get_mut(&udp.finding) {
            if !udp.probed {
                tally.real = true;
                tally.unprobed = tally.unprobed.saturating_sub(1);
            }
        }
    }

    /// Data went to a UDP socket's connected peer: its connect was no route probe.
    fn udp_data_sent(&mut self, pid: u32, fd: i32) {
        let udp = self
            .socket_key(pid, fd)
            .and_then(|key| self.sockets.get_mut(&key))
            .and_then(|state| state.udp_connect.take());
        if let Some(udp) = udp {
            if let Some(tally) = self.probe_tallies.get_mut(&udp.finding) {
                tally.real = true;
                if !udp.probed {
                    tally.unprobed = tally.unprobed.saturating_sub(1);
                }
            }
        }
    }

    fn judge_connect(&mut self, event: &Event, line: &str, fd: i32, addr: &SockAddr, ok: bool) {
        let pid = event.pid;
        // A connect on a UDP socket ends what its previous connect was.
        let previous = self
            .socket_key(pid, fd)
            .and_then(|key| self.sockets.get_mut(&key))
            .and_then(|state| state.udp_connect.take());
        self.close_udp_connect(previous);
        match addr {
            SockAddr::Ip(ip) => {
                let state = self.socket_mut(pid, fd);
                if state.family.is_none() {
                    state.family = Some(if ip.is_ipv6() {
                        Family::Inet6
                    } else {
                        Family::Inet
                    });
                }
                let transport = state.transport;
                let index = self.judge_ip(event, line, "connect", Kind::Connect, *ip, transport);
                if transport == Transport::Ip(Proto::Udp) {
                    // Held until what follows tells a route probe from a leak.
                    if let Some(index) = index {
                        if let Some(state) = self
                            .socket_key(pid, fd)
                            .and_then(|key| self.sockets.get_mut(&key))
                        {
                            state.udp_connect = Some(UdpConnect {
                                finding: index,
                                probed: false,
                            });
                        }
                        self.probe_tallies.entry(index).or_default().unprobed += 1;
                    }
                    self.ask_local(pid, fd);
                }
            }
            SockAddr::Unix { path, is_abstract } => {
                // The resolver check needs the peer of this very thread's descriptor.
                let state = self.sockets.entry((pid, fd)).or_default();
                state.family = Some(Family::Local);
                state.unix_peer = ok.then(|| path.clone());
                self.latest_by_fd.insert(fd, pid);
                if !is_abstract && RESOLVED_DIRS.iter().any(|dir| path.starts_with(dir)) {
                    self.report(
                        event,
                        line,
                        Kind::Dns,
                        Some(addr.to_string()),
                        "connect",
                        Target::Unix(path.clone()),
                    );
                }
            }
            SockAddr::Unspec | SockAddr::Netlink => {}
            other => self.judge_other_destination(event, line, "connect", other),
        }
    }

    /// Destinations that are neither IP nor local.
    fn judge_other_destination(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &str,
        addr: &SockAddr,
    ) {
        match addr {
            SockAddr::Undecoded(raw) => {
                let text = self.trace_text(event, line);
                self.problem(format!("{syscall}() address not decoded ({raw}): {text}"));
            }
            SockAddr::Other(_) => {
                self.report(event, line, Kind::RawSocket, None, syscall, Target::None);
            }
            SockAddr::SendUnspec(None) => {
                let text = self.trace_text(event, line);
                self.problem(format!(
                    "{syscall}() AF_UNSPEC address without its sa_data: {text}"
                ));
            }
            _ => {}
        }
    }

    /// A send's destinations, judged by the socket's family and type (from the trace):
    /// on a TCP socket without MSG_FASTOPEN the kernel ignores them, AF_UNSPEC means the
    /// sa_data's IPv4 address on an AF_INET socket and the connected peer on an AF_INET6
    /// one. A send without a usable destination goes to the socket's peer.
    fn judge_send(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &'static str,
        fd: i32,
        destinations: &[SockAddr],
        fastopen: bool,
    ) {
        let pid = event.pid;
        // Only this thread's own entry is trusted to dismiss a destination: the newest
        // entry of another thread may be another process's descriptor.
        let own = self.sockets.get(&(pid, fd));
        let family = own.and_then(|s| s.family);
        let own_transport = own.map(|s| s.transport).unwrap_or_default();
        let transport = self
            .socket(pid, fd)
            .map(|s| s.transport)
            .unwrap_or_default();
        let tcp_ignores = own_transport == Transport::Ip(Proto::Tcp) && !fastopen;
        let mut to_peer = destinations.is_empty();
        let mut unspec_unknown = None;
        for dest in destinations {
            match dest {
                SockAddr::Ip(_) | SockAddr::SendUnspec(_) if tcp_ignores => to_peer = true,
                SockAddr::Ip(ip) => {
                    // An AF_INET socket refuses an IPv6 address (EAFNOSUPPORT).
                    if family == Some(Family::Inet) && ip.is_ipv6() {
                        continue;
                    }
                    if matches!(family, Some(Family::Local)) {
                        continue;
                    }
                    self.judge_ip(event, line, syscall, Kind::Send, *ip, transport);
                }
                SockAddr::SendUnspec(v4) => match family {
                    Some(Family::Inet) => {
                        self.judge_unspec_v4(event, line, syscall, *v4, transport)
                    }
                    Some(Family::Inet6) => to_peer = true,
                    Some(Family::Local | Family::Other) => {}
                    None => unspec_unknown = Some(*v4),
                },
                SockAddr::Unix { path, is_abstract } => {
                    if !is_abstract && RESOLVED_DIRS.iter().any(|dir| path.starts_with(dir)) {
                        self.report(
                            event,
                            line,
                            Kind::Dns,
                            Some(dest.to_string()),
                            syscall,
                            Target::Unix(path.clone()),
                        );
                    }
                }
                SockAddr::Netlink | SockAddr::Unspec => {}
                other => self.judge_other_destination(event, line, syscall, other),
            }
        }
        if transport == Transport::Ip(Proto::Udp) {
            // The first send binds an unbound UDP socket: replies come to that port.
            self.ask_local(pid, fd);
        }
        if let Some(v4) = unspec_unknown {
            // The socket's family is unknown: ask, or read it as an AF_INET socket would.
            if self.live {
                self.ask_descriptor(event, line, syscall, fd, Some(v4));
            } else {
                self.judge_unspec_v4(event, line, syscall, v4, transport);
            }
        }
        if to_peer {
            if self.socket(pid, fd).is_some() {
                self.udp_data_sent(pid, fd);
            } else if self.live {
                self.ask_descriptor(event, line, syscall, fd, None);
            }
        }
    }

    /// An AF_UNSPEC destination on an AF_INET socket: sa_data's port and address (port 0
    /// is refused by the kernel).
    fn judge_unspec_v4(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &str,
        v4: Option<SocketAddrV4>,
        transport: Transport,
    ) {
        match v4 {
            Some(v4) if v4.port() == 0 => {}
            Some(v4) => {
                self.judge_ip(
                    event,
                    line,
                    syscall,
                    Kind::Send,
                    SocketAddr::V4(v4),
                    transport,
                );
            }
            None => self.judge_other_destination(event, line, syscall, &SockAddr::SendUnspec(None)),
        }
    }

    fn ask_descriptor(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &'static str,
        fd: i32,
        unspec: Option<Option<SocketAddrV4>>,
    ) {
        self.questions
            .push(Question::Descriptor(DescriptorQuestion {
                pid: event.pid,
                fd,
                syscall,
                unspec,
                event: event.clone(),
                line: line.to_string(),
            }));
    }

    /// An attempt to reach an IP destination; returns the index of its finding.
    fn judge_ip(
        &mut self,
        event: &Event,
        line: &str,
        syscall: &str,
        ip_kind: Kind,
        ip: SocketAddr,
        transport: Transport,
    ) -> Option<usize> {
        let ip = loopback_form(ip);
        let kind = if matches!(ip.port(), 53 | 853) {
            Kind::Dns
        } else {
            ip_kind
        };
        if self.live && ip.ip().is_loopback() && !self.policy.allows_ip(&ip) {
            let protos: &[Proto] = match transport {
                Transport::Ip(Proto::Tcp) => &[Proto::Tcp],
                Transport::Ip(Proto::Udp) => &[Proto::Udp],
                Transport::Unknown => &[Proto::Tcp, Proto::Udp],
                Transport::Other => &[],
            };
            for &proto in protos {
                if !self.owned_by(proto, &ip) {
                    self.questions.push(Question::Owned {
                        pid: event.pid,
                        proto,
                        addr: ip,
                    });
                }
            }
        }
        let destination = Some(ip.to_string());
        let key = FindingKey {
            kind,
            destination: destination.clone(),
            syscall: syscall.to_string(),
        };
        self.report(
            event,
            line,
            kind,
            destination,
            syscall,
            Target::Ip(ip, transport),
        );
        let index = self.index.get(&key).copied();
        if transport != Transport::Ip(Proto::Udp) || syscall != "connect" {
            // The same finding from something else than a UDP connect is no route probe.
            if let Some(tally) = index.and_then(|i| self.probe_tallies.get_mut(&i)) {
                tally.real = true;
            }
        } else if let Some(i) = index {
            if self.findings[i].occurrences == 1 {
                self.probe_tallies.entry(i).or_default();
            } else {
                // A finding that existed before from a connect of another kind is real.
                self.probe_tallies.entry(i).or_insert(ProbeTally {
                    unprobed: 0,
                    real: true,
                });
            }
        }
        index
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
        // Only this thread's own descriptor: another process's nscd connect on the same
        // number says nothing about this one.
        let Some(path) = self
            .sockets
            .get(&(event.pid, fd))
            .and_then(|s| s.unix_peer.as_ref())
        else {
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
        let (bound, family) = match self.socket(event.pid, fd) {
            Some(state) => (state.bound.clone(), state.family),
            None => (None, None),
        };
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
                if matches!(family, Some(Family::Inet | Family::Inet6)) {
                    self.report(event, line, Kind::Listen, None, "listen", Target::None);
                }
            }
        }
    }

    /// A socket of the tree holds `addr`: a UDP socket bound there, or a TCP socket
    /// listening there.
    fn own(&mut self, transport: Transport, listening: bool, addr: &SockAddr) {
        let SockAddr::Ip(ip) = addr else { return };
        if ip.port() == 0 {
            return;
        }
        match transport {
            Transport::Ip(Proto::Udp) => {
                self.udp_bound.insert(*ip);
            }
            Transport::Ip(Proto::Tcp) if listening => {
                self.tcp_listeners.insert(*ip);
            }
            _ => {}
        }
    }

    /// Whether the loopback destination `dest` is the tree's own under `proto`: a socket
    /// of the tree listens (TCP) or is bound (UDP) on it, on its family's wildcard, or,
    /// for 127.0.0.1 and ::1, on the same port of the other loopback family (a
    /// happy-eyeballs attempt).
    fn owned_by(&self, proto: Proto, dest: &SocketAddr) -> bool {
        if !dest.ip().is_loopback() {
            return false;
        }
        if self.noted_owned.contains(&(proto, *dest)) {
            return true;
        }
        let held = match proto {
            Proto::Tcp => &self.tcp_listeners,
            Proto::Udp => &self.udp_bound,
        };
        owned_in(held, dest)
    }

    fn owned(&self, transport: Transport, dest: &SocketAddr) -> bool {
        match transport {
            Transport::Ip(proto) => self.owned_by(proto, dest),
            // Either protocol may have made it: only a port the tree holds under both.
            Transport::Unknown => {
                self.owned_by(Proto::Tcp, dest) && self.owned_by(Proto::Udp, dest)
            }
            Transport::Other => false,
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
        let kinds: Vec<Kind> = (self.findings.iter().enumerate())
            .map(|(i, f)| self.final_kind(i, f.kind))
            .collect();
        let policy = &self.policy;
        let mut findings: Vec<Finding> = Vec::with_capacity(kept.len());
        let mut all = self.findings.into_iter().enumerate();
        for (index, severity) in kept {
            let Some((_, mut finding)) = all.find(|(i, _)| *i == index) else {
                break;
            };
            finding.severity = severity;
            finding.kind = kinds[index];
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
        let mut kept = Vec::new();
        for (index, (finding, target)) in self.findings.iter().zip(&self.targets).enumerate() {
            let exempt = match target {
                // A loopback destination is only known to be the tree's own server once
                // the whole trace is read: the bind may come from another thread, printed
                // later.
                Target::Ip(ip, transport) => self.owned(*transport, ip) || policy.allows_ip(ip),
                Target::Unix(path) => policy.allows_unix(path, false),
                Target::None => finding.kind == Kind::IpSocket && policy.ip_allowed(),
            };
            let severity = match policy.severity(self.final_kind(index, finding.kind)) {
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
                finding.kind = self.final_kind(index, finding.kind);
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

    /// What finding `index` turns out to be: UDP connects followed by getsockname and no
    /// data are route probes (nothing was sent; glibc's address sorting does this).
    fn final_kind(&self, index: usize, kind: Kind) -> Kind {
        match self.probe_tallies.get(&index) {
            Some(tally) if !tally.real && tally.unprobed == 0 => Kind::RouteProbe,
            _ => kind,
        }
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

    /// Answers [`Question::Owned`]: a socket of the tree holds `addr` under `proto`, so
    /// attempts to reach it are the tree talking to itself.
    pub fn note_owned(&mut self, proto: Proto, addr: SocketAddr) {
        self.noted_owned.insert((proto, addr));
    }

    /// Answers [`Question::Local`]: socket `fd` of `pid` is bound to `addr`.
    pub fn note_local(&mut self, pid: u32, fd: i32, addr: SocketAddr) {
        let addr = SockAddr::Ip(addr);
        let state = self.socket_mut(pid, fd);
        state.bound = Some(addr.clone());
        let (transport, listening) = (state.transport, state.listening);
        self.own(transport, listening, &addr);
    }

    /// Asks where socket `fd` is bound when the trace does not show its port.
    fn ask_local(&mut self, pid: u32, fd: i32) {
        if !self.live {
            return;
        }
        let Some(state) = self.socket(pid, fd) else {
            return;
        };
        let proto = match state.transport {
            Transport::Ip(Proto::Udp) => Proto::Udp,
            Transport::Ip(Proto::Tcp) if state.listening => Proto::Tcp,
            _ => return,
        };
        let known = matches!(&state.bound, Some(SockAddr::Ip(ip)) if ip.port() != 0);
        if !known {
            self.questions.push(Question::Local { pid, fd, proto });
        }
    }

    /// Answers [`Question::Descriptor`]: the send is judged by what the descriptor is.
    pub fn note_descriptor(&mut self, asked: DescriptorQuestion, answer: Descriptor) {
        let DescriptorQuestion {
            pid,
            fd,
            syscall,
            unspec,
            event,
            line,
        } = asked;
        match answer {
            Descriptor::Local => {}
            Descriptor::Ip {
                v6,
                proto,
                peer,
                accepted,
            } => {
                let transport = proto.map_or(Transport::Other, Transport::Ip);
                if let (Some(v4), false) = (unspec, v6) {
                    // AF_UNSPEC on an AF_INET socket: sa_data's address.
                    self.judge_unspec_v4(&event, &line, syscall, v4, transport);
                    return;
                }
                let Some(peer) = peer else {
                    // Not connected: the kernel refuses the send.
                    return;
                };
                let peer = loopback_form(peer);
                if accepted && peer.ip().is_loopback() {
                    // A reply on a connection made to the tree from this host.
                    return;
                }
                self.judge_ip(&event, &line, syscall, Kind::Connect, peer, transport);
            }
            Descriptor::Raw(name) => {
                let _ = name;
                self.report(&event, &line, Kind::RawSocket, None, syscall, Target::None);
            }
            Descriptor::Unknown(why) => {
                let text = self.trace_text(&event, &line);
                self.problem(format!(
                    "{syscall}() on descriptor {fd} of pid {pid}, a socket the trace never showed, could not be looked up ({why}): {text}"
                ));
            }
        }
    }

    /// Records the IP sockets the program inherits from leakcheck's own process `pid`
    /// (see [`crate::ports::inherited_ip_sockets`]): each is an attempt made before the
    /// trace began. A connected one counts as a connect to its peer (syscall
    /// `inherited`); an unconnected one as an IP socket.
    pub fn note_inherited(&mut self, pid: u32, sockets: &[InheritedSocket]) {
        for socket in sockets {
            let text = match socket.peer {
                Some(peer) => format!(
                    "inherited(fd {}, {}) connected to {peer}",
                    socket.fd,
                    if socket.v6 { "AF_INET6" } else { "AF_INET" }
                ),
                None => format!(
                    "inherited(fd {}, {}) unconnected",
                    socket.fd,
                    if socket.v6 { "AF_INET6" } else { "AF_INET" }
                ),
            };
            let event = Event {
                pid,
                kind: EventKind::Nothing,
                joined: Some(text.clone()),
            };
            if socket.raw {
                self.report(
                    &event,
                    &text,
                    Kind::RawSocket,
                    None,
                    "inherited",
                    Target::None,
                );
                continue;
            }
            match socket.peer {
                Some(peer) => {
                    let transport = socket.proto.map_or(Transport::Other, Transport::Ip);
                    let peer = loopback_form(peer);
                    let kind = if matches!(peer.port(), 53 | 853) {
                        Kind::Dns
                    } else {
                        Kind::Connect
                    };
                    self.report(
                        &event,
                        &text,
                        kind,
                        Some(peer.to_string()),
                        "inherited",
                        Target::Ip(peer, transport),
                    );
                }
                None => {
                    self.report(
                        &event,
                        &text,
                        Kind::IpSocket,
                        None,
                        "inherited",
                        Target::None,
                    );
                }
            }
        }
    }

    /// How the traced program itself ended, if the trace showed it.
    pub fn program_end(&self) -> Option<&ProcessEnd> {
        self.root.end.as_ref()
    }
}

/// The transport of an AF_INET/AF_INET6 socket from socket()'s type and protocol, as
/// strace (`SOCK_STREAM|SOCK_CLOEXEC`, `IPPROTO_TCP`) or the native tracer (`6`) writes
/// them.
fn ip_transport(sock_type: &str, protocol: &str) -> Transport {
    let base = sock_type.split('|').next().unwrap_or("").trim();
    let protocol = protocol.trim();
    match base {
        "SOCK_STREAM" if matches!(protocol, "0" | "IPPROTO_IP" | "6" | "IPPROTO_TCP") => {
            Transport::Ip(Proto::Tcp)
        }
        "SOCK_DGRAM" if matches!(protocol, "0" | "IPPROTO_IP" | "17" | "IPPROTO_UDP") => {
            Transport::Ip(Proto::Udp)
        }
        _ => Transport::Other,
    }
}

/// Linux routes a connect or send to the unspecified address to the local host.
fn loopback_form(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(v6) if v6.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// The matching rule of [`Judge::owned_by`] over a set of held local addresses.
fn owned_in(held: &HashSet<SocketAddr>, dest: &SocketAddr) -> bool {
    let port = dest.port();
    let any4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    let lo4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let lo6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
    let wildcard = if dest.is_ipv4() { any4 } else { any6 };
    if held.contains(dest) || held.contains(&wildcard) {
        return true;
    }
    // The other loopback family: a happy-eyeballs attempt to [::1]:P for 127.0.0.1:P.
    match dest.ip() {
        IpAddr::V4(v4) if v4 == Ipv4Addr::LOCALHOST => held.contains(&lo6) || held.contains(&any6),
        IpAddr::V6(v6) if v6 == Ipv6Addr::LOCALHOST => held.contains(&lo4) || held.contains(&any4),
        _ => false,
    }
}

/// The matching rule of [`Judge::owned_by`], for one held local address: whether a
/// socket holding `local` answers at `dest` (both loopback forms count for 127.0.0.1
/// and ::1). Used by the live look-ups.
pub fn holds(local: &SocketAddr, dest: &SocketAddr) -> bool {
    local.port() == dest.port() && owned_in(&HashSet::from([*local]), dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Parser;
    use crate::policy::PolicyConfig;

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
        let mut events = Vec::new();
        for line in std::iter::once(&START).chain(lines).chain([&END]) {
            events.clear();
            parser.parse_line(line, &mut events).expect(line);
            for event in &events {
                judge.observe(event, line);
                if let Some(answer) = answer.as_mut() {
                    for question in judge.take_questions() {
                        answer(&mut judge, question);
                    }
                }
            }
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
        let hosts = r#"1 sendto(3, "\2\0\0\0\16\0\0\0\f\0\0\0example.com\0", 24, MSG_NOSIGNAL, NULL, 0) = 24"#;
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
}
