//! Where the policy comes from, lowest layer first: the manifests' metadata, the
//! environment, the command line (DESIGN.md's precedence; a test's `#[leak_free(...)]`
//! attribute comes last, learnt as the test runs).

use crate::cargo::Workspace;
use crate::error::Error;
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
    pub fn of(ws: &Workspace) -> Result<ManifestLayers, Error> {
        let (workspace, packages) = PolicyConfig::from_cargo_metadata(ws.json())
            .map_err(|e| Error::Policy(e.to_string()))?;
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

/// The policy given on the command line.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    /// `--allow ENDPOINT`...: allowed endpoints.
    pub allow: Vec<String>,
    /// `--no-ip`: creating any IP socket is a leak.
    pub no_ip: bool,
}

/// The layers from the environment and the command line, highest last:
/// `LEAKCHECK_ALLOW`, then `--allow`.
pub fn env_and_cli_layers(options: &PolicyOptions) -> Result<PolicyConfig, Error> {
    let policy = |e: PolicyError| Error::Policy(e.to_string());
    let env = PolicyConfig::from_env_leakcheck_allow().map_err(policy)?;
    let mut cli = PolicyConfig::from_allow_list(&options.allow, "--allow").map_err(policy)?;
    if options.no_ip {
        cli.set_ip(false);
    }
    Ok(env.merge(cli))
}

/// Heteronculous' `LEAK_CI_ALLOW_*` variables, which `cargo leakcheck run` honours so
/// that existing CI scripts switch over unchanged.
pub fn heteronculous_layer() -> Result<PolicyConfig, Error> {
    PolicyConfig::from_env_heteronculous().map_err(|e| Error::Policy(e.to_string()))
}
