//! `#[leak_free]` end to end: the fixture crate `tests/fixtures/leak_free_demo` run with
//! plain `cargo test` (every libtest line and the failure texts), with `--ignored`, with
//! `LEAKCHECK_ALLOW`, already traced, and under `cargo leakcheck`; and
//! `tests/fixtures/leak_free_standin`, whose `#[leak_free(stand-in = ...)]` tests need the
//! stand-in proxy, the same ways.
//!
//! Every network attempt of the fixtures goes to loopback (a port nobody listens on, one
//! datagram to 127.0.0.1:53, the stand-in's port), so leak_free_demo runs without a
//! network namespace; leak_free_standin runs isolated (`LEAKCHECK_ISOLATE_NETWORK=1`,
//! `--isolate-network`), so that its proxy port is never the host's.

use leakcheck_e2e::{leakcheck, tests_dir};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// libtest's result word for a test: `ok`, `FAILED` or `ignored`.
type Lines = BTreeMap<String, String>;

/// What plain `cargo test` must print for each test of the fixture's library.
const LIB: &[(&str, &str)] = &[
    ("clean::allowed_by_attribute", "ok"),
    ("clean::allowed_by_manifest", "ok"),
    ("clean::connect_only_warned", "ok"),
    ("clean::on_one_line", "ok"),
    ("clean::own_server", "ok"),
    ("clean::test_above", "ok"),
    ("clean::test_below", "ok"),
    ("clean::without_test_attribute", "ok"),
    ("ignored::ignored_clean", "ignored"),
    ("ignored::ignored_leak", "ignored"),
    ("leaks::dns_port", "FAILED"),
    ("leaks::from_a_thread", "FAILED"),
    ("leaks::ip_socket_when_ip_false", "FAILED"),
    ("leaks::not_in_attribute_list", "FAILED"),
    ("leaks::tcp_loopback", "FAILED"),
    ("leaks::udp_datagram", "FAILED"),
    ("other_attributes::file_serial_above", "ok"),
    ("other_attributes::file_serial_below", "ok"),
    ("other_attributes::file_serial_below_leaks", "FAILED"),
    ("other_attributes::serial_above", "ok"),
    ("other_attributes::serial_below_leaks", "FAILED"),
    ("other_attributes::serial_key_above_a", "ok"),
    ("other_attributes::serial_key_above_b", "ok"),
    ("other_attributes::serial_key_below", "ok"),
    ("other_attributes::test_log_above", "ok"),
    ("other_attributes::test_log_below", "ok"),
    ("outer::inner::deep_clean", "ok"),
    ("outer::inner::deep_leak", "FAILED"),
    ("panics::panic_and_leak", "FAILED"),
    ("panics::plain_panic", "FAILED"),
    ("panics::should_panic_but_leaked", "FAILED"),
    ("panics::should_panic_clean", "ok"),
    ("panics::should_panic_did_not", "FAILED"),
    ("panics::should_panic_wrong_message", "FAILED"),
    ("proof::a_name_that_matches_nothing_fails", "ok"),
    ("proof::kebab_and_snake_case_kinds", "ok"),
    ("proof::resolved_by_thread_name", "ok"),
    ("results::boxed_error_leaked", "FAILED"),
    ("results::err", "FAILED"),
    ("results::ok", "ok"),
    ("results::question_mark", "FAILED"),
    ("rstest_tests::rstest_above::case_1", "ok"),
    ("rstest_tests::rstest_above::case_2", "FAILED"),
    ("rstest_tests::rstest_below::case_1_clean", "ok"),
    ("rstest_tests::rstest_below::case_2_leaky", "FAILED"),
    (
        "rstest_per_case::should_panic_per_case::case_1_passes",
        "ok",
    ),
    (
        "rstest_per_case::should_panic_per_case::case_2_panics",
        "ok",
    ),
    (
        "rstest_per_case::should_panic_per_case::case_3_panics_after_leak",
        "FAILED",
    ),
    ("tokio_tests::async_result", "FAILED"),
    ("tokio_tests::async_should_panic", "ok"),
    ("tokio_tests::multi_thread_spawned_leak", "FAILED"),
    ("tokio_tests::tokio_above", "ok"),
    ("tokio_tests::tokio_below_leaks", "FAILED"),
];

/// The same for the fixture's integration test target.
const INTEGRATION: &[(&str, &str)] = &[("integration_clean", "ok"), ("integration_leak", "FAILED")];

/// Tests whose verdict depends on the attribute's own arguments: `cargo leakcheck` agrees
/// on them because it reads the policy the test writes to `LEAKCHECK_ATTRIBUTE_POLICY`.
const ATTRIBUTE_DEPENDENT: &[&str] = &[
    "clean::allowed_by_attribute",
    "clean::connect_only_warned",
    "leaks::ip_socket_when_ip_false",
];

/// Tests about the re-run that only plain `cargo test` makes: under `cargo leakcheck` the
/// body runs directly, so there is no re-run whose name could match nothing.
const PLAIN_CARGO_TEST_ONLY: &[&str] = &["proof::a_name_that_matches_nothing_fails"];

/// The failure text each failing test's section must contain (besides its name).
const FAILURE_TEXTS: &[(&str, &[&str])] = &[
    (
        "leaks::tcp_loopback",
        &[
            "about to connect",
            "leak_free: `leaks::tcp_loopback`: this test leaked (the test body itself passed).",
            "LEAKED: 1 leak",
            "leak    connect               127.0.0.1:1  connect() pid ",
            "sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED",
            "allow list in force: 127.0.0.1:9050",
        ],
    ),
    (
        "leaks::from_a_thread",
        &["leak    connect               127.0.0.1:2  connect() pid "],
    ),
    (
        "leaks::udp_datagram",
        &["leak    send                  127.0.0.1:9  sendto() pid "],
    ),
    (
        "leaks::dns_port",
        &["leak    dns                   127.0.0.1:53  sendto() pid "],
    ),
    (
        "leaks::not_in_attribute_list",
        &[
            "127.0.0.1:3  connect() pid ",
            "allow list in force: 127.0.0.1:9050, 127.0.0.1:1",
        ],
    ),
    (
        "leaks::ip_socket_when_ip_false",
        &["leak    ip-socket             -  socket() pid "],
    ),
    (
        "outer::inner::deep_leak",
        &["leak_free: `outer::inner::deep_leak`: this test leaked"],
    ),
    (
        "panics::plain_panic",
        &[
            "output before the panic",
            "panicked at src/lib.rs:",
            "plain failure\nsecond line",
        ],
    ),
    (
        "panics::panic_and_leak",
        &["this test leaked (the test body itself panicked: failed after leaking)."],
    ),
    (
        "panics::should_panic_but_leaked",
        &[
            "this test leaked (the test body itself panicked: boom); this #[should_panic] test is failed by not panicking.",
            "127.0.0.1:1  connect() pid ",
            "note: test did not panic as expected",
        ],
    ),
    (
        "panics::should_panic_did_not",
        &["note: test did not panic as expected"],
    ),
    (
        "panics::should_panic_wrong_message",
        &[
            "note: panic did not contain expected string",
            "panic message: \"boom\"",
            "expected substring: \"another message\"",
        ],
    ),
    ("results::err", &["Error: \"bad thing\""]),
    (
        "results::question_mark",
        &["Error: ParseIntError { kind: InvalidDigit }"],
    ),
    (
        "results::boxed_error_leaked",
        &["this test leaked (the test body itself passed)."],
    ),
    (
        "rstest_tests::rstest_above::case_2",
        &["leak_free: `rstest_tests::rstest_above::case_2`: this test leaked"],
    ),
    (
        "rstest_tests::rstest_below::case_2_leaky",
        &["leak_free: `rstest_tests::rstest_below::case_2_leaky`: this test leaked"],
    ),
    (
        "rstest_per_case::should_panic_per_case::case_3_panics_after_leak",
        &[
            "this test leaked (the test body itself panicked: boom); this #[should_panic] test is failed by not panicking.",
            "note: test did not panic as expected",
        ],
    ),
    ("tokio_tests::async_result", &["Error: \"async bad\""]),
    (
        "tokio_tests::tokio_below_leaks",
        &["127.0.0.1:1  connect() pid "],
    ),
    (
        "tokio_tests::multi_thread_spawned_leak",
        &["127.0.0.1:4  connect() pid "],
    ),
    (
        "other_attributes::serial_below_leaks",
        &["127.0.0.1:1  connect() pid "],
    ),
    (
        "other_attributes::file_serial_below_leaks",
        &["127.0.0.1:1  connect() pid "],
    ),
    ("integration_leak", &["leak_free: `integration_leak`: this test leaked"]),
];

fn manifest() -> PathBuf {
    tests_dir().join("fixtures/leak_free_demo/Cargo.toml")
}

/// `<target dir of this test>/fixtures`: built once, shared by every test here.
fn fixture_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/debug/deps/leak_free-HASH
    exe.ancestors().nth(3).expect("target dir").join("fixtures")
}

/// The environment of a fixture run: none of leakcheck's own variables leak in.
fn scrub(cmd: &mut Command) -> &mut Command {
    for var in [
        "LEAKCHECK_ALLOW",
        "LEAKCHECK_TRACED",
        "LEAKCHECK_ATTRIBUTE_POLICY",
        "LEAKCHECK_LEAK_FREE_CHILD",
        "LEAKCHECK_LEAK_FREE_NONCE",
        "LEAKCHECK_ISOLATE_NETWORK",
        "LEAKCHECK_TIMEOUT",
        "LEAKCHECK_STAND_IN",
        "RUST_TEST_THREADS",
        "RUST_TEST_NOCAPTURE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", fixture_target_dir())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
}

fn cargo_test(args: &[&str], env: &[(&str, &str)]) -> Output {
    cargo_test_of(&manifest(), args, env)
}

fn cargo_test_of(manifest: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("test").arg("--manifest-path").arg(manifest);
    cmd.args(args);
    scrub(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cargo test on the fixture")
}

/// The plain `cargo test --no-fail-fast` run, shared by the tests that read it.
fn plain_run() -> &'static (String, Output) {
    static RUN: OnceLock<(String, Output)> = OnceLock::new();
    RUN.get_or_init(|| {
        let output = cargo_test(&["--no-fail-fast"], &[]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (text, output)
    })
}

/// Every `test NAME ... RESULT` line, per libtest binary (split at `running N tests`).
/// Panics when a test is listed twice in one binary.
fn result_lines(stdout: &str) -> Vec<Lines> {
    let mut binaries: Vec<Lines> = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("running ") {
            binaries.push(Lines::new());
            continue;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.split_once(" ... ") else {
            continue;
        };
        let name = name
            .trim()
            .trim_end_matches(" - should panic")
            .trim()
            .to_string();
        let result = result.split([',', ' ']).next().unwrap_or("").to_string();
        let current = binaries.last_mut().expect("a `running N tests` line first");
        assert!(
            current.insert(name.clone(), result).is_none(),
            "test {name} is listed twice:\n{stdout}"
        );
    }
    binaries
}

fn expected(table: &[(&str, &str)]) -> Lines {
    table
        .iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect()
}

/// The `---- NAME stdout ----` section of a failure.
fn failure_section<'a>(stdout: &'a str, name: &str) -> &'a str {
    let header = format!("---- {name} stdout ----\n");
    let Some(start) = stdout.find(&header) else {
        panic!("no failure section for {name} in:\n{stdout}");
    };
    let body = &stdout[start + header.len()..];
    let end = [body.find("\n---- "), body.find("\nfailures:\n")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    &body[..end]
}

/// Finds the binary whose lines hold `name`.
fn binary_with<'a>(binaries: &'a [Lines], name: &str) -> &'a Lines {
    binaries
        .iter()
        .find(|b| b.contains_key(name))
        .unwrap_or_else(|| panic!("no test binary ran {name}: {binaries:#?}"))
}

#[test]
fn cargo_test_prints_every_line_right() {
    let (stdout, output) = plain_run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(101),
        "cargo test on the fixture: {stderr}\n{stdout}"
    );
    let binaries = result_lines(stdout);
    let lib = binary_with(&binaries, "clean::test_above");
    assert_eq!(lib, &expected(LIB), "library tests:\n{stdout}");
    let integration = binary_with(&binaries, "integration_clean");
    assert_eq!(
        integration,
        &expected(INTEGRATION),
        "integration tests:\n{stdout}"
    );
    assert!(
        stdout.contains("test result: FAILED. 28 passed; 23 failed; 2 ignored;"),
        "{stdout}"
    );
}

#[test]
fn cargo_test_failure_texts() {
    let (stdout, _) = plain_run();
    for (name, needles) in FAILURE_TEXTS {
        let section = failure_section(stdout, name);
        for needle in *needles {
            assert!(
                section.contains(needle),
                "the failure of {name} lacks {needle:?}:\n{section}"
            );
        }
    }
    // A passing test's output stays hidden; the clean ones print no report.
    assert!(!stdout.contains("printed by test_below"), "{stdout}");
    assert!(!stdout.contains("---- clean::"), "{stdout}");
}

#[test]
fn ignored_tests_run_with_ignored() {
    let output = cargo_test(&["--lib", "--", "--ignored"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let binaries = result_lines(&stdout);
    assert_eq!(
        binaries[0],
        expected(&[
            ("ignored::ignored_clean", "ok"),
            ("ignored::ignored_leak", "FAILED"),
        ]),
        "{stdout}"
    );
    let section = failure_section(&stdout, "ignored::ignored_leak");
    assert!(section.contains("127.0.0.1:1  connect() pid "), "{section}");
}

#[test]
fn leakcheck_allow_extends_the_policy() {
    let output = cargo_test(
        &["--lib", "--", "leaks::tcp_loopback", "--exact"],
        &[("LEAKCHECK_ALLOW", "127.0.0.1:1")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        result_lines(&stdout)[0],
        expected(&[("leaks::tcp_loopback", "ok")]),
        "{stdout}"
    );
}

#[test]
fn already_traced_runs_the_body_and_hands_over_the_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.json");
    let output = cargo_test(
        &[
            "--lib",
            "--",
            "clean::allowed_by_attribute",
            "leaks::tcp_loopback",
            "--exact",
        ],
        &[
            ("LEAKCHECK_TRACED", "1"),
            (
                "LEAKCHECK_ATTRIBUTE_POLICY",
                policy.to_str().expect("utf-8 path"),
            ),
            ("RUST_TEST_THREADS", "1"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Not traced again: the leaking body passes here (cargo leakcheck judges it).
    assert_eq!(
        result_lines(&stdout)[0],
        expected(&[
            ("clean::allowed_by_attribute", "ok"),
            ("leaks::tcp_loopback", "ok"),
        ]),
        "{stdout}"
    );
    // The last annotated test run (in name order with one thread) wrote its policy.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&policy).expect("policy file written"))
            .expect("policy file is JSON");
    assert_eq!(json["test"], "leaks::tcp_loopback", "{json}");
    assert_eq!(json["allow"], serde_json::json!([]), "{json}");
    assert_eq!(json["ip"], serde_json::Value::Null, "{json}");

    let output = cargo_test(
        &["--lib", "--", "clean::allowed_by_attribute", "--exact"],
        &[
            ("LEAKCHECK_TRACED", "1"),
            (
                "LEAKCHECK_ATTRIBUTE_POLICY",
                policy.to_str().expect("utf-8 path"),
            ),
        ],
    );
    assert!(output.status.success());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&policy).expect("policy file written"))
            .expect("policy file is JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "version": 1,
            "test": "clean::allowed_by_attribute",
            "allow": ["127.0.0.1:1"],
            "ip": null,
            "severities": {},
            "stand_in": null,
            "rerun": null,
        })
    );
}

/// `cargo leakcheck` on the fixture: per-test results, as printed.
fn leakcheck_run() -> &'static (String, Output) {
    static RUN: OnceLock<(String, Output)> = OnceLock::new();
    RUN.get_or_init(|| {
        let report = std::env::temp_dir().join(format!(
            "leakcheck-leak-free-report-{}.json",
            std::process::id()
        ));
        let mut cmd = leakcheck();
        // One test at a time: each test runs in its own process there, so serial_test's
        // in-process locks cannot keep the fixture's #[serial] tests apart.
        cmd.args(["--test-threads", "1"])
            .arg("--manifest-path")
            .arg(manifest())
            .arg("--report")
            .arg(&report);
        scrub(&mut cmd);
        let output = cmd.output().expect("run cargo leakcheck on the fixture");
        let _ = std::fs::remove_file(&report);
        (String::from_utf8_lossy(&output.stdout).into_owned(), output)
    })
}

fn compare_with_leakcheck(names: impl Fn(&str) -> bool) {
    let (plain, _) = plain_run();
    let (checked, output) = leakcheck_run();
    let plain = result_lines(plain);
    let checked_lines = result_lines(checked);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (table, probe) in [
        (LIB, "clean::test_above"),
        (INTEGRATION, "integration_clean"),
    ] {
        let ours = binary_with(&plain, probe);
        let theirs = binary_with(&checked_lines, probe);
        let compared = table
            .iter()
            .filter(|(n, _)| names(n) && !PLAIN_CARGO_TEST_ONLY.contains(n));
        for (name, _) in compared {
            assert_eq!(
                theirs.get(*name),
                ours.get(*name),
                "cargo leakcheck and cargo test disagree on {name}:\n{checked}\n{stderr}"
            );
        }
    }
}

#[test]
fn cargo_leakcheck_agrees() {
    compare_with_leakcheck(|name| !ATTRIBUTE_DEPENDENT.contains(&name));
}

#[test]
fn cargo_leakcheck_applies_the_attribute_policy() {
    compare_with_leakcheck(|name| ATTRIBUTE_DEPENDENT.contains(&name));
}

// ---- #[leak_free(stand-in = ...)]: tests/fixtures/leak_free_standin ----

fn standin_manifest() -> PathBuf {
    tests_dir().join("fixtures/leak_free_standin/Cargo.toml")
}

/// Every test of the stand-in fixture and its line under plain `cargo test` and under
/// `cargo leakcheck --isolate-network`.
const STANDIN: &[(&str, &str)] = &[
    ("tests::answered_by_the_stand_in", "ok"),
    ("tests::never_a_stand_in", "ok"),
    ("tests::on_its_own_port", "ok"),
    ("tests::refused_by_the_stand_in", "ok"),
    ("tests::sends_its_host_name", "FAILED"),
    ("tests::shares_credentials_a", "ok"),
    ("tests::shares_credentials_b", "ok"),
    ("tests::the_runs_stand_in", "ok"),
    ("tests::without_credentials", "ok"),
];

/// A stream as the report names it: proxy, destination, reply.
type StreamSeen = (&'static str, &'static str, &'static str);

/// (test, finding kinds, the streams' destinations and replies) under `cargo leakcheck`.
const STANDIN_REPORT: &[(&str, &[&str], &[StreamSeen])] = &[
    (
        "tests::answered_by_the_stand_in",
        &[],
        &[("127.0.0.1:9050", "example.com:80", "succeeded")],
    ),
    ("tests::never_a_stand_in", &[], &[]),
    (
        "tests::on_its_own_port",
        &[],
        &[("127.0.0.1:9150", "example.com:80", "succeeded")],
    ),
    (
        "tests::refused_by_the_stand_in",
        &[],
        &[("127.0.0.1:9050", "example.com:80", "host-unreachable")],
    ),
    (
        "tests::sends_its_host_name",
        &["protocol-leak"],
        &[("127.0.0.1:9050", "mail.example.com:25", "succeeded")],
    ),
    (
        "tests::shares_credentials_a",
        &["shared-isolation"],
        &[("127.0.0.1:9050", "example.com:80", "succeeded")],
    ),
    (
        "tests::shares_credentials_b",
        &["shared-isolation"],
        &[("127.0.0.1:9050", "example.org:80", "succeeded")],
    ),
    ("tests::the_runs_stand_in", &[], &[]),
    (
        "tests::without_credentials",
        &["socks-no-auth"],
        &[("127.0.0.1:9050", "example.com:80", "succeeded")],
    ),
];

/// What a failing stand-in test shows: the finding, where the canary was, the stream.
const HOST_NAME_FAILURE: &[&str] = &[
    "LEAKED: 1 leak",
    "leak    protocol-leak         127.0.0.1:9050",
    "canary leakcheck-canary-q7x3v9.example (host-name form) in the payload of socks5 connect to mail.example.com:25 on 127.0.0.1:9050, at byte 5: \"EHLO leakcheck-canary-q7x3v9.example\\r\\n\"",
    "streams through the stand-in proxy:",
    "socks5 connect to mail.example.com:25 on 127.0.0.1:9050, username \"<torS0X>0\", 38 bytes sent, reply succeeded",
];

#[test]
fn stand_in_attribute_under_cargo_test() {
    let output = cargo_test_of(
        &standin_manifest(),
        &["--no-fail-fast"],
        &[("LEAKCHECK_ISOLATE_NETWORK", "1")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(101), "{stderr}\n{stdout}");
    let binaries = result_lines(&stdout);
    assert_eq!(
        binary_with(&binaries, "tests::answered_by_the_stand_in"),
        &expected(STANDIN),
        "{stdout}"
    );
    let section = failure_section(&stdout, "tests::sends_its_host_name");
    assert!(
        section.contains("leak_free: `tests::sends_its_host_name`: this test leaked (the test body itself passed)."),
        "{section}"
    );
    for needle in HOST_NAME_FAILURE {
        assert!(section.contains(needle), "lacks {needle:?}:\n{section}");
    }
}

fn leakcheck_standin(args: &[&str]) -> (Output, serde_json::Value) {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let mut cmd = leakcheck();
    cmd.arg("--manifest-path")
        .arg(standin_manifest())
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--report")
        .arg(report.path())
        .args(args);
    scrub(&mut cmd);
    let output = cmd.output().expect("run cargo leakcheck on the fixture");
    let json = serde_json::from_slice(&std::fs::read(report.path()).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    (output, json)
}

fn check_standin_report(mode: &[&str]) {
    let mut args = vec!["--isolate-network"];
    args.extend(mode);
    let (output, report) = leakcheck_standin(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}\n{stdout}");
    assert_eq!(
        binary_with(&result_lines(&stdout), "tests::answered_by_the_stand_in"),
        &expected(STANDIN),
        "{stdout}"
    );
    let section = failure_section(&stdout, "tests::sends_its_host_name");
    for needle in HOST_NAME_FAILURE {
        assert!(section.contains(needle), "lacks {needle:?}:\n{section}");
    }
    for (name, kinds, streams) in STANDIN_REPORT {
        let entry = leakcheck_e2e::report_entry(&report, name);
        let found: Vec<&str> = entry["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(found, *kinds, "{name}: {entry:#}");
        let got: Vec<(&str, &str, &str)> = entry["streams"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|s| {
                        (
                            s["proxy"].as_str().expect("proxy"),
                            s["destination"].as_str().expect("destination"),
                            s["reply"].as_str().expect("reply"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, *streams, "{name}: {entry:#}");
    }
    assert!(
        stderr.contains("also used by leak_free_standin tests::shares_credentials_b"),
        "{stderr}"
    );
}

#[test]
fn stand_in_attribute_under_cargo_leakcheck() {
    check_standin_report(&[]);
}

#[test]
fn stand_in_attribute_under_cargo_leakcheck_per_test() {
    check_standin_report(&["--per-test"]);
}

#[test]
fn the_attribute_chooses_over_the_command_lines_stand_in() {
    // `--stand-in` gives every test the stand-in in accept mode, except where the
    // attribute says otherwise: refuse mode, none at all. The test without an opinion
    // gets it (and fails, as it expects none).
    let (output, report) = leakcheck_standin(&["--stand-in"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = expected(STANDIN);
    lines.insert("tests::the_runs_stand_in".into(), "FAILED".into());
    assert_eq!(
        binary_with(&result_lines(&stdout), "tests::answered_by_the_stand_in"),
        &lines,
        "{stdout}"
    );
    let refused = leakcheck_e2e::report_entry(&report, "tests::refused_by_the_stand_in");
    assert_eq!(
        refused["streams"][0]["reply"], "host-unreachable",
        "{refused:#}"
    );
    let never = leakcheck_e2e::report_entry(&report, "tests::never_a_stand_in");
    assert!(never.get("streams").is_none(), "{never:#}");
}

/// The stand-in fixture's library test binary, built.
fn standin_test_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--no-run", "--lib", "--message-format", "json"])
        .arg("--manifest-path")
        .arg(standin_manifest());
    scrub(&mut cmd);
    let output = cmd.output().expect("build the fixture");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("the test binary")
}

#[test]
fn stand_in_attribute_under_the_nextest_wrapper() {
    let binary = standin_test_binary();
    let wrap = |test: &str| {
        let report = tempfile::NamedTempFile::new().expect("tempfile");
        let mut cmd = leakcheck();
        cmd.args(["wrap", "--isolate-network", "--report"])
            .arg(report.path())
            .arg("--")
            .arg(&binary)
            .args(["--exact", test, "--nocapture"]);
        scrub(&mut cmd)
            .env(
                "CARGO_MANIFEST_DIR",
                tests_dir().join("fixtures/leak_free_standin"),
            )
            .env("CARGO_PKG_NAME", "leak_free_standin")
            .env("NEXTEST_TEST_NAME", test);
        let output = cmd.output().expect("run cargo leakcheck wrap");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(report.path()).unwrap_or_default())
                .unwrap_or(serde_json::Value::Null);
        (output, json)
    };
    let (output, report) = wrap("tests::answered_by_the_stand_in");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let entry = &report["tests"][0];
    assert_eq!(
        entry["streams"][0]["destination"], "example.com:80",
        "{report:#}"
    );
    let (output, report) = wrap("tests::sends_its_host_name");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        report["tests"][0]["findings"][0]["kind"], "protocol-leak",
        "{report:#}"
    );
    assert!(
        stderr.contains("leakcheck:   streams through the stand-in proxy:"),
        "{stderr}"
    );
}

#[test]
fn under_cargo_leakcheck_run_every_body_runs() {
    // `run` traces a command as a whole and runs nothing again: a test runs its body with
    // the stand-in the command has, whatever its attribute asks for.
    let binary = standin_test_binary();
    let run = |extra: &[&str], test: &str| {
        let report = tempfile::NamedTempFile::new().expect("tempfile");
        let mut cmd = leakcheck();
        cmd.arg("run")
            .args(extra)
            .args(["--allow", "127.0.0.1:9050", "--report"])
            .arg(report.path())
            .arg("--")
            .arg(&binary)
            .args([test, "--exact"]);
        scrub(&mut cmd);
        let output = cmd.output().expect("run cargo leakcheck run");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.code(), stdout)
    };
    let (code, stdout) = run(&["--stand-in"], "tests::answered_by_the_stand_in");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("test tests::answered_by_the_stand_in ... ok"),
        "{stdout}"
    );
    // refuse mode asked, accept given: the body runs, and its assertion fails.
    let (code, stdout) = run(&["--stand-in"], "tests::refused_by_the_stand_in");
    assert_eq!(code, Some(101), "{stdout}");
    assert!(!stdout.contains("did not run its body"), "{stdout}");
}
