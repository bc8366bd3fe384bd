//! Findings as they are collected: one per kind, destination and call, with the tasks
//! that made it and what an allow entry may match; and the verdict at the end, under the
//! policy known then.

use super::makers::Made;
use super::sockets::Transport;
use super::Judge;
use crate::attribution::Origin;
use crate::event::Event;
use crate::kind::{Kind, Severity};
use crate::leftover::Leftover;
use crate::policy::Policy;
use crate::syntax::Shown;
use crate::verdict::{Finding, FindingSeverity, Verdict, VerdictKind};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// What a finding is about, kept until the end so that the policy (possibly one learnt
/// only when the run is over, like a `#[leak_free]` attribute's) decides then.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// Nothing an allow entry can match.
    None,
    /// An IP destination, and the transport that tried it: allow entries, and the tree's
    /// own servers of the same protocol, may exempt it.
    Ip(SocketAddr, Transport),
    /// A resolver daemon's unix socket: a `unix:` allow entry may exempt it.
    Unix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct FindingKey {
    pub(super) kind: Kind,
    pub(super) destination: Option<String>,
    pub(super) syscall: String,
}

impl Judge {
    /// What a finding or a problem quotes of an event: its pid and how the trace shows it.
    pub(super) fn trace_text(&self, event: &Event, shown: Shown<'_>) -> String {
        shown.quote(event.pid)
    }

    /// Records an attempt: a new finding, or one more occurrence of the finding of the
    /// same kind, destination and call. Returns the finding's index.
    pub(super) fn report(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        kind: Kind,
        destination: Option<String>,
        syscall: &str,
        target: Target,
    ) -> usize {
        let key = FindingKey {
            kind,
            destination,
            syscall: syscall.to_string(),
        };
        let maker = self.tasks.task(event.pid);
        if let Some(&i) = self.index.get(&key) {
            self.findings[i].occurrences += 1;
            self.add_maker(i, maker);
            return i;
        }
        let finding = Finding {
            kind,
            // Decided by the policy in `finish`.
            severity: FindingSeverity::Leak,
            syscall: key.syscall.clone(),
            pid: event.pid,
            destination: key.destination.clone(),
            trace: self.trace_text(event, shown),
            occurrences: 1,
            note: None,
            program: maker
                .and_then(|t| self.tasks.program(t))
                .map(|p| p.to_string()),
            location: None,
            query: None,
            // Set with the final kind, in `finish`.
            hint: None,
        };
        let index = self.findings.len();
        self.index.insert(key, index);
        self.push(finding, target, maker);
        self.await_stack(event.pid, index);
        index
    }

    /// Adds a new finding, made by task `maker`.
    pub(super) fn push(&mut self, finding: Finding, target: Target, maker: Option<usize>) {
        self.findings.push(finding);
        self.targets.push(target);
        self.makers.push(Some(HashMap::new()));
        self.first_makers.push(maker);
        self.add_maker(self.findings.len() - 1, maker);
    }

    /// Finding `index` as it leaves the judge: its final kind and severity, its hint, and
    /// its program if the trace showed it only after the attempt (under strace a new
    /// task's first calls may come before the line that names its parent).
    fn settled(&self, index: usize, severity: FindingSeverity) -> Finding {
        let mut finding = self.findings[index].clone();
        finding.severity = severity;
        finding.kind = self.final_kind(index, finding.kind);
        finding.hint = Some(finding.kind.hint().to_string());
        if finding.location.is_none() {
            finding.location = self.location(index);
        }
        if finding.program.is_none() {
            finding.program = self.first_makers[index]
                .and_then(|t| self.tasks.program(t))
                .map(|p| p.to_string());
        }
        finding
    }

    /// Records a process the program left running, which the tracer stopped: a warning
    /// by default, attributed like the process's own calls.
    pub fn leftover(&mut self, leftover: &Leftover) {
        let maker = self.tasks.task(leftover.pid);
        let finding = Finding {
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
            program: maker
                .and_then(|t| self.tasks.program(t))
                .map(|p| p.to_string()),
            location: None,
            query: None,
            hint: None,
        };
        self.push(finding, Target::None, maker);
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
        self.locate_kept(&kept);
        let policy = &self.policy;
        let mut findings: Vec<Finding> = kept
            .into_iter()
            .map(|(index, severity)| self.settled(index, severity))
            .collect();
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
    pub(super) fn kept(&self, policy: &Policy) -> Vec<(usize, FindingSeverity)> {
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
    /// tasks that made it come from (see [`crate::attribution`]) and what the tasks of
    /// each origin made of it (their program and names: a test's copy of the finding
    /// carries its own).
    pub fn findings_by_origin(&self, policy: &Policy) -> Vec<(Finding, BTreeMap<Origin, Made>)> {
        self.kept(policy)
            .into_iter()
            .map(|(index, severity)| (self.settled(index, severity), self.made_by_origin(index)))
            .collect()
    }
}
