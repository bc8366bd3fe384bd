//! The controls: for every kind of DESIGN.md's table, what its control program and its
//! clean twin do, the policy they are judged under, and how a traced run of each is
//! judged: the control must give a finding of its kind (at the kind's default severity),
//! the twin must be clean with no finding at all.

use super::programs::REFUSED;
use crate::reporter::self_test::Check;
use leakcheck::policy::{Policy, PolicyConfig};
use leakcheck::tracer::{ProgramStatus, TraceError};
use leakcheck::verdict::{FindingSeverity, VerdictKind};
use leakcheck::{Checked, Kind, Severity};

/// The one endpoint the self-test's policy allows (the twins use it).
pub const ALLOW: &str = "127.0.0.1:9050";

/// One kind's control and twin.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// The kind the control must be flagged as.
    pub kind: Kind,
    /// What the control does.
    pub does: &'static str,
    /// What its twin does.
    pub twin_does: &'static str,
}

/// Every kind's control, in the order of DESIGN.md's table.
pub const CONTROLS: [Control; 10] = [
    Control {
        kind: Kind::Connect,
        does: "TCP connect() to 192.0.2.1:80",
        twin_does: "TCP connect() to the allowed 127.0.0.1:9050",
    },
    Control {
        kind: Kind::Send,
        does: "UDP sendto() 192.0.2.1:9999",
        twin_does: "UDP sendto() the allowed 127.0.0.1:9050",
    },
    Control {
        kind: Kind::Dns,
        does: "a DNS query sent with UDP to 192.0.2.53:53",
        twin_does: "getaddrinfo(\"127.0.0.1\", \"9050\", AI_NUMERICHOST), then connect() to it",
    },
    Control {
        kind: Kind::IpSocket,
        does: "an IPv4 socket created and closed, under ip = false",
        twin_does: "a unix socket created and closed, under ip = false",
    },
    Control {
        kind: Kind::RawSocket,
        does: "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), closed unused",
        twin_does: "a UDP socket, closed unused",
    },
    Control {
        kind: Kind::Untraceable,
        does: "clone(CLONE_UNTRACED|SIGCHLD): a child out of the tracer's sight",
        twin_does: "clone(SIGCHLD): a traced child",
    },
    Control {
        kind: Kind::InterfaceEnumeration,
        does: "ioctl(SIOCGIFCONF): the host's interface addresses",
        twin_does: "ioctl(SIOCGIFFLAGS) on lo",
    },
    Control {
        kind: Kind::Listen,
        does: "a TCP listener on 0.0.0.0",
        twin_does: "a TCP listener on 127.0.0.1",
    },
    Control {
        kind: Kind::RouteProbe,
        does: "a UDP socket connect()ed to 192.0.2.1:80, then getsockname() and no data",
        twin_does: "the same to the allowed 127.0.0.1:9050",
    },
    Control {
        kind: Kind::LeftoverProcess,
        does: "a child left sleeping when the program exits",
        twin_does: "a child that ends, waited for",
    },
];

impl Control {
    /// The name of the control program (`cargo-leakcheck __control NAME`).
    pub fn program(&self) -> &'static str {
        self.kind.as_str()
    }

    /// The name of the twin's program.
    pub fn twin_program(&self) -> String {
        format!("{}-twin", self.kind.as_str())
    }

    /// The policy both are judged under: [`ALLOW`]; for `ip-socket`, `ip = false` and
    /// nothing allowed (unix-socket-only mode).
    pub fn policy(&self) -> Policy {
        if self.kind == Kind::IpSocket {
            let mut config = PolicyConfig::default();
            config.set_ip(false);
            return config.resolve("");
        }
        // ALLOW is a constant that parses; were it not, the twins would be flagged.
        PolicyConfig::from_allow_list(&[ALLOW], "self-test")
            .unwrap_or_default()
            .resolve("")
    }

    /// The severity the control's finding must have: its kind's default.
    fn severity(&self) -> FindingSeverity {
        match self.kind.default_severity() {
            Severity::Warn => FindingSeverity::Warning,
            _ => FindingSeverity::Leak,
        }
    }

    /// Whether the control's traced run was flagged as its kind.
    pub fn judge_control(&self, result: Result<Checked, TraceError>) -> Check {
        let checked = match ran(result) {
            Ok(checked) => checked,
            Err(check) => return check,
        };
        let severity = self.severity();
        let verdict = &checked.verdict;
        if verdict
            .findings
            .iter()
            .any(|f| f.kind == self.kind && f.severity == severity)
        {
            return Check::Pass;
        }
        let wanted = match severity {
            FindingSeverity::Leak => "leak",
            FindingSeverity::Warning => "warning",
        };
        Check::Fail(format!(
            "{} gave no {} {wanted}; the verdict:\n{}",
            self.does,
            self.kind,
            leakcheck::report::render_verdict(verdict, "  ")
        ))
    }

    /// Whether the twin's traced run was clean, with no finding at all.
    pub fn judge_twin(&self, result: Result<Checked, TraceError>) -> Check {
        let checked = match ran(result) {
            Ok(checked) => checked,
            Err(check) => return check,
        };
        let verdict = &checked.verdict;
        if verdict.verdict == VerdictKind::Clean && verdict.findings.is_empty() {
            return Check::Pass;
        }
        Check::Fail(format!(
            "{} was not clean:\n{}",
            self.twin_does,
            leakcheck::report::render_verdict(verdict, "  ")
        ))
    }
}

/// The traced run, if the program could be traced and ended as it should. A run that
/// could not be traced at all (the tracer cannot start, no namespace) is skipped: that is
/// the machine's, not leakcheck's judgement. A program that did not exit 0 fails.
fn ran(result: Result<Checked, TraceError>) -> Result<Checked, Check> {
    let checked = result.map_err(|e| Check::Skipped(e.to_string()))?;
    match &checked.run.status {
        ProgramStatus::Exited(0) => Ok(checked),
        ProgramStatus::Exited(code) if *code == i32::from(REFUSED) => Err(Check::Fail(
            "the program refused to run: the network namespace it was given has an interface other than lo".to_string(),
        )),
        status => Err(Check::Fail(format!(
            "the program ended with {status}, not exit status 0; its output:\n{}",
            String::from_utf8_lossy(&checked.run.output).trim_end()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakcheck::tracer::RunResult;
    use leakcheck::verdict::{Finding, Verdict};
    use std::time::Duration;

    fn checked(status: ProgramStatus, findings: Vec<Finding>) -> Checked {
        Checked {
            verdict: Verdict::observed(findings, vec![ALLOW.to_string()]),
            run: RunResult {
                status,
                output: b"out\n".to_vec(),
                problems: Vec::new(),
                duration: Duration::ZERO,
                leftovers: Vec::new(),
            },
            streams: Vec::new(),
        }
    }

    fn finding(kind: Kind, severity: FindingSeverity) -> Finding {
        Finding {
            kind,
            severity,
            syscall: "connect".into(),
            pid: 1,
            destination: None,
            trace: "1 connect(...) = -1".into(),
            occurrences: 1,
            note: None,
            program: None,
            location: None,
            query: None,
            hint: None,
        }
    }

    #[test]
    fn a_control_needs_its_kind_at_its_default_severity() {
        let listen = CONTROLS[7];
        assert_eq!(listen.kind, Kind::Listen);
        let warned = checked(
            ProgramStatus::Exited(0),
            vec![finding(Kind::Listen, FindingSeverity::Warning)],
        );
        assert_eq!(listen.judge_control(Ok(warned.clone())), Check::Pass);
        // The twin of a warning kind must not even warn.
        assert!(matches!(listen.judge_twin(Ok(warned)), Check::Fail(_)));
        let other = checked(
            ProgramStatus::Exited(0),
            vec![finding(Kind::Connect, FindingSeverity::Leak)],
        );
        let Check::Fail(why) = listen.judge_control(Ok(other)) else {
            panic!("a connect leak is no listen warning");
        };
        assert!(why.contains("gave no listen warning"), "{why}");
        let clean = checked(ProgramStatus::Exited(0), Vec::new());
        assert_eq!(listen.judge_twin(Ok(clean)), Check::Pass);
    }

    #[test]
    fn a_program_that_did_not_run_is_no_pass() {
        let connect = CONTROLS[0];
        let crashed = checked(ProgramStatus::Signaled(9), Vec::new());
        let Check::Fail(why) = connect.judge_twin(Ok(crashed)) else {
            panic!("a crashed twin is no pass");
        };
        assert!(
            why.contains("killed by SIGKILL") && why.contains("out"),
            "{why}"
        );
        let refused = checked(ProgramStatus::Exited(3), Vec::new());
        assert!(
            matches!(connect.judge_control(Ok(refused)), Check::Fail(w) if w.contains("other than lo"))
        );
        let untraced = Err(TraceError::Ptrace("no ptrace here".into()));
        assert_eq!(
            connect.judge_control(untraced),
            Check::Skipped("no ptrace here".into())
        );
    }

    #[test]
    fn ip_socket_is_judged_in_unix_socket_only_mode() {
        let ip = CONTROLS[3];
        assert_eq!(ip.kind, Kind::IpSocket);
        assert!(!ip.policy().ip_allowed());
        assert!(ip.policy().allow_list().is_empty());
        assert_eq!(CONTROLS[0].policy().allow_list(), vec![ALLOW.to_string()]);
        // Every kind of the tracer's, in order; the stand-in's kinds are checked by
        // tests/standin.rs (they need a stand-in to talk to).
        assert!(CONTROLS.iter().map(|c| c.kind).eq(Kind::ALL
            .into_iter()
            .take_while(|k| *k != Kind::ProtocolLeak)));
    }
}
