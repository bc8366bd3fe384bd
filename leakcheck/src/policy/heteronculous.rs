//! Heteronculous' variables (`LEAK_CI_ALLOW_*`): the rules `cargo leakcheck run` reads
//! so that CI scripts written for Heteronculous' `detect_leaks.sh` switch over unchanged.

use super::bre::compile_bre;
use super::error::{quote, Parts, PolicyError, PolicyErrorKind};
use leakcheck_core::is_dns_port;
use regex::Regex;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Heteronculous: `1` allows creating IP sockets at all, anything else means unix only.
pub const LEAK_CI_ALLOW_IP_PROTOCOL: &str = "LEAK_CI_ALLOW_IP_PROTOCOL";
/// Heteronculous: alternating lines of IPv4 address regex and port regex.
pub const LEAK_CI_ALLOW_IP4_ADDR_PORT: &str = "LEAK_CI_ALLOW_IP4_ADDR_PORT";
/// Heteronculous: alternating lines of IPv6 address regex and port regex.
pub const LEAK_CI_ALLOW_IP6_ADDR_PORT: &str = "LEAK_CI_ALLOW_IP6_ADDR_PORT";

/// The text strace prints for an IPv6 address (glibc `inet_ntop`), which Heteronculous
/// rules are written against. It equals Rust's RFC 5952 form except for the deprecated
/// IPv4-compatible addresses (`::a.b.c.d`), which glibc prints with a dotted tail.
pub fn strace_ipv6_text(addr: &Ipv6Addr) -> String {
    let s = addr.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let [.., a, b, c, d] = addr.octets();
        format!("::{}", Ipv4Addr::new(a, b, c, d))
    } else {
        addr.to_string()
    }
}

/// The address family a Heteronculous rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// Matched against the dotted IPv4 text (including IPv4-mapped destinations).
    V4,
    /// Matched against the IPv6 text strace prints ([`strace_ipv6_text`]).
    V6,
}

/// One address/port pair from `LEAK_CI_ALLOW_IP4_ADDR_PORT` or
/// `LEAK_CI_ALLOW_IP6_ADDR_PORT`, kept so that CI scripts written for Heteronculous keep
/// their meaning.
///
/// Both fields are POSIX basic regular expressions (GNU `grep -G` dialect), matched
/// against the whole address text and the whole decimal port. An IPv6 rule whose address
/// starts with `::ffff:` is an IPv4-mapped address and is judged as IPv4 (the rest of the
/// regex is matched against the dotted address).
#[derive(Clone, Debug)]
pub struct HeteronculousRule {
    /// The variable the rule came from, shown in reports.
    pub variable: &'static str,
    /// Which destinations the rule can match.
    pub family: IpFamily,
    /// The address regex as written.
    pub addr_text: String,
    /// The port regex as written.
    pub port_text: String,
    addr: Regex,
    port: Regex,
    /// `Some(53)`/`Some(853)` when the port regex is exactly that literal: the only way
    /// such a rule lets DNS through.
    dns_port: Option<u16>,
}

impl HeteronculousRule {
    /// Whether a destination is covered, with the mapped-address and DNS rules applied.
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        let port = addr.port();
        if is_dns_port(port) && self.dns_port != Some(port) {
            return false;
        }
        let text = match (addr.ip().to_canonical(), self.family) {
            (IpAddr::V4(v4), IpFamily::V4) => v4.to_string(),
            (IpAddr::V6(v6), IpFamily::V6) => strace_ipv6_text(&v6),
            _ => return false,
        };
        self.addr.is_match(&text) && self.port.is_match(&port.to_string())
    }
}

impl fmt::Display for HeteronculousRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}",
            self.variable, self.addr_text, self.port_text
        )
    }
}

/// The rules read from Heteronculous' variables.
#[derive(Clone, Debug, Default)]
pub struct HeteronculousRules {
    /// In the order of the variables (IPv4 first) and their lines.
    pub rules: Vec<HeteronculousRule>,
}

/// What the three variables' values say: `ip` from `LEAK_CI_ALLOW_IP_PROTOCOL` and the
/// rules of the two address/port variables (`None` when they hold none). The format is
/// documented at [`PolicyConfig::from_heteronculous_values`](super::PolicyConfig::from_heteronculous_values).
pub(super) fn read_values(
    ip_protocol: Option<&str>,
    ip4: Option<&str>,
    ip6: Option<&str>,
) -> Result<(Option<bool>, Option<HeteronculousRules>), PolicyError> {
    let ip = match ip_protocol.map(str::trim) {
        None => None,
        Some("1") => Some(true),
        Some("0" | "") => Some(false),
        Some(other) => {
            return Err(PolicyError::new(Parts {
                kind: PolicyErrorKind::InvalidValue,
                origin: format!("environment variable {LEAK_CI_ALLOW_IP_PROTOCOL}"),
                key: LEAK_CI_ALLOW_IP_PROTOCOL.to_string(),
                found: quote(other),
                expected: "1 (IP sockets allowed) or 0 (unix sockets only)".to_string(),
                hint: "Heteronculous treated every value but 1 as 0; write 1 or 0 explicitly"
                    .to_string(),
            }))
        }
    };
    let mut rules = Vec::new();
    if let Some(value) = ip4 {
        rules.extend(parse_heteronculous_var(
            LEAK_CI_ALLOW_IP4_ADDR_PORT,
            IpFamily::V4,
            value,
        )?);
    }
    if let Some(value) = ip6 {
        rules.extend(parse_heteronculous_var(
            LEAK_CI_ALLOW_IP6_ADDR_PORT,
            IpFamily::V6,
            value,
        )?);
    }
    let heteronculous = (!rules.is_empty()).then_some(HeteronculousRules { rules });
    Ok((ip, heteronculous))
}

/// Reads one Heteronculous address/port variable.
///
/// `detect_leaks.sh` reads the value with `while read -r addr; do read -r port; ...`:
/// alternate lines are an address regex and a port regex, each trimmed, and reading stops
/// at the first empty line. Rules after an empty line, or an address with no port line,
/// were silently ignored by Heteronculous; here they are errors, because a CI script that
/// believes it allows something it does not deserves to be told.
fn parse_heteronculous_var(
    variable: &'static str,
    family: IpFamily,
    value: &str,
) -> Result<Vec<HeteronculousRule>, PolicyError> {
    let origin = format!("environment variable {variable}");
    let err = |line: usize, role: &str, found: &str, expected: String, hint: String| {
        PolicyError::new(Parts {
            kind: PolicyErrorKind::InvalidRegex,
            origin: origin.clone(),
            key: format!("{variable} line {line} ({role})"),
            found: quote(found),
            expected,
            hint,
        })
    };
    let example = match family {
        IpFamily::V4 => "127\\.0\\.0\\.1 on one line and 9050 on the next",
        IpFamily::V6 => "::1 on one line and 9050 on the next",
    };
    let lines: Vec<&str> = value.lines().map(str::trim).collect();
    let end = lines
        .iter()
        .position(|l| l.is_empty())
        .unwrap_or(lines.len());
    if let Some(offset) = lines[end..].iter().position(|l| !l.is_empty()) {
        let line = end + offset + 1;
        return Err(err(
            line,
            "after an empty line",
            lines[end + offset],
            format!("no empty line before line {line}"),
            "Heteronculous stopped reading at the first empty line, so the rules after it were never in force; remove the empty line (or the rules after it)".to_string(),
        ));
    }
    let lines = &lines[..end];
    let mut rules = Vec::new();
    for (pair_index, pair) in lines.chunks(2).enumerate() {
        let addr_line = pair_index * 2 + 1;
        let [addr_text, port_text] = pair else {
            return Err(err(
                addr_line,
                "address",
                pair[0],
                "a port regex on the line after each address regex".to_string(),
                format!("lines alternate address and port, e.g. {example}"),
            ));
        };
        for (line, role, text) in [
            (addr_line, "address", addr_text),
            (addr_line + 1, "port", port_text),
        ] {
            if text.chars().any(char::is_whitespace) {
                return Err(err(
                    line,
                    role,
                    text,
                    format!("the {role} regex alone on its line"),
                    format!("lines alternate address and port, e.g. {example}"),
                ));
            }
        }
        let mut rule_family = family;
        let mut addr_regex_text: &str = addr_text;
        if family == IpFamily::V6 {
            if let Some(prefix) = addr_text.get(..7) {
                if prefix.eq_ignore_ascii_case("::ffff:") {
                    rule_family = IpFamily::V4;
                    addr_regex_text = &addr_text[7..];
                }
            }
        }
        let addr = compile_bre(addr_regex_text).map_err(|expected| {
            err(
                addr_line,
                "address",
                addr_text,
                expected,
                "write a POSIX basic regular expression as for grep -G, e.g. 127\\.0\\.0\\.1 or 10\\.0\\.[0-9]\\+\\.1".to_string(),
            )
        })?;
        let port = compile_bre(port_text).map_err(|expected| {
            err(
                addr_line + 1,
                "port",
                port_text,
                expected,
                "write a POSIX basic regular expression as for grep -G, e.g. 9050 or [0-9]\\+ for any port".to_string(),
            )
        })?;
        let dns_port = match *port_text {
            "53" => Some(53),
            "853" => Some(853),
            _ => None,
        };
        rules.push(HeteronculousRule {
            variable,
            family: rule_family,
            addr_text: addr_text.to_string(),
            port_text: port_text.to_string(),
            addr,
            port,
            dns_port,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyConfig};

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn hetero(
        protocol: Option<&str>,
        ip4: Option<&str>,
        ip6: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        PolicyConfig::from_heteronculous_values(protocol, ip4, ip6).map(|c| c.resolve("t"))
    }

    #[test]
    fn heteronculous_readme_examples() {
        let p = hetero(
            Some("1"),
            Some("127.0.0.1\n9050\n127.0.0.1\n9150"),
            Some(""),
        )
        .expect("valid");
        assert!(p.ip_allowed());
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("127.0.0.1:9150")));
        assert!(!p.allows_ip(&sa("127.0.0.1:9051")));
        assert!(!p.allows_ip(&sa("10.0.0.1:9050")));
        assert!(
            p.allows_ip(&sa("[::ffff:127.0.0.1]:9050")),
            "mapped is judged as IPv4"
        );
        assert_eq!(
            p.allow_list(),
            vec![
                "LEAK_CI_ALLOW_IP4_ADDR_PORT: 127.0.0.1 9050",
                "LEAK_CI_ALLOW_IP4_ADDR_PORT: 127.0.0.1 9150"
            ]
        );
        let p = hetero(Some("0"), Some(""), Some("")).expect("valid");
        assert!(!p.ip_allowed());
        assert!(p.allow_list().is_empty());
    }

    #[test]
    fn heteronculous_any_port_regex_does_not_open_dns() {
        let p = hetero(Some("1"), Some("127.0.0.1\n[0-9]\\+"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:1")));
        assert!(p.allows_ip(&sa("127.0.0.1:65535")));
        assert!(!p.allows_ip(&sa("127.0.0.1:53")));
        assert!(!p.allows_ip(&sa("127.0.0.1:853")));
        let p = hetero(
            None,
            Some("127\\.0\\.0\\.53\n53\n127\\.0\\.0\\.53\n853"),
            None,
        )
        .expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.53:53")));
        assert!(p.allows_ip(&sa("127.0.0.53:853")));
        let p = hetero(None, Some("127\\.0\\.0\\.53\n5[0-9]"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.53:54")));
        assert!(!p.allows_ip(&sa("127.0.0.53:53")));
    }

    #[test]
    fn heteronculous_ipv6_rules_match() {
        let p = hetero(
            Some("1"),
            None,
            Some("::1\n9050\n2001:db8::[0-9a-f]\\+\n443"),
        )
        .expect("valid");
        assert!(p.allows_ip(&sa("[::1]:9050")));
        assert!(!p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("[2001:db8::1]:443")));
        assert!(p.allows_ip(&sa("[2001:db8::beef]:443")));
        assert!(
            !p.allows_ip(&sa("[2001:db8::1:1]:443")),
            "whole-field match"
        );
        assert!(!p.allows_ip(&sa("[2001:db8::1]:4430")), "whole-field match");
        assert_eq!(p.allow_list()[0], "LEAK_CI_ALLOW_IP6_ADDR_PORT: ::1 9050");
        // A v6 rule written as mapped is an IPv4 rule.
        let p = hetero(None, None, Some("::ffff:127\\.0\\.0\\.1\n9050")).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        assert!(p.allows_ip(&sa("[::ffff:127.0.0.1]:9050")));
        assert!(!p.allows_ip(&sa("[::1]:9050")));
        // IPv4 rules never match native IPv6 destinations.
        let p = hetero(None, Some(".*\n9050"), None).expect("valid");
        assert!(p.allows_ip(&sa("1.2.3.4:9050")));
        assert!(!p.allows_ip(&sa("[::1]:9050")));
    }

    #[test]
    fn heteronculous_protocol_values() {
        let c = PolicyConfig::from_heteronculous_values(None, None, None).expect("valid");
        assert!(c.is_empty());
        assert_eq!(
            PolicyConfig::from_heteronculous_values(Some(" 1 "), None, None)
                .expect("valid")
                .ip,
            Some(true)
        );
        assert_eq!(
            PolicyConfig::from_heteronculous_values(Some(""), None, None)
                .expect("valid")
                .ip,
            Some(false)
        );
        let e =
            PolicyConfig::from_heteronculous_values(Some("yes"), None, None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP_PROTOCOL");
        assert!(
            e.to_string()
                .contains("environment variable LEAK_CI_ALLOW_IP_PROTOCOL"),
            "{e}"
        );
    }

    #[test]
    fn heteronculous_line_structure() {
        // Trailing newlines and CRLF are fine.
        let p = hetero(None, Some("127.0.0.1\r\n9050\r\n\n\n"), None).expect("valid");
        assert!(p.allows_ip(&sa("127.0.0.1:9050")));
        // An address without its port line.
        let e = hetero(None, Some("127.0.0.1\n9050\n10.0.0.1"), None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 3 (address)");
        assert!(
            e.to_string().contains("a port regex on the line after"),
            "{e}"
        );
        // Rules after an empty line were never in force in Heteronculous.
        let e = hetero(None, Some("127.0.0.1\n9050\n\n10.0.0.1\n80"), None).expect_err("invalid");
        assert!(e.key().contains("line 4"), "{e}");
        assert!(e.hint().contains("empty line"), "{e}");
        // Address and port on one line.
        let e = hetero(None, None, Some("::1 9050")).expect_err("invalid");
        assert_eq!(
            e.origin(),
            "environment variable LEAK_CI_ALLOW_IP6_ADDR_PORT"
        );
        assert!(e.hint().contains("alternate"), "{e}");
    }

    #[test]
    fn heteronculous_bad_regex_names_variable_and_line() {
        let e = hetero(None, Some("127.0.0.1\n9050\n10\\.0\\.0\\.\\(1\n80"), None)
            .expect_err("invalid");
        assert!(matches!(e.kind(), PolicyErrorKind::InvalidRegex));
        assert_eq!(
            e.origin(),
            "environment variable LEAK_CI_ALLOW_IP4_ADDR_PORT"
        );
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 3 (address)");
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = hetero(None, Some("127.0.0.1\n\\(90\\)\\1"), None).expect_err("invalid");
        assert_eq!(e.key(), "LEAK_CI_ALLOW_IP4_ADDR_PORT line 2 (port)");
        assert!(e.to_string().contains("back-references"), "{e}");
        let e = hetero(None, Some("127.0.0.1\n[0-9"), None).expect_err("invalid");
        assert!(e.to_string().contains("bracket expression"), "{e}");
    }

    #[test]
    fn strace_ipv6_text_matches_inet_ntop() {
        let text = |s: &str| strace_ipv6_text(&s.parse::<Ipv6Addr>().expect("v6"));
        assert_eq!(text("::1"), "::1");
        assert_eq!(text("::"), "::");
        assert_eq!(text("2001:db8:0:0:0:0:0:1"), "2001:db8::1");
        assert_eq!(text("::ffff:127.0.0.1"), "::ffff:127.0.0.1");
        assert_eq!(text("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(text("::0.0.1.0"), "::100");
        assert_eq!(text("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    }
}
