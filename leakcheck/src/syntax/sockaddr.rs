//! Socket addresses as strace prints them (`{sa_family=AF_INET, sin_port=htons(53),
//! ...}`), and the `msg_name` of a `struct msghdr`.

use super::lex::{field, parse_string, struct_fields};
use super::names;
use crate::event::SockAddr;
use std::net::IpAddr;

/// The `msg_name` of a `struct msghdr` as strace prints it; None when it is NULL or absent.
pub(super) fn msghdr_name(msghdr: &str) -> Result<Option<SockAddr>, String> {
    let fields = struct_fields(msghdr).ok_or("msghdr is not a structure")?;
    match field(&fields, "msg_name") {
        Some(name) => parse_send_sockaddr(name),
        // strace and the native tracer always write msg_name (NULL or not).
        None => Ok(Some(SockAddr::Undecoded(msghdr.to_string()))),
    }
}

/// A send's destination: like [`parse_sockaddr`], but AF_UNSPEC keeps what `sa_data`
/// holds, which an AF_INET socket sends to.
pub(super) fn parse_send_sockaddr(text: &str) -> Result<Option<SockAddr>, String> {
    let addr = parse_sockaddr(text)?;
    if addr != Some(SockAddr::Unspec) {
        return Ok(addr);
    }
    let v4 = struct_fields(text.trim())
        .and_then(|fields| field(&fields, "sa_data").and_then(parse_string))
        .filter(|data| data.len() >= 6)
        .map(|d| {
            std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::new(d[2], d[3], d[4], d[5]),
                u16::from_be_bytes([d[0], d[1]]),
            )
        });
    Ok(Some(SockAddr::SendUnspec(v4)))
}

/// Parses a socket address argument. `NULL` is `Ok(None)`.
pub(super) fn parse_sockaddr(text: &str) -> Result<Option<SockAddr>, String> {
    let text = text.trim();
    if text == "NULL" {
        return Ok(None);
    }
    let Some(fields) = struct_fields(text) else {
        return Ok(Some(SockAddr::Undecoded(text.to_string())));
    };
    let Some(family) = field(&fields, "sa_family") else {
        return Ok(Some(SockAddr::Undecoded(text.to_string())));
    };
    let undecoded = || Ok(Some(SockAddr::Undecoded(text.to_string())));
    match family {
        "AF_INET" => {
            let port = field(&fields, "sin_port").and_then(parse_port);
            let ip = field(&fields, "sin_addr")
                .and_then(|v| v.strip_prefix("inet_addr("))
                .and_then(parse_string)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<IpAddr>().ok());
            match (ip, port) {
                (Some(ip), Some(port)) => Ok(Some(SockAddr::ip(ip, port))),
                _ => undecoded(),
            }
        }
        "AF_INET6" => {
            let port = field(&fields, "sin6_port").and_then(parse_port);
            let ip = fields
                .iter()
                .find_map(|f| {
                    let f = f.strip_prefix("sin6_addr=").unwrap_or(f);
                    f.strip_prefix("inet_pton(AF_INET6,")
                })
                .and_then(parse_string)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<IpAddr>().ok());
            match (ip, port) {
                (Some(ip), Some(port)) => Ok(Some(SockAddr::ip(ip, port))),
                _ => undecoded(),
            }
        }
        // An unnamed socket is printed as its family alone; any other field but
        // sun_path is a structure strace did not write.
        "AF_UNIX" | "AF_LOCAL" if fields.len() > 1 && field(&fields, "sun_path").is_none() => {
            undecoded()
        }
        "AF_UNIX" | "AF_LOCAL" => match field(&fields, "sun_path") {
            None => Ok(Some(SockAddr::Unix {
                path: String::new(),
                is_abstract: false,
            })),
            Some(path) => {
                let (is_abstract, quoted) = match path.strip_prefix('@') {
                    Some(rest) => (true, rest),
                    None => (false, path),
                };
                match parse_string(quoted) {
                    Some(bytes) => Ok(Some(SockAddr::Unix {
                        path: String::from_utf8_lossy(&bytes).into_owned(),
                        is_abstract,
                    })),
                    None => undecoded(),
                }
            }
        },
        "AF_NETLINK" => Ok(Some(SockAddr::Netlink)),
        "AF_UNSPEC" => Ok(Some(SockAddr::Unspec)),
        other => Ok(Some(SockAddr::Other(names::family(other)))),
    }
}

/// `htons(53)` → 53.
pub(super) fn parse_port(text: &str) -> Option<u16> {
    text.strip_prefix("htons(")?.strip_suffix(')')?.parse().ok()
}
