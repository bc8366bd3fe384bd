//! `cargo leakcheck self-test`: leakcheck's positive controls, run on this machine.
//!
//! For every kind of DESIGN.md's table a control program makes exactly that kind of
//! attempt, and its clean twin makes the harmless attempt next to it ([`controls`]).
//! They are built into this binary ([`programs`], run as `cargo-leakcheck __control
//! NAME`: a user's machine has no C compiler), and each is traced with
//! [`leakcheck::check`] in a fresh network namespace, under every tracer this machine has
//! ([`machine`]): the native tracer with seccomp user notification, the native tracer
//! with ptrace stops only (`LEAKCHECK_NATIVE_NOTIFY=0`), and strace. Each tracer runs in
//! a [`worker`] process of its own, all at once. The reporter
//! ([`crate::reporter::self_test`]) prints the table and gives the exit status: 1 when a
//! control was missed or a twin flagged, 2 when the default tracer could not run every
//! control (what the machine lacks is named, with the fix), 0 otherwise.

pub mod controls;
pub mod machine;
pub mod programs;
pub mod worker;

use crate::error::Error;
use crate::process::ProcessBuilder;
use crate::reporter::self_test::{self as report, Check, Row, SelfTestReport};
use machine::{Machine, Variant, NOTIFY_ENV};
use std::ffi::OsString;
use std::io::Read;
use std::time::Instant;

/// The hidden first argument that runs a control program.
pub const CONTROL_ARG: &str = "__control";
/// The hidden first argument that runs a worker.
pub const WORKER_ARG: &str = "__self-test-worker";

/// The self-test's own processes: `cargo-leakcheck __control NAME` and
/// `cargo-leakcheck __self-test-worker TRACER`. None when `args` is neither.
pub fn hidden_entry(args: &[OsString]) -> Option<u8> {
    let first = args.get(1)?;
    let second = args.get(2).map(|a| a.to_string_lossy().into_owned());
    if first == CONTROL_ARG {
        let name = second.unwrap_or_default();
        return Some(programs::run(&name).unwrap_or_else(|| {
            let names: Vec<_> = programs::names().collect();
            eprintln!(
                "leakcheck: unknown control `{name}` (expected one of: {})",
                names.join(", ")
            );
            crate::exit::SETUP
        }));
    }
    if first == WORKER_ARG {
        return Some(worker::main(&second.unwrap_or_default()));
    }
    None
}

/// Runs the self-test; returns the exit status.
pub fn run() -> Result<u8, Error> {
    let started = Instant::now();
    let exe = std::env::current_exe()
        .map_err(|e| Error::Trace(format!("cannot find leakcheck's own program: {e}")))?;
    let machine = Machine::probe();
    let mut rows: Vec<Row> = Vec::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = machine
            .variants
            .iter()
            .map(|(variant, why_not)| {
                let why_not = why_not.clone().or_else(|| machine.no_namespace.clone());
                let exe = &exe;
                let variant = *variant;
                let worker = scope.spawn(move || match why_not {
                    Some(why) => worker::skipped(variant.label(), &why),
                    None => run_worker(exe, variant),
                });
                (variant, worker)
            })
            .collect();
        for (variant, worker) in workers {
            match worker.join() {
                Ok(found) => rows.extend(found),
                Err(_) => rows.extend(lost(variant.label(), "a self-test thread crashed")),
            }
        }
    });
    // Kind by kind, each under every tracer.
    let kinds: Vec<_> = controls::CONTROLS.iter().map(|c| c.kind.as_str()).collect();
    let tracers: Vec<_> = Variant::ALL.iter().map(|v| v.label()).collect();
    rows.sort_by_key(|r| {
        (
            kinds.iter().position(|k| *k == r.kind),
            tracers.iter().position(|t| *t == r.tracer),
        )
    });
    let report = SelfTestReport {
        tracers: machine.tracer_lines(),
        default_tracer: machine.default.map(|v| v.label().to_string()),
        rows,
        lacks: machine.lacks,
        elapsed: started.elapsed(),
    };
    Ok(report::show(&report))
}

/// Runs the worker of `variant` and reads its rows; a worker that dies or loses rows
/// fails them (a crash is no pass).
fn run_worker(exe: &std::path::Path, variant: Variant) -> Vec<Row> {
    let label = variant.label();
    let mut worker = ProcessBuilder::new(exe);
    worker
        .arg(WORKER_ARG)
        .arg(label)
        .env(NOTIFY_ENV, variant.notify_env());
    let mut child = match worker.spawn_reading_stdout() {
        Ok(child) => child,
        Err(e) => return worker::skipped(label, &format!("cannot start `{worker}`: {e}")),
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = child.wait();
    let mut rows: Vec<Row> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|row: &Row| row.tracer == label)
        .collect();
    let ended = match status {
        Ok(status) if status.success() => String::new(),
        Ok(status) => format!(" ({status})"),
        Err(e) => format!(" ({e})"),
    };
    for control in &controls::CONTROLS {
        let kind = control.kind.as_str();
        if !rows.iter().any(|r| r.kind == kind) {
            rows.extend(
                lost(
                    label,
                    &format!("the self-test worker `{worker}` ended without this result{ended}"),
                )
                .into_iter()
                .filter(|r| r.kind == kind),
            );
        }
    }
    rows
}

/// Every row failed for one reason.
fn lost(label: &str, why: &str) -> Vec<Row> {
    controls::CONTROLS
        .iter()
        .map(|control| Row {
            kind: control.kind.as_str().to_string(),
            tracer: label.to_string(),
            control: Check::Fail(why.to_string()),
            twin: Check::Fail(why.to_string()),
        })
        .collect()
}
