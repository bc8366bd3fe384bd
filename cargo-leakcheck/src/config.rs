//! Where the policy comes from: Cargo metadata, environment, flags.

use crate::cargo::Workspace;
use leakcheck::policy::{PolicyConfig, PolicyError};
use std::collections::BTreeMap;

/// The policy layers of the manifests: `[workspace.metadata.leakcheck]` and each
/// package's `[package.metadata.leakcheck]`.
#[derive(Debug, Clone)]
pub struct ManifestLayers {
    workspace: PolicyConfig,
    packages: BTreeMap<String, PolicyConfig>,
}

impl ManifestLayers {
    /// Reads them from the workspace's metadata.
    pub fn of(ws: &Workspace) -> Result<ManifestLayers, Box<PolicyError>> {
        let (workspace, packages) =
            PolicyConfig::from_cargo_metadata(ws.json()).map_err(Box::new)?;
        Ok(ManifestLayers {
            workspace,
            packages,
        })
    }

    /// The workspace's layer, extended by `package`'s (if it has one).
    pub fn for_package(&self, package: Option<&str>) -> PolicyConfig {
        let layer = package
            .and_then(|p| self.packages.get(p))
            .cloned()
            .unwrap_or_default();
        self.workspace.clone().merge(layer)
    }
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
