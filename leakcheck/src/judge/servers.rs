//! The tree's own servers: a loopback destination that a socket of the traced tree
//! listens on (TCP) or is bound to (UDP) is the tree talking to itself.

use super::sockets::{Proto, Transport};
use super::Judge;
use crate::event::SockAddr;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

impl Judge {
    /// A socket of the tree holds `addr`: a UDP socket bound there, or a TCP socket
    /// listening there.
    pub(super) fn own(&mut self, transport: Transport, listening: bool, addr: &SockAddr) {
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
    pub(super) fn owned_by(&self, proto: Proto, dest: &SocketAddr) -> bool {
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

    /// Whether a TCP listener of the tree the trace showed holds `local` (a socket with
    /// that local address and a peer was accepted from it).
    pub fn listens_on(&self, local: &SocketAddr) -> bool {
        owned_in(&self.tcp_listeners, local)
    }

    pub(super) fn owned(&self, transport: Transport, dest: &SocketAddr) -> bool {
        match transport {
            Transport::Ip(proto) => self.owned_by(proto, dest),
            // Either protocol may have made it: only a port the tree holds under both.
            Transport::Unknown => {
                self.owned_by(Proto::Tcp, dest) && self.owned_by(Proto::Udp, dest)
            }
            Transport::Other => false,
        }
    }
}

/// The matching rule of [`Judge::owned_by`] over a set of held local addresses.
pub(super) fn owned_in(held: &HashSet<SocketAddr>, dest: &SocketAddr) -> bool {
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

/// The matching rule of `Judge::owned_by`, for one held local address: whether a
/// socket holding `local` answers at `dest` (both loopback forms count for 127.0.0.1
/// and ::1). Used by the live look-ups.
pub fn holds(local: &SocketAddr, dest: &SocketAddr) -> bool {
    local.port() == dest.port() && owned_in(&HashSet::from([*local]), dest)
}

/// Linux routes a connect or send to the unspecified address to the local host.
pub(super) fn loopback_form(addr: SocketAddr) -> SocketAddr {
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
