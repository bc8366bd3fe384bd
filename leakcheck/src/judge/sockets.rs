//! What the judge knows of each descriptor from the trace: the socket's family and
//! transport, where it is bound, whether it listens, its unix peer; forgotten when the
//! number is reused, copied by dup and accept.

use super::probes::UdpConnect;
use super::queries::Lookup;
use super::Judge;
use crate::event::SockAddr;

/// Socket families that cannot reach the network (AF_LOCAL is AF_UNIX).
const LOCAL_FAMILIES: [i32; 4] = [
    libc::AF_UNIX,
    libc::AF_NETLINK,
    libc::AF_ALG,
    libc::AF_UNSPEC,
];

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
pub(super) enum Transport {
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
pub(super) enum Family {
    Inet,
    Inet6,
    /// AF_UNIX, AF_NETLINK and the other families that cannot reach the network.
    Local,
    /// Anything else (packet, vsock, unknown numbers).
    Other,
}

impl Family {
    /// The class of an address family (None: a name the trace gave without a number).
    pub(super) fn of(family: Option<i32>) -> Family {
        match family {
            Some(libc::AF_INET) => Family::Inet,
            Some(libc::AF_INET6) => Family::Inet6,
            Some(f) if LOCAL_FAMILIES.contains(&f) => Family::Local,
            _ => Family::Other,
        }
    }
}

/// What the judge knows of one descriptor, from the trace.
#[derive(Debug, Clone, Default)]
pub(super) struct SocketState {
    pub(super) family: Option<Family>,
    pub(super) transport: Transport,
    /// The local address (a successful bind, or getsockname).
    pub(super) bound: Option<SockAddr>,
    pub(super) listening: bool,
    /// The unix socket it connected to.
    pub(super) unix_peer: Option<String>,
    /// A UDP connect not yet known to be a route probe or a leak: the finding it made.
    pub(super) udp_connect: Option<UdpConnect>,
    /// Its connect reached a resolver (port 53, systemd-resolved): the finding it made,
    /// which what it sends names the query of.
    pub(super) lookup: Option<Lookup>,
}

impl Judge {
    /// A socket() that returned `fd`: whatever was known of the descriptor is forgotten
    /// (the number was closed and reused).
    pub(super) fn new_socket(
        &mut self,
        pid: u32,
        fd: i32,
        family: Option<i32>,
        sock_type: Option<i32>,
        protocol: Option<i32>,
    ) {
        let family = Family::of(family);
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
    pub(super) fn accepted(&mut self, pid: u32, fd: i32, new_fd: i32, peer: Option<&SockAddr>) {
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
    pub(super) fn dup(&mut self, pid: u32, fd: i32, new_fd: i32) {
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

    pub(super) fn replace_socket(&mut self, pid: u32, fd: i32, state: SocketState) {
        if let Some(old) = self.sockets.insert((pid, fd), state) {
            self.close_udp_connect(old.udp_connect);
        }
        self.latest_by_fd.insert(fd, pid);
    }

    /// The entry for `fd` as `pid` sees it: its own, else the newest one for that
    /// number (a descriptor shared by threads, or inherited by a child).
    pub(super) fn socket_key(&self, pid: u32, fd: i32) -> Option<(u32, i32)> {
        if self.sockets.contains_key(&(pid, fd)) {
            return Some((pid, fd));
        }
        let other = *self.latest_by_fd.get(&fd)?;
        self.sockets
            .contains_key(&(other, fd))
            .then_some((other, fd))
    }

    pub(super) fn socket(&self, pid: u32, fd: i32) -> Option<&SocketState> {
        self.sockets.get(&self.socket_key(pid, fd)?)
    }

    /// [`Judge::socket`], creating an empty entry of `pid`'s own when there is none.
    pub(super) fn socket_mut(&mut self, pid: u32, fd: i32) -> &mut SocketState {
        let key = match self.socket_key(pid, fd) {
            Some(key) => key,
            None => {
                self.latest_by_fd.insert(fd, pid);
                (pid, fd)
            }
        };
        self.sockets.entry(key).or_default()
    }
}

/// The transport of an AF_INET/AF_INET6 socket from socket()'s type and protocol
/// (protocol 0 is the type's default).
pub(super) fn ip_transport(sock_type: Option<i32>, protocol: Option<i32>) -> Transport {
    match (sock_type, protocol) {
        (Some(libc::SOCK_STREAM), Some(libc::IPPROTO_IP | libc::IPPROTO_TCP)) => {
            Transport::Ip(Proto::Tcp)
        }
        (Some(libc::SOCK_DGRAM), Some(libc::IPPROTO_IP | libc::IPPROTO_UDP)) => {
            Transport::Ip(Proto::Udp)
        }
        _ => Transport::Other,
    }
}
