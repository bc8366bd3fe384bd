//! The `[workspace.metadata.leakcheck]` and `[package.metadata.leakcheck]` tables, as
//! `cargo metadata` renders them in JSON.
//!
//! Parsing is strict: an unknown key is an error with a "did you mean", because a
//! misspelt key that is silently ignored hides leaks or lets them through.

use super::error::{endpoint_for, quote, shorten, Parts, PolicyError, PolicyErrorKind};
use super::layers::{Override, PolicyConfig};
use crate::kind::{Kind, Severity};
use globset::GlobBuilder;
use leakcheck_core::Endpoint;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Describes a JSON value for "found ..." in error messages, short enough for one line.
fn describe(value: &Value) -> String {
    let text = shorten(&value.to_string());
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(_) => format!("the boolean {text}"),
        Value::Number(_) => format!("the number {text}"),
        Value::String(_) => format!("the string {text}"),
        Value::Array(_) => format!("the array {text}"),
        Value::Object(_) => format!("the table {text}"),
    }
}

const TOP_KEYS: [&str; 5] = ["allow", "ip", "overrides", "stand-in", "http-connect"];

fn valid_keys(in_override: bool) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = if in_override {
        vec!["filter", "allow", "ip"]
    } else {
        TOP_KEYS.to_vec()
    };
    keys.extend(Kind::ALL.iter().map(|k| k.as_str()));
    keys
}

/// The candidate closest to a misspelt key (case and `_`/`-` ignored), when it is close
/// enough to be what the user meant.
fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = word.to_ascii_lowercase().replace('_', "-");
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&normalized, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

struct TableContext<'a> {
    origin: &'a str,
    prefix: &'a str,
}

impl TableContext<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }
}

fn parse_allow_value(value: &Value, origin: &str, key: &str) -> Result<Vec<Endpoint>, PolicyError> {
    let Value::Array(items) = value else {
        return Err(PolicyError::new(Parts {
            kind: PolicyErrorKind::WrongType,
            origin: origin.to_string(),
            key: key.to_string(),
            found: describe(value),
            expected: "an array of strings like [\"127.0.0.1:9050\"]".to_string(),
            hint: "write allow = [\"127.0.0.1:9050\", \"unix:/run/tor/socks\"]; an empty array means no network at all".to_string(),
        }));
    };
    let mut allow = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item_key = format!("{key}[{index}]");
        let Value::String(text) = item else {
            return Err(PolicyError::new(Parts {
                kind: PolicyErrorKind::WrongType,
                origin: origin.to_string(),
                key: item_key,
                found: describe(item),
                expected: "an array of strings like [\"127.0.0.1:9050\"]".to_string(),
                hint: "quote every entry: allow = [\"127.0.0.1:9050\"]".to_string(),
            }));
        };
        allow.push(endpoint_for(text, origin, &item_key)?);
    }
    Ok(allow)
}

fn parse_table(
    value: &Value,
    ctx: &TableContext<'_>,
    in_override: bool,
) -> Result<PolicyConfig, PolicyError> {
    let mut config = PolicyConfig::metadata_layer();
    let table = match value {
        Value::Object(table) => table,
        Value::Null if !in_override => return Ok(config),
        other => {
            return Err(PolicyError::new(Parts {
                kind: PolicyErrorKind::WrongType,
                origin: ctx.origin.to_string(),
                key: ctx.prefix.to_string(),
                found: describe(other),
                expected: if in_override {
                    "a table like { filter = \"tor::*\", allow = [\"127.0.0.1:9051\"] }".to_string()
                } else {
                    "a table of leakcheck settings".to_string()
                },
                hint: if in_override {
                    "write each override as a [[...leakcheck.overrides]] table with a `filter` key"
                        .to_string()
                } else {
                    "write [package.metadata.leakcheck] with keys like allow = [\"127.0.0.1:9050\"]"
                        .to_string()
                },
            }));
        }
    };
    for (name, item) in table {
        let key = ctx.key(name);
        match name.as_str() {
            "allow" => config.allow = parse_allow_value(item, ctx.origin, &key)?,
            "ip" => match item {
                Value::Bool(b) => config.ip = Some(*b),
                other => {
                    return Err(PolicyError::new(Parts {
                        kind: PolicyErrorKind::WrongType,
                        origin: ctx.origin.to_string(),
                        key,
                        found: describe(other),
                        expected: "a boolean: true or false".to_string(),
                        hint: "write ip = false (unquoted) to allow only unix sockets, ip = true otherwise".to_string(),
                    }))
                }
            },
            "stand-in" if !in_override => {
                config.stand_in = Some(match item {
                    Value::Bool(true) => "accept".to_string(),
                    Value::Bool(false) => "off".to_string(),
                    Value::String(s) if s == "accept" || s == "refuse" => s.clone(),
                    other => {
                        return Err(PolicyError::new(Parts {
                            kind: PolicyErrorKind::WrongType,
                            origin: ctx.origin.to_string(),
                            key,
                            found: describe(other),
                            expected: "true, false, \"accept\" or \"refuse\"".to_string(),
                            hint: "write stand-in = true to serve a stand-in proxy on the allowed endpoints".to_string(),
                        }))
                    }
                });
            }
            "http-connect" if !in_override => {
                let endpoints = parse_allow_value(item, ctx.origin, &key)?;
                config.http_connect = endpoints.iter().map(|e| e.text().to_string()).collect();
            }
            "filter" if in_override => {}
            "overrides" if !in_override => {
                config.overrides = parse_overrides(item, ctx)?;
            }
            "overrides" => {
                return Err(PolicyError::new(Parts {
                    kind: PolicyErrorKind::UnknownKey,
                    origin: ctx.origin.to_string(),
                    key,
                    found: quote(name),
                    expected: format!("one of {}", valid_keys(true).join(", ")),
                    hint: "overrides cannot be nested; write every override as its own [[...leakcheck.overrides]] table".to_string(),
                }))
            }
            other => match other.parse::<Kind>() {
                Ok(kind) => {
                    let severity = match item {
                        Value::String(s) => s.parse::<Severity>().map_err(|_| {
                            PolicyError::new(Parts {
                                kind: PolicyErrorKind::InvalidValue,
                                origin: ctx.origin.to_string(),
                                key: key.clone(),
                                found: describe(item),
                                expected: "\"allow\", \"warn\" or \"deny\"".to_string(),
                                hint: format!(
                                    "{other} = \"deny\" fails the test, \"warn\" reports it, \"allow\" ignores it{}",
                                    match s.as_str() {
                                        "leak" | "error" | "fail" => "; for a failing leak write \"deny\"",
                                        "warning" => "; write \"warn\"",
                                        _ => "",
                                    }
                                ),
                            })
                        })?,
                        other_value => {
                            return Err(PolicyError::new(Parts {
                                kind: PolicyErrorKind::WrongType,
                                origin: ctx.origin.to_string(),
                                key,
                                found: describe(other_value),
                                expected: "a string: \"allow\", \"warn\" or \"deny\"".to_string(),
                                hint: format!("write {other} = \"warn\" (quoted)"),
                            }))
                        }
                    };
                    config.severities.insert(kind, severity);
                }
                Err(_) => {
                    let keys = valid_keys(in_override);
                    let hint = if name == "filter" {
                        "`filter` belongs in an override: [[...leakcheck.overrides]] filter = \"tor::*\"".to_string()
                    } else {
                        match did_you_mean(name, &keys) {
                            Some(suggestion) => format!("did you mean `{suggestion}`?"),
                            None => "remove the key, or check DESIGN.md's list of policy keys".to_string(),
                        }
                    };
                    return Err(PolicyError::new(Parts {
                        kind: PolicyErrorKind::UnknownKey,
                        origin: ctx.origin.to_string(),
                        key,
                        found: quote(name),
                        expected: format!("one of {}", keys.join(", ")),
                        hint,
                    }));
                }
            },
        }
    }
    Ok(config)
}

fn parse_overrides(value: &Value, ctx: &TableContext<'_>) -> Result<Vec<Override>, PolicyError> {
    let key = ctx.key("overrides");
    let Value::Array(items) = value else {
        return Err(PolicyError::new(Parts {
            kind: PolicyErrorKind::WrongType,
            origin: ctx.origin.to_string(),
            key: key.clone(),
            found: describe(value),
            expected: "an array of tables".to_string(),
            hint: format!("write each override as [[{key}]] with filter = \"tor::*\""),
        }));
    };
    let mut overrides = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("{key}[{index}]");
        let inner = TableContext {
            origin: ctx.origin,
            prefix: &prefix,
        };
        let layer = parse_table(item, &inner, true)?;
        let filter_key = inner.key("filter");
        let filter_text = match item.get("filter") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(PolicyError::new(Parts {
                    kind: PolicyErrorKind::WrongType,
                    origin: ctx.origin.to_string(),
                    key: filter_key,
                    found: describe(other),
                    expected: "a string: a glob on the test name".to_string(),
                    hint: "write filter = \"tor::*\" (quoted)".to_string(),
                }))
            }
            None => {
                return Err(PolicyError::new(Parts {
                    kind: PolicyErrorKind::MissingKey,
                    origin: ctx.origin.to_string(),
                    key: filter_key,
                    found: describe(item),
                    expected: "a `filter` glob on the test name".to_string(),
                    hint: "add filter = \"tor::*\" (use filter = \"*\" for every test)".to_string(),
                }))
            }
        };
        let filter = GlobBuilder::new(&filter_text)
            .literal_separator(false)
            .build()
            .map_err(|e| {
                PolicyError::new(Parts {
                    kind: PolicyErrorKind::InvalidGlob,
                    origin: ctx.origin.to_string(),
                    key: filter_key.clone(),
                    found: quote(&filter_text),
                    expected: format!("a glob on the test name ({})", e.kind()),
                    hint: "globs use *, ?, [abc] and {a,b}, e.g. filter = \"tor::*\"".to_string(),
                })
            })?
            .compile_matcher();
        if filter_text.trim().is_empty() {
            return Err(PolicyError::new(Parts {
                kind: PolicyErrorKind::InvalidGlob,
                origin: ctx.origin.to_string(),
                key: filter_key,
                found: quote(&filter_text),
                expected: "a non-empty glob on the test name".to_string(),
                hint: "use filter = \"*\" for every test".to_string(),
            }));
        }
        overrides.push(Override {
            filter,
            filter_text,
            layer,
        });
    }
    Ok(overrides)
}

fn metadata_error(key: &str, found: Option<&Value>, expected: &str) -> PolicyError {
    PolicyError::new(Parts {
        kind: PolicyErrorKind::Metadata,
        origin: "cargo metadata".to_string(),
        key: key.to_string(),
        found: found.map_or_else(|| "nothing".to_string(), describe),
        expected: expected.to_string(),
        hint: "pass the output of `cargo metadata --format-version 1 --no-deps`".to_string(),
    })
}

impl PolicyConfig {
    /// Parses a `leakcheck` metadata table as `cargo metadata` renders it in JSON.
    ///
    /// `source` (the `Cargo.toml`) and `key_prefix` (e.g. `package.metadata.leakcheck`)
    /// only feed error messages, so that the user can find the line to fix. A `null`
    /// value is an empty layer.
    pub fn from_metadata(
        value: &Value,
        source: &Path,
        key_prefix: &str,
    ) -> Result<PolicyConfig, PolicyError> {
        let origin = source.display().to_string();
        parse_table(
            value,
            &TableContext {
                origin: &origin,
                prefix: key_prefix,
            },
            false,
        )
    }

    /// Reads every layer a workspace's manifests define, in one pass over
    /// `cargo metadata --format-version 1 --no-deps`, so that a typo in any package fails
    /// the run up front rather than when its tests happen to run.
    ///
    /// Returns the workspace layer and one layer per package name (empty when the package
    /// has no `[package.metadata.leakcheck]`). Other tools' metadata is ignored.
    pub fn from_cargo_metadata(
        metadata: &Value,
    ) -> Result<(PolicyConfig, BTreeMap<String, PolicyConfig>), PolicyError> {
        let root = match metadata.get("workspace_root") {
            Some(Value::String(root)) => Path::new(root).to_path_buf(),
            other => {
                return Err(metadata_error(
                    "workspace_root",
                    other,
                    "the workspace root directory as a string",
                ))
            }
        };
        let workspace = match metadata.get("metadata") {
            None | Some(Value::Null) => PolicyConfig::metadata_layer(),
            Some(Value::Object(table)) => match table.get("leakcheck") {
                None => PolicyConfig::metadata_layer(),
                Some(value) => PolicyConfig::from_metadata(
                    value,
                    &root.join("Cargo.toml"),
                    "workspace.metadata.leakcheck",
                )?,
            },
            Some(other) => {
                return Err(metadata_error(
                    "metadata",
                    Some(other),
                    "null or the [workspace.metadata] table",
                ))
            }
        };
        let Some(Value::Array(packages)) = metadata.get("packages") else {
            return Err(metadata_error(
                "packages",
                metadata.get("packages"),
                "an array of packages",
            ));
        };
        let mut layers = BTreeMap::new();
        for (index, package) in packages.iter().enumerate() {
            let Some(Value::String(name)) = package.get("name") else {
                return Err(metadata_error(
                    &format!("packages[{index}].name"),
                    package.get("name"),
                    "the package name as a string",
                ));
            };
            let manifest = match package.get("manifest_path") {
                Some(Value::String(path)) => Path::new(path).to_path_buf(),
                other => {
                    return Err(metadata_error(
                        &format!("packages[{index}].manifest_path"),
                        other,
                        "the path of the package's Cargo.toml as a string",
                    ))
                }
            };
            let layer = match package.get("metadata") {
                None | Some(Value::Null) => PolicyConfig::metadata_layer(),
                Some(Value::Object(table)) => match table.get("leakcheck") {
                    None => PolicyConfig::metadata_layer(),
                    Some(value) => {
                        PolicyConfig::from_metadata(value, &manifest, "package.metadata.leakcheck")?
                    }
                },
                Some(other) => {
                    return Err(metadata_error(
                        &format!("packages[{index}].metadata"),
                        Some(other),
                        "null or the [package.metadata] table",
                    ))
                }
            };
            layers.insert(name.clone(), layer);
        }
        Ok((workspace, layers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::net::SocketAddr;

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn meta_err(value: serde_json::Value) -> PolicyError {
        match PolicyConfig::from_metadata(
            &value,
            Path::new("/ws/demo/Cargo.toml"),
            "package.metadata.leakcheck",
        ) {
            Ok(c) => panic!("parsed: {c:?}"),
            Err(e) => e,
        }
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
    fn design_example_parses() {
        let config = meta(json!({
            "allow": ["127.0.0.1:9050", "[::1]:9050", "127.0.0.1:9150-9159", "10.0.0.0/8:443", "unix:/run/tor/socks"],
            "ip": true,
            "interface-enumeration": "warn",
            "overrides": [{ "filter": "tor::*", "allow": ["127.0.0.1:9051"] }]
        }));
        assert_eq!(config.allow.len(), 5);
        assert_eq!(config.ip, Some(true));
        assert_eq!(
            config.severities.get(&Kind::InterfaceEnumeration),
            Some(&Severity::Warn)
        );
        assert_eq!(config.overrides.len(), 1);
        assert_eq!(config.overrides[0].filter_text, "tor::*");

        let tor = config.resolve("tor::circuit::builds");
        assert!(tor.allows_ip(&sa("127.0.0.1:9051")));
        assert!(tor.allows_ip(&sa("127.0.0.1:9050")));
        assert!(tor.allows_unix("/run/tor/socks", false));
        assert_eq!(tor.allow_list().len(), 6);
        let other = config.resolve("net::fetch");
        assert!(!other.allows_ip(&sa("127.0.0.1:9051")));
        assert!(other.allows_ip(&sa("127.0.0.1:9155")));
        assert!(other.allows_ip(&sa("[::1]:9050")));
        assert!(!other.allows_ip(&sa("8.8.8.8:443")));
    }

    #[test]
    fn every_kind_is_a_key() {
        for kind in Kind::ALL {
            for (text, severity) in [
                ("allow", Severity::Allow),
                ("warn", Severity::Warn),
                ("deny", Severity::Deny),
            ] {
                let config = meta(json!({ kind.as_str(): text }));
                assert_eq!(config.resolve("x").severity(kind), severity);
            }
        }
        let policy = meta(json!({})).resolve("x");
        for kind in Kind::ALL {
            assert_eq!(policy.severity(kind), kind.default_severity());
        }
        assert!(meta(json!(null)).is_empty());
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let e = meta_err(json!({ "alow": ["127.0.0.1:9050"] }));
        let text = e.to_string();
        assert!(matches!(e.kind(), PolicyErrorKind::UnknownKey));
        assert!(text.contains("/ws/demo/Cargo.toml"), "{text}");
        assert!(text.contains("package.metadata.leakcheck.alow"), "{text}");
        assert!(text.contains("did you mean `allow`?"), "{text}");
        assert_eq!(e.origin(), "/ws/demo/Cargo.toml");
        assert_eq!(e.key(), "package.metadata.leakcheck.alow");
        assert!(text.contains("\n  hint: "), "{text}");

        let e = meta_err(json!({ "interface_enumeration": "warn" }));
        assert!(e.hint().contains("`interface-enumeration`"), "{e}");
        let e = meta_err(json!({ "ipp": true }));
        assert!(e.hint().contains("`ip`"), "{e}");
        let e = meta_err(json!({ "completely-different": 1 }));
        assert!(!e.hint().contains("did you mean"), "{e}");
        assert!(
            e.to_string()
                .contains("expected one of allow, ip, overrides, stand-in, http-connect, connect"),
            "{e}"
        );
        let e = meta_err(json!({ "filter": "x" }));
        assert!(e.hint().contains("belongs in an override"), "{e}");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let e = meta_err(json!({ "allow": "127.0.0.1:9050" }));
        assert!(matches!(e.kind(), PolicyErrorKind::WrongType));
        let text = e.to_string();
        assert!(
            text.contains("expected an array of strings like [\"127.0.0.1:9050\"]"),
            "{text}"
        );
        assert!(text.contains("the string \"127.0.0.1:9050\""), "{text}");
        assert_eq!(e.key(), "package.metadata.leakcheck.allow");

        let e = meta_err(json!({ "allow": ["127.0.0.1:9050", 9050] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.allow[1]");
        assert!(e.to_string().contains("the number 9050"), "{e}");

        let e = meta_err(json!({ "ip": "false" }));
        assert!(e.to_string().contains("expected a boolean"), "{e}");
        assert_eq!(e.key(), "package.metadata.leakcheck.ip");

        let e = meta_err(json!({ "dns": false }));
        assert!(
            e.to_string().contains("\"allow\", \"warn\" or \"deny\""),
            "{e}"
        );
        let e = meta_err(json!({ "dns": "leak" }));
        assert!(matches!(e.kind(), PolicyErrorKind::InvalidValue));
        assert!(e.hint().contains("\"deny\""), "{e}");

        let e = meta_err(json!({ "overrides": { "filter": "x" } }));
        assert!(e.to_string().contains("expected an array of tables"), "{e}");
        let e = meta_err(json!({ "overrides": ["x"] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0]");
        let e = meta_err(json!("allow everything"));
        assert!(
            e.to_string().contains("a table of leakcheck settings"),
            "{e}"
        );
    }

    #[test]
    fn bad_allow_entries_name_file_key_and_expectation() {
        let e = meta_err(json!({ "allow": ["127.0.0.1:9050", "[::1]:9050", "localhost:9050"] }));
        let text = e.to_string();
        assert!(matches!(e.kind(), PolicyErrorKind::InvalidEndpoint));
        assert!(text.starts_with("/ws/demo/Cargo.toml: "), "{text}");
        assert!(
            text.contains("`package.metadata.leakcheck.allow[2]`"),
            "{text}"
        );
        assert!(text.contains("found \"localhost:9050\""), "{text}");
        assert!(
            text.contains("expected an IP address, not a host name"),
            "{text}"
        );
        assert!(text.contains("hint: "), "{text}");
    }

    #[test]
    fn override_errors() {
        let e = meta_err(json!({ "overrides": [{ "allow": ["127.0.0.1:1"] }] }));
        assert!(matches!(e.kind(), PolicyErrorKind::MissingKey));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].filter");
        let e = meta_err(json!({ "overrides": [{ "filter": 3 }] }));
        assert!(matches!(e.kind(), PolicyErrorKind::WrongType));
        let e = meta_err(json!({ "overrides": [{ "filter": "a[", "ip": false }] }));
        assert!(matches!(e.kind(), PolicyErrorKind::InvalidGlob), "{e}");
        let e = meta_err(json!({ "overrides": [{ "filter": "" }] }));
        assert!(matches!(e.kind(), PolicyErrorKind::InvalidGlob), "{e}");
        let e = meta_err(json!({ "overrides": [{ "filter": "x", "overrides": [] }] }));
        assert!(e.hint().contains("cannot be nested"), "{e}");
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].overrides");
        let e =
            meta_err(json!({ "overrides": [{ "filter": "x" }, { "filter": "y", "alow": [] }] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[1].alow");
        assert!(e.hint().contains("`allow`"));
        let e = meta_err(json!({ "overrides": [{ "filter": "x", "allow": ["1.2.3.4"] }] }));
        assert_eq!(e.key(), "package.metadata.leakcheck.overrides[0].allow[0]");
    }

    #[test]
    fn overrides_match_test_names() {
        let config = meta(json!({
            "ip": true,
            "overrides": [
                { "filter": "tor::*", "allow": ["127.0.0.1:9051"], "listen": "deny" },
                { "filter": "*::builds", "ip": false },
                { "filter": "tor::circuit::builds", "listen": "allow" },
                { "filter": "net::*", "allow": ["127.0.0.1:8080"] }
            ]
        }));
        let p = config.resolve("tor::circuit::builds");
        assert!(p.allows_ip(&sa("127.0.0.1:9051")));
        assert!(!p.allows_ip(&sa("127.0.0.1:8080")));
        assert!(!p.ip_allowed());
        assert_eq!(
            p.severity(Kind::Listen),
            Severity::Allow,
            "later overrides win"
        );
        let p = config.resolve("tor::circuit::extends");
        assert!(p.ip_allowed());
        assert_eq!(p.severity(Kind::Listen), Severity::Deny);
        let p = config.resolve("torrent::x");
        assert!(
            !p.allows_ip(&sa("127.0.0.1:9051")),
            "tor::* must not match torrent::x"
        );
        let p = config.resolve("tor");
        assert!(!p.allows_ip(&sa("127.0.0.1:9051")));
        let p = config.resolve("net::http::get");
        assert!(p.allows_ip(&sa("127.0.0.1:8080")));
    }

    fn cargo_metadata() -> serde_json::Value {
        json!({
            "workspace_root": "/ws",
            "metadata": { "leakcheck": { "allow": ["127.0.0.1:9050"], "listen": "deny" }, "docs": { "rs": 1 } },
            "packages": [
                {
                    "name": "demo",
                    "manifest_path": "/ws/demo/Cargo.toml",
                    "metadata": { "leakcheck": { "allow": ["[::1]:9050"], "overrides": [{ "filter": "tor::*", "allow": ["127.0.0.1:9051"] }] } }
                },
                { "name": "other-tools", "manifest_path": "/ws/o/Cargo.toml", "metadata": { "release": { "x": 1 } } },
                { "name": "plain", "manifest_path": "/ws/p/Cargo.toml", "metadata": null }
            ]
        })
    }

    #[test]
    fn cargo_metadata_layers() {
        let (ws, packages) = PolicyConfig::from_cargo_metadata(&cargo_metadata()).expect("valid");
        assert_eq!(
            packages.keys().collect::<Vec<_>>(),
            vec!["demo", "other-tools", "plain"]
        );
        assert!(packages["plain"].is_empty());
        assert!(packages["other-tools"].is_empty());
        let config = ws.clone().merge(packages["demo"].clone());
        let p = config.resolve("tor::circuit::builds");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050", "127.0.0.1:9051"]
        );
        assert_eq!(p.severity(Kind::Listen), Severity::Deny);
        let p = ws.merge(packages["plain"].clone()).resolve("t");
        assert_eq!(p.allow_list(), vec!["127.0.0.1:9050"]);
    }

    #[test]
    fn cargo_metadata_errors_name_the_manifest() {
        let mut m = cargo_metadata();
        m["packages"][0]["metadata"]["leakcheck"]["allow"][0] = json!("[::1]");
        let e = PolicyConfig::from_cargo_metadata(&m).expect_err("invalid");
        assert_eq!(e.origin(), "/ws/demo/Cargo.toml");
        assert_eq!(e.key(), "package.metadata.leakcheck.allow[0]");
        assert!(e.to_string().contains("missing port"), "{e}");

        let mut m = cargo_metadata();
        m["metadata"]["leakcheck"]["alow"] = json!([]);
        let e = PolicyConfig::from_cargo_metadata(&m).expect_err("invalid");
        assert_eq!(e.origin(), "/ws/Cargo.toml");
        assert_eq!(e.key(), "workspace.metadata.leakcheck.alow");

        let e = PolicyConfig::from_cargo_metadata(&json!({ "workspace_root": "/ws" }))
            .expect_err("invalid");
        assert!(matches!(e.kind(), PolicyErrorKind::Metadata));
        assert_eq!(e.key(), "packages");
        let e = PolicyConfig::from_cargo_metadata(&json!({ "packages": [] })).expect_err("invalid");
        assert_eq!(e.key(), "workspace_root");
        let (ws, packages) = PolicyConfig::from_cargo_metadata(
            &json!({ "workspace_root": "/ws", "packages": [], "metadata": null }),
        )
        .expect("valid");
        assert!(ws.is_empty() && packages.is_empty());
    }
}
