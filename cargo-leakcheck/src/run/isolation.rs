//! `shared-isolation`: two tests that used the same SOCKS credentials on the same proxy
//! share Tor circuits (IsolateSOCKSAuth), so their identities can be linked. Decided
//! once every test of the run has its streams.

use super::plan::PlannedBinary;
use leakcheck::judge::stream_kind;
use leakcheck::report::TestReport;
use leakcheck::standin::shared_isolation;
use leakcheck::verdict::FindingSeverity;
use leakcheck::{Finding, Kind, Severity};

/// The `shared-isolation` findings of a run, by index into `tests`, at the severity each
/// test's policy gives the kind.
pub fn shared(tests: &[TestReport], plan: &[PlannedBinary]) -> Vec<(usize, Finding)> {
    let keys: Vec<String> = tests
        .iter()
        .map(|t| format!("{} {}", t.binary, t.name))
        .collect();
    let found = shared_isolation(
        tests
            .iter()
            .zip(&keys)
            .filter(|(t, _)| !t.streams.is_empty())
            .map(|(t, key)| (key.as_str(), t.streams.as_slice())),
    );
    let mut out = Vec::new();
    for test_finding in found {
        let Some(index) = keys.iter().position(|k| *k == test_finding.test) else {
            continue;
        };
        let test = &tests[index];
        let policy = plan
            .iter()
            .find(|p| p.binary.report_name() == test.binary)
            .map(|p| p.config.resolve(&test.name));
        let severity = policy.map_or(Kind::SharedIsolation.default_severity(), |p| {
            p.severity(Kind::SharedIsolation)
        });
        let severity = match severity {
            Severity::Allow => continue,
            Severity::Warn => FindingSeverity::Warning,
            Severity::Deny => FindingSeverity::Leak,
        };
        let found = test_finding.finding;
        out.push((
            index,
            Finding {
                kind: stream_kind(found.kind),
                severity,
                syscall: "connect".to_string(),
                pid: found.pid.unwrap_or(0),
                destination: Some(found.proxy.clone()),
                trace: found.message.clone(),
                occurrences: found.occurrences,
                note: None,
            },
        ));
    }
    out
}
