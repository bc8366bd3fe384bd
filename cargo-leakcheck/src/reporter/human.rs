//! The human format: libtest's own lines on stdout, written as libtest writes them
//! (unpadded `test NAME ... ok`, the `failures:` blocks, `test result:` with the true
//! time), so that tools reading `cargo test` output read ours; leakcheck's own lines
//! on stderr, each starting with `leakcheck: `.

use super::events::{Event, TracingAlone};
use anstyle::{AnsiColor, Style};
use leakcheck::report::{render_verdict, BinaryReport, Outcome, TestReport};
use leakcheck::tracer::ProgramStatus;
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

/// Writes the human format; keeps the counts of the binary being run.
pub struct Human {
    color: bool,
    block: Block,
}

/// One binary's `running ...` to `test result:`.
struct Block {
    started: Instant,
    passed: usize,
    failed: Vec<(String, String)>,
    ignored: usize,
}

impl Block {
    fn new() -> Block {
        Block {
            started: Instant::now(),
            passed: 0,
            failed: Vec::new(),
            ignored: 0,
        }
    }
}

impl Human {
    /// Colours `ok`, `FAILED` and `ignored` when `color`.
    pub fn new(color: bool) -> Human {
        Human {
            color,
            block: Block::new(),
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
                let _ = writeln!(err, "     Running {header}");
                let s = if *tests == 1 { "" } else { "s" };
                let _ = writeln!(out, "\nrunning {tests} test{s}");
                self.block = Block::new();
            }
            Event::TracingAlone(why) => {
                let _ = writeln!(err, "leakcheck: {}", tracing_alone(why));
            }
            Event::TestFinished { entry, own_failure } => {
                let line = self.test_finished(entry, *own_failure);
                let _ = writeln!(out, "{line}");
            }
            Event::BinaryFinished {
                filtered_out, own, ..
            } => {
                let _ = write!(out, "{}", self.test_result(*filtered_out));
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
            }
        }
    }

    /// Counts a finished test; returns its `test NAME ... STATUS` line.
    fn test_finished(&mut self, entry: &TestReport, own_failure: Option<&str>) -> String {
        let status = if entry.outcome == Outcome::Ignored {
            Status::Ignored
        } else if entry.verdict.fails() || own_failure.is_some() {
            Status::Failed
        } else {
            Status::Ok
        };
        let word = match status {
            Status::Ok => {
                self.block.passed += 1;
                self.paint(OK, "ok")
            }
            Status::Failed => {
                self.block
                    .failed
                    .push((entry.name.clone(), failure_text(entry, own_failure)));
                self.paint(FAILED, "FAILED")
            }
            Status::Ignored => {
                self.block.ignored += 1;
                self.paint(IGNORED, "ignored")
            }
        };
        format!("test {} ... {word}", entry.name)
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
        out
    }
}

/// A failing test's `failures:` entry: the verdict when it fails, then what the test
/// itself said.
fn failure_text(entry: &TestReport, own_failure: Option<&str>) -> String {
    let mut text = String::new();
    if entry.verdict.fails() {
        text.push_str(&render_verdict(&entry.verdict(), ""));
    }
    text.push_str(own_failure.unwrap_or(""));
    text
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
        "leakcheck: {}: what no test can be named for:\n{}",
        own.binary,
        render_verdict(&own.verdict(), "  ")
    )
}

/// How a traced command ended, and its verdict.
fn command_finished(command: &str, status: &ProgramStatus, entry: &TestReport) -> String {
    format!(
        "leakcheck: `{command}` finished: {status}\n{}",
        render_verdict(&entry.verdict(), "leakcheck: ")
    )
}
