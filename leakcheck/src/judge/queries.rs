//! What a `dns` finding's lookups asked for (its `query`): the questions of the DNS
//! messages sent to port 53, and the names in requests to a local resolver daemon.
//!
//! The finding is usually made by the connect to the resolver (glibc connects its UDP
//! socket, then sends on it), so the socket remembers which finding its connect made,
//! and what it sends later adds its names to that finding.

use super::sockets::{Proto, Transport};
use super::Judge;
use crate::query::{daemons, dns, Question};

/// How the requests on a socket that talks to a resolver are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// DNS messages, one per datagram.
    Dns,
    /// DNS messages over a stream, each after its two-byte length.
    DnsStream,
    /// systemd-resolved's varlink calls.
    Varlink,
}

impl Protocol {
    /// DNS as it is sent over `transport`.
    pub(super) fn dns_over(transport: Transport) -> Protocol {
        match transport {
            Transport::Ip(Proto::Tcp) => Protocol::DnsStream,
            _ => Protocol::Dns,
        }
    }

    fn questions(self, payload: &[u8]) -> Vec<Question> {
        match self {
            Protocol::Dns => dns::questions(payload),
            Protocol::DnsStream => dns::stream_questions(payload),
            Protocol::Varlink => daemons::varlink_question(payload).into_iter().collect(),
        }
    }
}

/// A socket's connect made a finding to a resolver: its requests name what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lookup {
    /// The finding the connect made.
    pub(super) finding: usize,
    /// How its requests are read.
    pub(super) protocol: Protocol,
}

impl Judge {
    /// The data of a send by `pid` on `fd`: to the DNS findings its own destinations
    /// made (`made`), else to the finding the socket's connect made, when it talks to a
    /// resolver.
    pub(super) fn read_queries(&mut self, pid: u32, fd: i32, made: &[usize], payloads: &[Vec<u8>]) {
        if payloads.is_empty() {
            return;
        }
        let state = self.socket(pid, fd);
        let (targets, protocol) = if made.is_empty() {
            match state.and_then(|s| s.lookup) {
                Some(lookup) => (vec![lookup.finding], lookup.protocol),
                None => return,
            }
        } else {
            let transport = state.map(|s| s.transport).unwrap_or_default();
            (made.to_vec(), Protocol::dns_over(transport))
        };
        let questions: Vec<Question> = payloads
            .iter()
            .flat_map(|p| protocol.questions(p))
            .collect();
        if questions.is_empty() {
            return;
        }
        let task = self.tasks.task(pid);
        for finding in targets {
            self.asked(finding, task, questions.iter().cloned());
        }
    }
}
