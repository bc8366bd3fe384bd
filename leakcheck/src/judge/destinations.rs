//! Where the tree tries to go: connects, sends and listens, judged by the socket they are
//! made on.

use super::findings::Target;
use super::live::Question;
use super::probes::UdpConnect;
use super::queries::{Lookup, Protocol};
use super::resolver::is_resolved;
use super::servers::loopback_form;
use super::sockets::{Family, Proto, Transport};
use super::Judge;
use crate::event::{Event, SockAddr};
use crate::kind::Kind;
use crate::syntax::Shown;
use std::net::{SocketAddr, SocketAddrV4};

impl Judge {
    pub(super) fn judge_connect(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        fd: i32,
        addr: &SockAddr,
        ok: bool,
    ) {
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
                if self.is_stand_in(ip) {
                    self.ask_client(pid, fd);
                }
                let index = self.judge_ip(event, shown, "connect", Kind::Connect, *ip, transport);
                // What it sends later names the query; a connect elsewhere ends that.
                let lookup = index.filter(|_| ip.port() == 53).map(|finding| Lookup {
                    finding,
                    protocol: Protocol::dns_over(transport),
                });
                if let Some(state) = self
                    .socket_key(pid, fd)
                    .and_then(|key| self.sockets.get_mut(&key))
                {
                    state.lookup = lookup;
                }
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
                state.lookup = None;
                self.latest_by_fd.insert(fd, pid);
                if !is_abstract && is_resolved(path) {
                    let finding = self.report(
                        event,
                        shown,
                        Kind::Dns,
                        Some(addr.to_string()),
                        "connect",
                        Target::Unix(path.clone()),
                    );
                    if let Some(state) = self.sockets.get_mut(&(pid, fd)) {
                        state.lookup = Some(Lookup {
                            finding,
                            protocol: Protocol::Varlink,
                        });
                    }
                }
            }
            SockAddr::Unspec | SockAddr::Netlink => {}
            other => self.judge_other_destination(event, shown, "connect", other),
        }
    }

    /// Destinations that are neither IP nor local.
    pub(super) fn judge_other_destination(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        syscall: &str,
        addr: &SockAddr,
    ) {
        match addr {
            SockAddr::Undecoded(raw) => {
                let text = self.trace_text(event, shown);
                self.problem(format!("{syscall}() address not decoded ({raw}): {text}"));
            }
            SockAddr::Other(_) => {
                self.report(event, shown, Kind::RawSocket, None, syscall, Target::None);
            }
            SockAddr::SendUnspec(None) => {
                let text = self.trace_text(event, shown);
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
    /// one. A send without a usable destination goes to the socket's peer. Returns the
    /// `dns` findings its destinations made (the data's questions are theirs).
    pub(super) fn judge_send(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        syscall: &'static str,
        fd: i32,
        destinations: &[SockAddr],
        fastopen: bool,
    ) -> Vec<usize> {
        let mut made = Vec::new();
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
                    let index = self.judge_ip(event, shown, syscall, Kind::Send, *ip, transport);
                    made.extend(index.filter(|_| ip.port() == 53));
                }
                SockAddr::SendUnspec(v4) => match family {
                    Some(Family::Inet) => {
                        let index = self.judge_unspec_v4(event, shown, syscall, *v4, transport);
                        made.extend(index.filter(|_| v4.is_some_and(|v4| v4.port() == 53)));
                    }
                    Some(Family::Inet6) => to_peer = true,
                    Some(Family::Local | Family::Other) => {}
                    None => unspec_unknown = Some(*v4),
                },
                SockAddr::Unix { path, is_abstract } => {
                    if !is_abstract && is_resolved(path) {
                        self.report(
                            event,
                            shown,
                            Kind::Dns,
                            Some(dest.to_string()),
                            syscall,
                            Target::Unix(path.clone()),
                        );
                    }
                }
                SockAddr::Netlink | SockAddr::Unspec => {}
                other => self.judge_other_destination(event, shown, syscall, other),
            }
        }
        if transport == Transport::Ip(Proto::Udp) {
            // The first send binds an unbound UDP socket: replies come to that port.
            self.ask_local(pid, fd);
        }
        if let Some(v4) = unspec_unknown {
            // The socket's family is unknown: ask, or read it as an AF_INET socket would.
            if self.live {
                self.ask_descriptor(event, shown, syscall, fd, Some(v4));
            } else {
                self.judge_unspec_v4(event, shown, syscall, v4, transport);
            }
        }
        if to_peer {
            if self.socket(pid, fd).is_some() {
                self.udp_data_sent(pid, fd);
            } else if self.live {
                self.ask_descriptor(event, shown, syscall, fd, None);
            }
        }
        made.sort_unstable();
        made.dedup();
        made
    }

    /// An AF_UNSPEC destination on an AF_INET socket: sa_data's port and address (port 0
    /// is refused by the kernel). Returns the index of its finding.
    pub(super) fn judge_unspec_v4(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        syscall: &str,
        v4: Option<SocketAddrV4>,
        transport: Transport,
    ) -> Option<usize> {
        match v4 {
            Some(v4) if v4.port() == 0 => None,
            Some(v4) => self.judge_ip(
                event,
                shown,
                syscall,
                Kind::Send,
                SocketAddr::V4(v4),
                transport,
            ),
            None => {
                self.judge_other_destination(event, shown, syscall, &SockAddr::SendUnspec(None));
                None
            }
        }
    }

    /// An attempt to reach an IP destination; returns the index of its finding.
    pub(super) fn judge_ip(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
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
        let index = Some(self.report(
            event,
            shown,
            kind,
            Some(ip.to_string()),
            syscall,
            Target::Ip(ip, transport),
        ));
        let udp_connect = transport == Transport::Ip(Proto::Udp) && syscall == "connect";
        self.tally_ip_finding(index, udp_connect);
        index
    }

    pub(super) fn judge_listen(&mut self, event: &Event, shown: Shown<'_>, fd: i32) {
        let (bound, family) = match self.socket(event.pid, fd) {
            Some(state) => (state.bound.clone(), state.family),
            None => (None, None),
        };
        match bound {
            Some(SockAddr::Ip(addr)) if !addr.ip().is_loopback() => {
                self.report(
                    event,
                    shown,
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
                    self.report(event, shown, Kind::Listen, None, "listen", Target::None);
                }
            }
        }
    }
}
