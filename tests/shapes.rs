//! The shapes real suites take that a batch run must not lose (tests/fixtures/shapes):
//! a leak made on a pool another test started, one that happens only beside another
//! test, one sent after its test returned, a thread that renames itself after another
//! test, forged libtest lines, leftover children and daemons. Every run is in an
//! isolated network namespace: the fixture tries 192.0.2.1 (TEST-NET-1).

use leakcheck_e2e::{report_entry, run_fixture};

/// (test, verdict in the default batch mode, verdict with --per-test, finding kind).
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("tests::a_pool_creator", "clean", "clean", "-"),
    ("tests::b_pool_user_leaks", "leaked", "leaked", "connect"),
    // Sends 300 ms after it returned: only the batch run (kept alive by z) sees it.
    (
        "tests::c_background_send_after_return",
        "leaked",
        "clean",
        "send",
    ),
    ("tests::d0_sets_bypass", "clean", "clean", "-"),
    // Leaks only beside d0: seen in the batch, kept though its own run is clean.
    ("tests::d1_leaks_beside_d0", "leaked", "clean", "connect"),
    ("tests::f_renames_its_thread", "leaked", "leaked", "connect"),
    (
        "tests::g_forges_libtest_lines",
        "leaked",
        "leaked",
        "connect",
    ),
    (
        "tests::h_leaves_a_child",
        "clean",
        "clean",
        "leftover-process",
    ),
    (
        "tests::i_leaves_a_daemon",
        "clean",
        "clean",
        "leftover-process",
    ),
    ("tests::j_clean_proxy_connect", "clean", "clean", "-"),
    ("tests::k_clean_own_server", "clean", "clean", "-"),
    ("tests::l_clean_math", "clean", "clean", "-"),
    ("tests::m_clean_localhost_lookup", "clean", "clean", "-"),
    (
        "tests::n_clean_sendto_on_connected_tcp",
        "clean",
        "clean",
        "-",
    ),
    ("tests::z_keeps_the_binary_alive", "clean", "clean", "-"),
];

fn check(tracer: &str, per_test: bool) {
    let mut args = vec!["--isolate-network", "--tracer", tracer];
    if per_test {
        args.push("--per-test");
    }
    let started = std::time::Instant::now();
    let (code, stdout, stderr, report) = run_fixture("shapes", &args);
    check_run(tracer, per_test, started, code, stdout, stderr, report);
}

fn check_run(
    tracer: &str,
    per_test: bool,
    started: std::time::Instant,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: serde_json::Value,
) {
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(code, Some(1), "{all}");
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), EXPECTED.len(), "{report:#}");
    for (name, batch, solo, kind) in EXPECTED {
        let verdict = if per_test { solo } else { batch };
        let entry = report_entry(&report, name);
        assert_eq!(entry["verdict"], *verdict, "{name} ({tracer}): {entry:#}");
        assert_eq!(entry["outcome"], "passed", "{name}: {entry:#}");
        if *verdict == "leaked" || kind.starts_with("leftover") {
            assert!(
                entry["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["kind"] == *kind),
                "{name} ({tracer}) must have a {kind} finding: {entry:#}"
            );
        }
        let status = if *verdict == "clean" { "ok" } else { "FAILED" };
        assert!(
            stdout
                .lines()
                .any(|l| l == format!("test {name} ... {status}")),
            "no `test {name} ... {status}` line\n{all}"
        );
    }
    // A name --list did not give never appears, neither in the report nor as a line.
    assert!(!report.to_string().contains("zz_fake"), "{report:#}");
    assert!(!stdout.contains("test zz_fake"), "{all}");
    // A leftover is named, and stopped: the run did not wait for `sleep 30`.
    let h = report_entry(&report, "tests::h_leaves_a_child");
    assert!(h.to_string().contains("left sleep (pid"), "{h:#}");
    assert!(h["duration_ms"].as_u64().unwrap() < 5000, "{h:#}");
    // A test's duration is its own wall time, in every mode.
    let z = report_entry(&report, "tests::z_keeps_the_binary_alive");
    assert!(z["duration_ms"].as_u64().unwrap() >= 690, "{z:#}");
    if !per_test {
        let d1 = report_entry(&report, "tests::d1_leaks_beside_d0");
        assert!(
            d1.to_string().contains("beside the other tests"),
            "an unreproduced finding is marked: {d1:#}"
        );
    }
}

#[test]
fn batch_mode_native() {
    check("native", false);
}

#[test]
fn batch_mode_strace() {
    check("strace", false);
}

#[test]
fn per_test_mode_native() {
    check("native", true);
}

#[test]
fn per_test_mode_strace() {
    check("strace", true);
}

/// Debian's and Ubuntu's stock /etc/hosts names `::1 localhost` too: glibc then sorts
/// the two answers with UDP connects to each (a route probe, no packet), which must not
/// be a leak. The machine's own /etc/hosts may not say so: the run gets one that does,
/// bind-mounted in a mount namespace of its own (needs root; skipped without it).
#[test]
fn localhost_with_ipv6_in_etc_hosts() {
    let hosts = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        hosts.path(),
        "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
    )
    .unwrap();
    let probe = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot create a mount namespace here");
        return;
    }
    for tracer in ["native", "strace"] {
        let report = tempfile::NamedTempFile::new().unwrap();
        let manifest = leakcheck_e2e::tests_dir().join("fixtures/shapes/Cargo.toml");
        let script = format!(
            "mount --bind {} /etc/hosts && exec {} leakcheck --manifest-path {} --target-dir {} --report {} --isolate-network --tracer {tracer}",
            hosts.path().display(),
            leakcheck_e2e::leakcheck_bin().display(),
            manifest.display(),
            leakcheck_e2e::fixtures_target_dir().display(),
            report.path().display(),
        );
        let started = std::time::Instant::now();
        let out = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let json = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
        check_run(
            tracer,
            false,
            started,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            json,
        );
    }
}
