//! The run-time side of `#[leak_free]`: what an annotated test does when it runs.
//!
//! The attribute turns the test's body into a closure (or an `async` block) and calls
//! [`run`] (or [`run_async`]) with a [`Spec`] describing the test. Not a stable API: the
//! macro's expansion is its only intended caller.
//!
//! # Modes
//!
//! [`run`] does one of three things:
//!
//! * **Parent** (plain `cargo test`): re-runs only this test in a child process of the test
//!   binary, traced by strace, and judges the trace. The child's command line is built
//!   from scratch: `<current_exe> <full test name> --exact --test-threads 1 --nocapture
//!   --include-ignored`, never copied from the parent's arguments (which would break under
//!   nextest or with new libtest flags). Its environment gets [`CHILD_ENV`] (the test
//!   name) and [`NONCE_ENV`] (a fresh nonce).
//! * **Child** ([`CHILD_ENV`] names this test): writes a marker line with the nonce, runs
//!   the body, and writes a line saying how the body ended (passed, panicked with a
//!   message, returned an error), then ends exactly as the body did. The marker proves to
//!   the parent that the body ran: a name that matched no test fails rather than passes.
//! * **Already traced** (`LEAKCHECK_TRACED` is set, as `cargo leakcheck` does, or
//!   `/proc/self/status` shows a tracer): runs the body directly, and when
//!   [`ATTRIBUTE_POLICY_ENV`] names a file, writes the attribute's own policy there so
//!   that `cargo leakcheck` applies it to its verdict.
//!
//! # The parent's decision
//!
//! * the verdict is `leaked` or `unverified`: the test fails with the leak report
//!   (every finding and the allow list in force), whatever the body did; a
//!   `#[should_panic]` test fails by *not* panicking, so that the expected panic cannot
//!   hide the leak;
//! * otherwise the test ends as the body did: the same panic message (so that
//!   `#[should_panic(expected = "...")]` matches), a panic with the error's text for a
//!   `Result` body that returned `Err`, success otherwise. The child's output is printed,
//!   so that libtest shows it with a failure.
//!
//! The policy is the crate's `Cargo.toml` metadata (workspace and package layers, read
//! with `cargo metadata` once per test binary), then `LEAKCHECK_ALLOW`, then the
//! attribute's own arguments, resolved for the test's name.
//!
//! `LEAKCHECK_ISOLATE_NETWORK=1` runs the child in a fresh network namespace (as
//! `--isolate-network` does) and `LEAKCHECK_TIMEOUT=SECONDS` bounds it.

use crate::kind::{Kind, Severity};
use crate::policy::PolicyConfig;
use crate::report::render_verdict;
use crate::tracer::{Backend, ProgramStatus, TracedCommand};
use crate::verdict::VerdictKind;
use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

/// Set in the child's environment to the full name of the test it must run.
pub const CHILD_ENV: &str = "LEAKCHECK_LEAK_FREE_CHILD";
/// Set in the child's environment to the nonce its marker lines carry.
pub const NONCE_ENV: &str = "LEAKCHECK_LEAK_FREE_NONCE";
/// Set by `cargo leakcheck` in every test process it traces.
pub const TRACED_ENV: &str = "LEAKCHECK_TRACED";
/// When set (by `cargo leakcheck`), the path of a file where an annotated test that runs
/// already traced writes its attribute's policy, as one JSON object:
///
/// ```json
/// {"version": 1, "test": "tor::through_proxy", "allow": ["127.0.0.1:9050"],
///  "ip": false, "severities": {"interface-enumeration": "warn"}}
/// ```
///
/// `allow` holds the endpoints as written in `#[leak_free(allow = [...])]` (possibly
/// empty); `ip` is `true`, `false` or `null` (not set by the attribute); `severities`
/// maps kind names (`leakcheck::Kind::as_str`) to `"allow"`, `"warn"` or `"deny"`; `test`
/// is the test's full libtest name. The file is written before the body runs and
/// overwritten by each annotated test the process runs. The reader stacks it on top of
/// the other layers (DESIGN.md: the attribute has the highest precedence).
pub const ATTRIBUTE_POLICY_ENV: &str = "LEAKCHECK_ATTRIBUTE_POLICY";
/// `1` runs the traced child in a fresh network namespace with only loopback.
pub const ISOLATE_ENV: &str = "LEAKCHECK_ISOLATE_NETWORK";
/// A timeout in seconds for the traced child.
pub const TIMEOUT_ENV: &str = "LEAKCHECK_TIMEOUT";

/// What the macro knows about the annotated test.
#[derive(Debug)]
pub struct Spec {
    /// `module_path!()` at the test: the crate name, then the modules.
    pub module_path: &'static str,
    /// The function's name.
    pub fn_name: &'static str,
    /// `CARGO_MANIFEST_DIR` when the test was compiled (the run-time value wins).
    pub manifest_dir: Option<&'static str>,
    /// `CARGO_PKG_NAME` when the test was compiled: selects the package's policy layer.
    pub package: Option<&'static str>,
    /// `allow = [...]`.
    pub allow: &'static [&'static str],
    /// `ip = true|false`.
    pub ip: Option<bool>,
    /// `<kind> = "<severity>"` pairs.
    pub severities: &'static [(&'static str, &'static str)],
    /// Whether the test carries `#[should_panic]`.
    pub should_panic: bool,
}

impl Spec {
    /// The test's name as libtest knows it: `module_path!()` without the crate name, then
    /// the function. When the test thread's name (libtest names it after the test)
    /// extends that path, as for rstest's `f::case_1` calling `f`, the thread's name.
    pub fn test_name(&self) -> String {
        let static_name = match self.module_path.split_once("::") {
            Some((_, modules)) => format!("{modules}::{}", self.fn_name),
            None => self.fn_name.to_string(),
        };
        if let Some(thread) = std::thread::current().name() {
            if thread == static_name || thread.starts_with(&format!("{static_name}::")) {
                return thread.to_string();
            }
        }
        static_name
    }

    /// The attribute's own policy layer.
    pub fn attribute_layer(&self) -> Result<PolicyConfig, String> {
        let mut layer = PolicyConfig::from_allow_list(self.allow, "#[leak_free(allow = [...])]")
            .map_err(|e| e.to_string())?;
        if let Some(ip) = self.ip {
            layer.set_ip(ip);
        }
        for (kind, severity) in self.severities {
            let kind: Kind = kind.parse()?;
            let severity: Severity = severity.parse()?;
            layer.set_severity(kind, severity);
        }
        Ok(layer)
    }

    /// The JSON written to [`ATTRIBUTE_POLICY_ENV`].
    pub fn attribute_policy_json(&self, test_name: &str) -> serde_json::Value {
        let severities: serde_json::Map<String, serde_json::Value> = self
            .severities
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::json!({
            "version": 1,
            "test": test_name,
            "allow": self.allow,
            "ip": self.ip,
            "severities": severities,
        })
    }
}

/// Reads what an annotated test wrote to [`ATTRIBUTE_POLICY_ENV`]: the test's name and
/// its attribute's policy layer. `Ok(None)` when the file is absent or empty (the test
/// carries no attribute); an error when it is there but unreadable, so that the caller
/// fails closed rather than ignoring an allow list or a stricter `ip = false`.
pub fn read_attribute_policy(path: &Path) -> Result<Option<(String, PolicyConfig)>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => return Ok(None),
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let bad = |what: &str| format!("{ATTRIBUTE_POLICY_ENV} file {}: {what}", path.display());
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let test = json["test"]
        .as_str()
        .ok_or_else(|| bad("no `test` name"))?
        .to_string();
    let allow: Vec<&str> = json["allow"]
        .as_array()
        .ok_or_else(|| bad("no `allow` array"))?
        .iter()
        .map(|v| v.as_str().ok_or_else(|| bad("`allow` holds a non-string")))
        .collect::<Result<_, _>>()?;
    let mut layer = PolicyConfig::from_allow_list(&allow, "#[leak_free(allow = [...])]")
        .map_err(|e| e.to_string())?;
    if let Some(ip) = json["ip"].as_bool() {
        layer.set_ip(ip);
    }
    if let Some(map) = json["severities"].as_object() {
        for (kind, severity) in map {
            let kind: Kind = kind.parse().map_err(|e: String| bad(&e))?;
            let severity: Severity = severity
                .as_str()
                .ok_or_else(|| bad("a severity is not a string"))?
                .parse()
                .map_err(|e: String| bad(&e))?;
            layer.set_severity(kind, severity);
        }
    }
    Ok(Some((test, layer)))
}

/// What a test function may return: `()` or `Result<(), E>` (nested as libtest allows).
pub trait TestResult: Sized {
    /// The value of a passing test.
    fn success() -> Self;
    /// The error text of a failing one (`Err(e)` → `format!("{e:?}")`, as libtest prints
    /// it after `Error: `).
    fn failure(&self) -> Option<String>;
}

impl TestResult for () {
    fn success() -> Self {}
    fn failure(&self) -> Option<String> {
        None
    }
}

impl<T: TestResult, E: fmt::Debug> TestResult for Result<T, E> {
    fn success() -> Self {
        Ok(T::success())
    }
    fn failure(&self) -> Option<String> {
        match self {
            Ok(value) => value.failure(),
            Err(error) => Some(format!("{error:?}")),
        }
    }
}

enum Mode {
    Parent,
    Child(String),
    Traced,
}

fn mode(test_name: &str) -> Mode {
    if let (Some(child), Some(nonce)) = (std::env::var_os(CHILD_ENV), std::env::var_os(NONCE_ENV)) {
        if child == test_name {
            return Mode::Child(nonce.to_string_lossy().into_owned());
        }
        // Some other test of the child, or a nested call: it is traced by the parent.
        return Mode::Traced;
    }
    let flag = std::env::var_os(TRACED_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    if flag || tracer_pid().is_some_and(|pid| pid != 0) {
        Mode::Traced
    } else {
        Mode::Parent
    }
}

/// `TracerPid` of `/proc/self/status`: non-zero when something traces this process.
fn tracer_pid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs a synchronous test body under the mode the process is in (see the module docs).
#[track_caller]
pub fn run<R: TestResult, F: FnOnce() -> R>(spec: &Spec, body: F) -> R {
    let name = spec.test_name();
    match mode(&name) {
        Mode::Child(nonce) => {
            announce(&nonce, &name);
            let result = catch_unwind(AssertUnwindSafe(body));
            finish(&nonce, result)
        }
        Mode::Traced => {
            hand_over_policy(spec, &name);
            body()
        }
        Mode::Parent => parent(spec, &name),
    }
}

/// [`run`] for an `async` body (under `#[tokio::test]` and the like): the parent's work
/// blocks the runtime's thread, which runs nothing else meanwhile.
pub async fn run_async<R: TestResult, F: Future<Output = R>>(spec: &Spec, body: F) -> R {
    let name = spec.test_name();
    match mode(&name) {
        Mode::Child(nonce) => {
            announce(&nonce, &name);
            let result = CatchUnwind(Box::pin(body)).await;
            finish(&nonce, result)
        }
        Mode::Traced => {
            hand_over_policy(spec, &name);
            body.await
        }
        Mode::Parent => parent(spec, &name),
    }
}

/// A future that turns a panic while polling into an `Err`, as `catch_unwind` does.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Child
// ---------------------------------------------------------------------------------------

fn frame_prefix(nonce: &str) -> String {
    format!("[leak_free:{nonce}]")
}

/// Writes one protocol line straight to stdout (bypassing libtest's capture), starting
/// on a fresh line whatever the body printed before.
fn write_frame(nonce: &str, what: &str, text: Option<&str>) {
    let mut line = format!("\n{} {what}", frame_prefix(nonce));
    if let Some(text) = text {
        line.push(' ');
        line.push_str(&serde_json::Value::from(text).to_string());
    }
    line.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.flush();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn announce(nonce: &str, name: &str) {
    write_frame(nonce, "started", Some(name));
}

fn finish<R: TestResult>(nonce: &str, result: std::thread::Result<R>) -> R {
    match result {
        Ok(value) => {
            match value.failure() {
                Some(error) => write_frame(nonce, "error", Some(&error)),
                None => write_frame(nonce, "passed", None),
            }
            value
        }
        Err(payload) => {
            write_frame(nonce, "panicked", Some(&panic_message(&*payload)));
            resume_unwind(payload)
        }
    }
}

/// The text of a panic payload, as libtest matches `should_panic(expected = ...)`.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

// ---------------------------------------------------------------------------------------
// Already traced
// ---------------------------------------------------------------------------------------

fn hand_over_policy(spec: &Spec, name: &str) {
    let Some(path) = std::env::var_os(ATTRIBUTE_POLICY_ENV) else {
        return;
    };
    let json = spec.attribute_policy_json(name).to_string();
    let path = PathBuf::from(path);
    let tmp = path.with_extension("tmp");
    let written = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        eprintln!(
            "leak_free: cannot write the attribute's policy to {} ({ATTRIBUTE_POLICY_ENV}): {e}",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------

/// How the body ended in the child, read from its protocol lines.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BodyEnd {
    Passed,
    Panicked(String),
    Error(String),
}

/// The child's output, split along the protocol lines.
#[derive(Debug, Default)]
struct Transcript {
    /// The marker line was seen.
    started: bool,
    /// How the body ended, when the child got that far.
    end: Option<BodyEnd>,
    /// What the body printed (between the marker and the end line).
    body_output: String,
}

impl Transcript {
    fn parse(output: &str, nonce: &str) -> Transcript {
        let prefix = format!("{} ", frame_prefix(nonce));
        let mut transcript = Transcript::default();
        let mut body = Vec::new();
        for line in output.split('\n') {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let (what, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                let text =
                    || serde_json::from_str::<String>(arg).unwrap_or_else(|_| arg.to_string());
                match what {
                    "started" if !transcript.started => transcript.started = true,
                    "passed" if transcript.end.is_none() => transcript.end = Some(BodyEnd::Passed),
                    "panicked" if transcript.end.is_none() => {
                        transcript.end = Some(BodyEnd::Panicked(text()))
                    }
                    "error" if transcript.end.is_none() => {
                        transcript.end = Some(BodyEnd::Error(text()))
                    }
                    _ => {}
                }
                continue;
            }
            if transcript.started && transcript.end.is_none() {
                body.push(line);
            }
        }
        // Our lines start with a newline of their own: drop the empty line that leaves.
        while body.last().is_some_and(|l| l.trim().is_empty()) {
            body.pop();
        }
        if !body.is_empty() {
            transcript.body_output = body.join("\n") + "\n";
        }
        transcript
    }
}

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
#[track_caller]
fn fail_test(name: &str, what: String) -> ! {
    panic!("leak_free: `{name}`: {what}")
}

#[track_caller]
fn parent<R: TestResult>(spec: &Spec, name: &str) -> R {
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
    let cmd = match child_command(name, &nonce) {
        Ok(cmd) => cmd,
        Err(e) => fail_test(name, e),
    };
    let checked = match crate::check(&tracer, &cmd, policy) {
        Ok(checked) => checked,
        Err(e) => fail_test(name, format!("cannot trace `{}`: {e}", cmd.display())),
    };
    let output = String::from_utf8_lossy(&checked.run.output);
    let transcript = Transcript::parse(&output, &nonce);
    let status = &checked.run.status;
    let verdict = &checked.verdict;

    if !transcript.started {
        fail_test(name, format!(
            "the traced re-run did not run the test body: no test named `{name}` ran in `{}` ({status}).\n\
             --- output of the re-run:\n{}\n--- verdict:\n{}",
            cmd.display(),
            output.trim_end(),
            render_verdict(verdict, "    ").trim_end()
        ));
    }
    print!("{}", transcript.body_output);

    let body = match (&transcript.end, status) {
        (Some(BodyEnd::Passed), _) => "the test body itself passed".to_string(),
        (Some(BodyEnd::Panicked(msg)), _) => format!("the test body itself panicked: {msg}"),
        (Some(BodyEnd::Error(err)), _) => format!("the test body itself returned Err: {err}"),
        (None, ProgramStatus::TimedOut) => "the test timed out".to_string(),
        (None, status) => format!("the test process ended ({status}) before the body finished"),
    };

    if verdict.verdict.fails() {
        let what = match verdict.verdict {
            VerdictKind::Unverified => "the network use of this test could not be verified",
            _ => "this test leaked",
        };
        let report = render_verdict(verdict, "");
        if spec.should_panic {
            // A #[should_panic] test fails when it does not panic: the leak must not be
            // hidden by the expected panic.
            println!(
                "leak_free: `{name}`: {what} ({body}); this #[should_panic] test is failed by not panicking.\n{report}"
            );
            return R::success();
        }
        fail_test(name, format!("{what} ({body}).\n{report}"));
    }
    if !verdict.findings.is_empty() {
        print!("{}", render_verdict(verdict, ""));
    }

    match transcript.end {
        Some(BodyEnd::Passed) => R::success(),
        Some(BodyEnd::Panicked(msg)) => panic!("{msg}"),
        Some(BodyEnd::Error(err)) => panic!("Error: {err}"),
        None => fail_test(
            name,
            format!("{body}\n--- output of the re-run:\n{}", output.trim_end()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_macro_crate() {
        // leakcheck-macros checks `<kind> = "<severity>"` at compile time with the names
        // of leakcheck-core, which must be those of `Kind` and `Severity`.
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, leakcheck_core::KIND_NAMES);
        for name in leakcheck_core::SEVERITY_NAMES {
            assert!(name.parse::<Severity>().is_ok(), "{name}");
        }
    }

    #[test]
    fn transcript() {
        let out = "\nrunning 1 test\ntest a::b ... \n[leak_free:N] started \"a::b\"\nhello\nworld\n\n[leak_free:N] panicked \"boom\\nline 2\"\nFAILED\n";
        let t = Transcript::parse(out, "N");
        assert!(t.started);
        assert_eq!(t.end, Some(BodyEnd::Panicked("boom\nline 2".into())));
        assert_eq!(t.body_output, "hello\nworld\n");
        let t = Transcript::parse("[leak_free:X] started \"a\"\n", "N");
        assert!(!t.started);
    }

    #[test]
    fn names() {
        let spec = Spec {
            module_path: "demo::net::tor",
            fn_name: "connects",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:9050"],
            ip: Some(false),
            severities: &[("listen", "deny")],
            should_panic: false,
        };
        std::thread::Builder::new()
            .name("other".into())
            .spawn(move || assert_eq!(spec.test_name(), "net::tor::connects"))
            .unwrap()
            .join()
            .unwrap();
        let spec = Spec {
            module_path: "demo",
            fn_name: "f",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:9050"],
            ip: Some(false),
            severities: &[("listen", "deny")],
            should_panic: false,
        };
        std::thread::Builder::new()
            .name("f::case_1".into())
            .spawn(move || {
                assert_eq!(spec.test_name(), "f::case_1");
                let json = spec.attribute_policy_json("f::case_1");
                assert_eq!(json["allow"][0], "127.0.0.1:9050");
                assert_eq!(json["ip"], false);
                assert_eq!(json["severities"]["listen"], "deny");
                assert!(spec.attribute_layer().is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn attribute_policy_file_round_trip() {
        let spec = Spec {
            module_path: "demo",
            fn_name: "f",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:1"],
            ip: Some(false),
            severities: &[("interface-enumeration", "allow")],
            should_panic: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        assert!(read_attribute_policy(&path).unwrap().is_none());
        std::fs::write(&path, spec.attribute_policy_json("f").to_string()).unwrap();
        let (test, layer) = read_attribute_policy(&path).unwrap().unwrap();
        assert_eq!(test, "f");
        let policy = layer.resolve("f");
        assert!(!policy.ip_allowed());
        assert_eq!(policy.allow_list(), vec!["127.0.0.1:1".to_string()]);
        assert_eq!(policy.severity(Kind::InterfaceEnumeration), Severity::Allow);
        std::fs::write(&path, r#"{"allow": [1]}"#).unwrap();
        assert!(read_attribute_policy(&path).is_err());
    }

    #[test]
    fn results() {
        assert_eq!(<Result<(), String>>::success(), Ok(()));
        assert_eq!(Err::<(), _>("x").failure(), Some("\"x\"".to_string()));
        assert_eq!(().failure(), None);
    }
}
