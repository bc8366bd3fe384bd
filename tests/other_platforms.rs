//! Where there is no tracer (macOS, Windows: every platform but Linux), tested on Linux
//! with `LEAKCHECK_SIMULATE_NO_TRACER=1`, which takes the same path: `#[leak_free]` tests
//! run untraced and the test binary says so once; `LEAKCHECK_REQUIRE=1` makes every one
//! of them fail; `cargo leakcheck` exits 2 with the reason. That the crates compile
//! there is checked by `scripts/check-other-platforms.sh` (run here too).
//!
//! The fixture is `tests/fixtures/leak_free_demo`, whose every network attempt goes to
//! loopback: running its tests untraced sends nothing off the machine.

use leakcheck_e2e::{leakcheck, tests_dir};
use std::path::PathBuf;
use std::process::{Command, Output};

const SIMULATE: (&str, &str) = ("LEAKCHECK_SIMULATE_NO_TRACER", "1");

/// The fixtures' shared target directory (the one `tests/leak_free.rs` builds into).
fn fixture_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors().nth(3).expect("target dir").join("fixtures")
}

/// `cargo test --no-fail-fast` on the fixture, with `env`.
fn cargo_test(env: &[(&str, &str)]) -> (String, String) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--no-fail-fast", "--manifest-path"])
        .arg(tests_dir().join("fixtures/leak_free_demo/Cargo.toml"));
    for var in [
        "LEAKCHECK_ALLOW",
        "LEAKCHECK_TRACED",
        "LEAKCHECK_ATTRIBUTE_POLICY",
        "LEAKCHECK_LEAK_FREE_CHILD",
        "LEAKCHECK_LEAK_FREE_NONCE",
        "LEAKCHECK_REQUIRE",
        "RUST_TEST_THREADS",
        "RUST_TEST_NOCAPTURE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", fixture_target_dir())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied());
    let output = cmd.output().expect("run cargo test on the fixture");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// libtest's result for `name`: `ok`, `FAILED` or `ignored`.
fn result<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(&format!("test {name} "))?;
            let rest = rest.strip_prefix("- should panic ").unwrap_or(rest);
            rest.strip_prefix("... ")
        })
        .unwrap_or_else(|| panic!("no result line for {name}:\n{stdout}"))
}

#[test]
fn leak_free_tests_run_untraced_and_say_so_once_per_binary() {
    let (stdout, stderr) = cargo_test(&[SIMULATE]);
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    // Each test ends as its body did: leaks are not seen, failures still fail.
    for (name, expected) in [
        ("clean::test_above", "ok"),
        ("leaks::tcp_loopback", "ok"),
        ("leaks::ip_socket_when_ip_false", "ok"),
        ("panics::should_panic_clean", "ok"),
        ("panics::should_panic_but_leaked", "ok"),
        ("panics::plain_panic", "FAILED"),
        ("results::err", "FAILED"),
        ("results::boxed_error_leaked", "ok"),
        ("tokio_tests::tokio_below_leaks", "ok"),
        ("rstest_tests::rstest_above::case_2", "ok"),
        ("ignored::ignored_leak", "ignored"),
        ("integration_leak", "ok"),
    ] {
        assert_eq!(result(&stdout, name), expected, "{name}\n{all}");
    }
    assert!(!stdout.contains("this test leaked"), "{all}");
    // Once for the library's test binary, once for the integration test's.
    let note = "leakcheck: no tracer (LEAKCHECK_SIMULATE_NO_TRACER is set); #[leak_free] tests run untraced here, their network use unchecked (LEAKCHECK_REQUIRE=1 fails them instead)\n";
    assert_eq!(stderr.matches(note).count(), 2, "{all}");
}

#[test]
fn leakcheck_require_fails_every_untraced_test() {
    let (stdout, stderr) = cargo_test(&[SIMULATE, ("LEAKCHECK_REQUIRE", "1")]);
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    let results: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.contains(" ... "))
        .collect();
    assert!(results.len() > 40, "{all}");
    for line in &results {
        assert!(
            line.ends_with("... FAILED") || line.contains("... ignored"),
            "every test that runs must fail: {line}\n{all}"
        );
    }
    assert!(
        stdout.contains(
            "leak_free: `leaks::tcp_loopback`: no tracer (LEAKCHECK_SIMULATE_NO_TRACER is set), and LEAKCHECK_REQUIRE=1 makes an untraced test fail"
        ),
        "{all}"
    );
    // A #[should_panic] test fails by not panicking: its expected panic cannot pass it.
    let section = stdout
        .split("---- panics::should_panic_clean stdout ----\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure section:\n{all}"));
    assert!(
        section.starts_with("leak_free: `panics::should_panic_clean`: no tracer")
            && section.contains("this #[should_panic] test is failed by not panicking.")
            && section.contains("note: test did not panic as expected"),
        "{all}"
    );
    assert!(!stderr.contains("run untraced here"), "{all}");
}

#[test]
fn cargo_leakcheck_exits_2_and_says_where_it_runs() {
    for args in [
        &["--manifest-path", "/nonexistent/Cargo.toml"][..],
        &["self-test"],
        &["run", "--", "true"],
    ] {
        let output: Output = leakcheck()
            .args(args)
            .env(SIMULATE.0, SIMULATE.1)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(
                "error: cargo leakcheck cannot run here: no tracer (LEAKCHECK_SIMULATE_NO_TRACER is set)\n(hint: run it on Linux:"
            ),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("LEAKCHECK_REQUIRE=1"), "{stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn the_crates_compile_without_linux() {
    // A copy of the crates with `target_os = "linux"` false, built into a directory of
    // its own under this target directory, so that a second run is quick.
    let target = fixture_target_dir().with_file_name("other-platforms");
    let output = Command::new("bash")
        .arg(tests_dir().join("../scripts/check-other-platforms.sh"))
        .env("CHECK_TARGET_DIR", &target)
        .env_remove("LEAKCHECK_REQUIRE")
        .env_remove(SIMULATE.0)
        .output()
        .expect("run scripts/check-other-platforms.sh");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{all}");
    assert!(all.contains("check-other-platforms: ok"), "{all}");
}
