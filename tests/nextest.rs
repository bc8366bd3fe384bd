//! `cargo leakcheck wrap` and `cargo leakcheck nextest-config`: the real cargo-nextest
//! on the fixture `tests/fixtures/nextest` (copied to a temporary directory with the
//! printed configuration in its `.config/nextest.toml`) fails exactly the tests that leak
//! or fail; and the wrapper ends as the test did (its exit code, its signal).
//!
//! The fixture tries outside addresses on purpose: the configuration isolates every
//! test (`--isolate-network`). The nextest test is skipped, saying so, when cargo-nextest
//! is not installed.

use leakcheck_e2e::{fixtures_target_dir, leakcheck, leakcheck_bin, tests_dir};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

/// How nextest must report each test of the fixture (`BINARY-ID NAME`).
const EXPECTED: &[(&str, &str)] = &[
    ("nextest_fixture tests::clean_math", "PASS"),
    ("nextest_fixture tests::proxy_port_is_allowed", "PASS"),
    (
        "nextest_fixture tests::tor::control_port_allowed_by_override",
        "PASS",
    ),
    (
        "nextest_fixture tests::control_port_denied_outside_override",
        "FAIL",
    ),
    ("nextest_fixture tests::udp_leak", "FAIL"),
    ("nextest_fixture tests::dns_leak", "FAIL"),
    ("nextest_fixture tests::fails_without_leaking", "FAIL"),
    ("nextest_fixture tests::panics_as_it_should", "PASS"),
    ("nextest_fixture tests::crashes", "SIGABRT"),
    ("nextest_fixture tests::listens_on_every_interface", "PASS"),
    (
        "nextest_fixture tests::leak_free_allows_its_own_port",
        "PASS",
    ),
    ("nextest_fixture tests::leak_free_leaks", "FAIL"),
    ("nextest_fixture::net ipv6_leak", "FAIL"),
    ("nextest_fixture::net clean_in_another_binary", "PASS"),
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The status nextest gave each test, from its status lines (`   PASS [ 0.01s] (1/9)
/// BINARY-ID NAME`).
fn statuses(stderr: &str) -> BTreeMap<String, String> {
    let line = regex::Regex::new(
        r"^\s*([A-Z][A-Z-]*)\s+\[\s*[0-9.]+s\]\s+(?:\(\s*\d+/\d+\)\s+)?(\S+ \S+)\s*$",
    )
    .unwrap();
    stderr
        .lines()
        .filter_map(|l| line.captures(l))
        .map(|c| (c[2].to_string(), c[1].to_string()))
        .collect()
}

#[test]
fn nextest_fails_exactly_the_tests_that_leak_or_fail() {
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output();
    if !nextest.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cargo-nextest is not installed (`cargo install cargo-nextest`)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let crate_dir = dir.path().join("nextest_fixture");
    let fixture = tests_dir().join("fixtures/nextest");
    for part in ["src", "tests"] {
        copy_dir(&fixture.join(part), &crate_dir.join(part));
    }
    std::fs::copy(fixture.join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("lock");
    // The copy depends on this repository's leakcheck wherever it is.
    let manifest = std::fs::read_to_string(fixture.join("Cargo.toml")).expect("manifest");
    let library = tests_dir().join("../leakcheck");
    let manifest = manifest.replace(
        "path = \"../../../leakcheck\"",
        &format!("path = {:?}", library.display().to_string()),
    );
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).expect("write manifest");

    let config = leakcheck()
        .args(["nextest-config", "--isolate-network", "--program"])
        .arg(leakcheck_bin())
        .output()
        .expect("nextest-config");
    assert!(config.status.success(), "{config:?}");
    let config = String::from_utf8(config.stdout).expect("utf-8");
    assert!(
        config.contains("experimental = [\"wrapper-scripts\"]"),
        "{config}"
    );
    assert!(
        config.contains("filter = 'all()'\nrun-wrapper = 'leakcheck'\n"),
        "{config}"
    );
    std::fs::create_dir_all(crate_dir.join(".config")).expect(".config");
    std::fs::write(crate_dir.join(".config/nextest.toml"), &config).expect("write config");

    let target = fixtures_target_dir();
    let mut cmd = Command::new("cargo");
    cmd.args(["nextest", "run", "--no-fail-fast", "--color", "never"])
        .current_dir(&crate_dir)
        .env("RUST_BACKTRACE", "0");
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if (k.starts_with("CARGO_") && k != "CARGO_HOME") || k.starts_with("NEXTEST") {
            cmd.env_remove(&key);
        }
    }
    for var in ["LEAKCHECK_ALLOW", "LEAKCHECK_TRACED", "GITHUB_ACTIONS"] {
        cmd.env_remove(var);
    }
    // The wrapper's `cargo metadata` finds the same target directory.
    cmd.env("CARGO_TARGET_DIR", &target);
    let output = cmd.output().expect("cargo nextest run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!("--- config\n{config}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    // nextest's status when tests failed.
    assert_eq!(output.status.code(), Some(100), "{all}");
    let got = statuses(&stderr);
    let want: BTreeMap<String, String> = EXPECTED
        .iter()
        .map(|(t, s)| (t.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want, "{all}");
    assert!(stderr.contains("1 skipped"), "the ignored test: {all}");

    // The report is on the failing test's stderr, saying how the test itself ended;
    // a test that only failed has none.
    assert!(
        stderr.contains("leakcheck: nextest_fixture tests::udp_leak: the test passed; it leaked\n"),
        "{all}"
    );
    assert!(stderr.contains("192.0.2.1:9999"), "{all}");
    assert!(
        stderr.contains(
            "leakcheck: nextest_fixture tests::leak_free_leaks: the test passed; it leaked"
        ),
        "{all}"
    );
    assert!(
        !stderr.contains("tests::fails_without_leaking: the test"),
        "{all}"
    );
    // Every test's report, one file each.
    let reports = target.join("leakcheck/nextest/nextest_fixture");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.join("tests::dns_leak.json")).expect("the dns test's report"),
    )
    .expect("JSON");
    assert_eq!(report["tests"][0]["verdict"], "leaked", "{report:#}");
    assert_eq!(
        report["tests"][0]["findings"][0]["kind"], "dns",
        "{report:#}"
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.join("tests::listens_on_every_interface.json"))
            .expect("the listening test's report"),
    )
    .expect("JSON");
    assert_eq!(report["tests"][0]["verdict"], "clean", "{report:#}");
    assert_eq!(
        report["tests"][0]["findings"][0]["kind"], "listen",
        "{report:#}"
    );
}

/// `cargo leakcheck wrap ARGS -- COMMAND` outside any cargo project.
fn wrap(args: &[&str], command: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = leakcheck();
    cmd.arg("wrap")
        .args(args)
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .arg("--")
        .args(command)
        .current_dir(dir.path())
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME");
    cmd.output().expect("run cargo leakcheck wrap")
}

#[test]
fn the_wrapper_ends_as_the_test_did() {
    let output = wrap(&[], &["sh", "-c", "echo to stdout; exit 3"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    // The test's own output is the runner's, untouched.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "to stdout\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    // A test killed by a signal: the wrapper is killed by it too.
    let output = wrap(&[], &["sh", "-c", "kill -ABRT $$"]);
    assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{output:?}");
    // --leaks-only: a failing test passes unless it leaked.
    let output = wrap(&["--leaks-only"], &["sh", "-c", "exit 3"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn a_leak_ends_the_wrapper_with_1_and_the_report() {
    // Isolated: the datagram goes nowhere.
    let output = wrap(
        &["--isolate-network", "--leaks-only"],
        &["bash", "-c", "echo x > /dev/udp/192.0.2.1/9; exit 3"],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(": the test failed and leaked\n"),
        "{stderr}"
    );
    assert!(stderr.contains("leakcheck: LEAKED: 1 leak\n"), "{stderr}");
    assert!(stderr.contains("192.0.2.1:9"), "{stderr}");
    // An allowed endpoint is no leak; a listener on every interface is a warning line.
    let output = wrap(
        &["--isolate-network", "--allow", "127.0.0.1:9"],
        &[
            "bash",
            "-c",
            "echo x > /dev/udp/127.0.0.1/9; python3 -c 'import socket; s = socket.socket(); s.bind((\"0.0.0.0\", 0)); s.listen()'",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("leakcheck: warning: listen 0.0.0.0:0 by listen() (pid "),
        "{stderr}"
    );
}

#[test]
fn a_list_run_that_leaks_fails_the_listing_and_still_lists() {
    // The fixture's static initializer sends a datagram in every process of its test
    // binary; built only here, run only isolated.
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "test",
            "--no-run",
            "--message-format",
            "json",
            "--manifest-path",
        ])
        .arg(tests_dir().join("fixtures/static_init/Cargo.toml"))
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .output()
        .expect("cargo test --no-run");
    assert!(built.status.success(), "{built:?}");
    let binary = String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(String::from))
        .expect("the test binary");
    let dir = tempfile::tempdir().expect("tempdir");
    let output = leakcheck()
        .args(["wrap", "--isolate-network", "--report"])
        .arg(dir.path().join("report.json"))
        .args(["--", &binary, "--list", "--format", "terse"])
        .env("NEXTEST_TEST_PHASE", "list")
        .env("NEXTEST_BINARY_ID", "static_init")
        .env_remove("CARGO_MANIFEST_DIR")
        .current_dir(dir.path())
        .output()
        .expect("wrap a list run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("tests::does_nothing: test\n"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the test passed; it leaked"), "{stderr}");
    assert!(stderr.contains("192.0.2.1:9"), "{stderr}");
}

#[test]
fn the_wrapper_serves_the_stand_in() {
    // bash writes garbage to the proxy port: only the stand-in listens there.
    let script = "exec 3<>/dev/tcp/127.0.0.1/9050 && printf 'GARBAGE\\r\\n\\r\\n' >&3 && sleep 0.3";
    let output = wrap(
        &["--stand-in", "--allow", "127.0.0.1:9050"],
        &["bash", "-c", script],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("leakcheck: warning: proxy-protocol-error: "),
        "{stderr}"
    );
    // Without it, nothing answers there.
    let output = wrap(
        &["--isolate-network", "--allow", "127.0.0.1:9050"],
        &["bash", "-c", script],
    );
    assert_ne!(output.status.code(), Some(0), "{output:?}");
    // nextest-config hands the option to the wrapper.
    let config = leakcheck()
        .args(["nextest-config", "--stand-in=refuse"])
        .output()
        .expect("nextest-config");
    let text = String::from_utf8_lossy(&config.stdout);
    assert!(
        text.contains("command = ['cargo-leakcheck', 'wrap', '--stand-in=refuse', '--']"),
        "{text}"
    );
}
