//! `shared-isolation`: two tests that used the same SOCKS credentials on the same proxy
//! share Tor circuits (IsolateSOCKSAuth), so their identities can be linked. Decided
//! once every test of the run has its streams.

use super::plan::PlannedBinary;
use leakcheck::judge::finding_of;
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
        out.push((index, finding_of(&test_finding.finding, severity, None)));
    }
    out
}
