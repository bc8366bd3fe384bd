//! Where a run's time goes: each stage (cargo's steps, listing, each binary's batch and
//! runs alone) with its own duration and when it ended, shown with `--verbose` (or
//! `LEAKCHECK_TIMINGS=1`), so that a slow run can be explained without a profiler.
//! Stages may overlap (the doctests are listed while the test binaries run).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A stage that ended: its name, how long it took, when it ended (since the start).
type Stage = (String, Duration, Instant);

static STAGES: Mutex<Vec<Stage>> = Mutex::new(Vec::new());
static CLOCK: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);

/// Starts the clock (the first stage starts it otherwise).
pub fn start() {
    if let Ok(mut clock) = CLOCK.lock() {
        let now = Instant::now();
        *clock = Some((now, now));
    }
}

/// Records that `stage` has just ended; it began where the last [`mark`] ended.
pub fn mark(stage: impl Into<String>) {
    let now = Instant::now();
    let began = match CLOCK.lock() {
        Ok(mut clock) => {
            let (_, last) = clock.get_or_insert((now, now));
            std::mem::replace(last, now)
        }
        Err(_) => now,
    };
    push(stage.into(), now.saturating_duration_since(began), now);
}

/// Records that `stage`, begun at `began`, has just ended (a stage that may overlap
/// others: it does not move [`mark`]'s clock).
pub fn span(stage: impl Into<String>, began: Instant) {
    let now = Instant::now();
    push(stage.into(), now.saturating_duration_since(began), now);
}

fn push(stage: String, took: Duration, at: Instant) {
    if let Ok(mut stages) = STAGES.lock() {
        stages.push((stage, took, at));
    }
}

/// The stages as lines for a reader, under a heading; nothing before the clock started.
pub fn render() -> String {
    let Some((start, _)) = CLOCK.lock().ok().and_then(|c| *c) else {
        return String::new();
    };
    let stages = STAGES.lock().map(|s| s.clone()).unwrap_or_default();
    if stages.is_empty() {
        return String::new();
    }
    let mut out = String::from("leakcheck: where the time went (each stage, and when it ended):\n");
    for (stage, took, at) in stages {
        out.push_str(&format!(
            "leakcheck:   {:>8.1} ms  {stage} (at {:.1} ms)\n",
            took.as_secs_f64() * 1e3,
            at.saturating_duration_since(start).as_secs_f64() * 1e3
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_shown_in_the_order_they_ended() {
        start();
        mark("first");
        let began = Instant::now();
        span("overlapping", began);
        mark("second");
        let shown = render();
        let first = shown.find("first (at").unwrap();
        let overlapping = shown.find("overlapping (at").unwrap();
        let second = shown.find("second (at").unwrap();
        assert!(first < overlapping && overlapping < second, "{shown}");
        assert!(
            shown.starts_with("leakcheck: where the time went"),
            "{shown}"
        );
    }
}
