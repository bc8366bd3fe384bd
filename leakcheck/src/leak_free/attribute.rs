//! The attribute's own policy: as a layer, and as the file through which a test that
//! runs already traced hands it to `cargo leakcheck` ([`ATTRIBUTE_POLICY_ENV`]).

use super::spec::Spec;
use crate::kind::{Kind, Severity};
use crate::policy::PolicyConfig;
use std::path::{Path, PathBuf};

/// The stand-in modes an attribute may ask for: `"off"` is `stand-in = false`.
fn check_stand_in(mode: &str) -> Result<(), String> {
    if mode == "off" || leakcheck_core::STAND_IN_MODES.contains(&mode) {
        Ok(())
    } else {
        Err(format!(
            "unknown stand-in mode {mode:?}: expected \"accept\", \"refuse\" or \"off\""
        ))
    }
}

/// What an annotated test that ran already traced wrote to [`ATTRIBUTE_POLICY_ENV`].
#[derive(Debug, Clone)]
pub struct AttributePolicy {
    /// The test's full libtest name.
    pub test: String,
    /// Its attribute's policy layer (`stand_in` included).
    pub layer: PolicyConfig,
    /// Why the body did not run, when it did not: the run's stand-in is not the one the
    /// attribute needs, and the test must run again with that one.
    pub rerun: Option<String>,
}

/// When set (by `cargo leakcheck`), the path of a file where an annotated test that runs
/// already traced writes its attribute's policy, as one JSON object:
///
/// ```json
/// {"version": 1, "test": "tor::through_proxy", "allow": ["127.0.0.1:9050"],
///  "ip": false, "severities": {"interface-enumeration": "warn"},
///  "stand_in": "accept", "rerun": null}
/// ```
///
/// `allow` holds the endpoints as written in `#[leak_free(allow = [...])]` (possibly
/// empty); `ip` is `true`, `false` or `null` (not set by the attribute); `severities`
/// maps kind names (`leakcheck::Kind::as_str`) to `"allow"`, `"warn"` or `"deny"`;
/// `stand_in` is `"accept"`, `"refuse"`, `"off"` or `null` (absent in files of older
/// versions); `test` is the test's full libtest name. `rerun`, when not `null`, says why
/// the body did *not* run: the run's stand-in proxy (`LEAKCHECK_STAND_IN`) is not the one the
/// attribute asks for, and the runner must run the test again with that one. The file is
/// written before the body runs and overwritten by each annotated test the process runs.
/// The reader stacks it on top of the other layers (DESIGN.md: the attribute has the
/// highest precedence).
pub const ATTRIBUTE_POLICY_ENV: &str = "LEAKCHECK_ATTRIBUTE_POLICY";

impl Spec {
    /// The attribute's own policy layer.
    pub fn attribute_layer(&self) -> Result<PolicyConfig, String> {
        let mut layer = PolicyConfig::from_allow_list(self.allow, "#[leak_free(allow = [...])]")
            .map_err(|e| e.to_string())?;
        if let Some(ip) = self.ip {
            layer.set_ip(ip);
        }
        for (kind, severity) in self.severities {
            let kind: Kind = kind.parse()?;
            let severity: Severity = severity.parse()?;
            layer.set_severity(kind, severity);
        }
        if let Some(mode) = self.stand_in {
            check_stand_in(mode)?;
            layer.stand_in = Some(mode.to_string());
        }
        Ok(layer)
    }

    /// The JSON written to [`ATTRIBUTE_POLICY_ENV`]; `rerun` says why the body did not
    /// run.
    pub fn attribute_policy_json(&self, test_name: &str, rerun: Option<&str>) -> serde_json::Value {
        let severities: serde_json::Map<String, serde_json::Value> = self
            .severities
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::json!({
            "version": 1,
            "test": test_name,
            "allow": self.allow,
            "ip": self.ip,
            "severities": severities,
            "stand_in": self.stand_in,
            "rerun": rerun,
        })
    }
}

/// Reads what an annotated test wrote to [`ATTRIBUTE_POLICY_ENV`]. `Ok(None)` when the
/// file is absent or empty (the test carries no attribute); an error when it is there but
/// unreadable, so that the caller fails closed rather than ignoring an allow list or a
/// stricter `ip = false`.
pub fn read_attribute_policy(path: &Path) -> Result<Option<AttributePolicy>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => return Ok(None),
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let bad = |what: &str| format!("{ATTRIBUTE_POLICY_ENV} file {}: {what}", path.display());
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let test = json["test"]
        .as_str()
        .ok_or_else(|| bad("no `test` name"))?
        .to_string();
    let allow: Vec<&str> = json["allow"]
        .as_array()
        .ok_or_else(|| bad("no `allow` array"))?
        .iter()
        .map(|v| v.as_str().ok_or_else(|| bad("`allow` holds a non-string")))
        .collect::<Result<_, _>>()?;
    let mut layer = PolicyConfig::from_allow_list(&allow, "#[leak_free(allow = [...])]")
        .map_err(|e| e.to_string())?;
    if let Some(ip) = json["ip"].as_bool() {
        layer.set_ip(ip);
    }
    if let Some(map) = json["severities"].as_object() {
        for (kind, severity) in map {
            let kind: Kind = kind.parse().map_err(|e: String| bad(&e))?;
            let severity: Severity = severity
                .as_str()
                .ok_or_else(|| bad("a severity is not a string"))?
                .parse()
                .map_err(|e: String| bad(&e))?;
            layer.set_severity(kind, severity);
        }
    }
    let string_or_null = |key: &str| -> Result<Option<String>, String> {
        match &json[key] {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => Ok(Some(s.clone())),
            _ => Err(bad(&format!("`{key}` is neither a string nor null"))),
        }
    };
    if let Some(mode) = string_or_null("stand_in")? {
        check_stand_in(&mode).map_err(|e| bad(&e))?;
        layer.stand_in = Some(mode);
    }
    let rerun = string_or_null("rerun")?;
    Ok(Some(AttributePolicy { test, layer, rerun }))
}

/// Writes the attribute's policy where [`ATTRIBUTE_POLICY_ENV`] says (nothing when unset),
/// through a temporary file so that the reader never sees half of it; `rerun` says why
/// the body will not run.
pub(super) fn hand_over_policy(spec: &Spec, name: &str, rerun: Option<&str>) {
    let Some(path) = std::env::var_os(ATTRIBUTE_POLICY_ENV) else {
        return;
    };
    let json = spec.attribute_policy_json(name, rerun).to_string();
    let path = PathBuf::from(path);
    let tmp = path.with_extension("tmp");
    let written = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        eprintln!(
            "leak_free: cannot write the attribute's policy to {} ({ATTRIBUTE_POLICY_ENV}): {e}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_macro_crate() {
        // leakcheck-macros checks `<kind> = "<severity>"` at compile time with the names
        // of leakcheck-core, which must be those of `Kind` and `Severity`.
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, leakcheck_core::KIND_NAMES);
        for name in leakcheck_core::SEVERITY_NAMES {
            assert!(name.parse::<Severity>().is_ok(), "{name}");
        }
        #[cfg(target_os = "linux")]
        for name in leakcheck_core::STAND_IN_MODES {
            let mode: crate::standin::Mode = name.parse().unwrap();
            assert_eq!(mode.to_string(), name);
        }
    }

    #[test]
    fn names() {
        let spec = Spec {
            module_path: "demo::net::tor",
            fn_name: "connects",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:9050"],
            ip: Some(false),
            severities: &[("listen", "deny")],
            stand_in: None,
            should_panic: false,
        };
        std::thread::Builder::new()
            .name("other".into())
            .spawn(move || assert_eq!(spec.test_name(), "net::tor::connects"))
            .unwrap()
            .join()
            .unwrap();
        let spec = Spec {
            module_path: "demo",
            fn_name: "f",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:9050"],
            ip: Some(false),
            severities: &[("listen", "deny")],
            stand_in: None,
            should_panic: false,
        };
        std::thread::Builder::new()
            .name("f::case_1".into())
            .spawn(move || {
                assert_eq!(spec.test_name(), "f::case_1");
                let json = spec.attribute_policy_json("f::case_1", None);
                assert_eq!(json["allow"][0], "127.0.0.1:9050");
                assert_eq!(json["ip"], false);
                assert_eq!(json["severities"]["listen"], "deny");
                assert!(spec.attribute_layer().is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn attribute_policy_file_round_trip() {
        let spec = Spec {
            module_path: "demo",
            fn_name: "f",
            manifest_dir: None,
            package: None,
            allow: &["127.0.0.1:1"],
            ip: Some(false),
            severities: &[("interface-enumeration", "allow")],
            stand_in: Some("refuse"),
            should_panic: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        assert!(read_attribute_policy(&path).unwrap().is_none());
        std::fs::write(&path, spec.attribute_policy_json("f", None).to_string()).unwrap();
        let read = read_attribute_policy(&path).unwrap().unwrap();
        assert_eq!(read.test, "f");
        assert_eq!(read.rerun, None);
        assert_eq!(read.layer.stand_in.as_deref(), Some("refuse"));
        let policy = read.layer.resolve("f");
        assert!(!policy.ip_allowed());
        assert_eq!(policy.allow_list(), vec!["127.0.0.1:1".to_string()]);
        assert_eq!(policy.severity(Kind::InterfaceEnumeration), Severity::Allow);
        let json = spec.attribute_policy_json("f", Some("needs the stand-in"));
        std::fs::write(&path, json.to_string()).unwrap();
        let read = read_attribute_policy(&path).unwrap().unwrap();
        assert_eq!(read.rerun.as_deref(), Some("needs the stand-in"));
        // A file of an older version has no stand_in and no rerun.
        std::fs::write(&path, r#"{"test": "f", "allow": []}"#).unwrap();
        let read = read_attribute_policy(&path).unwrap().unwrap();
        assert_eq!((read.layer.stand_in, read.rerun), (None, None));
        std::fs::write(&path, r#"{"test": "f", "allow": [], "stand_in": "maybe"}"#).unwrap();
        assert!(read_attribute_policy(&path).is_err());
        std::fs::write(&path, r#"{"allow": [1]}"#).unwrap();
        assert!(read_attribute_policy(&path).is_err());
    }
}
