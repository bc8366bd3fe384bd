//! Helpers shared by the end-to-end tests: building the probe corpus and running the
//! real `cargo leakcheck` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `tests/` directory of the repository.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `cargo-leakcheck` binary under test (same code, built by this package).
pub fn leakcheck_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/run_command-HASH -> target/debug/leakcheck-under-test
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("leakcheck-under-test")
}

/// A `cargo leakcheck` command (the `leakcheck` word that cargo inserts is included).
pub fn leakcheck() -> Command {
    let mut cmd = Command::new(leakcheck_bin());
    cmd.arg("leakcheck");
    cmd.env_remove("LEAKCHECK_ALLOW");
    // The tests' own switch (tests/standin.rs), nothing for the programs they run.
    cmd.env_remove("LEAKCHECK_E2E_STRICT");
    for var in [
        "LEAK_CI_ALLOW_IP_PROTOCOL",
        "LEAK_CI_ALLOW_IP4_ADDR_PORT",
        "LEAK_CI_ALLOW_IP6_ADDR_PORT",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Compiles every probe of `tests/probes` once per test process; returns the directory
/// holding the binaries.
pub fn probes_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("leakcheck-probes-{}", std::process::id()));
        let status = Command::new("sh")
            .arg(tests_dir().join("probes/build.sh"))
            .arg(&out)
            .status()
            .expect("run tests/probes/build.sh");
        assert!(status.success(), "building the probes failed");
        out
    })
}

/// What a probe's header says it must produce.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// File stem.
    pub name: String,
    /// `leaked`, `clean`, `warning-only` or `unverified`.
    pub expect: String,
    /// The finding kind that must appear, or `none`.
    pub kind: String,
    /// The policy: endpoints, or `ip=false`.
    pub allow: String,
    /// An alternative policy and its expectation (`also-allow`/`also-expect`).
    pub also: Option<(String, String)>,
    /// Another acceptable verdict (`accept:`), e.g. `unverified` where strace itself
    /// loses the leaking call and failing closed is the right answer.
    pub accept: Option<String>,
}

/// Reads every probe's header.
pub fn probe_specs() -> Vec<ProbeSpec> {
    let mut specs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(tests_dir().join("probes"))
        .expect("tests/probes")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("probe source");
        let header = |key: &str| {
            text.lines()
                .take_while(|l| l.starts_with("//") || l.trim().is_empty())
                .find_map(|l| {
                    l.strip_prefix(&format!("// {key}:"))
                        .map(|v| v.trim().to_string())
                })
        };
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let (Some(expect), Some(kind), Some(allow)) =
            (header("expect"), header("kind"), header("allow"))
        else {
            panic!("probe {name} lacks an expect/kind/allow header");
        };
        let also = header("also-allow").zip(header("also-expect"));
        let accept = header("accept").and_then(|a| a.split_whitespace().next().map(String::from));
        specs.push(ProbeSpec {
            name,
            expect,
            kind,
            allow,
            also,
            accept,
        });
    }
    specs
}

/// Runs `cargo leakcheck run --isolate-network <policy> --report R -- PROBE` and returns
/// its output and the parsed report.
pub fn run_probe(
    probe: &Path,
    allow: &str,
    extra_env: &[(&str, &str)],
) -> (Output, serde_json::Value) {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let mut cmd = leakcheck();
    cmd.args(["run", "--isolate-network", "--timeout", "20"]);
    for entry in allow.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "ip=false" {
            cmd.arg("--no-ip");
        } else {
            cmd.args(["--allow", entry]);
        }
    }
    cmd.arg("--report").arg(report.path()).arg("--").arg(probe);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    // Outside any cargo project, so that no Cargo.toml metadata adds to the policy.
    cmd.current_dir(std::env::temp_dir());
    let output = cmd.output().expect("run cargo-leakcheck");
    let json = std::fs::read(report.path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (output, json)
}

/// Checks a probe's run against an expectation; Err names what differed.
pub fn check_expectation(
    spec_name: &str,
    expect: &str,
    kind: &str,
    output: &Output,
    report: &serde_json::Value,
) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ctx = || format!("\n--- stderr of `cargo leakcheck run` on {spec_name}:\n{stderr}");
    let code = output.status.code();
    let want_code = match expect {
        "leaked" | "unverified" => 1,
        "clean" | "warning-only" => 0,
        other => return Err(format!("unknown expectation `{other}`")),
    };
    if code != Some(want_code) {
        return Err(format!(
            "exit status {code:?}, expected {want_code}{}",
            ctx()
        ));
    }
    let test = &report["tests"][0];
    let verdict = test["verdict"].as_str().unwrap_or("<missing>");
    let want_verdict = match expect {
        "warning-only" => "clean",
        other => other,
    };
    if verdict != want_verdict {
        return Err(format!(
            "verdict {verdict}, expected {want_verdict}{}",
            ctx()
        ));
    }
    let findings = test["findings"].as_array().cloned().unwrap_or_default();
    let has = |sev: &str| {
        findings
            .iter()
            .any(|f| f["kind"] == kind && f["severity"] == sev)
    };
    match expect {
        "leaked" if !has("leak") => Err(format!("no `{kind}` leak among the findings{}", ctx())),
        "warning-only" if !has("warning") => {
            Err(format!("no `{kind}` warning among the findings{}", ctx()))
        }
        "clean" if findings.iter().any(|f| f["severity"] == "leak") => {
            Err(format!("a clean probe got a leak finding{}", ctx()))
        }
        _ => Ok(()),
    }
}

/// The shared target directory for fixture crates, so that each is compiled once.
pub fn fixtures_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/x -> target/fixtures
    exe.ancestors()
        .nth(3)
        .map(|t| t.join("fixtures"))
        .unwrap_or_else(|| std::env::temp_dir().join("leakcheck-fixtures"))
}

/// Runs `cargo leakcheck ARGS` on a fixture workspace under `tests/fixtures/NAME`,
/// returning (exit code, stdout, stderr, report).
pub fn run_fixture(name: &str, args: &[&str]) -> (Option<i32>, String, String, serde_json::Value) {
    run_fixture_env(name, args, &[])
}

/// [`run_fixture`] with extra environment variables.
pub fn run_fixture_env(
    name: &str,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (Option<i32>, String, String, serde_json::Value) {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let manifest = tests_dir().join("fixtures").join(name).join("Cargo.toml");
    let mut cmd = leakcheck();
    cmd.arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .arg("--report")
        .arg(report.path())
        .args(args)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run cargo leakcheck");
    let json = std::fs::read(report.path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        json,
    )
}

/// The report entry of test `name`.
pub fn report_entry<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tests"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no report entry for {name} in {report:#}"))
}
