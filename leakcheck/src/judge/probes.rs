//! Route probes: a UDP connect followed by getsockname and no data (glibc's address
//! sorting, local-address discovery) sends nothing, and is a warning of its own kind.

use super::Judge;
use crate::kind::Kind;

/// A UDP connect's finding, waiting for what follows on the socket.
#[derive(Debug, Clone, Copy)]
pub(super) struct UdpConnect {
    pub(super) finding: usize,
    /// getsockname() followed.
    pub(super) probed: bool,
}

/// How a finding made by UDP connects may still be a route probe (see [`Judge::kept`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ProbeTally {
    /// Connects of this finding not (yet) followed by getsockname.
    pub(super) unprobed: usize,
    /// Data was sent to it, or the same finding came from something else: a leak.
    pub(super) real: bool,
}

impl Judge {
    /// A UDP connect whose socket is reused or reconnected: without getsockname after it,
    /// it was not a route probe.
    pub(super) fn close_udp_connect(&mut self, udp: Option<UdpConnect>) {
        let Some(udp) = udp else { return };
        if let Some(tally) = self.probe_tallies.get_mut(&udp.finding) {
            if !udp.probed {
                tally.real = true;
                tally.unprobed = tally.unprobed.saturating_sub(1);
            }
        }
    }

    /// Data went to a UDP socket's connected peer: its connect was no route probe.
    pub(super) fn udp_data_sent(&mut self, pid: u32, fd: i32) {
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

    /// What finding `index` turns out to be: UDP connects followed by getsockname and no
    /// data are route probes (nothing was sent; glibc's address sorting does this).
    pub(super) fn final_kind(&self, index: usize, kind: Kind) -> Kind {
        match self.probe_tallies.get(&index) {
            Some(tally) if !tally.real && tally.unprobed == 0 => Kind::RouteProbe,
            _ => kind,
        }
    }

    /// An IP finding was made (or made again), by a UDP connect or by something else:
    /// the same finding from something other than a UDP connect is no route probe.
    pub(super) fn tally_ip_finding(&mut self, index: Option<usize>, udp_connect: bool) {
        if !udp_connect {
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
    }
}
