//! The JUnit XML report (`--junit PATH`).

use leakcheck::report::{render_verdict, Outcome, Report};
use std::path::Path;
use std::time::Duration;

/// Writes `report` as JUnit XML to `path`.
pub fn write_junit(report: &Report, path: &Path) -> Result<(), String> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("leakcheck");
    let mut suites: Vec<TestSuite> = Vec::new();
    for t in &report.tests {
        if suites.last().is_none_or(|s| s.name.as_str() != t.binary) {
            suites.push(TestSuite::new(t.binary.clone()));
        }
        let status = if t.outcome == Outcome::Ignored {
            TestCaseStatus::skipped()
        } else if t.verdict.fails() || t.outcome != Outcome::Passed {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let what = if t.verdict.fails() {
                format!("network {}", t.verdict)
            } else {
                format!("test {}", t.outcome.as_str())
            };
            status.set_message(what);
            status.set_type(t.verdict.as_str());
            status.set_description(render_verdict(&t.verdict(), ""));
            status
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(t.name.clone(), status);
        case.set_classname(t.binary.clone());
        if let Some(ms) = t.duration_ms {
            case.set_time(Duration::from_millis(ms));
        }
        if let Some(suite) = suites.last_mut() {
            suite.add_test_case(case);
        }
    }
    junit.add_test_suites(suites);
    let text = junit
        .to_string()
        .map_err(|e| format!("cannot render JUnit XML: {e}"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write JUnit XML to {}: {e}", path.display()))
}
