//! `cargo leakcheck self-test` on this machine: every control detected and every twin
//! clean under every tracer (the tests need strace, as the README says), well under
//! 10 s; a missing default tracer and a machine without namespaces are setup problems
//! (exit 2) named with their fix. The control programs never run outside a fresh
//! network namespace here: the only one run directly is `noop`, which makes no call.

use leakcheck_e2e::{leakcheck, leakcheck_bin};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const KINDS: [&str; 10] = [
    "connect",
    "send",
    "dns",
    "ip-socket",
    "raw-socket",
    "untraceable",
    "interface-enumeration",
    "listen",
    "route-probe",
    "leftover-process",
];

fn self_test(env: &[(&str, &str)]) -> (Output, String, Duration) {
    let mut cmd = leakcheck();
    cmd.arg("self-test");
    for var in [
        "LEAKCHECK_TRACER",
        "LEAKCHECK_STRACE",
        "LEAKCHECK_NATIVE_NOTIFY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let started = Instant::now();
    let output = cmd.output().expect("run cargo leakcheck self-test");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let all = format!(
        "{stdout}--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output, all, took)
}

/// The table's row of `kind` under `tracer`: (control, twin).
fn row<'a>(text: &'a str, kind: &str, tracer: &str) -> Option<(&'a str, &'a str)> {
    text.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match cols.as_slice() {
            [k, t, control, twin] if *k == kind && *t == tracer => Some((*control, *twin)),
            _ => None,
        }
    })
}

#[test]
fn every_control_is_detected_under_every_tracer() {
    let (output, text, took) = self_test(&[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for kind in KINDS {
        for tracer in ["native", "native-ptrace", "strace"] {
            assert_eq!(
                row(&text, kind, tracer),
                Some(("detected", "clean")),
                "{kind} under {tracer}:\n{text}"
            );
        }
    }
    assert!(text.contains("\nself-test: ok. 30 controls detected (0 missed), 30 twins clean (0 flagged) under native, native-ptrace, strace; finished in "), "{text}");
    assert!(!text.contains("skipped"), "{text}");
    assert!(took < Duration::from_secs(10), "took {took:?}\n{text}");
}

#[test]
fn the_ptrace_only_default_is_the_default_tracer() {
    let (output, text, _) = self_test(&[("LEAKCHECK_NATIVE_NOTIFY", "0")]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("sends by ptrace stops (the default here)"),
        "{text}"
    );
}

#[test]
fn a_missing_default_tracer_is_a_setup_problem() {
    // LEAKCHECK_STRACE makes strace the default tracer; it does not exist.
    let (output, text, _) = self_test(&[("LEAKCHECK_STRACE", "/nonexistent/strace")]);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert_eq!(
        row(&text, "connect", "native"),
        Some(("detected", "clean")),
        "{text}"
    );
    assert!(
        text.contains("(every kind)           strace         skipped   skipped"),
        "{text}"
    );
    assert!(
        text.contains("strace: strace was not found at LEAKCHECK_STRACE=/nonexistent/strace"),
        "{text}"
    );
    assert!(text.contains("fix: sudo apt-get install strace"), "{text}");
    assert!(
        text.contains("self-test: SETUP PROBLEM: no tracer can run here"),
        "{text}"
    );

    // strace missing while the native tracer is the default: reported, not a failure.
    let (output, text, _) = self_test(&[("PATH", "/nonexistent")]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("strace: strace was not found on PATH"),
        "{text}"
    );
    assert!(text.contains("; 20 skipped; "), "{text}");
}

#[test]
fn no_network_namespace_is_a_setup_problem_with_the_fix() {
    // A user namespace whose root may make no further user namespace and has no
    // capability left: as an unprivileged user with user.max_user_namespaces=0.
    let bin = leakcheck_bin();
    let script = r#"echo 0 > /proc/sys/user/max_user_namespaces || exit 97
exec setpriv --bounding-set=-all --inh-caps=-all "$@""#;
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", script, "sh"])
        .arg(&bin)
        .args(["leakcheck", "self-test"])
        .output();
    let output = match output {
        Ok(o) if o.status.code() != Some(97) && o.status.code() != Some(127) => o,
        other => {
            eprintln!("skipped: cannot make a user namespace without namespaces here: {other:?}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    if text.is_empty() {
        eprintln!(
            "skipped: unshare or setpriv failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{text}");
    for tracer in ["native", "native-ptrace", "strace"] {
        assert!(
            text.contains(&format!(
                "(every kind)           {tracer:<14} skipped   skipped"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains("cannot create a network namespace: No space left on device"),
        "{text}"
    );
    assert!(text.contains("user.max_user_namespaces=0"), "{text}");
    assert!(
        text.contains("sudo sysctl -w user.max_user_namespaces=15000"),
        "{text}"
    );
    assert!(
        text.contains("self-test: SETUP PROBLEM: the default tracer (native)"),
        "{text}"
    );
}

#[test]
fn control_programs_check_their_namespace_first() {
    // `noop` makes no call but the check: on a host with a network interface other than
    // lo it refuses (3), in a bare namespace it runs (0).
    let output = Command::new(leakcheck_bin())
        .args(["__control", "noop"])
        .output()
        .unwrap();
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    let only_lo = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .all(|(name, _)| name.trim() == "lo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if only_lo {
        assert_eq!(output.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(output.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains("SAFETY") && stderr.contains("Refusing"),
            "{stderr}"
        );
    }
    let unknown = Command::new(leakcheck_bin())
        .args(["__control", "nope"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown control `nope`"));
}

/// A forked child that makes no traced call and is left running: the native tracer
/// knows it from the fork and stops it a second later.
fn forked_leftover(tracer: &str) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let output = leakcheck()
        .args(["run", "--isolate-network", "--tracer", tracer, "--report"])
        .arg(report.path())
        .arg("--")
        .arg(leakcheck_bin())
        .args(["__control", "leftover-process-fork"])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let findings = report["tests"][0]["findings"].as_array().unwrap().clone();
    assert!(
        findings.iter().any(|f| f["kind"] == "leftover-process"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}: {stderr}");
}

#[test]
fn a_forked_leftover_is_stopped_by_the_native_tracer() {
    forked_leftover("native");
}

#[test]
fn a_forked_leftover_is_stopped_by_strace() {
    forked_leftover("strace");
}
