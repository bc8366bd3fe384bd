//! Building the test binaries through cargo, and the environment `cargo test` gives them.

use crate::cli::TestArgs;
use crate::config::cargo;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    /// `lib`, `bin`, `test`, `example`, `bench`, `proc-macro`...
    pub target_kind: String,
    /// The target's root source file.
    pub src_path: PathBuf,
    /// Variables to set when running it.
    pub env: Vec<(OsString, OsString)>,
}

impl TestBinary {
    /// The `Running ...` header cargo prints, e.g. `unittests src/lib.rs (target/debug/deps/x-1a2b)`.
    pub fn header(&self) -> String {
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
            self.target_kind.as_str(),
            "lib" | "bin" | "proc-macro" | "cdylib" | "rlib" | "staticlib" | "dylib"
        ) {
            format!("unittests {src}")
        } else {
            src
        };
        format!("{what} ({})", exe.display())
    }

    /// The name used for this binary in reports: the target's name.
    pub fn report_name(&self) -> String {
        self.target_name.clone()
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
}

/// The arguments `cargo test` needs to build what the user selected.
pub fn cargo_test_args(args: &TestArgs) -> Vec<String> {
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
    flag("--workspace", args.workspace);
    flag("--lib", args.lib);
    flag("--bins", args.bins);
    flag("--tests", args.tests);
    flag("--examples", args.examples);
    flag("--all-features", args.all_features);
    flag("--no-default-features", args.no_default_features);
    flag("--release", args.release);
    flag("--offline", args.offline);
    flag("--locked", args.locked);
    flag("--frozen", args.frozen);
    let mut many = |name: &str, values: &[String]| {
        for v in values {
            out.push(name.to_string());
            out.push(v.clone());
        }
    };
    many("--package", &args.package);
    many("--exclude", &args.exclude);
    many("--bin", &args.bin);
    many("--test", &args.test_target);
    many("--example", &args.example);
    many("--features", &args.features);
    let mut one = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            out.push(name.to_string());
            out.push(v);
        }
    };
    one("--profile", args.profile.clone());
    one("--target", args.target.clone());
    one(
        "--target-dir",
        args.target_dir.as_ref().map(|p| p.display().to_string()),
    );
    one(
        "--manifest-path",
        args.manifest_path.as_ref().map(|p| p.display().to_string()),
    );
    one("--jobs", args.jobs.clone());
    out
}

/// Builds the selected test binaries; cargo's own diagnostics go to the user's stderr.
pub fn build(args: &TestArgs, metadata: &Value) -> Result<Vec<TestBinary>, BuildError> {
    let mut child = Command::new(cargo())
        .args(cargo_test_args(args))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(BuildError::Spawn)?;
    let stdout = child.stdout.take().ok_or(BuildError::Failed)?;
    let mut tests = Vec::new();
    let mut bins: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut out_dirs: HashMap<String, String> = HashMap::new();
    let mut native_dirs: Vec<PathBuf> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                let Some(exe) = msg["executable"].as_str() else {
                    continue;
                };
                let id = msg["package_id"].as_str().unwrap_or_default().to_string();
                if msg["profile"]["test"].as_bool() == Some(true) {
                    tests.push((id, exe.to_string(), msg));
                } else if kinds(&msg).iter().any(|k| k == "bin") {
                    let name = msg["target"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    bins.entry(id).or_default().push((name, exe.to_string()));
                }
            }
            Some("build-script-executed") => {
                if let (Some(id), Some(dir)) = (msg["package_id"].as_str(), msg["out_dir"].as_str())
                {
                    out_dirs.insert(id.to_string(), dir.to_string());
                }
                for path in msg["linked_paths"].as_array().into_iter().flatten() {
                    // `KIND=PATH` or `PATH`, as in `cargo::rustc-link-search`.
                    let path = path.as_str().unwrap_or_default();
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
            _ => {}
        }
    }
    let status = child.wait().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(BuildError::Failed);
    }
    let toolchain_dirs = toolchain_lib_dirs(args.target.as_deref(), metadata);
    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| Some((p["id"].as_str()?, p)))
                .collect()
        })
        .unwrap_or_default();
    let mut binaries: Vec<TestBinary> = tests
        .into_iter()
        .map(|(id, exe, msg)| {
            let package = packages.get(id.as_str()).copied().unwrap_or(&Value::Null);
            let manifest_path = PathBuf::from(
                msg["manifest_path"]
                    .as_str()
                    .or_else(|| package["manifest_path"].as_str())
                    .unwrap_or("Cargo.toml"),
            );
            let manifest_dir = manifest_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let kind = kinds(&msg).first().cloned().unwrap_or_default();
            let target_name = msg["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let exe = PathBuf::from(exe);
            let mut env = test_env(
                package,
                &manifest_path,
                &target_name,
                &kind,
                bins.get(&id).map(Vec::as_slice).unwrap_or_default(),
                out_dirs.get(&id),
            );
            if let Some(path) = dylib_search_path(&exe, &native_dirs, &toolchain_dirs) {
                env.push(("LD_LIBRARY_PATH".into(), path));
            }
            TestBinary {
                path: exe,
                package: package["name"].as_str().unwrap_or_default().to_string(),
                manifest_dir,
                target_name,
                target_kind: kind,
                src_path: PathBuf::from(msg["target"]["src_path"].as_str().unwrap_or_default()),
                env,
            }
        })
        .collect();
    // The order cargo test runs them in: by package, lib first, then the rest by name.
    binaries.sort_by_key(|b| {
        let rank = match b.target_kind.as_str() {
            "lib" | "proc-macro" | "rlib" | "dylib" | "cdylib" => 0,
            "bin" => 1,
            "test" => 2,
            _ => 3,
        };
        (b.package.clone(), rank, b.target_name.clone())
    });
    Ok(binaries)
}

fn kinds(msg: &Value) -> Vec<String> {
    msg["target"]["kind"]
        .as_array()
        .map(|ks| {
            ks.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The variables cargo sets when it runs a test binary.
fn test_env(
    package: &Value,
    manifest_path: &Path,
    target_name: &str,
    kind: &str,
    bins: &[(String, String)],
    out_dir: Option<&String>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut set = |k: &str, v: &str| env.push((k.into(), v.into()));
    let manifest_dir = manifest_path.parent().unwrap_or(Path::new("."));
    set("CARGO_MANIFEST_DIR", &manifest_dir.display().to_string());
    set("CARGO_MANIFEST_PATH", &manifest_path.display().to_string());
    set("CARGO", &cargo().to_string_lossy());
    let version = package["version"].as_str().unwrap_or("0.0.0");
    set("CARGO_PKG_VERSION", version);
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let mut parts = core.split('.');
    set("CARGO_PKG_VERSION_MAJOR", parts.next().unwrap_or("0"));
    set("CARGO_PKG_VERSION_MINOR", parts.next().unwrap_or("0"));
    set("CARGO_PKG_VERSION_PATCH", parts.next().unwrap_or("0"));
    let pre = version
        .split_once('-')
        .map(|(_, p)| p.split('+').next().unwrap_or(""))
        .unwrap_or("");
    set("CARGO_PKG_VERSION_PRE", pre);
    set(
        "CARGO_PKG_NAME",
        package["name"].as_str().unwrap_or_default(),
    );
    let authors: Vec<&str> = package["authors"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    set("CARGO_PKG_AUTHORS", &authors.join(":"));
    for (var, key) in [
        ("CARGO_PKG_DESCRIPTION", "description"),
        ("CARGO_PKG_HOMEPAGE", "homepage"),
        ("CARGO_PKG_REPOSITORY", "repository"),
        ("CARGO_PKG_LICENSE", "license"),
        ("CARGO_PKG_LICENSE_FILE", "license_file"),
        ("CARGO_PKG_RUST_VERSION", "rust_version"),
        ("CARGO_PKG_README", "readme"),
    ] {
        set(var, package[key].as_str().unwrap_or_default());
    }
    set("CARGO_CRATE_NAME", &target_name.replace('-', "_"));
    if kind == "bin" {
        set("CARGO_BIN_NAME", target_name);
    }
    if matches!(kind, "test" | "bench") {
        for (name, path) in bins {
            set(&format!("CARGO_BIN_EXE_{name}"), path);
        }
    }
    if let Some(dir) = out_dir {
        set("OUT_DIR", dir);
    }
    env
}

/// The `LD_LIBRARY_PATH` cargo gives a test binary at `exe`: the build scripts' library
/// directories inside the target directory, the binary's `deps` and profile directories
/// (dependencies' dylibs), the toolchain's library directories (its `libstd-*.so`, which
/// proc-macro crates' tests and `-C prefer-dynamic` builds link), then the inherited
/// value.
fn dylib_search_path(
    exe: &Path,
    native_dirs: &[PathBuf],
    toolchain_dirs: &[PathBuf],
) -> Option<OsString> {
    let deps = exe.parent()?;
    let profile_dir = deps.parent();
    // Like cargo, only build scripts' directories under the target directory.
    let mut paths: Vec<PathBuf> = native_dirs
        .iter()
        .filter(|dir| profile_dir.is_some_and(|p| dir.starts_with(p)))
        .cloned()
        .collect();
    paths.push(deps.to_path_buf());
    paths.extend(profile_dir.map(Path::to_path_buf));
    paths.extend(toolchain_dirs.iter().cloned());
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).ok()
}

/// The toolchain's library directories: `rustc --print target-libdir` (for `target`
/// when cross-compiling) and the sysroot's `lib`, asked of `RUSTC` (else `rustc`) once
/// per run, in the workspace's directory so that rustup picks the toolchain cargo used.
/// Empty when rustc cannot tell: only tests that link the toolchain's dylibs need them.
fn toolchain_lib_dirs(target: Option<&str>, metadata: &Value) -> Vec<PathBuf> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "rustc".into());
    let mut command = Command::new(rustc);
    command.args(["--print", "target-libdir", "--print", "sysroot"]);
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    if let Some(root) = metadata["workspace_root"].as_str() {
        command.current_dir(root);
    }
    let Ok(output) = command.stderr(Stdio::null()).output() else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(libdir), Some(sysroot)) = (lines.next(), lines.next()) else {
        return Vec::new();
    };
    vec![PathBuf::from(libdir), Path::new(sysroot).join("lib")]
}
