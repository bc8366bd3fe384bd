//! How a traced run gets its stand-in: which allowed endpoints it serves, in a network
//! namespace made for the run ([`crate::tracer::sandbox`]), with the canaries planted.

use super::canary::{Canaries, CANARY_HOST_NAME, CANARY_IPV4, CANARY_IPV6};
use super::config::{Config, Mode};
use super::listen::Listen;
use super::record::Recorded;
use super::server::StandIn;
use crate::policy::{Endpoint, Policy, PortSpec};
use crate::tracer::sandbox::{Sandbox, SandboxSpec};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Duration;

/// The most ports one allow entry's range may open (`127.0.0.1:9150-9159` opens ten).
const MAX_RANGE: u32 = 64;
/// How long the stand-in waits, once the program has ended, for streams still open.
const SETTLE: Duration = Duration::from_millis(500);

/// `--stand-in[=accept|refuse]`: how the run's stand-in answers, and which endpoints
/// also speak HTTP CONNECT.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// accept (play the destination) or refuse (as Tor when it cannot reach it).
    pub mode: Mode,
    /// Allowed endpoints (as written, e.g. `127.0.0.1:8118`) that speak HTTP CONNECT
    /// besides SOCKS.
    pub http_connect: Vec<String>,
}

/// The variable that tells a traced test which stand-in its run offers ([`Offer`]'s
/// text). A runner that runs a test again when it asks for another stand-in (`cargo
/// leakcheck`, `wrap`) sets it to `off` in the command; [`crate::trace`] then replaces it
/// with the offer of the stand-in that serves the run, if one does. `#[leak_free]` reads
/// it (`leak_free::STAND_IN_ENV`).
pub const STAND_IN_ENV: &str = "LEAKCHECK_STAND_IN";

/// The stand-in a run offers its tests: its mode (None: no stand-in) and the endpoints
/// it serves, as [`served`] names them. Its text is `off`, or the mode then the
/// endpoints: `accept 127.0.0.1:9050 [::1]:9050`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// The mode, or None when no stand-in serves the run.
    pub mode: Option<Mode>,
    /// The endpoints served.
    pub served: Vec<String>,
}

impl Offer {
    /// The text of [`STAND_IN_ENV`].
    pub fn text(&self) -> String {
        match self.mode {
            None => "off".to_string(),
            Some(mode) => std::iter::once(mode.to_string())
                .chain(self.served.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// Reads [`Offer::text`]; None for anything else.
    pub fn parse(text: &str) -> Option<Offer> {
        let mut words = text.split_whitespace();
        match words.next()? {
            "off" => words.next().is_none().then(Offer::default),
            mode => Some(Offer {
                mode: Some(mode.parse().ok()?),
                served: words.map(String::from).collect(),
            }),
        }
    }
}

/// The endpoints a stand-in serves under `policy`, named as its listeners are
/// (`127.0.0.1:9050`, `[::1]:9050`, `unix:@name`).
pub fn served(policy: &Policy) -> Vec<String> {
    let (spec, _) = endpoints(policy);
    listener_names(&spec)
}

fn listener_names(spec: &SandboxSpec) -> Vec<String> {
    spec.tcp
        .iter()
        .map(ToString::to_string)
        .chain(spec.unix_abstract.iter().map(|n| format!("unix:@{n}")))
        .collect()
}

/// A stand-in serving one traced run.
#[derive(Debug)]
pub struct Serving {
    server: StandIn,
    sandbox: Arc<Sandbox>,
    mode: Mode,
    /// Every endpoint it serves, as its listeners are named.
    pub served: Vec<String>,
    /// The TCP endpoints it serves.
    pub tcp: Vec<SocketAddr>,
    /// Allowed endpoints it cannot serve, and why (wildcard ports, networks, unix paths).
    pub skipped: Vec<String>,
}

impl Plan {
    /// Makes the run's namespace and starts the stand-in on every allowed endpoint it
    /// can serve. An endpoint it cannot listen on is an error naming it.
    pub fn start(&self, policy: &Policy) -> io::Result<Serving> {
        let (mut spec, skipped) = endpoints(policy);
        spec.hostname = Some(CANARY_HOST_NAME.to_string());
        spec.addresses.push(IpAddr::V4(CANARY_IPV4));
        spec.addresses.push(IpAddr::V6(CANARY_IPV6));
        let mut sandbox = Sandbox::create(&spec)?;
        let mut listens = Vec::new();
        for listener in sandbox.take_listeners() {
            let http = self.http_connect.contains(&listener.name);
            let listen = if listener.tcp {
                Listen::tcp(TcpListener::from(listener.fd))?
            } else {
                Listen::unix(UnixListener::from(listener.fd))?
            };
            listens.push(listen.named(listener.name).http_connect(http));
        }
        let config = Config {
            mode: self.mode,
            canaries: Some(canaries()),
            ..Config::default()
        };
        let server = StandIn::start(listens, config)?;
        Ok(Serving {
            server,
            sandbox: Arc::new(sandbox),
            mode: self.mode,
            served: listener_names(&spec),
            tcp: spec.tcp,
            skipped,
        })
    }
}

impl Serving {
    /// The namespace the traced program joins.
    pub fn sandbox(&self) -> Arc<Sandbox> {
        Arc::clone(&self.sandbox)
    }

    /// What the run's tests are told it offers ([`STAND_IN_ENV`]).
    pub fn offer(&self) -> Offer {
        Offer {
            mode: Some(self.mode),
            served: self.served.clone(),
        }
    }

    /// Once the program has ended: what the stand-in recorded.
    pub fn finish(self) -> Recorded {
        self.server.wait_idle(SETTLE);
        self.server.stop()
    }
}

/// The planted canaries, and the host's real name and addresses (searched as text
/// only: real names and addresses are often short and common).
fn canaries() -> Canaries {
    let mut canaries = Canaries::recommended();
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]);
        if name.len() >= 6 && name != "localhost" {
            canaries.add_host_name(&name);
        }
    }
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            let Some(addr) = ifa.address else { continue };
            let ip = if let Some(v4) = addr.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                continue;
            };
            let link_local = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
            if !ip.is_loopback() && !ip.is_unspecified() && !link_local {
                canaries.add_address_text_only(ip);
            }
        }
    }
    canaries
}

/// The endpoints of `policy` a stand-in can listen on, and those it cannot (with why).
fn endpoints(policy: &Policy) -> (SandboxSpec, Vec<String>) {
    let mut spec = SandboxSpec::default();
    let mut skipped = Vec::new();
    for endpoint in policy.endpoints() {
        match endpoint {
            Endpoint::Ip { net, ports, text } => {
                if net.prefix_len() != net.max_prefix_len() {
                    skipped.push(format!("{text} (a network, not one address)"));
                    continue;
                }
                let PortSpec::Range(lo, hi) = *ports else {
                    skipped.push(format!("{text} (every port)"));
                    continue;
                };
                if u32::from(hi) - u32::from(lo) >= MAX_RANGE {
                    skipped.push(format!("{text} (more than {MAX_RANGE} ports)"));
                    continue;
                }
                let ip = net.addr();
                if !ip.is_loopback() && !spec.addresses.contains(&ip) {
                    spec.addresses.push(ip);
                }
                for port in lo..=hi {
                    let addr = SocketAddr::new(ip, port);
                    if !spec.tcp.contains(&addr) {
                        spec.tcp.push(addr);
                    }
                }
            }
            Endpoint::Abstract { text, .. } => {
                let name = &text["unix:@".len().min(text.len())..];
                if name.contains(['*', '?', '[', '{']) {
                    skipped.push(format!("{text} (a pattern, not one name)"));
                } else if !spec.unix_abstract.iter().any(|n| n == name) {
                    spec.unix_abstract.push(name.to_string());
                }
            }
            Endpoint::Unix { text, .. } => {
                skipped.push(format!(
                    "{text} (a socket file: the stand-in touches no host files)"
                ));
            }
        }
    }
    (spec, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyConfig;

    #[test]
    fn an_offer_reads_back() {
        let policy = PolicyConfig::from_allow_list(
            &[
                "127.0.0.1:9050",
                "[::1]:9150-9151",
                "10.0.0.0/8:443",
                "unix:@tor",
            ],
            "--allow",
        )
        .unwrap()
        .resolve("t");
        let served = served(&policy);
        assert_eq!(
            served,
            ["127.0.0.1:9050", "[::1]:9150", "[::1]:9151", "unix:@tor"]
        );
        let offer = Offer {
            mode: Some(Mode::Refuse),
            served,
        };
        assert_eq!(
            offer.text(),
            "refuse 127.0.0.1:9050 [::1]:9150 [::1]:9151 unix:@tor"
        );
        assert_eq!(Offer::parse(&offer.text()), Some(offer));
        assert_eq!(Offer::parse("off"), Some(Offer::default()));
        assert_eq!(Offer::default().text(), "off");
        assert_eq!(Offer::parse("off 127.0.0.1:1"), None);
        assert_eq!(Offer::parse("maybe"), None);
        assert_eq!(Offer::parse(""), None);
    }
}
