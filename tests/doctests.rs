//! Doctests and libtest's own lines, on the fixture workspace `tests/fixtures/doctests`:
//! each doctest gets a verdict of its own (edition 2021 and edition 2024's merged
//! doctests), `--doc` runs only them and `--lib` none; and what `cargo leakcheck` prints
//! for the clean tests is what `cargo test` itself prints on the same fixture, line for
//! line (order aside), in the pretty and the terse format.
//!
//! The fixture tries outside addresses and looks names up on purpose: every run is
//! isolated, `cargo test` too (run by `cargo leakcheck run --isolate-network`).

use leakcheck_e2e::{fixtures_target_dir, leakcheck, report_entry, run_fixture, tests_dir};
use std::collections::BTreeMap;
use std::process::Command;

/// (outcome, verdict, leak kinds) per `binary/name`.
type Verdicts = BTreeMap<String, (String, String, Vec<String>)>;

fn verdicts(report: &serde_json::Value) -> Verdicts {
    report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            let mut kinds: Vec<String> = t["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|f| f["severity"] == "leak")
                .map(|f| f["kind"].as_str().unwrap_or_default().to_string())
                .collect();
            kinds.sort();
            (
                format!(
                    "{}/{}",
                    t["binary"].as_str().unwrap_or_default(),
                    t["name"].as_str().unwrap_or_default()
                ),
                (
                    t["outcome"].as_str().unwrap_or_default().to_string(),
                    t["verdict"].as_str().unwrap_or_default().to_string(),
                    kinds,
                ),
            )
        })
        .collect()
}

/// What every doctest of the fixture must get.
const DOCTESTS: &[(&str, &str, &str, &[&str])] = &[
    (
        "Doc-tests lines/lines/src/lib.rs - add (line 8)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - leak_dns (line 17)",
        "passed",
        "leaked",
        &["dns"],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - leak_udp (line 25)",
        "passed",
        "leaked",
        &["send"],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - panics (line 33)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - compiled_only (line 40)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - does_not_compile (line 48)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests lines/lines/src/lib.rs - ignored_doc (line 55)",
        "ignored",
        "not-run",
        &[],
    ),
    (
        "Doc-tests merged/merged/src/lib.rs - add (line 5)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests merged/merged/src/lib.rs - leak_dns (line 14)",
        "passed",
        "leaked",
        &["dns"],
    ),
    (
        "Doc-tests merged/merged/src/lib.rs - panics (line 22)",
        "passed",
        "clean",
        &[],
    ),
    (
        "Doc-tests merged/merged/src/lib.rs - does_not_compile (line 29)",
        "passed",
        "clean",
        &[],
    ),
];

fn assert_doctests(report: &serde_json::Value, all: &str) {
    let got = verdicts(report);
    for (name, outcome, verdict, kinds) in DOCTESTS {
        let Some((o, v, k)) = got.get(*name) else {
            panic!("no verdict for {name}: {got:#?}\n{all}");
        };
        assert_eq!(
            (o.as_str(), v.as_str()),
            (*outcome, *verdict),
            "{name}\n{all}"
        );
        assert_eq!(k, kinds, "{name}\n{all}");
    }
    let doctests = got.keys().filter(|k| k.starts_with("Doc-tests ")).count();
    assert_eq!(doctests, DOCTESTS.len(), "{got:#?}");
}

#[test]
fn each_doctest_gets_its_verdict_in_both_modes() {
    for mode in [&[][..], &["--per-test"][..]] {
        let mut args = vec!["--workspace", "--isolate-network"];
        args.extend(mode);
        let (code, stdout, stderr, report) = run_fixture("doctests", &args);
        let all = format!("{args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        assert_eq!(code, Some(1), "{all}");
        assert_doctests(&report, &all);
        // Named as libtest names them, in cargo's order: the unit tests, then the
        // doctests, package by package.
        assert!(
            stdout.contains("test lines/src/lib.rs - add (line 8) ... ok\n"),
            "{all}"
        );
        assert!(
            stdout.contains("test lines/src/lib.rs - leak_dns (line 17) ... FAILED\n"),
            "{all}"
        );
        assert!(
            stdout.contains("test lines/src/lib.rs - compiled_only (line 40) - compile ... ok\n"),
            "{all}"
        );
        let headers: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("     Running ") || l.starts_with("   Doc-tests "))
            .map(|l| l.split(" (").next().unwrap_or(l).trim())
            .collect();
        assert_eq!(
            headers,
            [
                "Running unittests src/lib.rs",
                "Running unittests src/lib.rs",
                "Doc-tests lines",
                "Doc-tests merged"
            ],
            "{all}"
        );
        let dns = stdout
            .split("---- lines/src/lib.rs - leak_dns (line 17) stdout ----\n")
            .nth(1)
            .expect("a failures entry for the DNS doctest");
        assert!(
            dns.starts_with("the test passed; it leaked\nLEAKED: 1 leak\n"),
            "{dns}"
        );
        assert!(dns.contains(":53"), "{dns}");
    }
}

#[test]
fn doc_runs_only_the_doctests_and_lib_none() {
    let (code, _, stderr, report) =
        run_fixture("doctests", &["-p", "lines", "--doc", "--isolate-network"]);
    assert_eq!(code, Some(1), "{stderr}");
    let got = verdicts(&report);
    assert!(
        got.keys().all(|k| k.starts_with("Doc-tests lines/")),
        "{got:#?}"
    );
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(!stderr.contains("     Running "), "{stderr}");

    let (code, _, stderr, report) =
        run_fixture("doctests", &["-p", "lines", "--lib", "--isolate-network"]);
    assert_eq!(code, Some(1), "the unit test leaks: {stderr}");
    let got = verdicts(&report);
    assert!(
        got.keys().all(|k| k.starts_with("lines/tests::")),
        "{got:#?}"
    );
    assert!(!stderr.contains("Doc-tests"), "{stderr}");

    // Paths as the user gave them, relative to where cargo leakcheck runs.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = leakcheck();
    cmd.current_dir(tests_dir())
        .args([
            "--manifest-path",
            "fixtures/doctests/Cargo.toml",
            "--target-dir",
        ])
        .arg(fixtures_target_dir())
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .args(["-p", "lines", "--doc", "--isolate-network", "add"]);
    quiet(&mut cmd);
    let output = cmd.output().expect("run cargo leakcheck");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("test lines/src/lib.rs - add (line 8) ... ok\n"),
        "{stdout}"
    );

    // cargo's own words for a mix it refuses.
    let (code, _, stderr, _) = run_fixture("doctests", &["--doc", "--lib", "--isolate-network"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        "error: can't mix --doc with other target selecting options\n"
    );
}

#[test]
fn a_doctest_is_named_as_cargo_test_filters_it() {
    // rustdoc splits a filter at spaces: `leak_dns (line 17)` selects every doctest with
    // one of the words, as under `cargo test`; `leak_dns` alone selects one.
    let (code, stdout, stderr, report) = run_fixture(
        "doctests",
        &["-p", "lines", "--doc", "--isolate-network", "leak_dns"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(verdicts(&report).len(), 1, "{stdout}");
    assert_eq!(
        report_entry(&report, "lines/src/lib.rs - leak_dns (line 17)")["verdict"],
        "leaked"
    );
    assert!(stdout.contains("6 filtered out"), "{stdout}");
}

/// `cargo test ARGS` on the fixture, in a network namespace of its own: its stdout.
fn cargo_test(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = leakcheck();
    cmd.args(["run", "--isolate-network", "--report"])
        .arg(dir.path().join("report.json"))
        .args(["--", "cargo", "test", "--manifest-path"])
        .arg(tests_dir().join("fixtures/doctests/Cargo.toml"))
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .args(args)
        .current_dir(dir.path());
    quiet(&mut cmd);
    let output = cmd.output().expect("run cargo test");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `cargo leakcheck ARGS` on the fixture: its stdout.
fn cargo_leakcheck(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = leakcheck();
    cmd.arg("--manifest-path")
        .arg(tests_dir().join("fixtures/doctests/Cargo.toml"))
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .arg("--isolate-network")
        .args(args);
    quiet(&mut cmd);
    let output = cmd.output().expect("run cargo leakcheck");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An environment that does not depend on the `cargo test` running this one.
fn quiet(cmd: &mut Command) {
    cmd.env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_TEST_THREADS");
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" {
            cmd.env_remove(&key);
        }
    }
}

/// Each libtest block of an output (from `running N tests` to the blank line after
/// `test result:`), its lines sorted (tests finish in any order), times made `T`,
/// the terse format's characters sorted too, leakcheck's warning lines left out.
fn blocks(stdout: &str) -> Vec<Vec<String>> {
    let time = regex::Regex::new(r"finished in \d+\.\d+s").unwrap();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("running ") {
            blocks.push(Vec::new());
        }
        if line.starts_with("    warning: ") {
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        let line = time.replace(line, "finished in T").into_owned();
        let line = if !line.is_empty() && line.chars().all(|c| ".iF".contains(c)) {
            let mut chars: Vec<char> = line.chars().collect();
            chars.sort();
            chars.into_iter().collect()
        } else {
            line
        };
        block.push(line);
    }
    for block in &mut blocks {
        block.sort();
    }
    blocks
}

#[test]
fn the_lines_are_cargo_tests_own() {
    // The clean tests only: `cargo test` calls a leaking one ok.
    let skip = ["--", "--skip", "leak"];
    for (format, cargo_args, ours) in [
        ("pretty", &[][..], &[][..]),
        ("-q", &["-q"][..], &["-q"][..]),
        ("--format terse", &[][..], &["--", "--format", "terse"][..]),
    ] {
        let mut theirs_args = vec!["-p", "lines"];
        theirs_args.extend(cargo_args);
        theirs_args.extend(skip);
        if format == "--format terse" {
            theirs_args.extend(["--format", "terse"]);
        }
        let theirs = cargo_test(&theirs_args);
        for mode in [&[][..], &["--per-test"][..]] {
            let mut args = vec!["-p", "lines"];
            args.extend(mode);
            args.extend(ours.iter().take_while(|a| **a != "--"));
            args.extend(skip);
            args.extend(ours.iter().skip_while(|a| **a != "--").skip(1));
            let ours = cargo_leakcheck(&args);
            assert_eq!(
                blocks(&ours),
                blocks(&theirs),
                "{format} {mode:?}:\n--- cargo leakcheck {args:?}\n{ours}\n--- cargo test {theirs_args:?}\n{theirs}"
            );
            if format == "pretty" {
                // A warning is a line of its own under its test, for a passing test too.
                let under = ours
                    .split("test tests::listens_on_every_interface ... ok\n")
                    .nth(1)
                    .unwrap_or_default();
                assert!(
                    under.starts_with("    warning: listen 0.0.0.0:0 by listen() (pid "),
                    "{ours}"
                );
            }
        }
        // What the comparison rests on.
        assert!(theirs.contains("running 6 tests"), "{theirs}");
        if format == "pretty" {
            for line in [
                "test tests::panics_as_expected - should panic ... ok",
                "test tests::ignored_with_a_reason ... ignored, needs the real network",
                "test lines/src/lib.rs - compiled_only (line 40) - compile ... ok",
                "test lines/src/lib.rs - does_not_compile (line 48) - compile fail ... ok",
            ] {
                assert!(theirs.contains(line), "{line}\n{theirs}");
            }
        }
    }
}
