//! Layers of configuration ([`PolicyConfig`]), how they stack, and the [`Policy`] they
//! resolve to for one test.

use super::error::{endpoint_for, PolicyError};
use super::heteronculous::{HeteronculousRule, HeteronculousRules};
use crate::kind::{Kind, Severity};
use globset::GlobMatcher;
use leakcheck_core::Endpoint;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Settings that apply only to tests whose name matches `filter`.
#[derive(Clone, Debug)]
pub struct Override {
    /// The compiled filter glob; `*` crosses `::` so `tor::*` covers nested modules.
    pub filter: GlobMatcher,
    /// The filter as written, for messages.
    pub filter_text: String,
    /// The settings; never has overrides of its own.
    pub layer: PolicyConfig,
}

impl Override {
    /// Whether the override applies to a test.
    pub fn matches(&self, test_name: &str) -> bool {
        self.filter.is_match(test_name)
    }
}

/// One layer of configuration, as read from one source; `None`/empty means "this layer
/// does not say", so that stacking layers only changes what a layer sets.
#[derive(Clone, Debug, Default)]
pub struct PolicyConfig {
    /// Allowed endpoints; layers union them.
    pub allow: Vec<Endpoint>,
    /// `ip = false` forbids IP sockets altogether (unix-socket-only programs).
    pub ip: Option<bool>,
    /// Per-kind severities this layer sets.
    pub severities: BTreeMap<Kind, Severity>,
    /// Test-name-specific settings, applied by [`PolicyConfig::resolve`] in order.
    pub overrides: Vec<Override>,
    /// Rules from Heteronculous' variables, unioned like `allow`.
    pub heteronculous: Option<HeteronculousRules>,
    /// `stand-in = true | "accept" | "refuse" | false`: serve a stand-in proxy on the
    /// allowed endpoints (`"off"` for false); a higher layer's choice wins.
    pub stand_in: Option<String>,
    /// `http-connect = [...]`: allowed endpoints where the stand-in also speaks HTTP
    /// CONNECT; unioned.
    pub http_connect: Vec<String>,
    /// True for `Cargo.toml` metadata layers: their base settings rank below every
    /// metadata override (DESIGN.md's order), while any other layer ranks above them.
    from_metadata: bool,
}

impl PolicyConfig {
    /// An empty layer read from `Cargo.toml` metadata, which ranks below the metadata
    /// overrides (see [`PolicyConfig::merge`]).
    pub(super) fn metadata_layer() -> PolicyConfig {
        PolicyConfig {
            from_metadata: true,
            ..PolicyConfig::default()
        }
    }

    /// Builds a layer from endpoints given outside `Cargo.toml`; `source` (`--allow`,
    /// `LEAKCHECK_ALLOW`, `#[leak_free]`) names them in error messages, and entry `i` is
    /// reported as `source[i]`.
    pub fn from_allow_list<S: AsRef<str>>(
        list: &[S],
        source: &str,
    ) -> Result<PolicyConfig, PolicyError> {
        let mut config = PolicyConfig::default();
        for (index, text) in list.iter().enumerate() {
            let endpoint = endpoint_for(text.as_ref(), source, &format!("{source}[{index}]"))?;
            if !config.allow.contains(&endpoint) {
                config.allow.push(endpoint);
            }
        }
        Ok(config)
    }

    /// Whether the layer sets nothing at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
            && self.ip.is_none()
            && self.severities.is_empty()
            && self.overrides.is_empty()
            && self.heteronculous.iter().all(|h| h.rules.is_empty())
            && self.stand_in.is_none()
            && self.http_connect.is_empty()
    }

    /// Stacks `higher` on top of `self`.
    ///
    /// Allow lists and Heteronculous rules are unioned (a package extends the workspace;
    /// `--allow` adds to the manifest), overrides are appended, and `ip` and severities
    /// from `higher` win where it sets them. Precedence with overrides follows DESIGN.md's
    /// order (workspace, package, matching overrides, `LEAKCHECK_ALLOW`, `--allow`, the
    /// test's attribute): when both layers come from `Cargo.toml` metadata, every override
    /// still beats both base layers; when `higher` comes from anywhere else, its `ip` and
    /// severities also beat the overrides below it (so `#[leak_free(ip = false)]` cannot
    /// be undone by a manifest override).
    pub fn merge(self, higher: PolicyConfig) -> PolicyConfig {
        let mut out = self;
        let out_was_metadata = out.from_metadata || out.is_empty();
        let higher_is_metadata = higher.from_metadata || higher.is_empty();
        if !higher.from_metadata {
            for o in &mut out.overrides {
                if higher.ip.is_some() {
                    o.layer.ip = None;
                }
                for kind in higher.severities.keys() {
                    o.layer.severities.remove(kind);
                }
            }
        }
        out.stack_settings(
            higher.allow,
            higher.ip,
            higher.severities,
            higher.heteronculous,
        );
        out.overrides.extend(higher.overrides);
        if higher.stand_in.is_some() {
            out.stand_in = higher.stand_in;
        }
        for endpoint in higher.http_connect {
            if !out.http_connect.contains(&endpoint) {
                out.http_connect.push(endpoint);
            }
        }
        out.from_metadata = out_was_metadata && higher_is_metadata;
        out
    }

    fn stack_settings(
        &mut self,
        allow: Vec<Endpoint>,
        ip: Option<bool>,
        severities: BTreeMap<Kind, Severity>,
        heteronculous: Option<HeteronculousRules>,
    ) {
        for endpoint in allow {
            if !self.allow.contains(&endpoint) {
                self.allow.push(endpoint);
            }
        }
        if ip.is_some() {
            self.ip = ip;
        }
        self.severities.extend(severities);
        if let Some(rules) = heteronculous {
            self.heteronculous
                .get_or_insert_with(HeteronculousRules::default)
                .rules
                .extend(rules.rules);
        }
    }

    /// The stand-in these layers ask for (`stand-in` in the metadata), if any: its mode
    /// and its HTTP CONNECT endpoints.
    #[cfg(target_os = "linux")]
    pub fn stand_in(&self) -> Option<crate::standin::Plan> {
        let mode = self.stand_in.as_deref().filter(|m| *m != "off")?;
        Some(crate::standin::Plan {
            mode: mode.parse().unwrap_or_default(),
            http_connect: self.http_connect.clone(),
        })
    }

    /// The policy for one test: the base settings with every override whose filter
    /// matches `test_name` stacked on top, in order.
    pub fn resolve(&self, test_name: &str) -> Policy {
        let mut config = PolicyConfig {
            allow: self.allow.clone(),
            ip: self.ip,
            severities: self.severities.clone(),
            overrides: Vec::new(),
            heteronculous: self.heteronculous.clone(),
            stand_in: None,
            http_connect: Vec::new(),
            from_metadata: self.from_metadata,
        };
        for o in self.overrides.iter().filter(|o| o.matches(test_name)) {
            let layer = o.layer.clone();
            config.stack_settings(layer.allow, layer.ip, layer.severities, layer.heteronculous);
        }
        Policy {
            allow: config.allow,
            heteronculous: config.heteronculous.map(|h| h.rules).unwrap_or_default(),
            ip: config.ip.unwrap_or(true),
            severities: config.severities,
        }
    }

    /// Sets a kind's severity in this layer (from `#[leak_free(...)]` or the CLI).
    pub fn set_severity(&mut self, kind: Kind, severity: Severity) {
        self.severities.insert(kind, severity);
    }

    /// Sets `ip` in this layer (from `#[leak_free(ip = false)]` or the CLI).
    pub fn set_ip(&mut self, ip: bool) {
        self.ip = Some(ip);
    }
}

/// What one test (or one traced command) may do: the question the judge asks of every
/// network attempt.
#[derive(Clone, Debug)]
pub struct Policy {
    allow: Vec<Endpoint>,
    heteronculous: Vec<HeteronculousRule>,
    ip: bool,
    severities: BTreeMap<Kind, Severity>,
}

impl Default for Policy {
    /// The hermetic policy: nothing may be reached.
    fn default() -> Self {
        Policy::no_network()
    }
}

impl Policy {
    /// The hermetic-test policy: no endpoint allowed, IP sockets may be created (only
    /// using them is a leak), every kind at its default severity.
    pub fn no_network() -> Policy {
        Policy {
            allow: Vec::new(),
            heteronculous: Vec::new(),
            ip: true,
            severities: BTreeMap::new(),
        }
    }

    /// The allow entries in force (Heteronculous rules aside).
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.allow
    }

    /// Whether a connect/send destination is allowed. IPv4-mapped destinations are judged
    /// as IPv4; port 53/853 passes only an entry naming that port explicitly.
    pub fn allows_ip(&self, addr: &SocketAddr) -> bool {
        self.allow.iter().any(|e| e.matches_ip(addr))
            || self.heteronculous.iter().any(|r| r.matches(addr))
    }

    /// Whether a unix socket address is allowed (`path` is the name for abstract sockets,
    /// with or without the `@` strace prints).
    pub fn allows_unix(&self, path: &str, is_abstract: bool) -> bool {
        self.allow.iter().any(|e| e.matches_unix(path, is_abstract))
    }

    /// The `ip` key: false means creating any IP socket is a leak. Defaults to true.
    pub fn ip_allowed(&self) -> bool {
        self.ip
    }

    /// The severity of a kind: the policy's setting, or the kind's default.
    pub fn severity(&self, kind: Kind) -> Severity {
        self.severities
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_severity())
    }

    /// Every allow entry in force as written, Heteronculous rules as
    /// `VARIABLE: ADDRESS PORT`; reports print it next to a leak so that the reader sees
    /// why it was not allowed. Empty means "no network allowed".
    pub fn allow_list(&self) -> Vec<String> {
        self.allow
            .iter()
            .map(|e| e.to_string())
            .chain(self.heteronculous.iter().map(|r| r.to_string()))
            .collect()
    }

    /// A policy from endpoint strings, for tests and examples only.
    ///
    /// # Panics
    ///
    /// Panics if an entry does not parse: this is the one place where bad input is a
    /// programming error rather than user configuration.
    pub fn from_list(list: &[&str]) -> Policy {
        match PolicyConfig::from_allow_list(list, "Policy::from_list") {
            Ok(config) => config.resolve(""),
            Err(e) => panic!("Policy::from_list: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakcheck_core::{is_dns_port, DNS_PORTS};
    use serde_json::json;
    use std::path::Path;

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn ep(text: &str) -> Endpoint {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn meta(value: serde_json::Value) -> PolicyConfig {
        PolicyConfig::from_metadata(
            &value,
            Path::new("/ws/demo/Cargo.toml"),
            "package.metadata.leakcheck",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dns_ports_need_an_explicit_entry() {
        for port in DNS_PORTS {
            let dest = sa(&format!("10.0.0.2:{port}"));
            assert!(ep(&format!("10.0.0.2:{port}")).matches_ip(&dest));
            assert!(ep(&format!("10.0.0.0/8:{port}")).matches_ip(&dest));
            assert!(ep(&format!("10.0.0.2:{port}-{port}")).matches_ip(&dest));
            assert!(
                !ep("10.0.0.2:*").matches_ip(&dest),
                "* must not open {port}"
            );
            assert!(
                !ep("10.0.0.2:1-1000").matches_ip(&dest),
                "a range must not open {port}"
            );
            assert!(!ep("0.0.0.0/0:*").matches_ip(&dest));
            let dest6 = sa(&format!("[2001:db8::53]:{port}"));
            assert!(!ep("[::/0]:*").matches_ip(&dest6));
            assert!(ep(&format!("[2001:db8::53]:{port}")).matches_ip(&dest6));
        }
        assert!(!ep("10.0.0.2:53").matches_ip(&sa("10.0.0.2:853")));
        let policy = Policy::from_list(&["10.0.0.2:*", "10.0.0.3:53"]);
        assert!(!policy.allows_ip(&sa("10.0.0.2:53")));
        assert!(policy.allows_ip(&sa("10.0.0.2:54")));
        assert!(policy.allows_ip(&sa("10.0.0.3:53")));
        assert!(!policy.allows_ip(&sa("10.0.0.3:853")));
        assert!(is_dns_port(53) && is_dns_port(853) && !is_dns_port(5353));
    }

    #[test]
    fn allow_flag_errors_name_the_flag() {
        let e =
            PolicyConfig::from_allow_list(&["127.0.0.1:99999"], "--allow").expect_err("invalid");
        let text = e.to_string();
        assert!(text.starts_with("--allow: "), "{text}");
        assert!(text.contains("`--allow[0]`"), "{text}");
        assert!(text.contains("at most 65535"), "{text}");
        let ok = PolicyConfig::from_allow_list(
            &[String::from("127.0.0.1:1"), String::from("127.0.0.1:1")],
            "--allow",
        )
        .expect("valid");
        assert_eq!(ok.allow.len(), 1);
    }

    #[test]
    fn merge_unions_allow_lists_and_higher_wins() {
        let mut ws = meta(
            json!({ "allow": ["127.0.0.1:9050"], "ip": false, "listen": "deny", "dns": "warn" }),
        );
        ws.set_severity(Kind::Send, Severity::Warn);
        let pkg = meta(json!({ "allow": ["127.0.0.1:9050", "[::1]:9050"], "listen": "allow" }));
        let merged = ws.merge(pkg);
        let p = merged.resolve("t");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050"],
            "union without duplicates"
        );
        assert!(
            !p.ip_allowed(),
            "ip comes from the workspace when the package does not set it"
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Allow);
        assert_eq!(p.severity(Kind::Dns), Severity::Warn);
        assert_eq!(p.severity(Kind::Send), Severity::Warn);
        let mut higher =
            PolicyConfig::from_allow_list(&["10.0.0.1:443"], "--allow").expect("valid");
        higher.set_ip(true);
        let p = merged.merge(higher).resolve("t");
        assert!(p.ip_allowed());
        assert_eq!(p.allow_list().len(), 3);
    }

    #[test]
    fn overrides_from_both_metadata_layers_beat_both_bases() {
        let ws = PolicyConfig::from_metadata(
            &json!({ "overrides": [{ "filter": "offline::*", "ip": false }] }),
            Path::new("/ws/Cargo.toml"),
            "workspace.metadata.leakcheck",
        )
        .expect("valid");
        let pkg = meta(
            json!({ "ip": true, "listen": "deny", "overrides": [{ "filter": "*", "listen": "warn" }] }),
        );
        let config = ws.merge(pkg);
        assert_eq!(config.overrides.len(), 2, "overrides are appended");
        let p = config.resolve("offline::x");
        assert!(
            !p.ip_allowed(),
            "a workspace override beats the package base"
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Warn);
        assert!(config.resolve("online::x").ip_allowed());
    }

    #[test]
    fn layers_above_metadata_beat_overrides() {
        let pkg = meta(
            json!({ "overrides": [{ "filter": "*", "ip": true, "dns": "allow", "allow": ["127.0.0.1:1"] }] }),
        );
        let env = PolicyConfig::from_leakcheck_allow_value(Some("127.0.0.1:2")).expect("valid");
        let mut attribute = PolicyConfig::default();
        attribute.set_ip(false);
        attribute.set_severity(Kind::Dns, Severity::Deny);
        let p = pkg.merge(env).merge(attribute).resolve("any::test");
        assert!(
            !p.ip_allowed(),
            "#[leak_free(ip = false)] is not undone by an override"
        );
        assert_eq!(p.severity(Kind::Dns), Severity::Deny);
        assert!(
            p.allows_ip(&sa("127.0.0.1:1")),
            "override allow entries still union"
        );
        assert!(p.allows_ip(&sa("127.0.0.1:2")));
        // A layer that does not set ip leaves the override's ip in force.
        let pkg = meta(json!({ "overrides": [{ "filter": "*", "ip": false }] }));
        let p = pkg
            .merge(PolicyConfig::from_allow_list(&["127.0.0.1:2"], "--allow").expect("valid"))
            .resolve("t");
        assert!(!p.ip_allowed());
    }

    #[test]
    fn empty_config_is_no_network() {
        let p = PolicyConfig::default().resolve("t");
        assert!(p.allow_list().is_empty());
        assert!(p.ip_allowed());
        assert!(!p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(!p.allows_unix("/run/tor/socks", false));
        let n = Policy::no_network();
        assert!(n.allow_list().is_empty() && n.ip_allowed());
        assert_eq!(n.severity(Kind::Listen), Severity::Warn);
        assert_eq!(n.severity(Kind::Connect), Severity::Deny);
        assert!(Policy::default().allow_list().is_empty());
    }

    #[test]
    fn from_list_builds_a_policy() {
        let p = Policy::from_list(&["127.0.0.1:9050", "unix:@tor"]);
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_unix("tor", true));
        assert_eq!(p.allow_list(), vec!["127.0.0.1:9050", "unix:@tor"]);
    }

    #[test]
    #[should_panic(expected = "Policy::from_list")]
    fn from_list_panics_on_bad_input() {
        let _ = Policy::from_list(&["localhost:9050"]);
    }
}
