//! The environment `cargo test` gives a test binary: cargo's variables, and the library
//! search path its dylibs need.

use crate::process::{cargo_program, ProcessBuilder};
use cargo_metadata::{Package, TargetKind};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A test target, as far as its environment goes.
#[derive(Debug, Clone, Copy)]
pub struct TestTarget<'a> {
    /// Its package (always known for a workspace member).
    pub package: Option<&'a Package>,
    /// The package's `rust-version`, as the manifest writes it.
    pub rust_version: Option<&'a str>,
    /// The package's Cargo.toml.
    pub manifest_path: &'a Path,
    /// The target's name.
    pub target_name: &'a str,
    /// The target's kind.
    pub kind: &'a TargetKind,
    /// The package's binaries: (name, executable).
    pub bins: &'a [(String, String)],
    /// The build script's `OUT_DIR`, when the package has one.
    pub out_dir: Option<&'a str>,
}

/// The variables cargo sets when it runs a test binary.
pub fn test_env(target: &TestTarget) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut set = |k: &str, v: &str| env.push((k.into(), v.into()));
    let manifest_dir = target.manifest_path.parent().unwrap_or(Path::new("."));
    set("CARGO_MANIFEST_DIR", &manifest_dir.display().to_string());
    set(
        "CARGO_MANIFEST_PATH",
        &target.manifest_path.display().to_string(),
    );
    set("CARGO", &cargo_program().to_string_lossy());
    let package = target.package;
    let version = package.map(|p| &p.version);
    set(
        "CARGO_PKG_VERSION",
        &version.map_or("0.0.0".to_string(), ToString::to_string),
    );
    let number = |n: Option<u64>| n.unwrap_or(0).to_string();
    set("CARGO_PKG_VERSION_MAJOR", &number(version.map(|v| v.major)));
    set("CARGO_PKG_VERSION_MINOR", &number(version.map(|v| v.minor)));
    set("CARGO_PKG_VERSION_PATCH", &number(version.map(|v| v.patch)));
    set(
        "CARGO_PKG_VERSION_PRE",
        version.map_or("", |v| v.pre.as_str()),
    );
    set("CARGO_PKG_NAME", package.map_or("", |p| p.name.as_str()));
    set(
        "CARGO_PKG_AUTHORS",
        &package.map(|p| p.authors.join(":")).unwrap_or_default(),
    );
    let text = |field: Option<&str>| field.unwrap_or_default().to_string();
    for (var, value) in [
        (
            "CARGO_PKG_DESCRIPTION",
            text(package.and_then(|p| p.description.as_deref())),
        ),
        (
            "CARGO_PKG_HOMEPAGE",
            text(package.and_then(|p| p.homepage.as_deref())),
        ),
        (
            "CARGO_PKG_REPOSITORY",
            text(package.and_then(|p| p.repository.as_deref())),
        ),
        (
            "CARGO_PKG_LICENSE",
            text(package.and_then(|p| p.license.as_deref())),
        ),
        (
            "CARGO_PKG_LICENSE_FILE",
            text(package.and_then(|p| p.license_file.as_ref().map(|f| f.as_str()))),
        ),
        ("CARGO_PKG_RUST_VERSION", text(target.rust_version)),
        (
            "CARGO_PKG_README",
            text(package.and_then(|p| p.readme.as_ref().map(|f| f.as_str()))),
        ),
    ] {
        set(var, &value);
    }
    set("CARGO_CRATE_NAME", &target.target_name.replace('-', "_"));
    if *target.kind == TargetKind::Bin {
        set("CARGO_BIN_NAME", target.target_name);
    }
    if matches!(target.kind, TargetKind::Test | TargetKind::Bench) {
        for (name, path) in target.bins {
            set(&format!("CARGO_BIN_EXE_{name}"), path);
        }
    }
    if let Some(dir) = target.out_dir {
        set("OUT_DIR", dir);
    }
    env
}

/// The `LD_LIBRARY_PATH` cargo gives a test binary at `exe`: the build scripts' library
/// directories inside the target directory, the binary's `deps` and profile directories
/// (dependencies' dylibs), the toolchain's library directories (its `libstd-*.so`, which
/// proc-macro crates' tests and `-C prefer-dynamic` builds link), then the inherited
/// value.
pub fn dylib_search_path(
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
/// when cross-compiling) and the sysroot's `lib`, asked of rustc once per run, in the
/// workspace's directory so that rustup picks the toolchain cargo used. Empty when rustc
/// cannot tell: only tests that link the toolchain's dylibs need them.
pub fn toolchain_lib_dirs(target: Option<&str>, workspace_root: &Path) -> Vec<PathBuf> {
    let mut rustc = ProcessBuilder::rustc();
    rustc.args(["--print", "target-libdir", "--print", "sysroot"]);
    if let Some(target) = target {
        rustc.args(["--target", target]);
    }
    rustc.current_dir(workspace_root);
    let Ok(output) = rustc.output_without_stderr() else {
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
