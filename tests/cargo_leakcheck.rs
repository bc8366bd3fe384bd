//! `cargo leakcheck` on the fixture workspace `tests/fixtures/ws`: per-test verdicts in
//! libtest's lines, the report, the exit status. Every run uses `--isolate-network`:
//! the fixture tries outside addresses on purpose.

use leakcheck_e2e::{report_entry, run_fixture};

/// (test name, outcome, verdict, kind of the leak finding if any)
const EXPECTED: &[(&str, &str, &str, Option<&str>)] = &[
    ("tests::clean_math", "passed", "clean", None),
    ("tests::proxy_port_is_allowed", "passed", "clean", None),
    (
        "tests::ipv6_proxy_from_package_metadata",
        "passed",
        "clean",
        None,
    ),
    ("tests::udp_leak", "passed", "leaked", Some("send")),
    ("tests::dns_leak", "passed", "leaked", Some("dns")),
    ("tests::thread_leak", "passed", "leaked", Some("connect")),
    ("tests::fails_without_leaking", "failed", "clean", None),
    ("tests::ignored_leak", "ignored", "clean", None),
    ("tests::hangs", "timed-out", "unverified", None),
    ("tests::crashes", "failed", "clean", None),
    (
        "tests::tor::control_port_allowed_by_override",
        "passed",
        "clean",
        None,
    ),
    (
        "tests::control_port_denied_outside_override",
        "passed",
        "leaked",
        Some("connect"),
    ),
    ("sees_its_binary", "passed", "clean", None),
    ("ipv6_leak", "passed", "leaked", Some("connect")),
];

#[test]
fn workspace_run_gives_each_test_its_verdict() {
    let (code, stdout, stderr, report) = run_fixture(
        "ws",
        &["--workspace", "--isolate-network", "--timeout", "3"],
    );
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(1), "a leak makes the exit status 1\n{all}");
    for (name, outcome, verdict, kind) in EXPECTED {
        let entry = report_entry(&report, name);
        assert_eq!(entry["outcome"], *outcome, "{name}: {entry:#}\n{all}");
        assert_eq!(entry["verdict"], *verdict, "{name}: {entry:#}\n{all}");
        if let Some(kind) = kind {
            assert!(
                entry["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["kind"] == *kind && f["severity"] == "leak"),
                "{name} must have a {kind} leak: {entry:#}"
            );
        }
        let line_status = match (*outcome, *verdict) {
            ("ignored", _) => "ignored",
            ("passed", "clean") => "ok",
            _ => "FAILED",
        };
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("test {name} ")))
            .unwrap_or_else(|| panic!("no libtest line for {name}\n{all}"));
        assert!(
            line.ends_with(&format!("... {line_status}")),
            "{line}\n{all}"
        );
    }
    assert_eq!(
        report["tests"].as_array().unwrap().len(),
        EXPECTED.len(),
        "{report:#}"
    );
    // The failure entry of the DNS leak names the :53 destination and the allow list.
    let dns = stdout
        .split("---- tests::dns_leak ----")
        .nth(1)
        .expect("failure entry for dns_leak");
    assert!(dns.contains(":53"), "{dns}");
    assert!(dns.contains("allow list in force: 127.0.0.1:9050"), "{dns}");
    // A failing test's own output is shown.
    assert!(stdout.contains("deliberate failure"), "{all}");
    assert!(stdout.contains("test result: FAILED."), "{all}");
    assert!(stderr.contains("Running unittests src/lib.rs"), "{all}");
    assert!(stderr.contains("Running tests/net.rs"), "{all}");
}

#[test]
fn failures_without_leaks_exit_101_and_leaks_only_exits_0() {
    let (code, _, stderr, _) = run_fixture(
        "ws",
        &["-p", "alpha", "--isolate-network", "fails_without_leaking"],
    );
    assert_eq!(code, Some(101), "{stderr}");
    let (code, _, stderr, _) = run_fixture(
        "ws",
        &[
            "-p",
            "alpha",
            "--isolate-network",
            "--leaks-only",
            "fails_without_leaking",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn filters_exact_and_skip_select_tests() {
    let (code, stdout, stderr, report) = run_fixture(
        "ws",
        &[
            "-p",
            "alpha",
            "--isolate-network",
            "clean",
            "--",
            "--skip",
            "hangs",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let names: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["tests::clean_math"]);
    let (_, _, _, report) = run_fixture(
        "ws",
        &[
            "-p",
            "alpha",
            "--isolate-network",
            "tests::udp_leak",
            "--",
            "--exact",
        ],
    );
    assert_eq!(report["tests"].as_array().unwrap().len(), 1);
}

#[test]
fn partitions_split_the_tests_exactly() {
    let run = |part: &str| {
        let (_, _, _, report) = run_fixture(
            "ws",
            &[
                "-p",
                "alpha",
                "--isolate-network",
                "--timeout",
                "3",
                "--partition",
                part,
            ],
        );
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (one, two) = (run("count:1/2"), run("count:2/2"));
    let mut both: Vec<String> = one.iter().chain(&two).cloned().collect();
    both.sort();
    let mut all: Vec<String> = EXPECTED
        .iter()
        .filter(|e| e.0.starts_with("tests::"))
        .map(|e| e.0.to_string())
        .collect();
    all.sort();
    assert_eq!(both, all);
    assert!(one.iter().all(|t| !two.contains(t)));
}

#[test]
fn bad_metadata_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"bad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[package.metadata.leakcheck]\nallow = [\"localhost:9050\"]\n[workspace]\n",
    )
    .unwrap();
    let output = leakcheck_e2e::leakcheck()
        .arg("--manifest-path")
        .arg(dir.path().join("Cargo.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Cargo.toml"), "{stderr}");
    assert!(stderr.contains("allow"), "{stderr}");
}
