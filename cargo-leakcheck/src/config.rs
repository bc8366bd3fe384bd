//! Where the policy and the report path come from: Cargo metadata, environment, flags.

use leakcheck::policy::{PolicyConfig, PolicyError};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A configuration or setup error, printed as `error: ...` with exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad policy.
    #[error(transparent)]
    Policy(#[from] Box<PolicyError>),
    /// `cargo metadata` failed.
    #[error("`cargo metadata` failed in {dir}:\n{stderr}\n(hint: fix Cargo.toml, or run from outside the cargo project)")]
    Metadata {
        /// Where it ran.
        dir: String,
        /// What cargo said.
        stderr: String,
    },
}

/// What `cargo metadata` says about the workspace, with the policy layers in it.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The raw metadata.
    pub metadata: Value,
    /// `[workspace.metadata.leakcheck]`.
    pub workspace_layer: PolicyConfig,
    /// `[package.metadata.leakcheck]` per package name.
    pub package_layers: std::collections::BTreeMap<String, PolicyConfig>,
    /// cargo's target directory.
    pub target_dir: PathBuf,
}

/// The cargo program to call: `$CARGO` when cargo runs us.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

impl Workspace {
    /// Loads the workspace around `manifest_path` (or the current directory).
    pub fn load(manifest_path: Option<&Path>) -> Result<Workspace, ConfigError> {
        let mut args = vec![
            "metadata".to_string(),
            "--format-version".into(),
            "1".into(),
            "--no-deps".into(),
        ];
        if let Some(path) = manifest_path {
            args.push("--manifest-path".into());
            args.push(path.display().to_string());
        }
        let dir = std::env::current_dir().unwrap_or_default();
        let output = duct::cmd(cargo(), &args)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| ConfigError::Metadata {
                dir: dir.display().to_string(),
                stderr: e.to_string(),
            })?;
        if !output.status.success() {
            return Err(ConfigError::Metadata {
                dir: dir.display().to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let metadata: Value =
            serde_json::from_slice(&output.stdout).map_err(|e| ConfigError::Metadata {
                dir: dir.display().to_string(),
                stderr: format!("unreadable output: {e}"),
            })?;
        let (workspace_layer, package_layers) =
            PolicyConfig::from_cargo_metadata(&metadata).map_err(Box::new)?;
        let target_dir = metadata["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"));
        Ok(Workspace {
            metadata,
            workspace_layer,
            package_layers,
            target_dir,
        })
    }

    /// The package whose directory holds `dir` most closely, if any.
    pub fn package_at(&self, dir: &Path) -> Option<String> {
        let packages = self.metadata["packages"].as_array()?;
        packages
            .iter()
            .filter_map(|p| {
                let manifest = Path::new(p["manifest_path"].as_str()?);
                let root = manifest.parent()?;
                let name = p["name"].as_str()?.to_string();
                dir.starts_with(root)
                    .then(|| (root.components().count(), name))
            })
            .max()
            .map(|(_, name)| name)
    }
}

/// Whether `dir` or a parent holds a Cargo.toml.
pub fn in_cargo_project(dir: &Path) -> bool {
    dir.ancestors().any(|d| d.join("Cargo.toml").is_file())
}

/// The layers from the environment and the command line, highest last:
/// `LEAKCHECK_ALLOW`, then `--allow`.
pub fn env_and_cli_layers(args: &crate::cli::PolicyArgs) -> Result<PolicyConfig, String> {
    let env = PolicyConfig::from_env_leakcheck_allow().map_err(|e| e.to_string())?;
    let mut cli =
        PolicyConfig::from_allow_list(&args.allow, "--allow").map_err(|e| e.to_string())?;
    if args.no_ip {
        cli.set_ip(false);
    }
    Ok(env.merge(cli))
}
