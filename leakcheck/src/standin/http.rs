//! HTTP CONNECT (RFC 9110 §9.3.6) as Tor's HTTPTunnelPort speaks it: the request head,
//! `Proxy-Authorization: Basic` credentials and Tor's `X-Tor-Stream-Isolation` header.

use super::socks::{Addr, Step};
use super::stream::Reply;
use std::net::{Ipv4Addr, Ipv6Addr};

/// HTTP methods: what makes the first bytes of a connection an HTTP request.
const METHODS: [&[u8]; 9] = [
    b"CONNECT", b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH",
];

/// Whether the bytes so far start like an HTTP request: `Some(true)` yes, `Some(false)`
/// no, `None` too few bytes to tell.
pub(crate) fn looks_like_http(buf: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for method in METHODS {
        let n = buf.len().min(method.len() + 1);
        let want = [method, &b" "[..]].concat();
        if buf[..n] == want[..n] {
            if n == want.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    if undecided {
        None
    } else {
        Some(false)
    }
}

/// Finds the end of the request head (`\r\n\r\n`, or `\n\n` from sloppy clients) within
/// `max` bytes.
pub(crate) fn parse_head(buf: &[u8], max: usize) -> Step<()> {
    let window = &buf[..buf.len().min(max)];
    for i in 0..window.len() {
        if window[i] == b'\n' {
            if window[i + 1..].starts_with(b"\n") {
                return Step::Done(i + 2, ());
            }
            if window[i + 1..].starts_with(b"\r\n") {
                return Step::Done(i + 3, ());
            }
        }
    }
    if buf.len() >= max {
        Step::Bad(
            format!("HTTP request head longer than {max} bytes"),
            Some(Reply::BadRequest),
        )
    } else {
        Step::Need
    }
}

/// A parsed CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connect {
    pub addr: Addr,
    pub port: u16,
    pub username: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    pub isolation: Option<String>,
}

/// Why a request head is not a CONNECT the stand-in can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotConnect {
    /// Another HTTP method (a plain HTTP proxy request).
    Method(String),
    /// Malformed.
    Malformed(String),
}

/// Parses a request head (request line and headers).
pub(crate) fn parse_connect(head: &[u8]) -> Result<Connect, NotConnect> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let method = method.unwrap_or_default();
    if method != b"CONNECT" {
        return Err(NotConnect::Method(
            String::from_utf8_lossy(method).into_owned(),
        ));
    }
    let (Some(target), Some(version)) = (target, version) else {
        return Err(NotConnect::Malformed(
            "CONNECT request line without a target or HTTP version".into(),
        ));
    };
    if !version.starts_with(b"HTTP/") || parts.next().is_some() {
        return Err(NotConnect::Malformed(format!(
            "malformed CONNECT request line {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    let (addr, port) = parse_authority(target).ok_or_else(|| {
        NotConnect::Malformed(format!(
            "CONNECT target {:?} is not host:port",
            String::from_utf8_lossy(target)
        ))
    })?;
    let mut connect = Connect {
        addr,
        port,
        username: None,
        password: None,
        isolation: None,
    };
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"proxy-authorization") {
            let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
            if value[..scheme_end].eq_ignore_ascii_case(b"basic") {
                let decoded = base64_decode(trim(&value[scheme_end..])).ok_or_else(|| {
                    NotConnect::Malformed("Proxy-Authorization: Basic is not base64".into())
                })?;
                let colon = decoded.iter().position(|&b| b == b':');
                let (user, pass) = match colon {
                    Some(c) => (decoded[..c].to_vec(), decoded[c + 1..].to_vec()),
                    None => (decoded, Vec::new()),
                };
                connect.username = Some(user);
                connect.password = Some(pass);
            } else {
                // Another scheme: the whole value is what Tor would isolate by.
                connect.username = Some(value.to_vec());
            }
        } else if name.eq_ignore_ascii_case(b"x-tor-stream-isolation") {
            connect.isolation = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    Ok(connect)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

/// `host:port`, `a.b.c.d:port` or `[v6]:port`.
fn parse_authority(target: &[u8]) -> Option<(Addr, u16)> {
    let target = std::str::from_utf8(target).ok()?;
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (host, rest) = rest.split_once(']')?;
        (host, rest.strip_prefix(':')?)
    } else {
        target.rsplit_once(':')?
    };
    let port: u16 = port.parse().ok()?;
    if host.is_empty() {
        return None;
    }
    let addr = if target.starts_with('[') {
        Addr::V6(host.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(v4) = host.parse::<Ipv4Addr>() {
        Addr::V4(v4)
    } else {
        Addr::Name(host.as_bytes().to_vec())
    };
    Some((addr, port))
}

/// Standard base64 (RFC 4648), padding optional.
pub(crate) fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    let mut padding = false;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The answers, in Tor's style.
pub(crate) const OK: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";
pub(crate) const BAD_GATEWAY: &[u8] =
    b"HTTP/1.0 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
pub(crate) const BAD_REQUEST: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
pub(crate) const METHOD_NOT_ALLOWED: &[u8] =
    b"HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// What a SOCKS-only port answers an HTTP request (as Tor's SocksPort does).
pub(crate) const NOT_AN_HTTP_PROXY: &[u8] = b"HTTP/1.0 501 Tor is not an HTTP Proxy\r\n\
Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n\
This is a SOCKS proxy (a leakcheck stand-in), not an HTTP proxy.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_connect() {
        let head = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
Proxy-Authorization: Basic dXNlcjpwYXNz\r\nX-Tor-Stream-Isolation: iso-1\r\n\r\nDATA";
        assert_eq!(parse_head(&head[..20], 1024), Step::Need);
        let Step::Done(n, ()) = parse_head(head, 1024) else {
            panic!()
        };
        assert_eq!(&head[n..], b"DATA");
        let c = parse_connect(&head[..n]).unwrap();
        assert_eq!(c.addr.destination(c.port), "example.com:443");
        assert_eq!(c.username.as_deref(), Some(&b"user"[..]));
        assert_eq!(c.password.as_deref(), Some(&b"pass"[..]));
        assert_eq!(c.isolation.as_deref(), Some("iso-1"));

        let c = parse_connect(b"CONNECT [2001:db8::1]:80 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(c.addr.destination(c.port), "[2001:db8::1]:80");
        assert_eq!(c.username, None);
        let c = parse_connect(b"CONNECT 93.184.216.34:80 HTTP/1.0\n\n").unwrap();
        assert_eq!(c.addr, Addr::V4(Ipv4Addr::new(93, 184, 216, 34)));

        assert_eq!(
            parse_connect(b"GET http://example.com/ HTTP/1.1\r\n\r\n"),
            Err(NotConnect::Method("GET".into()))
        );
        assert!(matches!(
            parse_connect(b"CONNECT example.com HTTP/1.1\r\n\r\n"),
            Err(NotConnect::Malformed(_))
        ));
        assert!(matches!(
            parse_head(&[b'a'; 100], 50),
            Step::Bad(_, Some(Reply::BadRequest))
        ));
    }

    #[test]
    fn detection() {
        assert_eq!(looks_like_http(b"CON"), None);
        assert_eq!(looks_like_http(b"CONNECT "), Some(true));
        assert_eq!(looks_like_http(b"GET /"), Some(true));
        assert_eq!(looks_like_http(b"GEX"), Some(false));
        assert_eq!(looks_like_http(b"\x16\x03\x01"), Some(false));
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(b"a b"), None);
    }
}
