//! Where a run's time goes: marks taken at each stage (cargo's steps, listing, tracer
//! start, batch, runs of their own), shown with `--verbose` (or `LEAKCHECK_TIMINGS=1`),
//! so that a slow run can be explained without a profiler.

use std::sync::Mutex;
use std::time::{Duration, Instant};

static MARKS: Mutex<Vec<(Instant, String)>> = Mutex::new(Vec::new());
static START: Mutex<Option<Instant>> = Mutex::new(None);

/// Records that `stage` has just ended.
pub fn mark(stage: impl Into<String>) {
    let now = Instant::now();
    if let Ok(mut start) = START.lock() {
        start.get_or_insert(now);
    }
    if let Ok(mut marks) = MARKS.lock() {
        marks.push((now, stage.into()));
    }
}

/// Starts the clock (the first mark starts it otherwise).
pub fn start() {
    if let Ok(mut start) = START.lock() {
        *start = Some(Instant::now());
    }
}

/// Every stage with how long it took (since the mark before it) and when it ended
/// (since the start).
pub fn stages() -> Vec<(String, Duration, Duration)> {
    let start = START.lock().ok().and_then(|s| *s);
    let Some(start) = start else {
        return Vec::new();
    };
    let marks = MARKS.lock().map(|m| m.clone()).unwrap_or_default();
    let mut last = start;
    marks
        .into_iter()
        .map(|(at, stage)| {
            let took = at.saturating_duration_since(last);
            last = at;
            (stage, took, at.saturating_duration_since(start))
        })
        .collect()
}
