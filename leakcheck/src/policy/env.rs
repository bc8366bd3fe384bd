//! The environment variables a policy is read from: `LEAKCHECK_ALLOW` and Heteronculous'
//! `LEAK_CI_ALLOW_*`.

use super::error::{quote, Parts, PolicyError, PolicyErrorKind};
use super::heteronculous::{
    self, LEAK_CI_ALLOW_IP4_ADDR_PORT, LEAK_CI_ALLOW_IP6_ADDR_PORT, LEAK_CI_ALLOW_IP_PROTOCOL,
};
use super::layers::PolicyConfig;

/// The name of the environment variable read by [`PolicyConfig::from_env_leakcheck_allow`].
pub const LEAKCHECK_ALLOW_VAR: &str = "LEAKCHECK_ALLOW";

/// Splits `LEAKCHECK_ALLOW` at commas, except inside `{...}` or `[...]` so that unix
/// globs like `unix:/run/{tor,arti}/socks` stay one entry; empty pieces are dropped so a
/// trailing comma is harmless.
pub fn split_allow_list(list: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut depth: usize = 0;
    let mut start = 0;
    for (index, c) in list.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(&list[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    pieces.push(&list[start..]);
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// A variable's value; unset is `None`, and a value that is not UTF-8 is an error rather
/// than an ignored variable.
fn env_value(name: &str) -> Result<Option<String>, PolicyError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => value.into_string().map(Some).map_err(|raw| {
            PolicyError::new(Parts {
                kind: PolicyErrorKind::InvalidValue,
                origin: format!("environment variable {name}"),
                key: name.to_string(),
                found: quote(&raw.to_string_lossy()),
                expected: "valid UTF-8 text".to_string(),
                hint: "addresses and globs must be UTF-8".to_string(),
            })
        }),
    }
}

impl PolicyConfig {
    /// Reads `LEAKCHECK_ALLOW` (comma-separated endpoints, see [`split_allow_list`]);
    /// unset or empty is an empty layer.
    pub fn from_env_leakcheck_allow() -> Result<PolicyConfig, PolicyError> {
        PolicyConfig::from_leakcheck_allow_value(env_value(LEAKCHECK_ALLOW_VAR)?.as_deref())
    }

    /// [`PolicyConfig::from_env_leakcheck_allow`] on a given value, so that it can be
    /// tested without touching the process environment.
    pub fn from_leakcheck_allow_value(value: Option<&str>) -> Result<PolicyConfig, PolicyError> {
        match value {
            None => Ok(PolicyConfig::default()),
            Some(value) => {
                PolicyConfig::from_allow_list(&split_allow_list(value), LEAKCHECK_ALLOW_VAR)
            }
        }
    }

    /// Reads Heteronculous' variables so that CI scripts written for `detect_leaks.sh`
    /// work unchanged; an empty layer when none is set.
    ///
    /// See [`PolicyConfig::from_heteronculous_values`] for the format.
    pub fn from_env_heteronculous() -> Result<PolicyConfig, PolicyError> {
        PolicyConfig::from_heteronculous_values(
            env_value(LEAK_CI_ALLOW_IP_PROTOCOL)?.as_deref(),
            env_value(LEAK_CI_ALLOW_IP4_ADDR_PORT)?.as_deref(),
            env_value(LEAK_CI_ALLOW_IP6_ADDR_PORT)?.as_deref(),
        )
    }

    /// Heteronculous' variables, given as values (testable without the environment).
    ///
    /// Format, as read by Heteronculous' `detect_leaks.sh` (JeremyRand/heteronculous):
    ///
    /// * `LEAK_CI_ALLOW_IP_PROTOCOL`: `1` allows creating IP sockets (`ip = true`); the
    ///   script treats any other value as "unix sockets only" (`ip = false`). Here `0` and
    ///   the empty string mean `ip = false`, unset means this layer does not say, and any
    ///   other value is an error rather than a silent `false`.
    /// * `LEAK_CI_ALLOW_IP4_ADDR_PORT` / `LEAK_CI_ALLOW_IP6_ADDR_PORT`: lines alternate an
    ///   address regex and a port regex (`127.0.0.1`, then `9050`), POSIX basic regular
    ///   expressions as `grep -G` reads them (`[0-9]\+` is any port). Heteronculous pasted
    ///   them into a pattern for strace's `inet_addr("...")`, where a literal `.` still
    ///   matches any character; that looseness is kept. Each is matched against the whole
    ///   address text and the whole decimal port. Its IPv6 pattern no longer matched any
    ///   current strace output; here IPv6 rules work, matched against the text strace
    ///   prints ([`heteronculous::strace_ipv6_text`]).
    ///
    /// An address regex matching any port does not open 53/853: only a port line that is
    /// exactly `53` or `853` does.
    pub fn from_heteronculous_values(
        ip_protocol: Option<&str>,
        ip4: Option<&str>,
        ip6: Option<&str>,
    ) -> Result<PolicyConfig, PolicyError> {
        let mut config = PolicyConfig::default();
        (config.ip, config.heteronculous) = heteronculous::read_values(ip_protocol, ip4, ip6)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leakcheck_allow_is_comma_separated() {
        let c = PolicyConfig::from_leakcheck_allow_value(Some(
            " 127.0.0.1:9050, [::1]:9050 ,unix:/run/{tor,arti}/socks,",
        ))
        .expect("valid");
        let p = c.resolve("t");
        assert_eq!(
            p.allow_list(),
            vec!["127.0.0.1:9050", "[::1]:9050", "unix:/run/{tor,arti}/socks"]
        );
        assert!(p.allows_unix("/run/arti/socks", false));
        assert!(PolicyConfig::from_leakcheck_allow_value(None)
            .expect("valid")
            .is_empty());
        assert!(PolicyConfig::from_leakcheck_allow_value(Some(""))
            .expect("valid")
            .is_empty());
        assert!(PolicyConfig::from_leakcheck_allow_value(Some(" , "))
            .expect("valid")
            .is_empty());
        let e = PolicyConfig::from_leakcheck_allow_value(Some("127.0.0.1:9050,localhost:9050"))
            .expect_err("invalid");
        assert_eq!(e.origin(), "LEAKCHECK_ALLOW");
        assert_eq!(e.key(), "LEAKCHECK_ALLOW[1]");
        assert!(e.to_string().contains("not a host name"), "{e}");
    }

    #[test]
    fn split_allow_list_respects_globs() {
        assert_eq!(split_allow_list("a,b"), vec!["a", "b"]);
        assert_eq!(
            split_allow_list("unix:/{a,b},[::1]:1"),
            vec!["unix:/{a,b}", "[::1]:1"]
        );
        assert_eq!(split_allow_list(""), Vec::<&str>::new());
    }
}
