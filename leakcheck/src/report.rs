//! What users read: the JSON report of DESIGN.md and the human wording of a verdict and
//! of a finding (the CLI's output, `#[leak_free]`'s failure message and GitHub's
//! annotations all word them here).

use crate::verdict::{Finding, FindingSeverity, Location, Verdict, VerdictKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// The report's format version.
pub const REPORT_VERSION: u32 = 1;

/// A test's own result, independent of the leak verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The test (or command) succeeded.
    Passed,
    /// It failed (non-zero exit, panic, crash).
    Failed,
    /// It was not run.
    Ignored,
    /// It ran past its timeout.
    TimedOut,
}

impl Outcome {
    /// The name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Ignored => "ignored",
            Outcome::TimedOut => "timed-out",
        }
    }
}

/// One test (or one traced command) in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    /// The test binary (or the command's program name).
    pub binary: String,
    /// The test's full name (or the command line).
    pub name: String,
    /// The test's own result.
    pub outcome: Outcome,
    /// clean, leaked or unverified.
    pub verdict: VerdictKind,
    /// Every leak and warning.
    pub findings: Vec<Finding>,
    /// Why the verdict is unverified, when it is.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
    /// The allow list that applied.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Wall time in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_ms: Option<u64>,
    /// The streams the stand-in proxy served this test (`--stand-in`).
    #[cfg(target_os = "linux")]
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub streams: Vec<crate::standin::Stream>,
}

impl TestReport {
    /// A report entry from a verdict.
    pub fn new(binary: &str, name: &str, outcome: Outcome, verdict: &Verdict) -> TestReport {
        TestReport {
            binary: binary.to_string(),
            name: name.to_string(),
            outcome,
            verdict: verdict.verdict,
            findings: verdict.findings.clone(),
            problems: verdict.problems.clone(),
            allow: verdict.allow.clone(),
            duration_ms: None,
            #[cfg(target_os = "linux")]
            streams: Vec::new(),
        }
    }

    /// The verdict this entry records.
    pub fn verdict(&self) -> Verdict {
        Verdict {
            verdict: self.verdict,
            findings: self.findings.clone(),
            problems: self.problems.clone(),
            allow: self.allow.clone(),
        }
    }

    /// Records `verdict`'s conclusion, findings and problems (the allow list stays the
    /// entry's).
    pub fn set_verdict(&mut self, verdict: Verdict) {
        self.verdict = verdict.verdict;
        self.findings = verdict.findings;
        self.problems = verdict.problems;
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Format version: 1.
    pub version: u32,
    /// Every test, in the order they were listed.
    pub tests: Vec<TestReport>,
    /// Findings of a test binary that no test can be named for (seen in a batch run, made
    /// by no test's thread, reproduced by no test alone): they fail the run.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub binaries: Vec<BinaryReport>,
}

/// A test binary's own entry: what it did that belongs to no test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryReport {
    /// The test binary.
    pub binary: String,
    /// leaked (or clean with warnings only).
    pub verdict: VerdictKind,
    /// What it did.
    pub findings: Vec<Finding>,
    /// The allow list that applied.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The stand-in's streams no test opened: the `--list` runs', and those of tasks no
    /// test started (a static initializer, a thread of the binary's own).
    #[cfg(target_os = "linux")]
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub streams: Vec<crate::standin::Stream>,
}

impl BinaryReport {
    /// A binary's own entry from the verdict on what no test can be named for.
    pub fn new(binary: &str, verdict: Verdict) -> BinaryReport {
        BinaryReport {
            binary: binary.to_string(),
            verdict: verdict.verdict,
            findings: verdict.findings,
            allow: verdict.allow,
            #[cfg(target_os = "linux")]
            streams: Vec::new(),
        }
    }

    /// The verdict this entry records.
    pub fn verdict(&self) -> Verdict {
        Verdict {
            verdict: self.verdict,
            findings: self.findings.clone(),
            problems: Vec::new(),
            allow: self.allow.clone(),
        }
    }
}

impl Default for Report {
    fn default() -> Self {
        Report {
            version: REPORT_VERSION,
            tests: Vec::new(),
            binaries: Vec::new(),
        }
    }
}

impl Report {
    /// Writes the report as pretty JSON, creating parent directories, atomically (a
    /// reader never sees half a report).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }
}

/// The human text of a verdict: one block per finding (kind, destination, syscall, pid,
/// trace line; then, where known, the program, the name asked for, where in the code,
/// and the first time a kind appears how to fix it), the problems that made it
/// unverified, and the allow list in force. Each line starts with `indent`.
pub fn render_verdict(verdict: &Verdict, indent: &str) -> String {
    let mut out = String::new();
    let leaks = verdict.leaks().count();
    let warnings = verdict.findings.len() - leaks;
    match verdict.verdict {
        VerdictKind::Leaked => {
            let _ = writeln!(out, "{indent}LEAKED: {leaks} leak{}", plural(leaks));
        }
        VerdictKind::Unverified => {
            let _ = writeln!(
                out,
                "{indent}UNVERIFIED: the trace is incomplete, so this run cannot be called clean"
            );
        }
        VerdictKind::Clean => {
            let _ = writeln!(out, "{indent}clean: no network leak");
        }
        VerdictKind::NotRun => {
            let _ = writeln!(out, "{indent}not run: nothing was observed");
        }
    }
    let mut hinted = Vec::new();
    for finding in &verdict.findings {
        let tag = match finding.severity {
            FindingSeverity::Leak => "leak",
            FindingSeverity::Warning => "warning",
        };
        let dest = finding.destination.as_deref().unwrap_or("-");
        let times = if finding.occurrences > 1 {
            format!(" ({} times)", finding.occurrences)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{indent}  {tag:<7} {:<21} {dest}  {}() pid {}{times}",
            finding.kind, finding.syscall, finding.pid
        );
        let _ = writeln!(out, "{indent}          {}", finding.trace);
        if let Some(program) = &finding.program {
            let _ = writeln!(out, "{indent}          program: {program}");
        }
        if let Some(query) = &finding.query {
            let _ = writeln!(out, "{indent}          query: {query}");
        }
        if let Some(at) = &finding.location {
            let _ = writeln!(out, "{indent}          at {at}");
        }
        // Once per kind: a test with ten DNS findings needs the advice once.
        if let Some(hint) = finding
            .hint
            .as_ref()
            .filter(|_| !hinted.contains(&finding.kind))
        {
            hinted.push(finding.kind);
            let _ = writeln!(out, "{indent}          hint: {hint}");
        }
    }
    if warnings > 0 && verdict.verdict == VerdictKind::Clean {
        let _ = writeln!(
            out,
            "{indent}  ({warnings} warning{} only)",
            plural(warnings)
        );
    }
    for problem in &verdict.problems {
        let _ = writeln!(out, "{indent}  unverified: {problem}");
    }
    if verdict.verdict != VerdictKind::Clean || !verdict.findings.is_empty() {
        let allow = if verdict.allow.is_empty() {
            "(empty: no network allowed)".to_string()
        } else {
            verdict.allow.join(", ")
        };
        let _ = writeln!(out, "{indent}  allow list in force: {allow}");
    }
    out
}

/// The streams a test sent through the stand-in proxy, one line each under a heading
/// (nothing when there are none): `  streams through the stand-in proxy:` then
/// `    socks5 connect to example.com:80 on 127.0.0.1:9050, no credentials, ...`.
#[cfg(target_os = "linux")]
pub fn render_streams(streams: &[crate::standin::Stream], indent: &str) -> String {
    let mut out = String::new();
    if !streams.is_empty() {
        let _ = writeln!(out, "{indent}  streams through the stand-in proxy:");
        for stream in streams {
            let _ = writeln!(out, "{indent}    {}", stream.summary());
        }
    }
    out
}

/// A finding in one line: its kind, destination and call, and the name a lookup asked
/// for, e.g. `dns to 10.0.0.2:53 (connect()) for example.com (A)` (a GitHub annotation's
/// words).
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.destination {
            Some(dest) => write!(f, "{} to {dest} ({}())", self.kind, self.syscall)?,
            None => write!(f, "{} ({}())", self.kind, self.syscall)?,
        }
        match &self.query {
            Some(query) => write!(f, " for {query}"),
            None => Ok(()),
        }
    }
}

/// A location as the human output shows it: `FUNCTION (FILE:LINE)`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.function, self.file, self.line)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn finding(kind: Kind, severity: FindingSeverity, destination: Option<&str>) -> Finding {
        Finding {
            kind,
            severity,
            syscall: "connect".into(),
            pid: 42,
            destination: destination.map(String::from),
            trace: "42 connect(...) = 0".into(),
            occurrences: 1,
            note: None,
            program: None,
            location: None,
            query: None,
            hint: None,
        }
    }

    #[test]
    fn a_verdict_is_worded_as_users_read_it() {
        let mut leak = finding(Kind::Dns, FindingSeverity::Leak, Some("10.0.0.2:53"));
        leak.occurrences = 2;
        let warning = finding(Kind::Listen, FindingSeverity::Warning, None);
        let verdict = Verdict::observed(vec![leak.clone(), warning.clone()], vec![]);
        assert_eq!(
            render_verdict(&verdict, "> "),
            "> LEAKED: 1 leak\n\
             >   leak    dns                   10.0.0.2:53  connect() pid 42 (2 times)\n\
             >           42 connect(...) = 0\n\
             >   warning listen                -  connect() pid 42\n\
             >           42 connect(...) = 0\n\
             >   allow list in force: (empty: no network allowed)\n"
        );
        let mut who = leak.clone();
        who.occurrences = 1;
        who.program = Some("/usr/bin/getent".into());
        who.query = Some("example.com (A, AAAA)".into());
        who.location = Some(Location {
            function: "alpha::tests::dns_leak".into(),
            file: "alpha/src/lib.rs".into(),
            line: 35,
        });
        who.hint = Some(Kind::Dns.hint().into());
        let mut again = who.clone();
        again.destination = Some("unix:/run/nscd/socket".into());
        again.program = None;
        again.location = None;
        again.query = None;
        let verdict = Verdict::observed(vec![who.clone(), again], vec![]);
        assert_eq!(
            render_verdict(&verdict, ""),
            format!(
                "LEAKED: 2 leaks\n  \
                 leak    dns                   10.0.0.2:53  connect() pid 42\n          \
                 42 connect(...) = 0\n          \
                 program: /usr/bin/getent\n          \
                 query: example.com (A, AAAA)\n          \
                 at alpha::tests::dns_leak (alpha/src/lib.rs:35)\n          \
                 hint: {}\n  \
                 leak    dns                   unix:/run/nscd/socket  connect() pid 42\n          \
                 42 connect(...) = 0\n  \
                 allow list in force: (empty: no network allowed)\n",
                Kind::Dns.hint()
            )
        );
        assert_eq!(
            who.to_string(),
            "dns to 10.0.0.2:53 (connect()) for example.com (A, AAAA)"
        );
        let clean = Verdict::observed(vec![warning.clone()], vec!["127.0.0.1:9050".into()]);
        assert_eq!(clean.verdict, VerdictKind::Clean);
        assert!(render_verdict(&clean, "")
            .ends_with("  (1 warning only)\n  allow list in force: 127.0.0.1:9050\n"));
        assert_eq!(leak.to_string(), "dns to 10.0.0.2:53 (connect())");
        assert_eq!(warning.to_string(), "listen (connect())");
    }

    #[test]
    fn an_entry_gives_back_its_verdict() {
        let verdict = Verdict::unobserved("no trace", vec!["[::1]:1".into()]);
        let mut entry = TestReport::new("b", "t", Outcome::Failed, &verdict);
        assert_eq!(entry.verdict(), verdict);
        entry.set_verdict(Verdict::observed(Vec::new(), Vec::new()));
        assert_eq!(entry.verdict, VerdictKind::Clean);
        assert_eq!(entry.allow, vec!["[::1]:1".to_string()]);
    }
}
