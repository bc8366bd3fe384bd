//! A worker (`cargo-leakcheck __self-test-worker VARIANT`): traces every control and twin
//! under one tracer, each in a fresh network namespace, and writes one JSON [`Row`] per
//! kind on stdout. The self-test runs one worker per tracer, at the same time: the
//! native tracer reads [`NOTIFY_ENV`](super::machine::NOTIFY_ENV) in the tracing
//! process, so the two native variants need processes of their own.

use super::controls::{Control, CONTROLS};
use super::machine::Variant;
use crate::reporter::self_test::{Check, Row};
use leakcheck::tracer::{Backend, TraceError, TracedCommand};
use leakcheck::{Checked, Kind};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Traced runs at once in one worker: each is short and mostly waits (the leftover
/// control waits a second for its child), so a few more than the cores.
const RUNS_AT_ONCE: usize = 4;

/// A program that takes longer than this is stopped (every one ends in milliseconds).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the worker for `label`; returns its exit status.
pub fn main(label: &str) -> u8 {
    let Some(variant) = Variant::from_label(label) else {
        eprintln!("leakcheck: unknown self-test tracer `{label}`");
        return crate::exit::SETUP;
    };
    let rows = match (
        std::env::current_exe(),
        Backend::select(Some(variant.backend())),
    ) {
        (Ok(exe), Ok(tracer)) => rows(&tracer, &exe, label),
        (Err(e), _) => skipped(label, &format!("cannot find leakcheck's own program: {e}")),
        (_, Err(e)) => skipped(label, &e.to_string()),
    };
    for row in rows {
        match serde_json::to_string(&row) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("leakcheck: cannot write a self-test result: {e}");
                return crate::exit::SETUP;
            }
        }
    }
    crate::exit::CLEAN
}

/// Every control and twin, traced by `tracer`: one row per kind.
fn rows(tracer: &Backend, exe: &Path, label: &str) -> Vec<Row> {
    // (control index, twin?), taken from the end. The leftover control takes longest (the
    // program it leaves is stopped a second after it ends): it goes last, to start first.
    let mut jobs: Vec<(usize, bool)> = (0..CONTROLS.len())
        .flat_map(|i| [(i, false), (i, true)])
        .collect();
    jobs.sort_by_key(|&(i, twin)| CONTROLS[i].kind == Kind::LeftoverProcess && !twin);
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..RUNS_AT_ONCE {
            scope.spawn(|| loop {
                let job = queue.lock().map(|mut q| q.pop()).ok().flatten();
                let Some((index, twin)) = job else { break };
                let check = run(tracer, exe, &CONTROLS[index], twin);
                if let Ok(mut results) = results.lock() {
                    results.push((index, twin, check));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let find = |index: usize, twin: bool| {
        results
            .iter()
            .find(|(i, t, _)| *i == index && *t == twin)
            .map(|(_, _, check)| check.clone())
            .unwrap_or_else(|| Check::Fail("the worker lost this result".to_string()))
    };
    CONTROLS
        .iter()
        .enumerate()
        .map(|(index, control)| Row {
            kind: control.kind.as_str().to_string(),
            tracer: label.to_string(),
            control: find(index, false),
            twin: find(index, true),
        })
        .collect()
}

/// Traces the control (or its twin) and judges it.
fn run(tracer: &Backend, exe: &Path, control: &Control, twin: bool) -> Check {
    let program = if twin {
        control.twin_program()
    } else {
        control.program().to_string()
    };
    let result = trace(tracer, exe, &program, control);
    if twin {
        control.judge_twin(result)
    } else {
        control.judge_control(result)
    }
}

fn trace(
    tracer: &Backend,
    exe: &Path,
    program: &str,
    control: &Control,
) -> Result<Checked, TraceError> {
    let mut cmd = TracedCommand::new(exe, ["__control", program]);
    cmd.isolate_network = true;
    cmd.capture_output = true;
    cmd.timeout = Some(TIMEOUT);
    leakcheck::check(tracer, &cmd, control.policy())
}

/// Every row skipped for one reason.
pub fn skipped(label: &str, why: &str) -> Vec<Row> {
    CONTROLS
        .iter()
        .map(|control| Row {
            kind: control.kind.as_str().to_string(),
            tracer: label.to_string(),
            control: Check::Skipped(why.to_string()),
            twin: Check::Skipped(why.to_string()),
        })
        .collect()
}
