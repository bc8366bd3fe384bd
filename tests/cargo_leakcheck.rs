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
    ("tests::ignored_leak", "ignored", "not-run", None),
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
        .split("---- tests::dns_leak stdout ----")
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

#[test]
fn github_actions_get_annotations_and_a_job_summary() {
    let summary = tempfile::NamedTempFile::new().unwrap();
    let (code, stdout, stderr, report) = leakcheck_e2e::run_fixture_env(
        "ws",
        &["-p", "alpha", "--isolate-network", "--timeout", "3"],
        &[
            ("GITHUB_ACTIONS", "true".as_ref()),
            ("GITHUB_STEP_SUMMARY", summary.path().as_os_str()),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    let failing: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["verdict"] == "leaked" || t["verdict"] == "unverified")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors.len(),
        failing.len(),
        "one ::error per leaking or unverified test:\n{stdout}"
    );
    for name in &failing {
        let title = format!("title=leakcheck%3A alpha {}::", name.replace(':', "%3A"));
        assert!(
            errors.iter().any(|e| e.contains(&title)),
            "no annotation titled {title}:\n{stdout}"
        );
    }
    for clean in [
        "tests::clean_math",
        "tests::fails_without_leaking",
        "tests::proxy_port_is_allowed",
    ] {
        assert!(
            !errors.iter().any(|e| e.contains(&format!(" {clean}::"))),
            "{clean} got an annotation"
        );
    }
    let dns = errors
        .iter()
        .find(|e| e.contains("::tests::dns_leak leaked"))
        .unwrap();
    assert!(
        dns.contains(":53 (connect())") || dns.contains(":53 (sendto())"),
        "{dns}"
    );
    assert!(
        dns.contains("%0Aallow list: 127.0.0.1:9050"),
        "newlines escaped: {dns}"
    );

    let md = std::fs::read_to_string(summary.path()).unwrap();
    assert!(
        md.contains("leakcheck: 11 tests, 4 leaked, 1 unverified"),
        "{md}"
    );
    assert!(
        md.contains("| Test | Verdict | Kind | Destination | Syscall | Allow list |"),
        "{md}"
    );
    let dns_row = md
        .lines()
        .find(|l| l.contains("`tests::dns_leak`"))
        .expect("dns row");
    assert!(
        dns_row.contains(":53`") && dns_row.contains("| dns |"),
        "{dns_row}"
    );
    assert!(!md.contains("tests::clean_math"), "{md}");
}

#[test]
fn action_script_builds_the_command_from_env_only() {
    let script = leakcheck_e2e::tests_dir().join("../scripts/action.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .env("LEAKCHECK_DRY_RUN", "1")
        .env("LEAKCHECK_ACTION_PATH", "/action")
        .env(
            "LEAKCHECK_INPUT_ALLOW",
            "127.0.0.1:9050\n[::1]:9050, 10.0.0.0/8:443",
        )
        .env("LEAKCHECK_INPUT_ARGS", "--workspace --isolate-network")
        .env("LEAKCHECK_INPUT_LEAKS_ONLY", "true")
        .env(
            "PATH",
            format!("/usr/bin:/bin:{}", std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("would run: cargo install --locked --path /action/cargo-leakcheck"),
        "{stdout}"
    );
    assert!(
        stdout.contains("allow list: 127.0.0.1:9050,[::1]:9050,10.0.0.0/8:443"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would run: cargo leakcheck --leaks-only --workspace --isolate-network"),
        "{stdout}"
    );
    // The self-test runs first, folded in the log.
    let self_test = stdout
        .find("::group::cargo leakcheck self-test\nwould run: cargo leakcheck self-test\n::endgroup::")
        .expect(&stdout);
    assert!(
        self_test
            < stdout
                .find("would run: cargo leakcheck --leaks-only")
                .unwrap()
    );

    // An input cannot smuggle shell code: it stays one argument.
    let output = std::process::Command::new("bash")
        .arg(&script)
        .env("LEAKCHECK_DRY_RUN", "1")
        .env("LEAKCHECK_ACTION_PATH", "/action")
        .env("LEAKCHECK_INPUT_ARGS", "$(touch /tmp/leakcheck-pwned)")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r"\$\(touch"), "{stdout}");
    let bad = std::process::Command::new("bash")
        .arg(&script)
        .env("LEAKCHECK_DRY_RUN", "1")
        .env("LEAKCHECK_INPUT_VERSION", "1.0; rm -rf /")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    if let Ok(out) = std::process::Command::new("shellcheck")
        .arg(&script)
        .output()
    {
        assert!(
            out.status.success(),
            "shellcheck: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// A directory of stand-in programs for the action's script: `id` says uid 1001 (not
/// root), `strace` exists (so nothing is installed), `cargo` logs its arguments to
/// `cargo.log` beside it and exits with `$FAKE_SELF_TEST_STATUS` for `self-test`.
fn fake_bin() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cargo.log");
    for (name, body) in [
        ("id", "echo 1001".to_string()),
        ("strace", "exit 0".to_string()),
        (
            "cargo",
            format!(
                "echo \"$*\" >> '{}'\ncase \"$*\" in *self-test*) echo 'the table'; exit \"${{FAKE_SELF_TEST_STATUS:-0}}\";; esac",
                log.display()
            ),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// The action's script with the stand-in programs first on PATH and `sysctl` as the
/// sysctl tree; returns (exit status, stdout).
fn action_script(
    bin: &tempfile::TempDir,
    sysctl: &std::path::Path,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let script = leakcheck_e2e::tests_dir().join("../scripts/action.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .env("LEAKCHECK_ACTION_PATH", "/action")
        .env("LEAKCHECK_SYSCTL_DIR", sysctl)
        .env_remove("RUNNER_ENVIRONMENT")
        .env_remove("LEAKCHECK_DRY_RUN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (
        output.status.code(),
        format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
    )
}

fn sysctl_tree(restrict: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("kernel")).unwrap();
    std::fs::write(
        dir.path()
            .join("kernel/apparmor_restrict_unprivileged_userns"),
        format!("{restrict}\n"),
    )
    .unwrap();
    dir
}

#[test]
fn action_allows_user_namespaces_on_github_runners_only() {
    let bin = fake_bin();
    let ubuntu = sysctl_tree("1");
    let relax = "would run: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
    let dry = ("LEAKCHECK_DRY_RUN", "1");

    // ubuntu-24.04 on GitHub's VMs: relaxed, before the self-test.
    let (code, out) = action_script(
        &bin,
        ubuntu.path(),
        &[dry, ("RUNNER_ENVIRONMENT", "github-hosted")],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("::notice title=leakcheck::AppArmor restricts"),
        "{out}"
    );
    let at = out.find(relax).expect(&out);
    assert!(
        at < out.find("would run: cargo leakcheck self-test").unwrap(),
        "{out}"
    );

    // A self-hosted runner is not changed: a warning names the fix.
    let (code, out) = action_script(
        &bin,
        ubuntu.path(),
        &[dry, ("RUNNER_ENVIRONMENT", "self-hosted")],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(relax), "{out}");
    assert!(
        out.contains("::warning title=leakcheck::AppArmor restricts unprivileged user namespaces on this self-hosted runner"),
        "{out}"
    );

    // Not restricted, or no namespace needed (no self-test, no --isolate-network).
    let open = sysctl_tree("0");
    let (_, out) = action_script(
        &bin,
        open.path(),
        &[dry, ("RUNNER_ENVIRONMENT", "github-hosted")],
    );
    assert!(!out.contains("sysctl"), "{out}");
    let (_, out) = action_script(
        &bin,
        ubuntu.path(),
        &[
            dry,
            ("RUNNER_ENVIRONMENT", "github-hosted"),
            ("LEAKCHECK_INPUT_SELF_TEST", "false"),
        ],
    );
    assert!(
        !out.contains("sysctl") && !out.contains("self-test"),
        "{out}"
    );
    let (_, out) = action_script(
        &bin,
        ubuntu.path(),
        &[
            dry,
            ("RUNNER_ENVIRONMENT", "github-hosted"),
            ("LEAKCHECK_INPUT_SELF_TEST", "false"),
            ("LEAKCHECK_INPUT_ARGS", "--workspace --isolate-network"),
        ],
    );
    assert!(out.contains(relax), "{out}");
}

#[test]
fn action_fails_the_step_when_the_self_test_fails() {
    let sysctl = sysctl_tree("0");
    for (status, title) in [
        (
            "1",
            "::error title=leakcheck self-test failed::a positive control was missed",
        ),
        (
            "2",
            "::error title=leakcheck self-test could not run::this runner lacks",
        ),
    ] {
        let bin = fake_bin();
        let (code, out) = action_script(&bin, sysctl.path(), &[("FAKE_SELF_TEST_STATUS", status)]);
        assert_eq!(code, Some(status.parse().unwrap()), "{out}");
        assert!(out.contains(title), "{out}");
        assert!(out.contains("the table\n::endgroup::"), "{out}");
        let log = std::fs::read_to_string(bin.path().join("cargo.log")).unwrap();
        // Installed, self-tested, and the tests were not run.
        assert_eq!(
            log, "install --locked --path /action/cargo-leakcheck\nleakcheck self-test\n",
            "{out}"
        );
    }
    let bin = fake_bin();
    let (code, out) = action_script(
        &bin,
        sysctl.path(),
        &[("LEAKCHECK_INPUT_ARGS", "--workspace")],
    );
    assert_eq!(code, Some(0), "{out}");
    let log = std::fs::read_to_string(bin.path().join("cargo.log")).unwrap();
    assert!(
        log.ends_with("leakcheck self-test\nleakcheck --workspace\n"),
        "{log}"
    );
}

#[test]
fn action_yml_is_composite_and_never_expands_inputs_in_scripts() {
    let text = std::fs::read_to_string(leakcheck_e2e::tests_dir().join("../action.yml")).unwrap();
    assert!(text.contains("using: composite"), "{text}");
    for input in [
        "allow:",
        "args:",
        "working-directory:",
        "leaks-only:",
        "version:",
        "self-test:",
    ] {
        assert!(
            text.contains(&format!("  {input}")),
            "missing input {input}"
        );
    }
    // Every `run:` value (one line or a block) must be free of `${{`.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(pos) = line.find("run:") else {
            continue;
        };
        if !line[..pos].trim().is_empty() && line[..pos].trim() != "-" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        assert!(
            !line.contains("${{"),
            "input expanded in a run script: {line}"
        );
        for next in &lines[i + 1..] {
            let next_indent = next.len() - next.trim_start().len();
            if !next.trim().is_empty() && next_indent <= indent {
                break;
            }
            assert!(
                !next.contains("${{"),
                "input expanded in a run script: {next}"
            );
        }
    }
}

/// (outcome, verdict, leak kinds) per test name.
fn verdicts(
    report: &serde_json::Value,
) -> std::collections::BTreeMap<String, (String, String, Vec<String>)> {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let mut kinds: Vec<String> = t["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == "leak")
                .map(|f| f["kind"].as_str().unwrap().to_string())
                .collect();
            kinds.sort();
            (
                t["name"].as_str().unwrap().to_string(),
                (
                    t["outcome"].as_str().unwrap().to_string(),
                    t["verdict"].as_str().unwrap().to_string(),
                    kinds,
                ),
            )
        })
        .collect()
}

#[test]
fn batch_and_per_test_modes_give_identical_verdicts() {
    let common = ["--workspace", "--isolate-network", "--timeout", "3"];
    let (code_batch, _, err_batch, batch) = run_fixture("ws", &common);
    let mut per_test_args = common.to_vec();
    per_test_args.push("--per-test");
    let (code_per_test, _, err_per_test, per_test) = run_fixture("ws", &per_test_args);
    assert_eq!(code_batch, code_per_test, "{err_batch}\n{err_per_test}");
    assert_eq!(verdicts(&batch), verdicts(&per_test));
    // A clean selection is judged from one trace of the binary: libtest's own lines,
    // with its own `filtered out` count, and the same clean verdicts.
    let (code, stdout, stderr, report) =
        run_fixture("ws", &["-p", "alpha", "--isolate-network", "clean_math"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("test tests::clean_math ... ok"), "{stdout}");
    assert!(
        stdout.contains("11 filtered out"),
        "batch output is libtest's own: {stdout}"
    );
    assert_eq!(
        report_entry(&report, "tests::clean_math")["verdict"],
        "clean"
    );
}

#[test]
fn batch_with_leaks_reruns_only_the_tests_whose_threads_leaked() {
    // Without the hanging and crashing tests, alpha's batch trace is complete: its leaks
    // come from threads named after tests (a test's own thread, or one it spawned), so
    // only those tests (and the failing one, whose output is wanted) run again.
    let common = [
        "-p",
        "alpha",
        "--isolate-network",
        "--timeout",
        "5",
        "--",
        "--skip",
        "hangs",
        "--skip",
        "crashes",
    ];
    let (code_batch, _, err_batch, batch) = run_fixture("ws", &common);
    let mut per_test_args = common.to_vec();
    per_test_args.insert(0, "--per-test");
    let (code_per_test, _, err_per_test, per_test) = run_fixture("ws", &per_test_args);
    assert_eq!(code_batch, code_per_test, "{err_batch}\n{err_per_test}");
    assert_eq!(verdicts(&batch), verdicts(&per_test));
    let narrowed = err_batch
        .lines()
        .find_map(|l| l.strip_prefix("leakcheck: "))
        .and_then(|l| l.split_once(" tests may have leaked"))
        .map(|(counts, _)| counts.to_string())
        .unwrap_or_else(|| panic!("no narrowing line: {err_batch}"));
    let (suspects, total) = narrowed.split_once(" of ").expect("N of M");
    let (suspects, total): (usize, usize) = (suspects.parse().unwrap(), total.parse().unwrap());
    // udp_leak, dns_leak, thread_leak, control_port_denied_outside_override and
    // fails_without_leaking; never the clean ones.
    assert!(suspects >= 4 && suspects < total, "{narrowed}\n{err_batch}");
    for clean in ["tests::clean_math", "tests::proxy_port_is_allowed"] {
        assert_eq!(report_entry(&batch, clean)["verdict"], "clean");
    }
    for leaked in ["tests::udp_leak", "tests::dns_leak", "tests::thread_leak"] {
        assert_eq!(
            report_entry(&batch, leaked)["verdict"],
            "leaked",
            "{leaked}"
        );
    }
}

/// `cargo leakcheck` on `tests/fixtures/static_init`, whose static initializer sends a
/// datagram to 192.0.2.1:9 and to `port` on 127.0.0.1 (in whichever namespace it runs).
fn run_static_init(
    args: &[&str],
    port: u16,
    only_list: bool,
) -> (Option<i32>, String, String, serde_json::Value) {
    let port = port.to_string();
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![("STATIC_INIT_ECHO_PORT", port.as_ref())];
    if only_list {
        env.push(("STATIC_INIT_ONLY_LIST", "1".as_ref()));
    }
    leakcheck_e2e::run_fixture_env("static_init", args, &env)
}

/// A UDP socket on the test's own loopback; the fixture's datagrams must never reach it.
fn outer_listener() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    socket
}

fn assert_nothing_arrived(socket: &std::net::UdpSocket, all: &str) {
    // Loopback delivers at once; the runs are over. Wait a little all the same.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut buf = [0u8; 64];
    match socket.recv_from(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((n, from)) => panic!(
            "a datagram ({:?} from {from}) left the isolated namespace\n{all}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("recv: {e}"),
    }
}

/// The `test NAME ... RESULT` line of test `name` (libtest pads the names).
fn libtest_line<'a>(stdout: &'a str, name: &str, all: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("test {name} ")))
        .unwrap_or_else(|| panic!("no libtest line for {name}\n{all}"))
}

/// Every test of `report` leaked with a `send` finding to 192.0.2.1:9, and its libtest
/// line says FAILED.
fn assert_every_test_leaked_by_send(report: &serde_json::Value, stdout: &str, all: &str) {
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{report:#}\n{all}");
    for test in tests {
        let name = test["name"].as_str().unwrap();
        assert_eq!(test["outcome"], "passed", "{test:#}\n{all}");
        assert_eq!(test["verdict"], "leaked", "{test:#}\n{all}");
        assert!(
            test["findings"].as_array().unwrap().iter().any(|f| {
                f["kind"] == "send" && f["severity"] == "leak" && f["destination"] == "192.0.2.1:9"
            }),
            "{name} must have a send leak to 192.0.2.1:9: {test:#}\n{all}"
        );
        let line = libtest_line(stdout, name, all);
        assert!(line.ends_with("... FAILED"), "{line}\n{all}");
    }
}

#[test]
fn a_static_initializer_leaks_in_every_test_and_the_list_runs_are_isolated() {
    for args in [
        &["--isolate-network", "--timeout", "20"][..],
        &["--isolate-network", "--timeout", "20", "--per-test"][..],
    ] {
        let listener = outer_listener();
        let port = listener.local_addr().unwrap().port();
        let (code, stdout, stderr, report) = run_static_init(args, port, false);
        let all = format!("{args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        assert_eq!(code, Some(1), "{all}");
        assert_every_test_leaked_by_send(&report, &stdout, &all);
        assert_nothing_arrived(&listener, &all);
    }
}

#[test]
fn what_only_the_list_runs_did_is_in_every_tests_verdict() {
    // The initializer sends only when the binary is asked for `--list`: no test's own
    // process leaks, the list runs do, and a static initializer runs in every process.
    let listener = outer_listener();
    let port = listener.local_addr().unwrap().port();
    let (code, stdout, stderr, report) =
        run_static_init(&["--isolate-network", "--timeout", "20"], port, true);
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(1), "{all}");
    assert_every_test_leaked_by_send(&report, &stdout, &all);
    assert!(
        stdout.contains("192.0.2.1:9"),
        "the failure names it\n{all}"
    );
    assert_nothing_arrived(&listener, &all);
}

#[test]
fn a_warning_no_test_made_runs_no_test_alone() {
    // The initializer listens on 0.0.0.0 in every process of the binary (the list runs,
    // the batch): a `listen` warning the binary's main thread made. It is reported, and
    // no test is traced again for it.
    let env: Vec<(&str, &std::ffi::OsStr)> = vec![("STATIC_INIT_LISTEN", "1".as_ref())];
    let (code, stdout, stderr, report) = leakcheck_e2e::run_fixture_env(
        "static_init",
        &["--isolate-network", "--timeout", "20"],
        &env,
    );
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- report\n{report:#}");
    assert_eq!(code, Some(0), "{all}");
    assert!(!stderr.contains("on its own"), "no test runs alone\n{all}");
    for test in report["tests"].as_array().unwrap() {
        assert_eq!(test["verdict"], "clean", "{all}");
        assert!(
            test["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "listen" && f["severity"] == "warning"),
            "the list run's warning is every test's: {test:#}\n{all}"
        );
    }
    for name in ["tests::does_nothing", "tests::adds"] {
        let line = libtest_line(&stdout, name, &all);
        assert!(line.ends_with("... ok"), "{line}\n{all}");
    }
}

#[test]
fn verbose_says_where_the_time_went() {
    let env: Vec<(&str, &std::ffi::OsStr)> = vec![("STATIC_INIT_LISTEN", "1".as_ref())];
    for (args, shown) in [
        (&["--isolate-network", "-v"][..], true),
        (&["--isolate-network"][..], false),
    ] {
        let (code, stdout, stderr, _) = leakcheck_e2e::run_fixture_env("static_init", args, &env);
        let all = format!("{args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        assert_eq!(code, Some(0), "{all}");
        assert_eq!(stderr.contains("where the time went"), shown, "{all}");
        if shown {
            for stage in ["cargo metadata", "cargo test --no-run", "list ", "batch "] {
                assert!(stderr.contains(stage), "{stage}\n{all}");
            }
        }
    }
}

#[test]
fn proc_macro_crates_tests_find_the_toolchains_libstd() {
    // As from a shell: no LD_LIBRARY_PATH of cargo's (which names the toolchain's lib
    // directory) inherited from the cargo test running this.
    let report = tempfile::NamedTempFile::new().unwrap();
    let output = leakcheck_e2e::leakcheck()
        .arg("--manifest-path")
        .arg(leakcheck_e2e::tests_dir().join("fixtures/proc_macro_ws/Cargo.toml"))
        .arg("--target-dir")
        .arg(leakcheck_e2e::fixtures_target_dir())
        .arg("--report")
        .arg(report.path())
        .args(["--workspace", "--isolate-network", "--timeout", "20"])
        .env("NO_COLOR", "1")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{all}");
    for name in ["tests::doubles", "tests::uses_the_macro"] {
        let line = libtest_line(&stdout, name, &all);
        assert!(line.ends_with("... ok"), "{line}\n{all}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{report:#}");
    for (binary, name) in [("mac", "tests::doubles"), ("user", "tests::uses_the_macro")] {
        let entry = report_entry(&report, name);
        assert_eq!(entry["binary"], binary, "{entry:#}");
        assert_eq!(entry["outcome"], "passed", "{entry:#}");
        assert_eq!(entry["verdict"], "clean", "{entry:#}");
    }
}

/// The lines of the README's demo output that do not depend on timing: each test's
/// line and the warning lines under it (as a sorted set: the tests finish in any
/// order), the `test result:` and closing counts without their times.
fn demo_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("test ") || l.starts_with("    warning: "))
        .map(|l| {
            let l = l.split(" finished in ").next().unwrap_or(l);
            // A warning's pid differs from run to run.
            match l.find(" (pid ") {
                Some(at) if l.starts_with("    warning: ") => l[..at].to_string(),
                _ => l.to_string(),
            }
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

#[test]
fn the_readme_shows_what_the_demo_prints() {
    let readme = std::fs::read_to_string(leakcheck_e2e::tests_dir().join("../README.md"))
        .expect("README.md");
    let start = readme
        .find("running 11 tests")
        .expect("the README's demo output");
    let end = start
        + readme[start..]
            .find("```")
            .expect("the end of the demo output");
    let shown = &readme[start..end];

    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let output = leakcheck_e2e::leakcheck()
        .arg("--manifest-path")
        .arg(leakcheck_e2e::tests_dir().join("../examples/demo/Cargo.toml"))
        .arg("--target-dir")
        .arg(leakcheck_e2e::fixtures_target_dir())
        .arg("--report")
        .arg(report.path())
        .arg("--isolate-network")
        .env("NO_COLOR", "1")
        .output()
        .expect("run cargo leakcheck on the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    // The first block is the library's; the README elides parts of the failures.
    let first = |text: &str| demo_lines(text.split("\nrunning 0 tests").next().unwrap_or(text));
    assert_eq!(first(&stdout), first(shown), "{stdout}");
    let summary = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("leakcheck: LEAKED."))
            .map(|l| l.split("; finished in").next().unwrap_or(l).to_string())
    };
    assert_eq!(summary(&stderr), summary(shown), "{stderr}");
    for needle in [
        "canary leakcheck-canary-q7x3v9.example (host-name form) in the payload of socks5 connect to mail.example.com:25 on 127.0.0.1:9150, at byte 5: \"EHLO leakcheck-canary-q7x3v9.example\\r\\n\"",
        "    socks5 connect to mail.example.com:25 on 127.0.0.1:9150, username \"<torS0X>0\", 38 bytes sent, reply succeeded",
    ] {
        assert!(shown.contains(needle), "README: {needle}");
        assert!(stdout.contains(needle), "{needle}\n{stdout}");
    }
}
