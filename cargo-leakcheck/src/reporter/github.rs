//! GitHub Actions output: one `::error` workflow command per leaking or unverified test,
//! `::warning` for warnings, and a Markdown job summary in `$GITHUB_STEP_SUMMARY`. An
//! annotation carries `file=` and `line=` when a finding knows where in the code it was
//! made, so that it lands on that line of the pull request; its message says how to fix
//! each kind.

use leakcheck::report::{Report, TestReport};
use leakcheck::verdict::{Finding, FindingSeverity};
use leakcheck::VerdictKind;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

/// Rows of the summary table at most: GitHub caps a step summary at 1 MiB.
const MAX_ROWS: usize = 200;

/// Inside GitHub Actions: where the job summary goes, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHub {
    /// `$GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<PathBuf>,
}

impl GitHub {
    /// GitHub Actions' settings, when we run inside it.
    pub fn from_env() -> Option<GitHub> {
        std::env::var("GITHUB_ACTIONS")
            .is_ok_and(|v| v == "true")
            .then(|| GitHub {
                step_summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            })
    }

    /// Writes the annotations to `out` (GitHub reads workflow commands from stdout) and
    /// appends the job summary; says on `err` when it cannot.
    pub fn emit(&self, report: &Report, out: &mut dyn Write, err: &mut dyn Write) {
        for line in annotations(report) {
            let _ = writeln!(out, "{line}");
        }
        if let Some(path) = &self.step_summary {
            let result = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(summary(report).as_bytes()));
            if let Err(e) = result {
                let _ = writeln!(
                    err,
                    "leakcheck: cannot append the job summary to {}: {e}",
                    path.display()
                );
            }
        }
    }
}

/// Escapes a workflow command's message, as GitHub's toolkit does.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property (`title=...`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands for a report: nothing for clean tests without warnings.
pub fn annotations(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for test in &report.tests {
        let title = format!("leakcheck: {} {}", test.binary, test.name);
        match test.verdict {
            VerdictKind::Leaked | VerdictKind::Unverified => {
                let message = failure_message(test);
                lines.push(annotation("error", &title, leaks(test), &message));
            }
            VerdictKind::Clean | VerdictKind::NotRun => {
                let warnings: Vec<&Finding> = test
                    .findings
                    .iter()
                    .filter(|f| f.severity == FindingSeverity::Warning)
                    .collect();
                if !warnings.is_empty() {
                    let listed: Vec<String> = warnings.iter().map(ToString::to_string).collect();
                    let mut message = format!("{} warned: {}", test.name, listed.join("; "));
                    push_hints(&mut message, &warnings);
                    lines.push(annotation("warning", &title, warnings, &message));
                }
            }
        }
    }
    lines
}

/// One workflow command: `::error file=F,line=N,title=T::MESSAGE`, placed at the first
/// of `findings` that has a location (none: the annotation is the run's).
fn annotation(command: &str, title: &str, findings: Vec<&Finding>, message: &str) -> String {
    let place = findings
        .iter()
        .find_map(|f| f.location.as_ref())
        .map(|at| format!("file={},line={},", escape_property(&at.file), at.line))
        .unwrap_or_default();
    format!(
        "::{command} {place}title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

fn leaks(test: &TestReport) -> Vec<&Finding> {
    test.findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Leak)
        .collect()
}

/// A line per kind among `findings`: `KIND: HINT`.
fn push_hints(message: &mut String, findings: &[&Finding]) {
    let mut seen = Vec::new();
    for finding in findings {
        if let Some(hint) = finding
            .hint
            .as_ref()
            .filter(|_| !seen.contains(&finding.kind))
        {
            seen.push(finding.kind);
            let _ = write!(message, "\n{}: {hint}", finding.kind);
        }
    }
}

fn failure_message(test: &TestReport) -> String {
    let leaks = leaks(test);
    let listed: Vec<String> = leaks.iter().map(ToString::to_string).collect();
    let mut message = if test.verdict == VerdictKind::Leaked {
        format!("{} leaked: {}", test.name, listed.join("; "))
    } else {
        format!("{} is unverified: {}", test.name, test.problems.join("; "))
    };
    push_hints(&mut message, &leaks);
    let allow = if test.allow.is_empty() {
        "none (no network allowed)".to_string()
    } else {
        test.allow.join(", ")
    };
    let _ = write!(message, "\nallow list: {allow}");
    message
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown job summary.
pub fn summary(report: &Report) -> String {
    let run: Vec<&TestReport> = report
        .tests
        .iter()
        .filter(|t| t.outcome != leakcheck::report::Outcome::Ignored)
        .collect();
    let leaked = run
        .iter()
        .filter(|t| t.verdict == VerdictKind::Leaked)
        .count();
    let unverified = run
        .iter()
        .filter(|t| t.verdict == VerdictKind::Unverified)
        .count();
    let mut out = String::new();
    let icon = if leaked + unverified > 0 {
        "❌"
    } else {
        "✅"
    };
    let _ = writeln!(
        out,
        "## {icon} leakcheck: {} tests, {leaked} leaked, {unverified} unverified\n",
        run.len()
    );
    let failing: Vec<&&TestReport> = run.iter().filter(|t| t.verdict.fails()).collect();
    if failing.is_empty() {
        let _ = writeln!(out, "No test reached the network outside the allow list.");
        return out;
    }
    let _ = writeln!(
        out,
        "| Test | Verdict | Kind | Destination | Syscall | Allow list |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut rows = 0usize;
    let mut left = 0usize;
    for test in failing {
        let allow = if test.allow.is_empty() {
            "(none)".to_string()
        } else {
            test.allow.join(", ")
        };
        let name = format!("`{}` ({})", cell(&test.name), cell(&test.binary));
        let leaks: Vec<_> = test
            .findings
            .iter()
            .filter(|f| f.severity == FindingSeverity::Leak)
            .collect();
        if leaks.is_empty() {
            if rows < MAX_ROWS {
                let why = test.problems.first().map(String::as_str).unwrap_or("");
                let _ = writeln!(
                    out,
                    "| {name} | {} | - | - | - | {} |\n| | | {} | | | |",
                    test.verdict,
                    cell(&allow),
                    cell(why)
                );
                rows += 1;
            } else {
                left += 1;
            }
        }
        for f in leaks {
            if rows >= MAX_ROWS {
                left += 1;
                continue;
            }
            let dest = f
                .destination
                .as_deref()
                .map(|d| format!("`{}`", cell(d)))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {dest} | {} | {} |",
                test.verdict,
                f.kind,
                f.syscall,
                cell(&allow)
            );
            rows += 1;
        }
    }
    if left > 0 {
        let _ = writeln!(
            out,
            "\n… and {left} more findings: see the JSON report (`target/leakcheck/report.json`)."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use leakcheck::report::Outcome;
    use leakcheck::verdict::{Location, Verdict};
    use leakcheck::Kind;

    #[test]
    fn escaping_follows_github() {
        assert_eq!(escape_data("a%b\r\nc"), "a%25b%0D%0Ac");
        assert_eq!(escape_property("x:y,z\n"), "x%3Ay%2Cz%0A");
    }

    fn dns(location: Option<Location>) -> Finding {
        Finding {
            kind: Kind::Dns,
            severity: FindingSeverity::Leak,
            syscall: "connect".into(),
            pid: 7,
            destination: Some("10.0.0.2:53".into()),
            trace: "7 connect(...) = 0".into(),
            occurrences: 1,
            note: None,
            program: Some("/usr/bin/getent".into()),
            location,
            query: Some("example.com (A)".into()),
            hint: Some(Kind::Dns.hint().into()),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        let verdict = Verdict::observed(findings, vec!["127.0.0.1:9050".into()]);
        Report {
            tests: vec![TestReport::new("demo", "t::dns", Outcome::Passed, &verdict)],
            ..Report::default()
        }
    }

    #[test]
    fn an_annotation_lands_on_the_findings_line_with_its_hint() {
        let at = Location {
            function: "demo::t::dns".into(),
            file: "src/lib.rs".into(),
            line: 12,
        };
        let lines = annotations(&report(vec![dns(None), dns(Some(at))]));
        assert_eq!(
            lines,
            [format!(
                "::error file=src/lib.rs,line=12,title=leakcheck%3A demo t%3A%3Adns::\
                 t::dns leaked: dns to 10.0.0.2:53 (connect()) for example.com (A); \
                 dns to 10.0.0.2:53 (connect()) for example.com (A)%0A\
                 dns: {}%0Aallow list: 127.0.0.1:9050",
                Kind::Dns.hint()
            )]
        );
        // Without a location the annotation is the run's: no file, no line.
        let lines = annotations(&report(vec![dns(None)]));
        assert!(lines[0].starts_with("::error title="), "{}", lines[0]);
    }
}
