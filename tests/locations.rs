//! Findings' locations: the first frame of the attempt's stack in the workspace's own
//! code, on the fixture `tests/fixtures/locations`, whose every leak is made at a line
//! marked `// leak: NAME`. Every run uses `--isolate-network`: the fixture looks names up
//! and sends to outside addresses on purpose.

use leakcheck_e2e::{leakcheck, report_entry, run_fixture_env, tests_dir};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where a leak is made: (file relative to the fixture, line), by test name.
fn marked() -> BTreeMap<String, (String, u32)> {
    let root = tests_dir().join("fixtures/locations");
    let mut marks = BTreeMap::new();
    for file in ["src/lib.rs", "src/bin/resolver.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (i, line) in text.lines().enumerate() {
            if let Some((_, name)) = line.split_once("// leak: ") {
                marks.insert(name.trim().to_string(), (file.to_string(), i as u32 + 1));
            }
        }
    }
    marks
}

/// The tests that leak, each with the name of its mark (the child program's leak is in
/// the program) and the function the location names.
const LEAKING: &[(&str, &str, &str)] = &[
    (
        "tests::connects_by_name",
        "tests::connects_by_name",
        "locations::tests::connects_by_name",
    ),
    (
        "tests::resolves_directly",
        "tests::resolves_directly",
        "locations::tests::resolves_directly",
    ),
    (
        "tests::resolves_in_a_helper",
        "tests::resolves_in_a_helper",
        "locations::resolve",
    ),
    (
        "tests::resolves_in_a_dependency",
        "tests::resolves_in_a_dependency",
        "locations::tests::resolves_in_a_dependency",
    ),
    (
        "tests::sends_a_datagram",
        "tests::sends_a_datagram",
        "locations::tests::sends_a_datagram",
    ),
    ("child_program_resolves", "resolver", "resolver::main"),
];

fn run(args: &[&str], env: &[(&str, &OsStr)]) -> serde_json::Value {
    let mut all = vec!["--isolate-network", "--timeout", "20"];
    all.extend(args);
    let (code, stdout, stderr, report) = run_fixture_env("locations", &all, env);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    report
}

/// The location of each leak finding of test `name` (None where a finding has none).
fn locations(report: &serde_json::Value, name: &str) -> Vec<Option<(String, u32, String)>> {
    let entry = report_entry(report, name);
    assert_eq!(entry["verdict"], "leaked", "{entry:#}");
    let findings = entry["findings"].as_array().unwrap();
    findings
        .iter()
        .filter(|f| f["severity"] == "leak")
        .map(|f| {
            let l = f.get("location")?;
            Some((
                l["file"].as_str()?.to_string(),
                l["line"].as_u64()? as u32,
                l["function"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Every leak of every leaking test is located at its mark; the clean twin has no
/// finding at all.
fn assert_all_located(report: &serde_json::Value) {
    let marks = marked();
    for (test, mark, function) in LEAKING {
        let (file, line) = marks[*mark].clone();
        let want = Some((file, line, function.to_string()));
        let found = locations(report, test);
        assert!(!found.is_empty(), "{test}: {report:#}");
        for location in found {
            assert_eq!(location, want, "{test}: {report:#}");
        }
    }
    let clean = report_entry(report, "tests::talks_to_itself");
    assert_eq!(clean["verdict"], "clean", "{clean:#}");
    assert_eq!(clean["findings"], serde_json::json!([]), "{clean:#}");
}

#[test]
fn native_batch_locates_each_leak_at_its_line() {
    assert_all_located(&run(&[], &[]));
}

#[test]
fn native_per_test_locates_each_leak_at_its_line() {
    assert_all_located(&run(&["--per-test"], &[]));
}

#[test]
fn native_ptrace_stops_locate_sends_too() {
    // Every send a ptrace stop (kernels without seccomp notification): the registers
    // come from PTRACE_GETREGSET rather than /proc/TID/syscall.
    let report = run(
        &["--per-test", "tests::sends_a_datagram"],
        &[("LEAKCHECK_NATIVE_NOTIFY", OsStr::new("0"))],
    );
    let (file, line) = marked()["tests::sends_a_datagram"].clone();
    assert_eq!(
        locations(&report, "tests::sends_a_datagram"),
        vec![Some((
            file,
            line,
            "locations::tests::sends_a_datagram".to_string()
        ))]
    );
}

/// strace's own unwinder (libunwind, `-k`) loses the frames of code compiled into the
/// test binary itself from some frames on: what it finds must be right, and a test
/// calling the standard library's resolver directly must be found.
fn assert_strace_locations(report: &serde_json::Value) {
    let marks = marked();
    for (test, mark, function) in LEAKING {
        let (file, line) = marks[*mark].clone();
        let want = Some((file, line, function.to_string()));
        for location in locations(report, test) {
            assert!(location.is_none() || location == want, "{test}: {report:#}");
        }
    }
    for test in ["tests::resolves_directly", "child_program_resolves"] {
        assert!(
            locations(report, test).iter().all(Option::is_some),
            "{test}: {report:#}"
        );
    }
}

#[test]
fn strace_with_stacks_locates_leaks_in_batch_and_per_test_runs() {
    let stacks = [("LEAKCHECK_STRACE_STACKS", OsStr::new("1"))];
    for mode in [
        &["--tracer", "strace"][..],
        &["--tracer", "strace", "--per-test"],
    ] {
        assert_strace_locations(&run(mode, &stacks));
    }
}

#[test]
fn strace_without_stacks_gives_no_location() {
    let report = run(
        &["--tracer", "strace", "tests::resolves_directly"],
        &[("LEAKCHECK_STRACE_STACKS", OsStr::new("0"))],
    );
    assert_eq!(locations(&report, "tests::resolves_directly"), vec![None]);
}

/// `cargo leakcheck run -- PROGRAM` in `dir`; the report.
fn run_command(dir: &Path, program: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    let report = tempfile::NamedTempFile::new().unwrap();
    let output = leakcheck()
        .args(["run", "--isolate-network", "--timeout", "20", "--report"])
        .arg(report.path())
        .arg("--")
        .arg(program)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap()
}

fn command_location(report: &serde_json::Value) -> Option<(String, u32, String)> {
    let entry = &report["tests"][0];
    let finding = entry["findings"]
        .as_array()?
        .iter()
        .find(|f| f["kind"] == "dns")?;
    let l = finding.get("location")?;
    Some((
        l["file"].as_str()?.to_string(),
        l["line"].as_u64()? as u32,
        l["function"].as_str()?.to_string(),
    ))
}

#[test]
fn a_command_run_in_its_workspace_is_located_there() {
    // The fixture's program, built by a fixture run (its test runs it).
    run(&["--test", "child"], &[]);
    let program: PathBuf = leakcheck_e2e::fixtures_target_dir().join("debug/resolver");
    let (file, line) = marked()["resolver"].clone();
    let report = run_command(&tests_dir().join("fixtures/locations/src"), &program, &[]);
    assert_eq!(
        command_location(&report),
        Some((file, line, "resolver::main".to_string()))
    );
}

const C_PROGRAM: &str = r#"#include <netdb.h>
#include <string.h>

static int resolve(const char *host) {
    struct addrinfo hints, *res = 0;
    memset(&hints, 0, sizeof hints);
    int rc = getaddrinfo(host, "80", &hints, &res); /* leak */
    if (rc == 0)
        freeaddrinfo(res);
    return rc;
}

int main(void) {
    return resolve("example.com") == 0;
}
"#;

#[test]
fn a_c_program_with_debug_information_is_located_under_both_tracers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leak.c"), C_PROGRAM).unwrap();
    let built = std::process::Command::new("cc")
        .args(["-g", "-O0", "-o", "leak", "leak.c"])
        .current_dir(dir.path())
        .status()
        .expect("cc");
    assert!(built.success());
    let line = C_PROGRAM
        .lines()
        .position(|l| l.contains("/* leak */"))
        .unwrap() as u32
        + 1;
    let want = Some(("leak.c".to_string(), line, "resolve".to_string()));
    let program = dir.path().join("leak");
    for env in [
        &[("LEAKCHECK_TRACER", "native")][..],
        &[
            ("LEAKCHECK_TRACER", "strace"),
            ("LEAKCHECK_STRACE_STACKS", "1"),
        ],
    ] {
        let report = run_command(dir.path(), &program, env);
        assert_eq!(command_location(&report), want, "{env:?}: {report:#}");
    }
    // Built without debug information, it has no line to name.
    let stripped = std::process::Command::new("cc")
        .args(["-O0", "-o", "plain", "leak.c"])
        .current_dir(dir.path())
        .status()
        .expect("cc");
    assert!(stripped.success());
    let report = run_command(dir.path(), &dir.path().join("plain"), &[]);
    assert_eq!(command_location(&report), None, "{report:#}");
}
