//! Questions about the live system: while a traced program runs, the judge asks what the
//! trace cannot tell (who holds a loopback port, where an implicitly bound socket is bound,
//! what a descriptor the trace never showed is); `crate::ports` answers them before the
//! next event.

use super::findings::Target;
use super::servers::loopback_form;
use super::sockets::{Proto, Transport};
use super::Judge;
use crate::event::{Event, EventKind, SockAddr};
use crate::kind::Kind;
use crate::syntax::Shown;
use std::net::{SocketAddr, SocketAddrV4};

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
    /// Where is the socket `fd` of `pid`, just connected to the stand-in proxy, bound?
    /// The answer ([`Judge::note_client`]) tells which task opened the stream the
    /// stand-in records from that address.
    Client {
        /// The process (thread).
        pid: u32,
        /// The descriptor.
        fd: i32,
    },
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
    /// How the trace shows the send (after the pid), for the finding it may make.
    shown: String,
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

impl Judge {
    pub(super) fn ask_descriptor(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
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
                shown: shown.text().into_owned(),
            }));
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
    pub(super) fn ask_local(&mut self, pid: u32, fd: i32) {
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
            shown,
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
                    self.judge_unspec_v4(&event, Shown::Text(&shown), syscall, v4, transport);
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
                self.judge_ip(
                    &event,
                    Shown::Text(&shown),
                    syscall,
                    Kind::Connect,
                    peer,
                    transport,
                );
            }
            Descriptor::Raw(name) => {
                let _ = name;
                self.report(
                    &event,
                    Shown::Text(&shown),
                    Kind::RawSocket,
                    None,
                    syscall,
                    Target::None,
                );
            }
            Descriptor::Unknown(why) => {
                let text = self.trace_text(&event, Shown::Text(&shown));
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
            };
            let shown = Shown::Text(&text);
            if socket.raw {
                self.report(
                    &event,
                    shown,
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
                        shown,
                        kind,
                        Some(peer.to_string()),
                        "inherited",
                        Target::Ip(peer, transport),
                    );
                }
                None => {
                    self.report(
                        &event,
                        shown,
                        Kind::IpSocket,
                        None,
                        "inherited",
                        Target::None,
                    );
                }
            }
        }
    }
}
