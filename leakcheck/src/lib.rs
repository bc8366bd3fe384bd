//! leakcheck: turns proxy leaks into failing tests.
//!
//! The data flow follows DESIGN.md: a [`Policy`] says what a program may reach; a
//! [`tracer::Tracer`] runs the program and yields strace lines; the [`parser`] turns each
//! line into an [`Event`]; the [`judge::Judge`] turns events into [`Finding`]s and a
//! [`Verdict`]; the [`report`] module writes what users read.

pub mod attribution;
pub mod event;
#[cfg(target_os = "linux")]
pub mod isolate;
#[cfg(target_os = "linux")]
pub mod judge;
pub mod kind;
#[doc(hidden)]
pub mod leak_free;
#[cfg(target_os = "linux")]
pub mod leftover;
#[cfg(target_os = "linux")]
pub mod native;
pub mod parser;
pub mod policy;
#[cfg(target_os = "linux")]
pub mod ports;
pub mod report;
#[cfg(target_os = "linux")]
pub mod standin;
#[cfg(target_os = "linux")]
pub mod tracer;
pub mod verdict;

pub use event::{Event, SockAddr};
pub use kind::{Kind, Severity};
pub use leakcheck_macros::leak_free;
pub use policy::{Endpoint, Policy, PolicyConfig, PolicyError};
pub use verdict::{Finding, Verdict, VerdictKind};

#[cfg(target_os = "linux")]
use judge::Judge;
#[cfg(target_os = "linux")]
use parser::Parser;
#[cfg(target_os = "linux")]
use tracer::{RunResult, TraceError, TracedCommand, Tracer};

/// A traced run and the judge's verdict on it.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone)]
pub struct Checked {
    /// The verdict, with every finding.
    pub verdict: Verdict,
    /// How the program ran.
    pub run: RunResult,
}

/// Traces `cmd` with `tracer` and judges it under `policy`: the whole pipeline of
/// DESIGN.md in one call. Parsing and judging happen while the program runs, line by
/// line, so a trace is never held in memory.
#[cfg(target_os = "linux")]
pub fn check(
    tracer: &dyn Tracer,
    cmd: &TracedCommand,
    policy: Policy,
) -> Result<Checked, TraceError> {
    check_with_late_policy(tracer, cmd, policy, || Ok(None))
}

/// [`check`], where `late` may replace the policy once the program has ended (the
/// policy of a `#[leak_free]` attribute, which the test reports as it runs). An error
/// from `late` makes the verdict unverified.
#[cfg(target_os = "linux")]
pub fn check_with_late_policy(
    tracer: &dyn Tracer,
    cmd: &TracedCommand,
    policy: Policy,
    late: impl FnOnce() -> Result<Option<Policy>, String>,
) -> Result<Checked, TraceError> {
    let (mut judge, run) = trace(tracer, cmd, policy)?;
    let late = match late() {
        Ok(policy) => policy,
        Err(problem) => {
            judge.problem(problem);
            None
        }
    };
    Ok(Checked {
        verdict: judge.finish_with(late),
        run,
    })
}

/// Traces `cmd` and feeds every line to a judge, returning the judge before its verdict:
/// the caller may then judge the same trace under several policies
/// ([`Judge::finish_with`] on clones).
#[cfg(target_os = "linux")]
pub fn trace(
    tracer: &dyn Tracer,
    cmd: &TracedCommand,
    policy: Policy,
) -> Result<(Judge, RunResult), TraceError> {
    let mut parser = Parser::new();
    let mut judge = Judge::new(policy);
    let mut events = Vec::new();
    // Live look-ups (ports.rs): sockets the program inherits are judged before it starts;
    // while it runs, the judge's questions about the event just observed (who holds a
    // loopback port, what a descriptor the trace never showed is) are answered at once.
    let mut live = ports::LiveLookups::new(cmd.isolate_network);
    judge.note_inherited(std::process::id(), &ports::inherited_ip_sockets());
    judge.set_live(true);
    // LEAKCHECK_KEEP_TRACE=PATH keeps a copy of the raw trace, for bug reports.
    let mut keep = std::env::var_os("LEAKCHECK_KEEP_TRACE")
        .and_then(|path| std::fs::File::create(path).ok())
        .map(std::io::BufWriter::new);
    let mut sink = |line: &str| {
        if let Some(keep) = keep.as_mut() {
            use std::io::Write;
            let _ = writeln!(keep, "{line}");
        }
        events.clear();
        match parser.parse_line(line, &mut events) {
            Ok(()) => {
                for event in &events {
                    judge.observe(event, line);
                    live.answer(&mut judge);
                }
            }
            Err(error) => judge.parse_error(&error),
        }
    };
    let run = tracer.run(cmd, &mut sink)?;
    // What follows is judged from the trace alone: the processes are gone.
    judge.set_live(false);
    let mut leftover = Vec::new();
    for error in parser.take_unfinished(&mut leftover) {
        judge.parse_error(&error);
    }
    for event in &leftover {
        let text = event.joined.clone().unwrap_or_default();
        judge.observe(event, &text);
    }
    for problem in &run.problems {
        judge.problem(problem.clone());
    }
    for leftover in &run.leftovers {
        judge.leftover(leftover);
    }
    Ok((judge, run))
}

/// Judges a recorded trace (one strace line per item) under `policy`: what [`check`]
/// does, without running anything. Used for traces that must not be produced live.
#[cfg(target_os = "linux")]
pub fn judge_trace<'a>(lines: impl IntoIterator<Item = &'a str>, policy: Policy) -> Verdict {
    let mut parser = Parser::new();
    let mut judge = Judge::new(policy);
    let mut events = Vec::new();
    for line in lines {
        events.clear();
        match parser.parse_line(line, &mut events) {
            Ok(()) => events.iter().for_each(|e| judge.observe(e, line)),
            Err(error) => judge.parse_error(&error),
        }
    }
    events.clear();
    for error in parser.take_unfinished(&mut events) {
        judge.parse_error(&error);
    }
    for event in &events {
        let text = event.joined.clone().unwrap_or_default();
        judge.observe(event, &text);
    }
    judge.finish()
}
