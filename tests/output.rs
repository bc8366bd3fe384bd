//! Snapshots of what a user reads: the libtest lines and `failures:` entries on stdout,
//! the `leakcheck:` lines on stderr, the JSON report, `--message-format json`, JUnit,
//! GitHub annotations and the job summary, colour, error messages and exit statuses, and
//! the environment a test binary gets. Byte for byte, after the parts that change from
//! run to run (pids, times, addresses, paths, hashes) are replaced by placeholders.
//!
//! `LEAKCHECK_BLESS=1 cargo test -p leakcheck-e2e --test output` rewrites the snapshots
//! in `tests/snapshots/`; review the diff before committing it.

use leakcheck_e2e::{fixtures_target_dir, leakcheck, tests_dir};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One run's outputs, in the order they are written to the snapshot.
struct Run {
    sections: Vec<(String, String)>,
}

impl Run {
    fn new() -> Run {
        Run {
            sections: Vec::new(),
        }
    }

    fn add(&mut self, name: &str, text: impl Into<String>) {
        self.sections.push((name.to_string(), text.into()));
    }

    /// Runs `cmd`, adding its exit status, stdout and stderr.
    fn command(&mut self, label: &str, cmd: &mut Command) {
        let output = cmd.output().expect("run cargo leakcheck");
        self.add(
            &format!("{label}: exit"),
            format!("{:?}\n", output.status.code()),
        );
        self.add(
            &format!("{label}: stdout"),
            String::from_utf8_lossy(&output.stdout),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        // cargo's own progress lines (and their timings) are cargo's, not ours.
        let cargo_line = Regex::new(
            r"^\s+(Compiling|Finished|Blocking|Locking|Adding|Updating|Downloading|Downloaded|Checking|Fresh) ",
        )
        .unwrap();
        let ours: String = stderr
            .split_inclusive('\n')
            .filter(|l| !cargo_line.is_match(l))
            .collect();
        self.add(&format!("{label}: stderr"), ours);
    }

    /// Adds the file at `path` (or says it is missing).
    fn file(&mut self, name: &str, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|_| "<missing>\n".to_string());
        self.add(name, text);
    }

    /// Compares with `tests/snapshots/NAME.txt` (or writes it, under LEAKCHECK_BLESS).
    fn check(self, name: &str, replacements: &[(&Path, &str)]) {
        let mut text = String::new();
        for (section, body) in &self.sections {
            text.push_str(&format!("===== {section}\n"));
            text.push_str(body);
            if !body.is_empty() && !body.ends_with('\n') {
                text.push_str("\n<no newline at the end>\n");
            }
        }
        let text = normalize(&text, replacements);
        let path = tests_dir().join("snapshots").join(format!("{name}.txt"));
        if std::env::var_os("LEAKCHECK_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("no snapshot {}: run with LEAKCHECK_BLESS=1", path.display())
        });
        if want != text {
            let first = want
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(text.lines().count()));
            panic!(
                "{name}: output differs from {} from line {}:\n--- want\n{}\n--- got\n{}\n--- whole output\n{text}",
                path.display(),
                first + 1,
                want.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
                text.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
            );
        }
    }
}

/// Replaces what differs between runs and machines.
fn normalize(text: &str, replacements: &[(&Path, &str)]) -> String {
    let mut text = text.to_string();
    let mut paths: Vec<(String, &str)> = replacements
        .iter()
        .map(|(p, name)| (p.display().to_string(), *name))
        .collect();
    // Longest first, so that a directory inside another is replaced as itself.
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (path, name) in paths {
        text = text.replace(&path, name);
    }
    for (pattern, with) in [
        // pids: in the failure entries, trace lines, the reports.
        (r"\bpid \d+", "pid N"),
        (r"(?m)^((?:leakcheck:)?\s+)\d+ ([a-z_0-9]+\()", "${1}N $2"),
        (r#""trace": ?"\d+ "#, r#""trace": "N "#),
        (r#""pid": ?\d+"#, r#""pid": N"#),
        (r"thread '([^']*)' \(\d+\)", "thread '$1' (N)"),
        // Times.
        (r"finished in \d+\.\d+s", "finished in T"),
        (r#""duration_ms": ?\d+"#, r#""duration_ms": N"#),
        (r#"time="[0-9.]+""#, r#"time="T""#),
        // Addresses in memory, and cargo's hashes in file names.
        (r"0x[0-9a-f]{6,}", "0xADDR"),
        (r"-[0-9a-f]{16}\b", "-HASH"),
        // Temporary files' random names.
        (r"/leakcheck-batch-[A-Za-z0-9]+/", "/leakcheck-batch-X/"),
        (r"/\.tmp[A-Za-z0-9]+", "/.tmpX"),
        // rustdoc's directory for a doctest's program (a finding's `program`).
        (r"/rustdoctest[A-Za-z0-9]+/", "/rustdoctestX/"),
    ] {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    text
}

/// A `cargo leakcheck` on the fixture `name`, as the other e2e tests run it, with an
/// environment that does not depend on the `cargo test` running this one.
fn fixture(name: &str, report: &Path) -> Command {
    let mut cmd = leakcheck();
    cmd.arg("--manifest-path")
        .arg(tests_dir().join("fixtures").join(name).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .arg("--report")
        .arg(report);
    quiet_env(&mut cmd);
    cmd
}

fn quiet_env(cmd: &mut Command) {
    cmd.env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_TEST_THREADS")
        .env_remove("LEAKCHECK_BLESS")
        .env_remove("LD_LIBRARY_PATH");
    // What cargo set for this test binary would reach the fixtures' tests.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" {
            cmd.env_remove(&key);
        }
    }
}

fn sysroot() -> PathBuf {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(tests_dir().join("fixtures/ws"))
        .output()
        .expect("rustc --print sysroot");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn cargo_program() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

#[test]
fn every_test_alone_with_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut run = Run::new();
    run.command(
        "ws --workspace",
        fixture("ws", &report).args([
            "--workspace",
            "--isolate-network",
            "--timeout",
            "5",
            "--test-threads",
            "1",
            "--",
            "--skip",
            "hangs",
            "--skip",
            "dns_leak",
        ]),
    );
    run.file("report.json", &report);
    run.check(
        "every_test_alone",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
        ],
    );
}

#[test]
fn batch_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut run = Run::new();
    run.command(
        "alpha batch --color always",
        fixture("ws", &report).args([
            "-p",
            "alpha",
            "--isolate-network",
            "--test-threads",
            "1",
            "--color",
            "always",
            "--",
            "--skip",
            "hangs",
            "--skip",
            "dns_leak",
            "--skip",
            "crashes",
        ]),
    );
    run.command(
        "alpha clean_math",
        fixture("ws", &report).args(["-p", "alpha", "--isolate-network", "clean_math"]),
    );
    run.check(
        "batch_in_colour",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
        ],
    );
}

#[test]
fn json_junit_and_github() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("summary.md");
    let mut run = Run::new();
    run.command(
        "alpha json",
        fixture("ws", &report)
            .args([
                "-p",
                "alpha",
                "--isolate-network",
                "--timeout",
                "2",
                "--test-threads",
                "1",
                "--message-format",
                "json",
                "--junit",
            ])
            .arg(&junit)
            .args(["--", "--skip", "dns_leak", "--include-ignored"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    run.file("junit.xml", &junit);
    run.file("job summary", &summary);
    run.command(
        "alpha human, GitHub",
        fixture("ws", &report)
            .args([
                "-p",
                "alpha",
                "--isolate-network",
                "--test-threads",
                "1",
                "--partition",
                "count:2/3",
                "--",
                "--skip",
                "dns_leak",
                "--skip",
                "hangs",
            ])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    run.file("job summary, appended", &summary);
    run.check(
        "json_junit_and_github",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
        ],
    );
}

#[test]
fn what_no_test_can_be_named_for() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut run = Run::new();
    run.command(
        "static_init, no test selected",
        fixture("static_init", &report).args(["--isolate-network", "no_test_is_named_so"]),
    );
    run.file("report.json", &report);
    run.check(
        "no_test_named",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
        ],
    );
}

#[test]
fn doctests_and_libtests_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut run = Run::new();
    run.command(
        "lines",
        fixture("doctests", &report).args([
            "-p",
            "lines",
            "--isolate-network",
            "--test-threads",
            "1",
        ]),
    );
    run.file("report.json", &report);
    run.command(
        "lines -q",
        fixture("doctests", &report).args([
            "-p",
            "lines",
            "--isolate-network",
            "--test-threads",
            "1",
            "-q",
        ]),
    );
    run.check(
        "doctests",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
        ],
    );
}

#[test]
fn the_environment_of_a_test_binary() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let dumps = dir.path().join("env");
    std::fs::create_dir(&dumps).unwrap();
    let mut run = Run::new();
    for per_test in [false, true] {
        let mut cmd = fixture("env_dump", &report);
        cmd.env("ENV_DUMP_TO", &dumps);
        if per_test {
            cmd.arg("--per-test");
        }
        run.command(if per_test { "per test" } else { "batch" }, &mut cmd);
        for tag in ["lib", "bin", "test"] {
            let dump = std::fs::read_to_string(dumps.join(tag)).unwrap_or_default();
            // Inherited, not set by cargo leakcheck.
            let set: String = dump
                .split_inclusive('\n')
                .filter(|l| !l.starts_with("CARGO_HOME="))
                .collect();
            run.add(&format!("environment of the {tag} tests"), set);
            let _ = std::fs::remove_file(dumps.join(tag));
        }
    }
    let sysroot = sysroot();
    run.check(
        "test_environment",
        &[
            (&fixtures_target_dir(), "$TARGET"),
            (&tests_dir().join("fixtures"), "$FIXTURES"),
            (dir.path(), "$TMP"),
            (&sysroot, "$SYSROOT"),
            (&cargo_program(), "$CARGO"),
            (Path::new(&std::env::temp_dir()), "$TEMP"),
        ],
    );
}

#[test]
fn run_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let summary = dir.path().join("summary.md");
    let mut run = Run::new();
    let mut leak = leakcheck();
    quiet_env(&mut leak);
    leak.current_dir(dir.path())
        .args(["run", "--isolate-network", "--timeout", "20", "--report"])
        .arg(&report)
        .args([
            "--",
            "bash",
            "-c",
            "echo x > /dev/udp/192.0.2.1/9; echo done",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary);
    run.command("a leak", &mut leak);
    run.file("report.json", &report);
    run.file("job summary", &summary);
    for extra in [&[][..], &["--leaks-only"][..]] {
        let mut failing = leakcheck();
        quiet_env(&mut failing);
        failing
            .current_dir(dir.path())
            .args(["run", "--report"])
            .arg(&report)
            .args(extra)
            .args(["--", "sh", "-c", "exit 3"]);
        run.command(&format!("a failing command {extra:?}"), &mut failing);
    }
    run.file("report.json", &report);
    run.check("run_a_command", &[(dir.path(), "$TMP")]);
}

#[test]
fn errors_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new();
    let cases: &[(&str, &[&str])] = &[
        ("bad timeout", &["--timeout", "0"]),
        ("bad partition", &["--partition", "slice:1/2"]),
        ("unknown libtest option", &["--", "--bogus"]),
        (
            "bad --allow",
            &["run", "--allow", "localhost:9050", "--", "true"],
        ),
        ("no Cargo.toml", &[]),
        ("unknown flag", &["--no-such-flag"]),
        ("bad run timeout", &["run", "--timeout=-1", "--", "true"]),
    ];
    for (label, args) in cases {
        let mut cmd = leakcheck();
        quiet_env(&mut cmd);
        cmd.current_dir(dir.path()).args(*args);
        run.command(label, &mut cmd);
    }
    let mut cmd = leakcheck();
    quiet_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("LEAKCHECK_ALLOW", "not-an-endpoint")
        .args(["run", "--", "true"]);
    run.command("bad LEAKCHECK_ALLOW", &mut cmd);
    // A manifest neither cargo command can read: the build (started beside `cargo
    // metadata`) and the metadata fail alike, and cargo's words are printed once.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("Cargo.toml"), "[package\nname = \"x\"\n").unwrap();
    let mut cmd = leakcheck();
    quiet_env(&mut cmd);
    cmd.current_dir(broken.path());
    run.command("unreadable Cargo.toml", &mut cmd);
    // A selection cargo refuses reads as cargo's own message, with its did-you-mean.
    let manifest = tests_dir().join("fixtures/ws/Cargo.toml");
    for (label, args) in [
        ("mistyped --test", &["--test", "nett"][..]),
        ("mistyped -p", &["-p", "alpah", "--test", "net"][..]),
        ("--doc with --lib", &["--doc", "--lib"][..]),
    ] {
        let mut cmd = leakcheck();
        quiet_env(&mut cmd);
        cmd.current_dir(dir.path())
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(fixtures_target_dir())
            .args(args);
        run.command(label, &mut cmd);
    }
    run.check(
        "errors",
        &[(dir.path(), "$TMP"), (broken.path(), "$BROKEN")],
    );
}

/// The snapshots name no machine-specific path.
#[test]
fn snapshots_are_portable() {
    let home = std::env::var("HOME").unwrap_or_default();
    for entry in std::fs::read_dir(tests_dir().join("snapshots"))
        .into_iter()
        .flatten()
    {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            home.len() < 2 || !text.contains(&home),
            "{} names {home}",
            path.display()
        );
    }
}
