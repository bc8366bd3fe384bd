//! The endpoint grammar of allow lists (DESIGN.md, "Policy"): `IPV4:PORT`, `[IPV6]:PORT`,
//! `CIDR:PORT`, `[CIDR6]:PORT` with PORT a number, a range `N-M` or `*`; `unix:PATH` and
//! `unix:@NAME` (globs).
//!
//! Two rules of DESIGN.md's "What counts" live in [`Endpoint::matches_ip`] so that no
//! caller can forget them: port 53 and 853 are only allowed by an entry naming that single
//! port, and IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address.

use globset::{GlobBuilder, GlobMatcher};
use ipnet::{IpNet, Ipv4Net};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The ports only an explicit allow entry may open: plain DNS and DNS over TLS.
///
/// A resolver query sent directly instead of through the proxy is the most common
/// de-anonymising leak, so a wildcard written for "any port of the proxy host" must
/// not quietly include it.
pub const DNS_PORTS: [u16; 2] = [53, 853];

/// Whether `port` is one of [`DNS_PORTS`], for callers classifying a finding as `dns`.
pub fn is_dns_port(port: u16) -> bool {
    DNS_PORTS.contains(&port)
}

/// The ports an IP allow entry covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// `*`: every port except the DNS ports (see [`DNS_PORTS`]).
    Any,
    /// `N-M` inclusive; a single port `N` is `Range(N, N)`, the only form that can name
    /// a DNS port.
    Range(u16, u16),
}

impl PortSpec {
    /// Applies the DNS rule: a DNS port passes only an entry naming exactly that port.
    fn allows(self, port: u16) -> bool {
        match self {
            PortSpec::Range(lo, hi) if is_dns_port(port) => lo == port && hi == port,
            PortSpec::Range(lo, hi) => lo <= port && port <= hi,
            PortSpec::Any => !is_dns_port(port),
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Any => f.write_str("*"),
            PortSpec::Range(lo, hi) if lo == hi => write!(f, "{lo}"),
            PortSpec::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

/// One allow-list entry: an IP network with ports, a unix socket path glob or an
/// abstract unix socket name glob.
///
/// The original text is kept because reports show the allow list as the user wrote it.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// `IPV4:PORT`, `[IPV6]:PORT`, `CIDR:PORT` or `[CIDR6]:PORT`. An entry written as an
    /// IPv4-mapped IPv6 address or network is stored as the IPv4 network.
    Ip {
        /// The network (a single address is a /32 or /128).
        net: IpNet,
        /// The ports covered.
        ports: PortSpec,
        /// The entry as written (trimmed).
        text: String,
    },
    /// `unix:PATH`: a glob on the socket path; `*` does not cross `/`, `**` does.
    Unix {
        /// The compiled path glob.
        glob: GlobMatcher,
        /// The entry as written (trimmed).
        text: String,
    },
    /// `unix:@NAME`: a glob on an abstract socket's name (without the `@`), with the same
    /// `/` rules as paths because abstract names are usually path-like.
    Abstract {
        /// The compiled name glob.
        glob: GlobMatcher,
        /// The entry as written (trimmed).
        text: String,
    },
}

impl PartialEq for Endpoint {
    /// Entries are equal when written the same way: the text determines everything else.
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.text() == other.text()
    }
}

impl Eq for Endpoint {}

impl Endpoint {
    /// Parses one allow-list entry (surrounding whitespace is ignored), saying what was
    /// wrong and how to write it when it does not follow the grammar.
    pub fn parse(text: &str) -> Result<Endpoint, EndpointProblem> {
        parse_endpoint(text)
    }

    /// The entry as written, for reports.
    pub fn text(&self) -> &str {
        match self {
            Endpoint::Ip { text, .. }
            | Endpoint::Unix { text, .. }
            | Endpoint::Abstract { text, .. } => text,
        }
    }

    /// Whether a connect/send destination is covered by this entry.
    ///
    /// IPv4-mapped destinations are compared as IPv4, and DNS ports only match an entry
    /// that names that single port, so the judge cannot get either rule wrong.
    pub fn matches_ip(&self, addr: &SocketAddr) -> bool {
        match self {
            Endpoint::Ip { net, ports, .. } => {
                net.contains(&addr.ip().to_canonical()) && ports.allows(addr.port())
            }
            Endpoint::Unix { .. } | Endpoint::Abstract { .. } => false,
        }
    }

    /// Whether a unix socket address is covered by this entry.
    ///
    /// For abstract sockets `path` is the name; a leading `@` (as strace prints it) is
    /// accepted and stripped so that callers need not agree on one form.
    pub fn matches_unix(&self, path: &str, is_abstract: bool) -> bool {
        match self {
            Endpoint::Unix { glob, .. } => !is_abstract && glob.is_match(path),
            Endpoint::Abstract { glob, .. } => {
                is_abstract && glob.is_match(path.strip_prefix('@').unwrap_or(path))
            }
            Endpoint::Ip { .. } => false,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Why an endpoint did not parse: what the grammar expected there and a hint of how to
/// write it, so that each caller can word the rest of its message (a `Cargo.toml` key, an
/// attribute) while the grammar's part stays the same everywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointProblem {
    /// What was expected, e.g. "an IP address, not a host name (`localhost`)".
    pub expected: String,
    /// How to fix it, e.g. "write the proxy's IP address, ...".
    pub hint: String,
}

impl fmt::Display for EndpointProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} ({})", self.expected, self.hint)
    }
}

impl std::error::Error for EndpointProblem {}

fn problem(expected: impl Into<String>, hint: impl Into<String>) -> EndpointProblem {
    EndpointProblem {
        expected: expected.into(),
        hint: hint.into(),
    }
}

const GRAMMAR_HINT: &str = "allow entries look like 127.0.0.1:9050, [::1]:9050, 127.0.0.1:9150-9159, 10.0.0.0/8:443, [fd00::/8]:*, unix:/run/tor/socks or unix:@name";

impl FromStr for Endpoint {
    /// The message of [`EndpointProblem`]'s `Display`: `expected ... (hint)`.
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_endpoint(s).map_err(|p| p.to_string())
    }
}

fn parse_endpoint(raw: &str) -> Result<Endpoint, EndpointProblem> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(problem("an endpoint, not an empty string", GRAMMAR_HINT));
    }
    if let Some(rest) = text.strip_prefix("unix:") {
        return parse_unix(text, rest);
    }
    if let Some((scheme, _)) = text.split_once("://") {
        return Err(problem(
            format!("ADDRESS:PORT without a URL scheme (`{scheme}://`)"),
            format!(
                "write only the proxy's address and port, e.g. `{}`",
                text.split_once("://").map(|(_, r)| r).unwrap_or(text)
            ),
        ));
    }
    let (host, port_text, bracketed) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(problem(
                "a closing `]` after the IPv6 address",
                "IPv6 entries look like [::1]:9050 or [fd00::/8]:*",
            ));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(if after.is_empty() {
                problem(
                    format!("a port after `[{inside}]` (missing port)"),
                    format!("add a port, a range or `*`: [{inside}]:9050, [{inside}]:9150-9159 or [{inside}]:*"),
                )
            } else {
                problem(
                    format!("`:PORT` after `[{inside}]`, not `{after}`"),
                    "IPv6 entries look like [::1]:9050 or [fd00::/8]:*",
                )
            });
        };
        (inside, port, true)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if host.contains(':') => {
                return Err(problem(
                    "an IPv6 address in brackets",
                    if parse_net(host).is_ok() {
                        format!("write IPv6 entries as [ADDRESS]:PORT, e.g. [{host}]:{port}")
                    } else {
                        "write IPv6 entries as [ADDRESS]:PORT, e.g. [::1]:9050".to_string()
                    },
                ));
            }
            Some((host, port)) => (host, port, false),
            None => {
                return Err(if parse_net(text).is_ok() {
                    problem(
                        format!("a port after `{text}` (missing port)"),
                        format!(
                            "add a port, a range or `*`: {text}:9050, {text}:9150-9159 or {text}:*"
                        ),
                    )
                } else {
                    problem("ADDRESS:PORT or unix:PATH", GRAMMAR_HINT)
                });
            }
        }
    };
    let net = parse_host(host, bracketed)?;
    let ports = parse_ports(port_text, host, bracketed)?;
    Ok(Endpoint::Ip {
        net: canonical_net(net),
        ports,
        text: text.to_string(),
    })
}

fn parse_unix(text: &str, rest: &str) -> Result<Endpoint, EndpointProblem> {
    let (pattern, is_abstract) = match rest.strip_prefix('@') {
        Some(name) => (name, true),
        None => (rest, false),
    };
    if pattern.is_empty() {
        return Err(if is_abstract {
            problem(
                "an abstract socket name after `unix:@`",
                "abstract sockets are written unix:@NAME, e.g. unix:@tor-control or unix:@/tmp/.X11-unix/*",
            )
        } else {
            problem(
                "a socket path after `unix:`",
                "unix sockets are written unix:PATH, e.g. unix:/run/tor/socks or unix:/run/tor/*",
            )
        });
    }
    let glob = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| {
            problem(
                format!("a valid glob after `unix:` ({})", e.kind()),
                "globs use * (not across /), ** (across /), ?, [abc] and {a,b}; escape a literal with \\",
            )
        })?
        .compile_matcher();
    let text = text.to_string();
    Ok(if is_abstract {
        Endpoint::Abstract { glob, text }
    } else {
        Endpoint::Unix { glob, text }
    })
}

fn parse_net(text: &str) -> Result<IpNet, ()> {
    if text.contains('/') {
        text.parse::<IpNet>().map_err(|_| ())
    } else {
        text.parse::<IpAddr>().map(IpNet::from).map_err(|_| ())
    }
}

fn looks_like_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.chars().any(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

fn parse_host(host: &str, bracketed: bool) -> Result<IpNet, EndpointProblem> {
    if host.is_empty() {
        return Err(problem(
            "an IP address before the port",
            "write the proxy's address, e.g. 127.0.0.1:9050 or [::1]:9050",
        ));
    }
    if host == "*" {
        return Err(problem(
            "an IP address or network, not `*`",
            "to allow every address write networks: 0.0.0.0/0:PORT and [::/0]:PORT (DNS ports still need an explicit entry)",
        ));
    }
    if let Some((addr, prefix)) = host.split_once('/') {
        let addr_ok = addr.parse::<IpAddr>();
        return match addr_ok {
            Ok(ip) => {
                if ip.is_ipv4() == bracketed {
                    return Err(bracket_problem(ip, host));
                }
                let max = if ip.is_ipv4() { 32 } else { 128 };
                match prefix.parse::<u8>() {
                    Ok(len) if len <= max => IpNet::new(ip, len).map_err(|_| bad_cidr(host, max)),
                    _ => Err(bad_cidr(host, max)),
                }
            }
            Err(_) => Err(problem(
                format!("a CIDR network ADDRESS/PREFIX, and `{addr}` is not an IP address"),
                "networks look like 10.0.0.0/8:443 or [fd00::/8]:*",
            )),
        };
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_ipv4() == bracketed => Err(bracket_problem(ip, host)),
        Ok(ip) => Ok(IpNet::from(ip)),
        Err(_) if looks_like_host_name(host) => Err(problem(
            format!("an IP address, not a host name (`{host}`)"),
            "leakcheck judges the addresses the program actually connects to; write the proxy's IP address, e.g. 127.0.0.1:9050 instead of localhost:9050",
        )),
        Err(_) => Err(problem(
            format!("an IP address, and `{host}` is not one"),
            GRAMMAR_HINT,
        )),
    }
}

fn bracket_problem(ip: IpAddr, host: &str) -> EndpointProblem {
    if ip.is_ipv4() {
        problem(
            format!("an IPv6 address inside [...], not the IPv4 `{host}`"),
            format!("write IPv4 entries without brackets, e.g. {host}:9050"),
        )
    } else {
        problem(
            "an IPv6 address in brackets",
            format!("write IPv6 entries as [ADDRESS]:PORT, e.g. [{host}]:9050"),
        )
    }
}

fn bad_cidr(host: &str, max: u8) -> EndpointProblem {
    problem(
        format!("a CIDR network ADDRESS/PREFIX with a prefix length of 0-{max}, not `{host}`"),
        "networks look like 10.0.0.0/8:443 or [fd00::/8]:*",
    )
}

fn parse_port_number(text: &str) -> Result<u16, EndpointProblem> {
    let digits = text.trim();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(problem(
            format!("a port number, a range N-M or `*`, not `{text}`"),
            "ports look like 9050, 9150-9159 or *",
        ));
    }
    digits.parse::<u16>().map_err(|_| {
        problem(
            format!("a port number of at most 65535, not `{digits}`"),
            "ports look like 9050, 9150-9159 or *",
        )
    })
}

fn parse_ports(text: &str, host: &str, bracketed: bool) -> Result<PortSpec, EndpointProblem> {
    let text = text.trim();
    if text.is_empty() {
        let shown = if bracketed {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        return Err(problem(
            format!("a port after `{shown}:` (missing port)"),
            format!("add a port, a range or `*`: {shown}:9050, {shown}:9150-9159 or {shown}:*"),
        ));
    }
    if text == "*" {
        return Ok(PortSpec::Any);
    }
    if let Some((lo, hi)) = text.split_once('-') {
        let lo = parse_port_number(lo)?;
        let hi = parse_port_number(hi)?;
        if lo > hi {
            return Err(problem(
                format!("a port range N-M with N <= M, not `{text}`"),
                format!("write the range lowest port first: {hi}-{lo}"),
            ));
        }
        return Ok(PortSpec::Range(lo, hi));
    }
    let port = parse_port_number(text)?;
    Ok(PortSpec::Range(port, port))
}

/// A network lying entirely inside `::ffff:0:0/96` becomes the IPv4 network, so that
/// `[::ffff:127.0.0.1]:9050` allows 127.0.0.1:9050. Wider IPv6 networks (`[::/0]:*`)
/// stay IPv6 and do not cover IPv4 destinations: a user allowing "any IPv6" did not ask
/// for every IPv4 address too.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if v6.prefix_len() >= 96 {
            if let Some(v4) = v6.network().to_ipv4_mapped() {
                if let Ok(net4) = Ipv4Net::new(v4, v6.prefix_len() - 96) {
                    return IpNet::V4(net4.trunc());
                }
            }
        }
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn ep(text: &str) -> Endpoint {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ep_err(text: &str) -> String {
        match text.parse::<Endpoint>() {
            Ok(e) => panic!("{text} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    // --- grammar -------------------------------------------------------------------

    #[test]
    fn ipv4_single_port() {
        let e = ep("127.0.0.1:9050");
        assert!(e.matches_ip(&sa("127.0.0.1:9050")));
        assert!(!e.matches_ip(&sa("127.0.0.1:9051")));
        assert!(!e.matches_ip(&sa("127.0.0.2:9050")));
        assert!(!e.matches_ip(&sa("[::1]:9050")));
        assert!(matches!(
            e,
            Endpoint::Ip {
                ports: PortSpec::Range(9050, 9050),
                ..
            }
        ));
    }

    #[test]
    fn ipv6_single_port() {
        let e = ep("[::1]:9050");
        assert!(e.matches_ip(&sa("[::1]:9050")));
        assert!(!e.matches_ip(&sa("127.0.0.1:9050")));
        assert!(!e.matches_ip(&sa("[::1]:9051")));
        assert!(ep("[2001:db8::1]:443").matches_ip(&sa("[2001:db8::1]:443")));
    }

    #[test]
    fn port_ranges_and_any() {
        let e = ep("127.0.0.1:9150-9159");
        assert!(e.matches_ip(&sa("127.0.0.1:9150")));
        assert!(e.matches_ip(&sa("127.0.0.1:9159")));
        assert!(!e.matches_ip(&sa("127.0.0.1:9149")));
        assert!(!e.matches_ip(&sa("127.0.0.1:9160")));
        let any = ep("127.0.0.1:*");
        assert!(any.matches_ip(&sa("127.0.0.1:1")));
        assert!(any.matches_ip(&sa("127.0.0.1:65535")));
        assert!(any.matches_ip(&sa("127.0.0.1:0")));
        assert!(matches!(
            ep("1.2.3.4:0-65535"),
            Endpoint::Ip {
                ports: PortSpec::Range(0, 65535),
                ..
            }
        ));
        assert!(matches!(
            ep("1.2.3.4:7-7"),
            Endpoint::Ip {
                ports: PortSpec::Range(7, 7),
                ..
            }
        ));
    }

    #[test]
    fn cidr_v4_and_v6() {
        let e = ep("10.0.0.0/8:443");
        assert!(e.matches_ip(&sa("10.0.0.0:443")));
        assert!(e.matches_ip(&sa("10.255.255.255:443")));
        assert!(!e.matches_ip(&sa("11.0.0.0:443")));
        assert!(!e.matches_ip(&sa("10.1.1.1:80")));
        let e6 = ep("[fd00::/8]:*");
        assert!(e6.matches_ip(&sa("[fd12:3456::1]:80")));
        assert!(!e6.matches_ip(&sa("[fe80::1]:80")));
        // Host bits in a CIDR are ignored rather than narrowing the network.
        assert!(ep("192.168.1.7/24:80").matches_ip(&sa("192.168.1.200:80")));
        assert!(ep("0.0.0.0/0:*").matches_ip(&sa("8.8.8.8:443")));
        assert!(!ep("0.0.0.0/0:*").matches_ip(&sa("[2001:db8::1]:443")));
    }

    #[test]
    fn whitespace_is_trimmed_and_display_is_the_text() {
        let e = ep("  10.0.0.0/8:443 \t");
        assert_eq!(e.to_string(), "10.0.0.0/8:443");
        assert!(e.matches_ip(&sa("10.2.3.4:443")));
        assert_eq!(ep(" [fd00::/8]:* ").to_string(), "[fd00::/8]:*");
        assert_eq!(ep("unix:/run/tor/socks").to_string(), "unix:/run/tor/socks");
        assert_eq!(ep("unix:@tor").to_string(), "unix:@tor");
        assert_eq!(ep("127.0.0.1:9050"), ep(" 127.0.0.1:9050"));
        assert_ne!(ep("127.0.0.1:9050"), ep("127.0.0.1:9051"));
    }

    #[test]
    fn unix_globs_do_not_cross_slashes() {
        let e = ep("unix:/run/tor/*");
        assert!(e.matches_unix("/run/tor/socks", false));
        assert!(!e.matches_unix("/run/tor/a/socks", false));
        assert!(
            !e.matches_unix("/run/tor/socks", true),
            "a path entry is not an abstract one"
        );
        assert!(!e.matches_ip(&sa("127.0.0.1:9050")));
        let deep = ep("unix:/run/**/socks");
        assert!(deep.matches_unix("/run/tor/a/socks", false));
        let exact = ep("unix:/run/tor/socks");
        assert!(exact.matches_unix("/run/tor/socks", false));
        assert!(!exact.matches_unix("/run/tor/socks2", false));
        assert!(ep("unix:/run/{tor,arti}/socks").matches_unix("/run/arti/socks", false));
    }

    #[test]
    fn abstract_names() {
        let e = ep("unix:@tor-*");
        assert!(e.matches_unix("tor-control", true));
        assert!(
            e.matches_unix("@tor-control", true),
            "strace's @ prefix is tolerated"
        );
        assert!(
            !e.matches_unix("tor-control", false),
            "an abstract entry is not a path"
        );
        assert!(!e.matches_unix("/tmp/tor-control", true));
        assert!(!e.matches_unix("x-tor-control", true));
        assert!(ep("unix:@/tmp/.X11-unix/*").matches_unix("/tmp/.X11-unix/X0", true));
    }

    // --- grammar errors ------------------------------------------------------------

    #[test]
    fn host_names_are_rejected() {
        let e = ep_err("localhost:9050");
        assert!(e.contains("expected an IP address, not a host name"), "{e}");
        assert!(ep_err("tor.example.org:443").contains("not a host name"));
    }

    #[test]
    fn missing_ports_are_rejected() {
        for text in [
            "127.0.0.1",
            "127.0.0.1:",
            "[::1]",
            "[::1]:",
            "10.0.0.0/8",
            "10.0.0.0/8:",
        ] {
            let e = ep_err(text);
            assert!(e.contains("missing port"), "{text}: {e}");
        }
    }

    #[test]
    fn bad_ports_are_rejected() {
        let e = ep_err("127.0.0.1:65536");
        assert!(e.contains("at most 65535"), "{e}");
        assert!(ep_err("127.0.0.1:70000-70001").contains("at most 65535"));
        let e = ep_err("127.0.0.1:9159-9150");
        assert!(e.contains("N <= M") && e.contains("9150-9159"), "{e}");
        assert!(ep_err("127.0.0.1:http").contains("a port number"));
        assert!(ep_err("127.0.0.1:-5").contains("a port number"));
        assert!(ep_err("127.0.0.1:5-").contains("a port number"));
        assert!(ep_err("127.0.0.1:+5").contains("a port number"));
    }

    #[test]
    fn bad_cidrs_are_rejected() {
        let e = ep_err("10.0.0.0/33:443");
        assert!(e.contains("prefix length of 0-32"), "{e}");
        assert!(ep_err("[fd00::/129]:443").contains("0-128"));
        assert!(ep_err("10.0.0.0/x:443").contains("CIDR"));
        assert!(ep_err("10.0.0/8:443").contains("not an IP address"));
    }

    #[test]
    fn brackets_are_required_for_ipv6_only() {
        let e = ep_err("::1:9050");
        assert!(e.contains("IPv6 address in brackets"), "{e}");
        let e = ep_err("fd00::1:9050");
        assert!(e.contains("[fd00::1]:9050"), "{e}");
        let e = ep_err("[127.0.0.1]:9050");
        assert!(e.contains("without brackets"), "{e}");
        assert!(ep_err("::1").contains("brackets"));
        assert!(ep_err("[::1:9050").contains("closing `]`"));
        assert!(ep_err("[::1]9050").contains(":PORT"));
    }

    #[test]
    fn other_malformed_entries() {
        assert!(ep_err("").contains("empty"));
        assert!(ep_err("   ").contains("empty"));
        assert!(ep_err("socks5://127.0.0.1:9050").contains("URL scheme"));
        assert!(ep_err("*:443").contains("not `*`"));
        assert!(ep_err(":443").contains("IP address before the port"));
        assert!(ep_err("unix:").contains("socket path"));
        assert!(ep_err("unix:@").contains("abstract socket name"));
        assert!(ep_err("unix:/run/[tor").contains("valid glob"));
        assert!(ep_err("1.2.3.4.5:80").contains("not one"));
        assert!(ep_err("gibberish").contains("ADDRESS:PORT"));
    }

    // --- DNS and mapped addresses ----------------------------------------------------

    #[test]
    fn ipv4_mapped_addresses_are_judged_as_ipv4() {
        let v4 = ep("127.0.0.1:9050");
        assert!(v4.matches_ip(&sa("[::ffff:127.0.0.1]:9050")));
        assert!(!v4.matches_ip(&sa("[::ffff:127.0.0.2]:9050")));
        let mapped = ep("[::ffff:127.0.0.1]:9050");
        assert!(mapped.matches_ip(&sa("127.0.0.1:9050")));
        assert!(mapped.matches_ip(&sa("[::ffff:127.0.0.1]:9050")));
        assert_eq!(mapped.to_string(), "[::ffff:127.0.0.1]:9050");
        let mapped_net = ep("[::ffff:10.0.0.0/104]:443");
        assert!(mapped_net.matches_ip(&sa("10.1.2.3:443")));
        assert!(!mapped_net.matches_ip(&sa("11.1.2.3:443")));
        assert!(ep("10.0.0.0/8:443").matches_ip(&sa("[::ffff:10.9.9.9]:443")));
        // "Any IPv6" does not mean "any IPv4".
        let all6 = ep("[::/0]:*");
        assert!(all6.matches_ip(&sa("[2001:db8::1]:80")));
        assert!(!all6.matches_ip(&sa("[::ffff:8.8.8.8]:80")));
        assert!(!all6.matches_ip(&sa("8.8.8.8:80")));
        // DNS rule still applies to mapped destinations.
        assert!(!ep("10.0.0.2:*").matches_ip(&sa("[::ffff:10.0.0.2]:53")));
    }

    // --- the entries #[leak_free(allow = [...])] was tested with ----------------------

    #[test]
    fn attribute_examples() {
        for good in [
            "127.0.0.1:9050",
            "[::1]:9050",
            "127.0.0.1:9150-9159",
            "10.0.0.0/8:443",
            "[fd00::/8]:*",
            "0.0.0.0/0:*",
            "unix:/run/tor/socks",
            "unix:@abstract",
            "unix:/tmp/*.sock",
            // The macro used to reject surrounding whitespace, which the run-time policy
            // trims: one grammar now decides for both.
            " 1.2.3.4:1",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "localhost:9050",
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:20-10",
            "::1:9050",
            "[::1]9050",
            "10.0.0.0/33:1",
            "unix:",
            "1.2.3.4:x",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
