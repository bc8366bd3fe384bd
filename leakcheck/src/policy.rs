//! STUB: replaced by the policy helper. Only the signatures below are the contract.

use crate::kind::{Kind, Severity};
use std::net::SocketAddr;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(String);

/// A configuration error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(String);

/// A layer of configuration.
#[derive(Debug, Clone, Default)]
pub struct PolicyConfig;

/// The resolved policy for one test or command.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<String>,
}

impl Policy {
    /// No network at all.
    pub fn no_network() -> Policy {
        Policy::default()
    }
    /// Whether an IP destination is allowed.
    pub fn allows_ip(&self, addr: &SocketAddr) -> bool {
        self.allow.iter().any(|a| a == &addr.to_string())
    }
    /// Whether a unix socket path is allowed.
    pub fn allows_unix(&self, _path: &str, _is_abstract: bool) -> bool {
        false
    }
    /// `ip = true|false`.
    pub fn ip_allowed(&self) -> bool {
        true
    }
    /// The severity of a kind.
    pub fn severity(&self, kind: Kind) -> Severity {
        kind.default_severity()
    }
    /// The allow list in force.
    pub fn allow_list(&self) -> Vec<String> {
        self.allow.clone()
    }
    /// For tests only until the helper lands.
    pub fn from_list(list: &[&str]) -> Policy {
        Policy {
            allow: list.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl PolicyConfig {
    /// Stub.
    pub fn from_cargo_metadata(
        _m: &serde_json::Value,
    ) -> Result<
        (
            PolicyConfig,
            std::collections::BTreeMap<String, PolicyConfig>,
        ),
        PolicyError,
    > {
        Ok(Default::default())
    }
    /// Stub.
    pub fn from_allow_list<S: AsRef<str>>(_l: &[S], _s: &str) -> Result<PolicyConfig, PolicyError> {
        Ok(PolicyConfig)
    }
    /// Stub.
    pub fn from_env_leakcheck_allow() -> Result<PolicyConfig, PolicyError> {
        Ok(PolicyConfig)
    }
    /// Stub.
    pub fn from_env_heteronculous() -> Result<PolicyConfig, PolicyError> {
        Ok(PolicyConfig)
    }
    /// Stub.
    pub fn merge(self, _h: PolicyConfig) -> PolicyConfig {
        self
    }
    /// Stub.
    pub fn resolve(&self, _t: &str) -> Policy {
        Policy::from_list(&["127.0.0.1:9050"])
    }
}
impl PolicyConfig {
    /// Stub.
    pub fn set_ip(&mut self, _ip: bool) {}
}
