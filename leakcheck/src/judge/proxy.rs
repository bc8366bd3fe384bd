//! Streams through the stand-in proxy (`--stand-in`): which task opened each, and the
//! findings they make (`protocol-leak`, `proxy-ip-request`, `socks-no-auth`,
//! `proxy-protocol-error`).
//!
//! A stream is the stand-in's record of one client connection; the client is known by
//! its socket's local address. The judge learns that address for every connect to a
//! stand-in endpoint (a live question, asked while the socket is open), so that a stream
//! is attributed to its task like any finding, and lands in the entry of the test whose
//! thread opened it.

use super::findings::Target;
use super::live::Question;
use super::Judge;
use crate::attribution::Origin;
use crate::kind::Kind;
use crate::standin::{stream_findings, FindingKind, Recorded, Stream, StreamFinding};
use crate::verdict::{Finding, FindingSeverity};
use std::net::SocketAddr;

/// The kind of a stream finding.
pub fn stream_kind(kind: FindingKind) -> Kind {
    match kind {
        FindingKind::ProtocolLeak => Kind::ProtocolLeak,
        FindingKind::ProxyIpRequest => Kind::ProxyIpRequest,
        FindingKind::SocksNoAuth => Kind::SocksNoAuth,
        FindingKind::SharedIsolation => Kind::SharedIsolation,
        FindingKind::ProxyProtocolError => Kind::ProxyProtocolError,
    }
}

/// A stream finding as a report's finding (`pid`: the client's, when the stand-in did
/// not learn it itself).
pub fn finding_of(found: &StreamFinding, severity: FindingSeverity, pid: Option<u32>) -> Finding {
    Finding {
        kind: stream_kind(found.kind),
        severity,
        syscall: "connect".to_string(),
        pid: found.pid.or(pid).unwrap_or(0),
        destination: Some(found.proxy.clone()),
        trace: found.message.clone(),
        occurrences: found.occurrences,
        note: None,
        program: None,
        location: None,
        query: None,
        hint: Some(stream_kind(found.kind).hint().to_string()),
    }
}

impl Judge {
    /// Tells the judge the stand-in's TCP endpoints: a connect to one of them asks where
    /// the client socket is bound (see [`Question::Client`]).
    pub fn set_stand_in(&mut self, endpoints: Vec<SocketAddr>) {
        self.stand_in = endpoints;
    }

    /// Whether `addr` is a stand-in endpoint.
    pub(super) fn is_stand_in(&self, addr: &SocketAddr) -> bool {
        self.stand_in.contains(addr)
    }

    /// Asks where the client socket `fd` of `pid`, connected to the stand-in, is bound.
    pub(super) fn ask_client(&mut self, pid: u32, fd: i32) {
        if self.live {
            self.questions.push(Question::Client { pid, fd });
        }
    }

    /// Answers [`Question::Client`]: the socket `pid` connected to the stand-in is bound
    /// to `local`.
    pub fn note_client(&mut self, pid: u32, local: SocketAddr) {
        if let Some(task) = self.tasks.task(pid) {
            self.clients.insert(local, (task, pid));
        }
    }

    /// Takes in what the stand-in recorded: each stream, attributed to the task whose
    /// socket it came from, and the findings it makes. A record the stand-in could not
    /// keep whole makes the trace incomplete.
    pub fn streams(&mut self, recorded: Recorded) {
        if recorded.dropped > 0 {
            self.problem(format!(
                "the stand-in proxy could not keep {} streams (its limits were reached): what they sent was not searched",
                recorded.dropped
            ));
        }
        for stream in recorded.streams {
            let client = stream
                .peer
                .and_then(|peer| self.clients.get(&peer).copied());
            let task = client.map(|(task, _)| task);
            for found in stream_findings(std::slice::from_ref(&stream)) {
                // The severity is the policy's, decided at the end like any finding's.
                let pid = client.map(|(_, pid)| pid);
                let mut finding = finding_of(&found, FindingSeverity::Warning, pid);
                finding.program = task
                    .and_then(|t| self.tasks.program(t))
                    .map(|p| p.to_string());
                self.push(finding, Target::None, task);
            }
            self.proxy_streams.push((stream, task));
        }
    }

    /// Every stream the stand-in served in this run.
    pub fn all_streams(&self) -> Vec<Stream> {
        self.proxy_streams.iter().map(|(s, _)| s.clone()).collect()
    }

    /// Every stream with where the task that opened it comes from (a stream whose
    /// client was not seen connecting is the binary's).
    pub fn streams_by_origin(&self) -> Vec<(Stream, Origin)> {
        self.proxy_streams
            .iter()
            .map(|(stream, task)| {
                let origin = task.map_or(Origin::Binary, |t| self.tasks.origin(t));
                (stream.clone(), origin)
            })
            .collect()
    }
}
