//! leakcheck: turns proxy leaks into failing tests.
//!
//! The data flow follows DESIGN.md: a [`Policy`] says what a program may reach; a
//! [`tracer::Tracer`] runs the program and hands each traced call to an
//! [`Observer`](tracer::Observer) as an [`Event`] (the native tracer builds it from the
//! call; the strace backend parses strace's text with [`syntax`]), with how the trace
//! shows it ([`syntax::Shown`], rendered only when a finding quotes it); the
//! [`attribution`] of tasks to tests and the [`judge::Judge`] turn events into
//! [`Finding`]s and a [`Verdict`], asking [`ports`] what the trace cannot tell; [`stack`]
//! tells where in the workspace's code a finding's attempt was made (its `location`); the
//! [`report`] module writes what users read.
//!
//! ```text
//! tracer::native ── syntax::Line ──┐ (event_kind; rendered for quotes and KEEP_TRACE)
//!                                   ├─> (Event, Shown) ─> Observer ─> Judge ─> Verdict
//! tracer::strace ── text ─ syntax::Parser ┘                  ^
//!                                          ports (live look-ups)
//! ```

pub mod attribution;
pub mod event;
mod hints;
#[cfg(target_os = "linux")]
pub mod judge;
pub mod kind;
#[doc(hidden)]
pub mod leak_free;
#[cfg(target_os = "linux")]
pub mod leftover;
#[cfg(target_os = "linux")]
mod pidfd;
pub mod policy;
#[cfg(target_os = "linux")]
pub mod ports;
#[cfg(target_os = "linux")]
mod query;
pub mod report;
#[cfg(target_os = "linux")]
pub mod stack;
#[cfg(target_os = "linux")]
pub mod standin;
#[cfg(target_os = "linux")]
pub mod syntax;
#[cfg(target_os = "linux")]
pub mod tracer;
pub mod verdict;

#[cfg(target_os = "linux")]
pub use tracer::{isolate, native};

/// The trace parser, by its former path: now part of [`syntax`].
#[cfg(target_os = "linux")]
pub mod parser {
    pub use crate::syntax::{parse_string, split_pid, ParseError, Parser};
}

pub use event::{Event, SockAddr};
pub use kind::{Kind, Severity};
pub use leakcheck_macros::leak_free;
pub use policy::{Endpoint, Policy, PolicyConfig, PolicyError};
pub use verdict::{Finding, Location, Verdict, VerdictKind};

#[cfg(target_os = "linux")]
use judge::Judge;
#[cfg(target_os = "linux")]
use syntax::{ParseError, Parser, Shown};
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
    /// The streams the stand-in proxy served (empty without `--stand-in`).
    pub streams: Vec<standin::Stream>,
}

/// Traces `cmd` with `tracer` and judges it under `policy`: the whole pipeline of
/// DESIGN.md in one call. Judging happens while the program runs, event by event, so a
/// trace is never held in memory.
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
    let streams = judge.all_streams();
    Ok(Checked {
        verdict: judge.finish_with(late),
        run,
        streams,
    })
}

/// Traces `cmd` and feeds every event to a judge, returning the judge before its
/// verdict: the caller may then judge the same trace under several policies
/// ([`Judge::finish_with`] on clones).
#[cfg(target_os = "linux")]
pub fn trace(
    tracer: &dyn Tracer,
    cmd: &TracedCommand,
    policy: Policy,
) -> Result<(Judge, RunResult), TraceError> {
    let mut judge = Judge::new(policy);
    if let Some(workspace) = workspace_of(cmd) {
        judge.set_workspace(workspace);
    }
    // The stand-in proxy (`--stand-in`) serves the allowed endpoints in a namespace made
    // for this run, which the program joins.
    let mut standing = None;
    let staged;
    let cmd = match &cmd.stand_in {
        Some(plan) => {
            let serving = plan.start(judge.policy()).map_err(TraceError::StandIn)?;
            judge.set_stand_in(serving.tcp.clone());
            let mut joined = cmd.clone();
            joined.isolate_network = true;
            // Tells a `#[leak_free]` test which stand-in it runs with, where the runner
            // asked (set the variable): it runs a test again when the test asks for
            // another. Elsewhere (`cargo leakcheck run`) every body runs as it can.
            if joined.env.iter().any(|(k, _)| k == standin::STAND_IN_ENV) {
                joined
                    .env
                    .push((standin::STAND_IN_ENV.into(), serving.offer().text().into()));
            }
            joined.sandbox = Some(serving.sandbox());
            staged = joined;
            standing = Some(serving);
            &staged
        }
        None => cmd,
    };
    // Live look-ups (ports.rs): sockets the program inherits are judged before it starts;
    // while it runs, the judge's questions about the event just observed (who holds a
    // loopback port, what a descriptor the trace never showed is) are answered at once.
    judge.note_inherited(std::process::id(), &ports::inherited_ip_sockets());
    judge.set_live(true);
    let mut pipeline = Pipeline {
        judge: &mut judge,
        live: ports::LiveLookups::new(cmd.isolate_network),
        // LEAKCHECK_KEEP_TRACE=PATH keeps a copy of the raw trace, for bug reports.
        keep: std::env::var_os("LEAKCHECK_KEEP_TRACE")
            .and_then(|path| std::fs::File::create(path).ok())
            .map(std::io::BufWriter::new),
    };
    let run = tracer.run(cmd, &mut pipeline)?;
    drop(pipeline);
    // What follows is judged from the trace alone: the processes are gone.
    judge.set_live(false);
    for problem in &run.problems {
        judge.problem(problem.clone());
    }
    for leftover in &run.leftovers {
        judge.leftover(leftover);
    }
    if let Some(serving) = standing {
        judge.streams(serving.finish());
    }
    Ok((judge, run))
}

/// What a traced run's events go through: the judge, with the live look-ups answering its
/// questions, and the kept trace.
#[cfg(target_os = "linux")]
struct Pipeline<'a> {
    judge: &'a mut Judge,
    live: ports::LiveLookups,
    keep: Option<std::io::BufWriter<std::fs::File>>,
}

#[cfg(target_os = "linux")]
impl tracer::Observer for Pipeline<'_> {
    fn event(&mut self, event: &Event, shown: Shown<'_>) {
        self.judge.observe(event, shown);
        self.live.answer(self.judge);
    }

    fn unreadable(&mut self, error: &ParseError) {
        self.judge.parse_error(error);
    }

    fn ended(&mut self) {
        self.judge.set_live(false);
    }

    fn wants_text(&self) -> bool {
        self.keep.is_some()
    }

    fn text(&mut self, line: &str) {
        if let Some(keep) = self.keep.as_mut() {
            use std::io::Write;
            let _ = writeln!(keep, "{line}");
        }
    }

    fn wants_stack(&self) -> bool {
        self.judge.wants_stack()
    }
}

/// The source tree whose code `cmd`'s findings' locations name: the one it says, else the
/// cargo workspace around the directory it runs in (or that directory).
#[cfg(target_os = "linux")]
fn workspace_of(cmd: &TracedCommand) -> Option<stack::Workspace> {
    if let Some(root) = &cmd.workspace {
        return Some(stack::Workspace::new(root));
    }
    let current = std::env::current_dir().ok();
    let dir = match (&cmd.cwd, current) {
        (Some(cwd), Some(current)) => current.join(cwd),
        (Some(cwd), None) => cwd.clone(),
        (None, current) => current?,
    };
    Some(stack::Workspace::around(&dir))
}

/// Judges a recorded trace (one strace line per item) under `policy`: what [`check`]
/// does, without running anything. Used for traces that must not be produced live.
#[cfg(target_os = "linux")]
pub fn judge_trace<'a>(lines: impl IntoIterator<Item = &'a str>, policy: Policy) -> Verdict {
    let mut parser = Parser::new();
    let mut judge = Judge::new(policy);
    if let Some(workspace) = workspace_of(&TracedCommand::default()) {
        judge.set_workspace(workspace);
    }
    for line in lines {
        if let Err(error) = parser.feed(line, &mut |event, shown| judge.observe(&event, shown)) {
            judge.parse_error(&error);
        }
    }
    let unfinished = parser.finish();
    for error in &unfinished.errors {
        judge.parse_error(error);
    }
    for (event, text) in &unfinished.calls {
        judge.observe(event, Shown::Text(text));
    }
    judge.finish()
}
