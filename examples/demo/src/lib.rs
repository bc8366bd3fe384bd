//! A tiny Tor-style client: everything must go through the SOCKS proxy at 127.0.0.1:9050.
//!
//! Some of its tests are clean; others leak the way real clients do (a local DNS lookup,
//! a UDP packet, an IPv6 fallback, a child process that ignores the proxy). Those marked
//! `#[leak_free(stand-in = true)]` talk to leakcheck's stand-in proxy, which plays every
//! destination and records what is sent through it: the host's name in a greeting, a
//! stream without credentials, a request by address. Run
//! `cargo leakcheck --isolate-network` on it to see each one flagged.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// The proxy every connection must go through.
pub const PROXY: &str = "127.0.0.1:9050";

/// A SOCKS5 CONNECT request that sends the host *name* to the proxy (ATYP 3), as
/// `socks5h://` does: the proxy resolves it, so no DNS happens here.
pub fn socks5_connect_request(host: &str, port: u16) -> Vec<u8> {
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    req
}

/// Opens a stream to `host:port` through the SOCKS proxy at `proxy`.
pub fn connect_via(proxy: SocketAddr, host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&proxy, Duration::from_secs(1))?;
    s.write_all(&[5, 1, 0])?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)?;
    s.write_all(&socks5_connect_request(host, port))?;
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply)?;
    if reply[1] != 0 {
        return Err(std::io::Error::other("proxy refused"));
    }
    Ok(s)
}

/// What a client asks the proxy for: a host name (the proxy resolves it) or an address
/// (the client resolved it, or had it).
pub enum Destination<'a> {
    /// A host name and port (SOCKS5 ATYP 3).
    Name(&'a str, u16),
    /// An address (ATYP 1 or 4).
    Address(SocketAddr),
}

/// SOCKS5 username/password for Tor's stream isolation: `<torS0X>0` as the username
/// makes the password the isolation string (Tor proposal 351), one per identity.
pub fn isolation(identity: &str) -> (&'static str, &str) {
    ("<torS0X>0", identity)
}

/// Opens a stream to `destination` through the SOCKS5 proxy at `proxy`, with
/// credentials when given.
pub fn open_via(
    proxy: SocketAddr,
    destination: Destination,
    credentials: Option<(&str, &str)>,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&proxy, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let method = if credentials.is_some() { 2 } else { 0 };
    s.write_all(&[5, 1, method])?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)?;
    if let Some((user, password)) = credentials {
        let mut auth = vec![1, user.len() as u8];
        auth.extend_from_slice(user.as_bytes());
        auth.push(password.len() as u8);
        auth.extend_from_slice(password.as_bytes());
        s.write_all(&auth)?;
        s.read_exact(&mut choice)?;
    }
    let request = match destination {
        Destination::Name(host, port) => socks5_connect_request(host, port),
        Destination::Address(addr) => {
            let mut req = vec![5, 1, 0];
            match addr {
                SocketAddr::V4(a) => {
                    req.push(1);
                    req.extend_from_slice(&a.ip().octets());
                }
                SocketAddr::V6(a) => {
                    req.push(4);
                    req.extend_from_slice(&a.ip().octets());
                }
            }
            req.extend_from_slice(&addr.port().to_be_bytes());
            req
        }
    };
    s.write_all(&request)?;
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply)?;
    if reply[1] != 0 {
        return Err(std::io::Error::other("proxy refused"));
    }
    Ok(s)
}

/// An SMTP client's greeting, the way many write it: with the host's own name, which
/// tells the destination (and every relay on the way) who is sending.
pub fn smtp_greeting() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("EHLO {}\r\n", name.trim())
}

/// The leaky way: resolves the name locally before talking to the proxy (`socks5://`).
pub fn resolve_locally(host: &str, port: u16) -> Vec<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default()
}

/// Sends a usage ping straight to a metrics host: a UDP leak.
pub fn send_telemetry(target: SocketAddr) {
    if let Ok(sock) = UdpSocket::bind("0.0.0.0:0") {
        let _ = sock.send_to(b"started", target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakcheck::leak_free;
    use std::net::TcpListener;
    use std::process::Command;

    /// A one-shot SOCKS5 proxy on loopback, run by the test itself.
    fn mock_proxy() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            s.write_all(&[5, 0]).unwrap();
            let _ = s.read(&mut buf);
            s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        });
        addr
    }

    #[test]
    fn builds_hostname_request() {
        let req = socks5_connect_request("example.com", 443);
        assert_eq!(req[3], 3, "ATYP 3: the proxy resolves the name");
    }

    #[test]
    fn connects_through_mock_proxy() {
        let proxy = mock_proxy();
        connect_via(proxy, "example.com", 443).expect("handshake");
    }

    #[test]
    fn uses_the_tor_port() {
        // Allowed by the policy: whether or not Tor runs here, the attempt is clean.
        let _ = TcpStream::connect_timeout(&PROXY.parse().unwrap(), Duration::from_millis(200));
    }

    #[test]
    fn resolves_locally_before_proxying() {
        // socks5:// style: a DNS lookup happens here, outside the proxy.
        let _ = resolve_locally("example.com", 443);
    }

    #[test]
    fn sends_udp_telemetry() {
        send_telemetry("192.0.2.10:9999".parse().unwrap());
    }

    #[test]
    fn falls_back_to_ipv6() {
        let addr: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
    }

    /// The stand-in proxy's port for the tests below: the policy allows it for them
    /// only, so that the tests above keep 127.0.0.1:9050 to themselves.
    fn stand_in() -> SocketAddr {
        "127.0.0.1:9150".parse().unwrap()
    }

    /// Sends `payload` on a stream and lets the destination read it.
    fn send(mut stream: TcpStream, payload: &[u8]) {
        stream.write_all(payload).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }

    #[leak_free(stand-in = true, allow = ["127.0.0.1:9150"])]
    fn isolates_its_stream() {
        let credentials = isolation("demo-fetch");
        let stream = open_via(
            stand_in(),
            Destination::Name("example.com", 80),
            Some(credentials),
        );
        send(
            stream.unwrap(),
            b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n",
        );
    }

    #[leak_free(stand-in = true, allow = ["127.0.0.1:9150"])]
    fn greets_with_the_host_name() {
        let credentials = isolation("demo-mail");
        let stream = open_via(
            stand_in(),
            Destination::Name("mail.example.com", 25),
            Some(credentials),
        );
        send(stream.unwrap(), smtp_greeting().as_bytes());
    }

    #[leak_free(stand-in = true, allow = ["127.0.0.1:9150"])]
    fn connects_without_credentials() {
        let stream = open_via(stand_in(), Destination::Name("example.com", 80), None);
        send(
            stream.unwrap(),
            b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n",
        );
    }

    #[leak_free(stand-in = true, allow = ["127.0.0.1:9150"])]
    fn asks_the_proxy_by_address() {
        let credentials = isolation("demo-address");
        let address = "192.0.2.7:80".parse().unwrap();
        let stream = open_via(stand_in(), Destination::Address(address), Some(credentials));
        send(
            stream.unwrap(),
            b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n",
        );
    }

    #[test]
    fn child_process_looks_up_a_host() {
        // A helper program that knows nothing of the proxy.
        let _ = Command::new("getent")
            .args(["ahosts", "example.com"])
            .output();
    }
}
