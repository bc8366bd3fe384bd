//! `LEAKCHECK_KEEP_TRACE` under the native tracer: the kept text is the trace in strace's
//! syntax, and judging it again (`judge_trace`) gives the findings the live run gave.
//!
//! The native tracer builds its events from the calls it stops and renders text only for
//! the kept trace and the findings' `trace` field; this checks that the two stay one
//! thing. Each probe runs in a fresh network namespace (`isolate_network`), so nothing it
//! tries leaves the machine. Probes whose verdict depends on the live look-ups (ports the
//! tree holds, descriptors the trace never showed) are left out: a replay has no live
//! system to ask.
//!
//! One test function: the variable is set once for this test binary.

use leakcheck::native::NativeBackend;
use leakcheck::policy::PolicyConfig;
use leakcheck::tracer::TracedCommand;
use leakcheck::{check, judge_trace, Policy, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;

const PROBES: [&str; 10] = [
    "connect_ipv4",
    "connect_ipv6_mapped_leak",
    "dns_udp",
    "sendmmsg_mixed",
    "sendmsg_name",
    "interface_enum_netlink",
    "interface_enum_siocgifconf",
    "unix_only_clean",
    "payload_fake_clean",
    "fork_child_connect",
];

fn probes_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/probes")
}

fn policy(allow: &[&str]) -> Policy {
    PolicyConfig::from_allow_list(allow, "test")
        .expect("allow list")
        .resolve("")
}

fn build(name: &str, out: &Path) -> PathBuf {
    let bin = out.join(name);
    let status = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&bin)
        .arg(probes_src().join(format!("{name}.c")))
        .status()
        .expect("cc");
    assert!(status.success(), "compiling {name}");
    bin
}

/// What a finding is, without the pid (a replay sees the same pids; the order of
/// findings within a severity is the trace's).
fn findings(v: &Verdict) -> Vec<(String, String, Option<String>, String)> {
    v.findings
        .iter()
        .map(|f| {
            (
                f.kind.to_string(),
                f.syscall.clone(),
                f.destination.clone(),
                f.trace.clone(),
            )
        })
        .collect()
}

#[test]
fn a_kept_native_trace_replays_to_the_same_findings() {
    if NativeBackend::new().is_none() {
        eprintln!("skipped: the native tracer does not run here");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = dir.path().join("kept.trace");
    // SAFETY (of the test): no other thread of this binary reads the environment.
    std::env::set_var("LEAKCHECK_KEEP_TRACE", &kept);
    let tracer = NativeBackend::new().expect("native");
    for name in PROBES {
        let probe = build(name, dir.path());
        let mut cmd = TracedCommand::new(&probe, Vec::<String>::new());
        cmd.isolate_network = true;
        cmd.capture_output = true;
        let live = check(&tracer, &cmd, policy(&["127.0.0.1:9050"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = std::fs::read_to_string(&kept).expect("kept trace");
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.contains(" execve(\"")),
            "{name}: the kept trace starts with the program's execve:\n{text}"
        );
        let replayed = judge_trace(text.lines(), policy(&["127.0.0.1:9050"]));
        assert_eq!(
            (
                live.verdict.verdict,
                findings(&live.verdict),
                &live.verdict.problems
            ),
            (replayed.verdict, findings(&replayed), &replayed.problems),
            "{name}: live and replayed verdicts differ; kept trace:\n{text}"
        );
    }
}
