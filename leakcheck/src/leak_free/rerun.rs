//! The parent's work: re-run only this test in a traced child of the test binary, with
//! the policy of the manifests, `LEAKCHECK_ALLOW` and the attribute, and end as the
//! outcome says.

use super::frames::Transcript;
use super::mode::{CHILD_ENV, NONCE_ENV};
use super::outcome::{decide, End, Rerun};
use super::spec::{Spec, TestResult};
use crate::policy::PolicyConfig;
use crate::tracer::{Backend, TracedCommand};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// `1` runs the traced child in a fresh network namespace with only loopback.
pub const ISOLATE_ENV: &str = "LEAKCHECK_ISOLATE_NETWORK";
/// A timeout in seconds for the traced child.
pub const TIMEOUT_ENV: &str = "LEAKCHECK_TIMEOUT";

type MetadataLayers = (PolicyConfig, BTreeMap<String, PolicyConfig>);

/// The workspace and package layers of the crate's `Cargo.toml`s, read once per process.
fn metadata_layers(manifest_dir: Option<&Path>) -> Result<MetadataLayers, String> {
    static CACHE: OnceLock<Result<MetadataLayers, String>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let Some(dir) = manifest_dir else {
                return Ok(Default::default());
            };
            let manifest = dir.join("Cargo.toml");
            if !manifest.is_file() {
                // The binary runs away from its sources: no manifest policy to read.
                return Ok(Default::default());
            }
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
            let output = Command::new(&cargo)
                .args([
                    "metadata",
                    "--no-deps",
                    "--format-version",
                    "1",
                    "--offline",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .output()
                .map_err(|e| {
                    format!(
                        "cannot run `cargo metadata` for {}: {e}",
                        manifest.display()
                    )
                })?;
            if !output.status.success() {
                return Err(format!(
                    "`cargo metadata --manifest-path {}` failed ({}):\n{}",
                    manifest.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim_end()
                ));
            }
            let json: serde_json::Value = serde_json::from_slice(&output.stdout)
                .map_err(|e| format!("cannot read `cargo metadata` output: {e}"))?;
            PolicyConfig::from_cargo_metadata(&json).map_err(|e| e.to_string())
        })
        .clone()
}

/// The policy layers stacked for this test: manifests, `LEAKCHECK_ALLOW`, the attribute.
fn policy_config(spec: &Spec) -> Result<PolicyConfig, String> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| spec.manifest_dir.map(PathBuf::from));
    let (workspace, packages) = metadata_layers(manifest_dir.as_deref())?;
    let package = spec
        .package
        .and_then(|p| packages.get(p).cloned())
        .unwrap_or_default();
    let env = PolicyConfig::from_env_leakcheck_allow().map_err(|e| e.to_string())?;
    Ok(workspace
        .merge(package)
        .merge(env)
        .merge(spec.attribute_layer()?))
}

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:x}-{count}", nanos, std::process::id())
}

/// The child's command line, built from scratch.
fn child_command(name: &str, nonce: &str) -> Result<TracedCommand, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    let mut cmd = TracedCommand::new(
        exe,
        [
            name,
            "--exact",
            "--test-threads",
            "1",
            "--nocapture",
            "--include-ignored",
        ],
    );
    cmd.env.push((CHILD_ENV.into(), name.into()));
    cmd.env.push((NONCE_ENV.into(), nonce.into()));
    cmd.capture_output = true;
    cmd.isolate_network = std::env::var_os(ISOLATE_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    if let Some(secs) = std::env::var_os(TIMEOUT_ENV) {
        let secs = secs.to_string_lossy();
        match secs.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => cmd.timeout = Some(Duration::from_secs_f64(s)),
            _ => {
                return Err(format!(
                    "{TIMEOUT_ENV}={secs}: expected a positive number of seconds"
                ))
            }
        }
    }
    Ok(cmd)
}

/// Fails the parent test with a message naming it.
///
/// Every failure and panic of the parent goes through `#[track_caller]` functions, so that
/// it points at the test rather than at leakcheck.
#[track_caller]
fn fail_test(name: &str, what: String) -> ! {
    panic!("leak_free: `{name}`: {what}")
}

/// The parent's work (module documentation of `leak_free`, "Modes" and "The parent's
/// decision").
#[track_caller]
pub(super) fn parent<R: TestResult>(spec: &Spec, name: &str) -> R {
    // `match` rather than closures, so that a failure points at the test (track_caller).
    let config = match policy_config(spec) {
        Ok(config) => config,
        Err(e) => fail_test(name, format!("bad leakcheck policy:\n{e}")),
    };
    let policy = config.resolve(name);
    let tracer = match Backend::select(None) {
        Ok(tracer) => tracer,
        Err(e) => fail_test(name, format!("cannot trace the test: {e}")),
    };
    let nonce = nonce();
    let mut cmd = match child_command(name, &nonce) {
        Ok(cmd) => cmd,
        Err(e) => fail_test(name, e),
    };
    // `stand-in = ...` (the attribute's, else the metadata's): the child runs in the
    // stand-in's namespace, which isolates it.
    cmd.stand_in = config.stand_in();
    let checked = match crate::check(&tracer, &cmd, policy) {
        Ok(checked) => checked,
        Err(e) => fail_test(name, format!("cannot trace `{}`: {e}", cmd.display())),
    };
    let output = String::from_utf8_lossy(&checked.run.output);
    let transcript = Transcript::parse(&output, &nonce);
    let outcome = decide(
        name,
        spec.should_panic,
        &Rerun {
            command: cmd.display(),
            output: &output,
            transcript: &transcript,
            status: &checked.run.status,
            verdict: &checked.verdict,
            streams: &checked.streams,
        },
    );
    print!("{}", outcome.output);
    match outcome.end {
        End::Pass => R::success(),
        End::Panic(msg) => panic!("{msg}"),
        End::Fail(what) => fail_test(name, what),
    }
}
