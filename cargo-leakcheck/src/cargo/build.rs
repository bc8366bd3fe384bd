//! Building the test binaries: `cargo test --no-run --message-format
//! json-render-diagnostics`, its messages read as [`cargo_metadata::Message`]s.

use super::metadata::Workspace;
use super::test_env::{self, TestTarget};
use crate::process::ProcessBuilder;
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{Artifact, Message, PackageId, TargetKind};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Child;

/// What to build: the options `cargo leakcheck` passes on to `cargo test`.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--package SPEC`...
    pub package: Vec<String>,
    /// `--workspace`.
    pub workspace: bool,
    /// `--exclude SPEC`...
    pub exclude: Vec<String>,
    /// `--lib`.
    pub lib: bool,
    /// `--bins`.
    pub bins: bool,
    /// `--bin NAME`...
    pub bin: Vec<String>,
    /// `--test NAME`...
    pub test: Vec<String>,
    /// `--tests`.
    pub tests: bool,
    /// `--examples`.
    pub examples: bool,
    /// `--example NAME`...
    pub example: Vec<String>,
    /// `--features FEATURES`...
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--release`.
    pub release: bool,
    /// `--profile NAME`.
    pub profile: Option<String>,
    /// `--target TRIPLE`.
    pub target: Option<String>,
    /// `--target-dir DIRECTORY`.
    pub target_dir: Option<PathBuf>,
    /// `--jobs N`.
    pub jobs: Option<String>,
    /// `--manifest-path PATH`.
    pub manifest_path: Option<PathBuf>,
    /// `--offline`.
    pub offline: bool,
    /// `--locked`.
    pub locked: bool,
    /// `--frozen`.
    pub frozen: bool,
    /// `--doc`: only the libraries' doctests.
    pub doc: bool,
    /// `-q`: cargo's own lines left out.
    pub quiet: bool,
}

impl BuildOptions {
    /// Whether the run has doctests, as `cargo test` decides: with `--doc`, or when no
    /// target is selected (`--lib`, `--test NAME`... leave them out).
    pub fn runs_doctests(&self) -> bool {
        self.doc || !self.selects_targets()
    }

    /// Whether only doctests run: `--doc` and no other target selected (cargo refuses
    /// the mix).
    pub fn runs_doctests_only(&self) -> bool {
        self.doc && !self.selects_targets()
    }

    fn selects_targets(&self) -> bool {
        self.lib
            || self.bins
            || self.tests
            || self.examples
            || !self.bin.is_empty()
            || !self.test.is_empty()
            || !self.example.is_empty()
    }
}

/// One test binary cargo built, with what running it needs.
#[derive(Debug, Clone)]
pub struct TestBinary {
    /// The executable.
    pub path: PathBuf,
    /// The package's name.
    pub package: String,
    /// The package's directory: tests run there, as under `cargo test`.
    pub manifest_dir: PathBuf,
    /// The target's name (crate name for `lib`, file stem for `tests/x.rs`).
    pub target_name: String,
    /// The target's first kind: `lib`, `bin`, `test`, `example`, `bench`, `proc-macro`...
    pub target_kind: TargetKind,
    /// The target's root source file.
    pub src_path: PathBuf,
    /// Variables to set when running it.
    pub env: Vec<(OsString, OsString)>,
    /// Arguments before the test harness's own: for doctests, cargo's `test --doc ...
    /// --`; none for a test binary.
    pub args: Vec<String>,
    /// A library's doctests: `path` is cargo, which runs them through rustdoc, each
    /// doctest compiled and run as a process of its own under rustdoc's libtest.
    pub doctests: bool,
}

impl TestBinary {
    /// The status line cargo prints before running it, e.g. `Running unittests src/lib.rs
    /// (target/debug/deps/x-1a2b)` or `Doc-tests x`.
    pub fn header(&self) -> String {
        if self.doctests {
            return format!("Doc-tests {}", self.target_name);
        }
        let src = self
            .src_path
            .strip_prefix(&self.manifest_dir)
            .unwrap_or(&self.src_path)
            .display()
            .to_string();
        let exe = std::env::current_dir()
            .ok()
            .and_then(|cwd| self.path.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| self.path.clone());
        let what = if matches!(
            self.target_kind,
            TargetKind::Lib
                | TargetKind::Bin
                | TargetKind::ProcMacro
                | TargetKind::CDyLib
                | TargetKind::RLib
                | TargetKind::StaticLib
                | TargetKind::DyLib
        ) {
            format!("unittests {src}")
        } else {
            src
        };
        format!("Running {what} ({})", exe.display())
    }

    /// The name used for this binary in reports: the target's name (`Doc-tests NAME` for
    /// a library's doctests, as cargo's status line says).
    pub fn report_name(&self) -> String {
        if self.doctests {
            format!("Doc-tests {}", self.target_name)
        } else {
            self.target_name.clone()
        }
    }
}

/// Why the build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Spawn(std::io::Error),
    /// The build failed; cargo has printed why.
    #[error("could not compile the tests (cargo's messages are above; `cargo test --no-run` shows the same)")]
    Failed,
    /// cargo refused the command line before building anything (a `--test`, `--bin`,
    /// `--example` or `-p` that names nothing, a bad feature...): its own message, with
    /// its did-you-mean, is all the user needs to read.
    #[error("cargo refused the selection (its message is above)")]
    Rejected,
}

/// The arguments `cargo` needs to build what the user selected. With `--doc` (which
/// `--no-run` refuses) the selected libraries' unit tests are built instead: their
/// artifacts name the libraries whose doctests run.
pub fn cargo_test_args(options: &BuildOptions) -> Vec<String> {
    let mut out = vec![
        "test".to_string(),
        "--no-run".into(),
        "--message-format".into(),
        "json-render-diagnostics".into(),
    ];
    let mut flag = |name: &str, on: bool| {
        if on {
            out.push(name.to_string());
        }
    };
    flag("--workspace", options.workspace);
    flag("--lib", options.lib || options.doc);
    flag("--bins", options.bins);
    flag("--tests", options.tests);
    flag("--examples", options.examples);
    flag("--quiet", options.quiet);
    out.extend(selection_args(options, false));
    out
}

/// The arguments of `cargo test --doc` for `package`'s doctests (`NAME@VERSION`), up to
/// and including the `--` before the harness's: the build options as given, cargo quiet
/// (its lines would mix with a `--list`) and without colour.
pub fn doctest_args(options: &BuildOptions, package: &str) -> Vec<String> {
    let mut out: Vec<String> = ["test", "--doc", "--quiet", "--color", "never", "--package"]
        .map(String::from)
        .into();
    out.push(package.to_string());
    out.extend(selection_args(options, true));
    out.push("--".into());
    out
}

/// The options both commands pass on as given: features, profile, target, directories,
/// the lock file's and the network's; packages and targets too unless `doctests`.
fn selection_args(options: &BuildOptions, doctests: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut flag = |name: &str, on: bool| {
        if on {
            out.push(name.to_string());
        }
    };
    flag("--all-features", options.all_features);
    flag("--no-default-features", options.no_default_features);
    flag("--release", options.release);
    flag("--offline", options.offline);
    flag("--locked", options.locked);
    flag("--frozen", options.frozen);
    let mut many = |name: &str, values: &[String]| {
        for v in values {
            out.push(name.to_string());
            out.push(v.clone());
        }
    };
    if !doctests {
        many("--package", &options.package);
        many("--exclude", &options.exclude);
        many("--bin", &options.bin);
        many("--test", &options.test);
        many("--example", &options.example);
    }
    many("--features", &options.features);
    let mut one = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            out.push(name.to_string());
            out.push(v);
        }
    };
    one("--profile", options.profile.clone());
    one("--target", options.target.clone());
    one(
        "--target-dir",
        options.target_dir.as_ref().map(|p| p.display().to_string()),
    );
    one(
        "--manifest-path",
        options
            .manifest_path
            .as_ref()
            .map(|p| p.display().to_string()),
    );
    one("--jobs", options.jobs.clone());
    out
}

/// A `cargo test --no-run` under way: started before `cargo metadata` is read, so that
/// the two overlap (cargo's freshness check is most of a warm run's fixed cost).
/// Dropped unfinished (a configuration error found meanwhile), it stops the build.
pub struct Build {
    child: Option<Child>,
}

/// Starts building the selected test binaries; cargo's own diagnostics go to the
/// user's stderr.
pub fn start(options: &BuildOptions) -> Result<Build, BuildError> {
    let mut cargo = ProcessBuilder::cargo();
    cargo.args(cargo_test_args(options));
    let child = cargo.spawn_reading_stdout().map_err(BuildError::Spawn)?;
    Ok(Build { child: Some(child) })
}

impl Drop for Build {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Build {
    /// Ends a build whose workspace could not be read: whether it failed as well (then
    /// cargo has already printed why, and the same words need not come twice). A build
    /// still going after two seconds is stopped.
    pub fn failed_too(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return !status.success(),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }

    /// Waits for the build: the test binaries, in the order `cargo test` runs them.
    pub fn finish(
        mut self,
        options: &BuildOptions,
        ws: &Workspace,
    ) -> Result<Vec<TestBinary>, BuildError> {
        let child = self.child.take().ok_or(BuildError::Failed)?;
        collect(child, options, ws)
    }
}

/// Reads cargo's messages until it ends, then makes the binaries of its artifacts.
fn collect(
    mut child: Child,
    options: &BuildOptions,
    ws: &Workspace,
) -> Result<Vec<TestBinary>, BuildError> {
    let stdout = child.stdout.take().ok_or(BuildError::Failed)?;
    let mut tests: Vec<(Artifact, Utf8PathBuf)> = Vec::new();
    let mut bins: HashMap<PackageId, Vec<(String, String)>> = HashMap::new();
    let mut out_dirs: HashMap<PackageId, Utf8PathBuf> = HashMap::new();
    let mut native_dirs: Vec<PathBuf> = Vec::new();
    // cargo says `build-finished` once it has tried to build; a command line it rejects
    // (a target or package that does not exist) ends before that.
    let mut built = false;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let Ok(message) = message else { break };
        match message {
            Message::CompilerArtifact(artifact) => {
                let Some(exe) = artifact.executable.clone() else {
                    continue;
                };
                if artifact.profile.test {
                    tests.push((artifact, exe));
                } else if artifact.target.kind.contains(&TargetKind::Bin) {
                    bins.entry(artifact.package_id.clone())
                        .or_default()
                        .push((artifact.target.name.clone(), exe.into_string()));
                }
            }
            Message::BuildScriptExecuted(script) => {
                out_dirs.insert(script.package_id.clone(), script.out_dir.clone());
                for path in &script.linked_paths {
                    // `KIND=PATH` or `PATH`, as in `cargo::rustc-link-search`.
                    let path = path.as_str();
                    let path = match path.split_once('=') {
                        Some(("native" | "crate" | "dependency" | "framework" | "all", rest)) => {
                            rest
                        }
                        _ => path,
                    };
                    let path = PathBuf::from(path);
                    if !path.as_os_str().is_empty() && !native_dirs.contains(&path) {
                        native_dirs.push(path);
                    }
                }
            }
            Message::BuildFinished(_) => built = true,
            _ => {}
        }
    }
    let status = child.wait().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(if built {
            BuildError::Failed
        } else {
            BuildError::Rejected
        });
    }
    let toolchain_dirs = test_env::toolchain_lib_dirs(options.target.as_deref(), ws.root());
    let doctests = if options.runs_doctests() {
        doctest_binaries(options, ws, &tests)
    } else {
        Vec::new()
    };
    let mut binaries: Vec<TestBinary> = tests
        .into_iter()
        .map(|(artifact, exe)| {
            let id = &artifact.package_id;
            let package = ws.package(id);
            let manifest_path = artifact.manifest_path.as_std_path();
            let kind = artifact
                .target
                .kind
                .first()
                .cloned()
                .unwrap_or_else(|| TargetKind::Unknown(String::new()));
            let exe = exe.into_std_path_buf();
            let mut env = test_env::test_env(&TestTarget {
                package,
                rust_version: ws.rust_version(id),
                manifest_path,
                target_name: &artifact.target.name,
                kind: &kind,
                bins: bins.get(id).map(Vec::as_slice).unwrap_or_default(),
                out_dir: out_dirs.get(id).map(|d| d.as_str()),
            });
            if let Some(path) = test_env::dylib_search_path(&exe, &native_dirs, &toolchain_dirs) {
                env.push(("LD_LIBRARY_PATH".into(), path));
            }
            TestBinary {
                path: exe,
                package: package.map(|p| p.name.to_string()).unwrap_or_default(),
                manifest_dir: manifest_path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                target_name: artifact.target.name.clone(),
                target_kind: kind,
                src_path: artifact.target.src_path.clone().into_std_path_buf(),
                env,
                args: Vec::new(),
                doctests: false,
            }
        })
        .collect();
    // The order cargo test runs them in: by package, lib first, then the rest by name.
    binaries.sort_by_key(|b| {
        let rank = match b.target_kind {
            ref kind if is_library(kind) => 0,
            TargetKind::Bin => 1,
            TargetKind::Test => 2,
            _ => 3,
        };
        (b.package.clone(), rank, b.target_name.clone())
    });
    // `--doc` built the libraries' unit tests only to learn which libraries these are.
    if options.doc {
        binaries.clear();
    }
    // cargo runs the doctests last, after every test binary, package by package.
    binaries.extend(doctests);
    Ok(binaries)
}

/// Whether a target of this kind is a library (which may have doctests).
fn is_library(kind: &TargetKind) -> bool {
    matches!(
        kind,
        TargetKind::Lib
            | TargetKind::ProcMacro
            | TargetKind::RLib
            | TargetKind::DyLib
            | TargetKind::CDyLib
    )
}

/// The doctests of the selected libraries: those cargo built unit tests of (a library
/// with `test = false` builds none, and its doctests are not found), unless the library
/// says `doctest = false`; each run by `cargo test --doc` for its package.
fn doctest_binaries(
    options: &BuildOptions,
    ws: &Workspace,
    tests: &[(Artifact, Utf8PathBuf)],
) -> Vec<TestBinary> {
    let mut doctests: Vec<TestBinary> = Vec::new();
    for (artifact, _) in tests {
        let target = &artifact.target;
        let Some(kind) = target.kind.first() else {
            continue;
        };
        if !is_library(kind) || !target.doctest {
            continue;
        }
        let Some(package) = ws.package(&artifact.package_id) else {
            continue;
        };
        if doctests.iter().any(|d| d.package == package.name.as_str()) {
            continue;
        }
        let spec = format!("{}@{}", package.name, package.version);
        let manifest_path = package.manifest_path.as_std_path();
        doctests.push(TestBinary {
            path: crate::process::cargo_program().into(),
            package: package.name.to_string(),
            manifest_dir: manifest_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            target_name: target.name.clone(),
            target_kind: kind.clone(),
            src_path: target.src_path.clone().into_std_path_buf(),
            // cargo gives rustdoc and the doctests their environment.
            env: Vec::new(),
            args: doctest_args(options, &spec),
            doctests: true,
        });
    }
    doctests.sort_by(|a, b| a.package.cmp(&b.package));
    doctests
}
