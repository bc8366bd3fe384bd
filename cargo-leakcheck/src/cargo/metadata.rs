//! `cargo metadata`, run once per invocation and read into typed structs.

use crate::process::ProcessBuilder;
use cargo_metadata::{Metadata, Package, PackageId};
use serde_json::Value;
use std::path::Path;

/// `cargo metadata` failed or said something we cannot read: printed as `error: ...`
/// with exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("`cargo metadata` failed in {dir}:\n{stderr}\n(hint: fix Cargo.toml, or run from outside the cargo project)")]
pub struct MetadataError {
    /// Where it ran.
    pub dir: String,
    /// What cargo said (or why its output could not be read).
    pub stderr: String,
}

/// What `cargo metadata --no-deps` says about the workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    metadata: Metadata,
    /// The same output as JSON: the library reads the policy from it
    /// ([`leakcheck::PolicyConfig::from_cargo_metadata`]), and a field the typed form
    /// normalizes is read from it as cargo wrote it.
    json: Value,
}

impl Workspace {
    /// Runs `cargo metadata` for the workspace around `manifest_path` (or the current
    /// directory).
    pub fn load(manifest_path: Option<&Path>) -> Result<Workspace, MetadataError> {
        let mut cmd = ProcessBuilder::cargo();
        cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
        if let Some(path) = manifest_path {
            cmd.arg("--manifest-path").arg(path);
        }
        let dir = std::env::current_dir().unwrap_or_default();
        let error = |stderr: String| MetadataError {
            dir: dir.display().to_string(),
            stderr,
        };
        let output = cmd.output().map_err(|e| error(e.to_string()))?;
        if !output.status.success() {
            return Err(error(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            ));
        }
        let unreadable = |e: serde_json::Error| error(format!("unreadable output: {e}"));
        let json: Value = serde_json::from_slice(&output.stdout).map_err(unreadable)?;
        let metadata: Metadata = serde_json::from_value(json.clone()).map_err(unreadable)?;
        Ok(Workspace { metadata, json })
    }

    /// The metadata as JSON, for the library's policy reader.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// cargo's target directory.
    pub fn target_dir(&self) -> &Path {
        self.metadata.target_directory.as_std_path()
    }

    /// The workspace's root directory.
    pub fn root(&self) -> &Path {
        self.metadata.workspace_root.as_std_path()
    }

    /// The package with this id (a workspace member: the metadata has no others).
    pub fn package(&self, id: &PackageId) -> Option<&Package> {
        self.metadata.packages.iter().find(|p| &p.id == id)
    }

    /// A package's `rust-version` as its manifest writes it (`1.70`): cargo gives a test
    /// exactly that, where the typed form says `1.70.0`.
    pub fn rust_version(&self, id: &PackageId) -> Option<&str> {
        self.json["packages"]
            .as_array()?
            .iter()
            .find(|p| p["id"].as_str() == Some(id.repr.as_str()))?["rust_version"]
            .as_str()
    }

    /// The package whose directory holds `dir` most closely, if any.
    pub fn package_at(&self, dir: &Path) -> Option<String> {
        self.metadata
            .packages
            .iter()
            .filter_map(|p| {
                let root = p.manifest_path.parent()?.as_std_path();
                dir.starts_with(root)
                    .then(|| (root.components().count(), p.name.to_string()))
            })
            .max()
            .map(|(_, name)| name)
    }
}

/// Whether `dir` or a parent holds a Cargo.toml.
pub fn in_cargo_project(dir: &Path) -> bool {
    dir.ancestors().any(|d| d.join("Cargo.toml").is_file())
}
