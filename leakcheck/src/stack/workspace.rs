//! Which source files are the workspace's own: the code a finding's location points at,
//! rather than the standard library's, a dependency's or the C library's.

use std::path::{Component, Path, PathBuf};

/// The root of the source tree whose code a finding's location names (a cargo
/// workspace, or the directory a command was run in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
    /// The root with its symbolic links resolved, when that differs: debug information
    /// names files by the path the compiler was given.
    canonical: Option<PathBuf>,
}

impl Workspace {
    /// The source tree at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Workspace {
        let root = root.into();
        let canonical = std::fs::canonicalize(&root).ok().filter(|c| *c != root);
        Workspace { root, canonical }
    }

    /// The cargo workspace `dir` lies in: the nearest directory at or above it whose
    /// `Cargo.toml` has a `[workspace]` table, else the nearest with a `Cargo.toml`, else
    /// `dir` itself.
    pub fn around(dir: &Path) -> Workspace {
        let mut package = None;
        for ancestor in dir.ancestors() {
            let Ok(manifest) = std::fs::read_to_string(ancestor.join("Cargo.toml")) else {
                continue;
            };
            let declares_workspace = manifest.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("[workspace]") || l.starts_with("[workspace.")
            });
            if declares_workspace {
                return Workspace::new(ancestor);
            }
            package.get_or_insert(ancestor);
        }
        Workspace::new(package.unwrap_or(dir))
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `file` relative to the root, when it is the workspace's own source: inside the
    /// root, and not in what cargo and rustup keep there (a target directory, a cargo or
    /// rustup home) or the standard library's remapped `/rustc/` paths.
    pub fn relative(&self, file: &Path) -> Option<String> {
        if !file.is_absolute() || file.starts_with("/rustc") {
            return None;
        }
        let inside = std::iter::once(&self.root)
            .chain(&self.canonical)
            .find_map(|root| file.strip_prefix(root).ok())?;
        let names: Vec<&str> = inside
            .components()
            .map(|c| match c {
                Component::Normal(name) => name.to_str(),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let foreign = names.first() == Some(&"target")
            || names.windows(2).any(|w| {
                matches!(
                    w,
                    [".cargo", "registry" | "git"] | [".rustup", "toolchains"]
                )
            });
        (!foreign && !names.is_empty()).then(|| names.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspaces_files_are_named_from_its_root() {
        let ws = Workspace::new("/home/dev/proj");
        assert_eq!(
            ws.relative(Path::new("/home/dev/proj/src/lib.rs"))
                .as_deref(),
            Some("src/lib.rs")
        );
        assert_eq!(
            ws.relative(Path::new("/home/dev/proj/member/tests/it.rs"))
                .as_deref(),
            Some("member/tests/it.rs")
        );
    }

    #[test]
    fn the_toolchains_the_registrys_and_other_trees_files_are_not_its_own() {
        let ws = Workspace::new("/home/dev");
        for file in [
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/net/tcp.rs",
            "/home/dev/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/ureq-2.9.0/src/lib.rs",
            "/home/dev/.cargo/git/checkouts/x-123/src/lib.rs",
            "/home/dev/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/fmt/mod.rs",
            "/home/dev/target/debug/build/x-1/out/generated.rs",
            "/usr/src/glibc/nss/getaddrinfo.c",
            "./nscd/nscd_helper.c",
            "src/lib.rs",
            "/home/dev",
        ] {
            assert_eq!(ws.relative(Path::new(file)), None, "{file}");
        }
        let root = Workspace::new("/");
        assert_eq!(
            root.relative(Path::new("/rustc/abc/library/std/src/lib.rs")),
            None
        );
        assert_eq!(
            root.relative(Path::new("/srv/app/main.c")).as_deref(),
            Some("srv/app/main.c")
        );
    }

    #[test]
    fn a_root_reached_through_a_symbolic_link_matches_the_compilers_paths() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let ws = Workspace::new(&link);
        let real = std::fs::canonicalize(&real).unwrap();
        assert_eq!(
            ws.relative(&real.join("src/main.rs")).as_deref(),
            Some("src/main.rs")
        );
        assert_eq!(
            ws.relative(&link.join("src/main.rs")).as_deref(),
            Some("src/main.rs")
        );
    }

    #[test]
    fn the_workspace_around_a_member_is_the_one_that_declares_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"m\"]\n").unwrap();
        std::fs::create_dir_all(root.join("m/src")).unwrap();
        std::fs::write(root.join("m/Cargo.toml"), "[package]\nname = \"m\"\n").unwrap();
        assert_eq!(Workspace::around(&root.join("m/src")).root(), root);
        let lone = tempfile::tempdir().unwrap();
        std::fs::write(lone.path().join("Cargo.toml"), "[package]\nname = \"p\"\n").unwrap();
        std::fs::create_dir(lone.path().join("src")).unwrap();
        assert_eq!(
            Workspace::around(&lone.path().join("src")).root(),
            lone.path()
        );
    }
}
