//! The human format: libtest's own lines on stdout, written as libtest writes them
//! (unpadded `test NAME ... ok`, ` - should panic` after a name, `ignored, REASON`, the
//! `failures:` blocks, `test result:` with the true time; or, with `-q` or `--format
//! terse`, libtest's dots), so that tools reading `cargo test` output read ours; a
//! warning on its own indented line under its test; leakcheck's own lines on stderr,
//! each starting with `leakcheck: `.

use super::events::{Event, Shown, TracingAlone};
use anstyle::{AnsiColor, Style};
use leakcheck::report::{render_streams, render_verdict, BinaryReport, Outcome, TestReport};
use leakcheck::standin::Stream;
use leakcheck::tracer::ProgramStatus;
use leakcheck::verdict::{Finding, FindingSeverity};
use leakcheck::{Kind, VerdictKind};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

const OK: Style = AnsiColor::Green.on_default();
const FAILED: Style = AnsiColor::Red.on_default();
const IGNORED: Style = AnsiColor::Yellow.on_default();

/// A test's line status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// `ok`
    Ok,
    /// `FAILED`
    Failed,
    /// `ignored`
    Ignored,
}

/// libtest's terse format starts a new line after this many results (and a failure's
/// line), with the count so far: ` 87/200`.
const TERSE_COLUMNS: usize = 87;

/// How the lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// libtest's terse format (`-q`, `--format terse`): a character per test.
    pub terse: bool,
    /// cargo's `-q`: no `Running ...` headers, none of leakcheck's progress lines.
    pub quiet: bool,
    /// `--verbose`: every test's streams through the stand-in proxy under its line (a
    /// failing test's are in its `failures:` entry anyway).
    pub verbose: bool,
}

/// Writes the human format; keeps the counts of the binary being run.
pub struct Human {
    color: bool,
    layout: Layout,
    block: Block,
}

/// One binary's `running ...` to `test result:`.
struct Block {
    started: Instant,
    passed: usize,
    failed: Vec<(String, String)>,
    ignored: usize,
    /// Tests shown so far, and how many will be (terse format's counts).
    shown: usize,
    total: usize,
    /// Characters on the terse format's current line.
    column: usize,
    /// The terse format's warning lines, written after the binary's.
    warnings: Vec<String>,
}

impl Block {
    fn new(total: usize) -> Block {
        Block {
            started: Instant::now(),
            passed: 0,
            failed: Vec::new(),
            ignored: 0,
            shown: 0,
            total,
            column: 0,
            warnings: Vec::new(),
        }
    }
}

impl Human {
    /// Colours `ok`, `FAILED` and `ignored` when `color`.
    pub fn new(color: bool, layout: Layout) -> Human {
        Human {
            color,
            layout,
            block: Block::new(0),
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// Writes what `event` shows.
    pub fn show(&mut self, event: &Event<'_>, out: &mut dyn Write, err: &mut dyn Write) {
        match event {
            Event::BinaryStarted { header, tests } => {
                if !self.layout.quiet {
                    // cargo's status line: the verb right-aligned in 12 columns.
                    let (verb, what) = header.split_once(' ').unwrap_or((header, ""));
                    let _ = writeln!(err, "{verb:>12} {what}");
                }
                let s = if *tests == 1 { "" } else { "s" };
                let _ = writeln!(out, "\nrunning {tests} test{s}");
                self.block = Block::new(*tests);
            }
            Event::TracingAlone(why) => {
                if !self.layout.quiet {
                    let _ = writeln!(err, "leakcheck: {}", tracing_alone(why));
                }
            }
            Event::TestFinished {
                entry,
                own_failure,
                shown,
            } => {
                let status = self.count(entry, *own_failure);
                let streams: &[Stream] = if self.layout.verbose {
                    &entry.streams
                } else {
                    &[]
                };
                if self.layout.terse {
                    let _ = write!(out, "{}", self.terse_result(entry, status));
                    // On stderr after the binary's lines: not in the middle of the dots.
                    self.block.warnings.extend(
                        warnings(entry).map(|w| format!("leakcheck: warning: {}: {w}", entry.name)),
                    );
                    self.block.warnings.extend(
                        streams
                            .iter()
                            .map(|s| format!("leakcheck: stream: {}: {}", entry.name, s.summary())),
                    );
                } else {
                    let _ = writeln!(out, "{}", self.test_line(entry, status, shown));
                    for warning in warnings(entry) {
                        let _ = writeln!(out, "    warning: {warning}");
                    }
                    for stream in streams {
                        let _ = writeln!(out, "    stream: {}", stream.summary());
                    }
                }
            }
            Event::BinaryFinished {
                filtered_out, own, ..
            } => {
                let _ = write!(out, "{}", self.test_result(*filtered_out));
                let _ = out.flush();
                for warning in &self.block.warnings {
                    let _ = writeln!(err, "{warning}");
                }
                if let Some(own) = own {
                    let _ = write!(err, "{}", binary_entry(own));
                }
            }
            Event::Amended { test, finding, .. } => {
                let _ = writeln!(err, "leakcheck: {test}: {finding}: {}", finding.trace);
            }
            Event::CommandStarted { command, isolated } => {
                let isolated = if *isolated {
                    " in an isolated network namespace"
                } else {
                    ""
                };
                let _ = writeln!(err, "leakcheck: tracing `{command}`{isolated}");
            }
            Event::CommandFinished {
                command,
                status,
                entry,
            } => {
                let _ = write!(err, "{}", command_finished(command, status, entry));
                if self.layout.verbose || entry.verdict.fails() {
                    let _ = write!(err, "{}", render_streams(&entry.streams, "leakcheck: "));
                }
            }
            Event::WrapFinished { entry } => {
                let _ = write!(err, "{}", wrap_finished(entry));
            }
        }
    }

    /// Counts a finished test (keeping a failure's entry); returns its status.
    fn count(&mut self, entry: &TestReport, own_failure: Option<&str>) -> Status {
        let status = if entry.outcome == Outcome::Ignored {
            Status::Ignored
        } else if entry.verdict.fails() || own_failure.is_some() {
            Status::Failed
        } else {
            Status::Ok
        };
        match status {
            Status::Ok => self.block.passed += 1,
            Status::Failed => self
                .block
                .failed
                .push((entry.name.clone(), failure_text(entry, own_failure))),
            Status::Ignored => self.block.ignored += 1,
        }
        status
    }

    /// A test's `test NAME ... STATUS` line, as libtest's pretty format writes it:
    /// `test NAME - should panic ... ok`, `test NAME ... ignored, REASON`.
    fn test_line(&self, entry: &TestReport, status: Status, shown: &Shown) -> String {
        let word = match status {
            Status::Ok => self.paint(OK, "ok"),
            Status::Failed => self.paint(FAILED, "FAILED"),
            Status::Ignored => match &shown.ignore_reason {
                Some(reason) => self.paint(IGNORED, &format!("ignored, {reason}")),
                None => self.paint(IGNORED, "ignored"),
            },
        };
        match &shown.mode {
            Some(mode) => format!("test {} - {mode} ... {word}", entry.name),
            None => format!("test {} ... {word}", entry.name),
        }
    }

    /// What libtest's terse format writes for a test: `.`, `i`, or a line of its own,
    /// `NAME --- FAILED`, after the count so far; a new line every [`TERSE_COLUMNS`]
    /// results.
    fn terse_result(&mut self, entry: &TestReport, status: Status) -> String {
        let block = &mut self.block;
        let mut text = String::new();
        let char = match status {
            Status::Ok => (OK, "."),
            Status::Ignored => (IGNORED, "i"),
            Status::Failed => {
                if block.column > 0 {
                    let _ = writeln!(text, " {}/{}", block.shown, block.total);
                    block.column = 0;
                }
                block.shown += 1;
                let failed = self.paint(FAILED, "FAILED");
                let _ = writeln!(text, "{} --- {failed}", entry.name);
                return text;
            }
        };
        block.shown += 1;
        block.column += 1;
        let at_end = block.column == TERSE_COLUMNS;
        if at_end {
            block.column = 0;
        }
        let (shown, total) = (block.shown, block.total);
        text.push_str(&self.paint(char.0, char.1));
        if at_end {
            let _ = writeln!(text, " {shown}/{total}");
        }
        text
    }

    /// The `failures:` section and the `test result:` line of the binary just run.
    fn test_result(&self, filtered_out: usize) -> String {
        let block = &self.block;
        let ok = block.failed.is_empty();
        let mut out = String::new();
        if !ok {
            out.push_str("\nfailures:\n\n");
            for (name, text) in &block.failed {
                let _ = write!(out, "---- {name} stdout ----\n{text}");
                if !text.ends_with('\n') {
                    out.push('\n');
                }
                out.push('\n');
            }
            out.push_str("\nfailures:\n");
            for (name, _) in &block.failed {
                let _ = writeln!(out, "    {name}");
            }
        }
        let word = if ok {
            self.paint(OK, "ok")
        } else {
            self.paint(FAILED, "FAILED")
        };
        let _ = writeln!(
            out,
            "\ntest result: {word}. {} passed; {} failed; {} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s",
            block.passed,
            block.failed.len(),
            block.ignored,
            block.started.elapsed().as_secs_f64(),
        );
        // libtest ends its output with a blank line.
        out.push('\n');
        out
    }
}

/// A failing test's `failures:` entry: when the verdict fails it, how the test itself
/// ended and the verdict; then what the test itself said.
fn failure_text(entry: &TestReport, own_failure: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(ended) = how_it_ended(entry) {
        let _ = writeln!(text, "{ended}");
        text.push_str(&render_verdict(&entry.verdict(), ""));
        text.push_str(&render_streams(&entry.streams, ""));
    }
    text.push_str(own_failure.unwrap_or(""));
    text
}

/// The first line of a failing verdict's entry: the test's own end, then the verdict
/// (`the test passed; it leaked`), so that nobody reads a leak as a test failure or the
/// other way round.
pub fn how_it_ended(entry: &TestReport) -> Option<&'static str> {
    Some(match (entry.outcome, entry.verdict) {
        (Outcome::Passed, VerdictKind::Leaked) => "the test passed; it leaked",
        (Outcome::Failed, VerdictKind::Leaked) => "the test failed and leaked",
        (Outcome::TimedOut, VerdictKind::Leaked) => "the test timed out and leaked",
        (Outcome::Passed, VerdictKind::Unverified) => "the test passed; it is unverified",
        (Outcome::Failed, VerdictKind::Unverified) => "the test failed and is unverified",
        (Outcome::TimedOut, VerdictKind::Unverified) => "the test timed out and is unverified",
        _ => return None,
    })
}

/// A test's warnings, one line each: `listen 0.0.0.0:8080 by listen() (pid 7)`.
pub fn warnings(entry: &TestReport) -> impl Iterator<Item = String> + '_ {
    entry
        .findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Warning)
        .map(warning_line)
}

fn warning_line(finding: &Finding) -> String {
    let times = if finding.occurrences > 1 {
        format!(" ({} times)", finding.occurrences)
    } else {
        String::new()
    };
    if finding.kind == Kind::LeftoverProcess || finding.kind.of_streams() {
        // Its trace line says what was left (`left sleep (pid 7) running; stopped it`),
        // or which stream and what is wrong with it: the destination is only the proxy.
        return format!("{}: {}{times}", finding.kind, finding.trace);
    }
    let destination = finding
        .destination
        .as_deref()
        .map(|d| format!(" {d}"))
        .unwrap_or_default();
    format!(
        "{}{destination} by {}() (pid {}){times}",
        finding.kind, finding.syscall, finding.pid
    )
}

/// Why tests are traced alone, in a sentence.
fn tracing_alone(why: &TracingAlone) -> String {
    match why {
        TracingAlone::Every { why } => format!(
            "{}; tracing each test on its own",
            why.as_deref()
                .unwrap_or("the batch run made attempts that no test's thread made")
        ),
        TracingAlone::Suspects { suspects, of } => format!(
            "{suspects} of {of} tests may have leaked or failed; tracing each of them on its own"
        ),
        TracingAlone::Others { count } => format!(
            "the batch run made attempts that no test's own run reproduced; tracing the other {count} tests on their own"
        ),
    }
}

/// A binary's own entry, on stderr after its `test result:` line.
fn binary_entry(own: &BinaryReport) -> String {
    format!(
        "leakcheck: {}: what no test can be named for:\n{}{}",
        own.binary,
        render_verdict(&own.verdict(), "  "),
        render_streams(&own.streams, "  ")
    )
}

/// A wrapped test's lines on stderr: its failing verdict (how the test ended, then the
/// verdict), or its warnings; nothing for a clean test.
fn wrap_finished(entry: &TestReport) -> String {
    let mut text = String::new();
    if let Some(ended) = how_it_ended(entry) {
        let _ = writeln!(text, "leakcheck: {} {}: {ended}", entry.binary, entry.name);
        text.push_str(&render_verdict(&entry.verdict(), "leakcheck: "));
        text.push_str(&render_streams(&entry.streams, "leakcheck: "));
    } else {
        for warning in warnings(entry) {
            let _ = writeln!(text, "leakcheck: warning: {warning}");
        }
    }
    text
}

/// How a traced command ended, and its verdict.
fn command_finished(command: &str, status: &ProgramStatus, entry: &TestReport) -> String {
    format!(
        "leakcheck: `{command}` finished: {status}\n{}",
        render_verdict(&entry.verdict(), "leakcheck: ")
    )
}
