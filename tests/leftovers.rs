//! What a traced command leaves running: stopped a second after it exits and named in
//! the report (or, with --keep-leftovers, traced until it ends within --timeout), under
//! both tracers. No network is involved.

use leakcheck_e2e::leakcheck;
use std::time::{Duration, Instant};

fn run(
    tracer: &str,
    extra: &[&str],
    script: &str,
) -> (Option<i32>, Duration, serde_json::Value, String) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let out = leakcheck()
        .args(["run", "--tracer", tracer, "--report"])
        .arg(report.path())
        .args(extra)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let json = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    (
        out.status.code(),
        elapsed,
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pid_alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn leftover_pids(report: &serde_json::Value) -> Vec<u64> {
    report["tests"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "leftover-process")
        .map(|f| f["pid"].as_u64().unwrap())
        .collect()
}

fn a_daemon_is_stopped_and_named(tracer: &str) {
    let (code, elapsed, report, stderr) = run(
        tracer,
        &["--timeout", "20"],
        "setsid sleep 25 >/dev/null 2>&1 &",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}: {stderr}"
    );
    let entry = &report["tests"][0];
    assert_eq!(entry["verdict"], "clean", "{report:#}");
    assert!(entry.to_string().contains("left sleep (pid"), "{report:#}");
    assert!(stderr.contains("leftover-process"), "{stderr}");
    let pids = leftover_pids(&report);
    assert_eq!(pids.len(), 1, "{report:#}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!pid_alive(pids[0]), "the daemon {} still runs", pids[0]);
}

fn keep_leftovers_traces_until_the_timeout(tracer: &str) {
    let (code, elapsed, report, stderr) = run(
        tracer,
        &["--keep-leftovers", "--timeout", "2"],
        "setsid sleep 25 >/dev/null 2>&1 &",
    );
    // Traced until --timeout: then unverified, and everything it started is stopped.
    assert_eq!(code, Some(1), "{stderr}");
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(10),
        "took {elapsed:?}: {stderr}"
    );
    assert_eq!(report["tests"][0]["verdict"], "unverified", "{report:#}");
}

fn a_command_without_leftovers_takes_no_grace(tracer: &str) {
    let (code, elapsed, report, stderr) = run(tracer, &[], "true");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(leftover_pids(&report).is_empty(), "{report:#}");
}

#[test]
fn native_stops_a_daemon() {
    a_daemon_is_stopped_and_named("native");
}

#[test]
fn strace_stops_a_daemon() {
    a_daemon_is_stopped_and_named("strace");
}

#[test]
fn native_keeps_leftovers_until_the_timeout() {
    keep_leftovers_traces_until_the_timeout("native");
}

#[test]
fn strace_keeps_leftovers_until_the_timeout() {
    keep_leftovers_traces_until_the_timeout("strace");
}

#[test]
fn native_without_leftovers() {
    a_command_without_leftovers_takes_no_grace("native");
}

#[test]
fn strace_without_leftovers() {
    a_command_without_leftovers_takes_no_grace("strace");
}
