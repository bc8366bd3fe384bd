//! How to fix each kind of finding, in one sentence: the `hint` of every finding in the
//! report, the human output and `#[leak_free]`'s failure message. README.md's hint table
//! shows the same sentences (a test checks it).

use crate::kind::Kind;

impl Kind {
    /// One sentence on how to fix a finding of this kind.
    pub fn hint(self) -> &'static str {
        match self {
            Kind::Connect => "connected outside the proxy: configure the client's proxy (its proxy option, ALL_PROXY, torsocks), or add the endpoint to `allow` if it is meant to be reached",
            Kind::Send => "sent a datagram outside the proxy (SOCKS and HTTP CONNECT carry TCP only): turn off the UDP path (QUIC/HTTP3, STUN, NTP) or send it to an allowed endpoint",
            Kind::Dns => "resolved locally before using the proxy: pass host names to the proxy (socks5h://, curl --socks5-hostname, PySocks rdns=True)",
            Kind::IpSocket => "created an IP socket although `ip = false` allows unix sockets only: reach the proxy through its unix socket (`unix:PATH`), or set `ip = true`",
            Kind::RawSocket => "opened a raw, packet or vsock socket, whose traffic no allow list can check: keep it out of the code under test (ICMP ping, packet capture), or allow the kind in the policy",
            Kind::Untraceable => "used io_uring (or another interface that hides socket calls from the tracer): turn it off under test, or leakcheck cannot vouch for the test",
            Kind::InterfaceEnumeration => "asked the kernel for the host's addresses, which protocols leak (WebRTC ICE, SIP, FTP PORT): turn off local-address discovery, or set `interface-enumeration = \"allow\"` if nothing sends them",
            Kind::Listen => "listened on a non-loopback address, reachable from outside: bind 127.0.0.1 or [::1] instead",
            Kind::RouteProbe => "connected a UDP socket only to learn a local address (glibc sorting a lookup's answers, WebRTC): no packet left, but a local lookup or address discovery is near",
            Kind::LeftoverProcess => "left a process running when the test ended: wait for or kill the child processes the test starts",
            Kind::ProtocolLeak => "sent the host's identity (host name or address) through the proxy: strip it from what the protocol sends (HTTP headers, SMTP EHLO, user names)",
            Kind::ProxyIpRequest => "gave the proxy an address, so the name was resolved outside it: pass the host name to the proxy (socks5h://, SOCKS4a, curl --socks5-hostname)",
            Kind::SocksNoAuth => "opened a SOCKS stream without credentials, so Tor cannot isolate it: give each session its own SOCKS user name and password (IsolateSOCKSAuth)",
            Kind::SharedIsolation => "two tests used the same SOCKS credentials, so their streams share Tor circuits: give each session its own user name and password",
            Kind::ProxyProtocolError => "sent the proxy something that is not a protocol it speaks: check the proxy scheme (socks5h:// or http://) and port the client is given",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_sentence() {
        for kind in Kind::ALL {
            let hint = kind.hint();
            assert!(
                !hint.ends_with('.') && !hint.contains(". "),
                "{kind}: {hint}"
            );
            assert!(
                hint.contains(": "),
                "{kind}: what happened, then what to do: {hint}"
            );
        }
    }

    /// README.md's hint table has a row per kind with its sentence, word for word.
    #[test]
    fn the_readme_shows_every_hint() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let Ok(readme) = std::fs::read_to_string(path) else {
            // A packaged crate has no workspace README.
            return;
        };
        for kind in Kind::ALL {
            let hint = kind.hint().replace('|', "\\|");
            assert!(
                readme
                    .lines()
                    .any(|l| l.starts_with(&format!("| `{kind}` |")) && l.contains(&hint)),
                "README.md has no hint row for `{kind}` with: {hint}"
            );
        }
    }
}
