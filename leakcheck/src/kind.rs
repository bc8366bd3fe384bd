//! The kinds of leak of DESIGN.md's table and how severe each one is.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a network attempt was, as named in the JSON report's `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// connect() of an IP socket to an endpoint the policy does not allow.
    Connect,
    /// sendto/sendmsg/sendmmsg with an explicit destination the policy does not allow.
    Send,
    /// Traffic to port 53/853, or a lookup handed to a local resolver daemon.
    Dns,
    /// Any IP socket created while the policy says `ip = false`.
    IpSocket,
    /// Raw IP, packet, vsock, XDP or unknown-family sockets.
    RawSocket,
    /// io_uring or anything else that hides socket operations from the tracer.
    Untraceable,
    /// Asking the kernel for the host's addresses.
    InterfaceEnumeration,
    /// Listening on a non-loopback address.
    Listen,
    /// A UDP connect followed by `getsockname` and no data: glibc's address sorting or
    /// local-address discovery; no packet leaves.
    RouteProbe,
    /// A process the test left running; leakcheck stopped it when the test ended.
    LeftoverProcess,
    /// The host's identity (a canary host name or address) in what was sent through the
    /// stand-in proxy, in a requested host name or in credentials.
    ProtocolLeak,
    /// The client gave the proxy an address, not a host name: it resolved (or had) the
    /// address itself.
    ProxyIpRequest,
    /// A proxied stream without SOCKS credentials: Tor cannot isolate it.
    SocksNoAuth,
    /// Two tests used the same SOCKS credentials: their streams share circuits.
    SharedIsolation,
    /// What a client sent the stand-in proxy was not a protocol it speaks.
    ProxyProtocolError,
}

impl Kind {
    /// Every kind, in the order of DESIGN.md's table.
    pub const ALL: [Kind; 15] = [
        Kind::Connect,
        Kind::Send,
        Kind::Dns,
        Kind::IpSocket,
        Kind::RawSocket,
        Kind::Untraceable,
        Kind::InterfaceEnumeration,
        Kind::Listen,
        Kind::RouteProbe,
        Kind::LeftoverProcess,
        Kind::ProtocolLeak,
        Kind::ProxyIpRequest,
        Kind::SocksNoAuth,
        Kind::SharedIsolation,
        Kind::ProxyProtocolError,
    ];

    /// The name used in the report and in the policy (`interface-enumeration = "warn"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Send => "send",
            Kind::Dns => "dns",
            Kind::IpSocket => "ip-socket",
            Kind::RawSocket => "raw-socket",
            Kind::Untraceable => "untraceable",
            Kind::InterfaceEnumeration => "interface-enumeration",
            Kind::Listen => "listen",
            Kind::RouteProbe => "route-probe",
            Kind::LeftoverProcess => "leftover-process",
            Kind::ProtocolLeak => "protocol-leak",
            Kind::ProxyIpRequest => "proxy-ip-request",
            Kind::SocksNoAuth => "socks-no-auth",
            Kind::SharedIsolation => "shared-isolation",
            Kind::ProxyProtocolError => "proxy-protocol-error",
        }
    }

    /// Whether the stand-in proxy's streams make this kind (then a finding's `trace` is
    /// the stream and what is wrong with it, and its destination is the proxy's).
    pub fn of_streams(self) -> bool {
        matches!(
            self,
            Kind::ProtocolLeak
                | Kind::ProxyIpRequest
                | Kind::SocksNoAuth
                | Kind::SharedIsolation
                | Kind::ProxyProtocolError
        )
    }

    /// The severity a kind has when the policy does not say otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            Kind::InterfaceEnumeration
            | Kind::Listen
            | Kind::RouteProbe
            | Kind::LeftoverProcess
            | Kind::ProxyIpRequest
            | Kind::SocksNoAuth
            | Kind::SharedIsolation
            | Kind::ProxyProtocolError => Severity::Warn,
            _ => Severity::Deny,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown kind `{s}` (expected one of: {})", names.join(", "))
            })
    }
}

/// What the policy does with a kind: ignore it, report it as a warning, or fail on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Not reported at all.
    Allow,
    /// Reported, does not fail the test.
    Warn,
    /// Reported as a leak: fails the test.
    Deny,
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Severity::Allow),
            "warn" => Ok(Severity::Warn),
            "deny" => Ok(Severity::Deny),
            other => Err(format!(
                "unknown severity `{other}` (expected \"allow\", \"warn\" or \"deny\")"
            )),
        }
    }
}
