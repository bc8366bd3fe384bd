//! SOCKS 4, 4a and 5 (RFC 1928, RFC 1929, Tor's RESOLVE and RESOLVE_PTR): parsers over
//! the bytes received so far, and reply builders. No I/O here: each parser says whether
//! it needs more bytes, how many bytes a complete message took, or why it is malformed.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::stream::{text, Command, Reply};

/// The result of parsing a message from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<T> {
    /// The message is incomplete.
    Need,
    /// A complete message of this many bytes.
    Done(usize, T),
    /// Malformed: why, and what to answer (if anything can be answered).
    Bad(String, Option<Reply>),
}

/// SOCKS 5 command codes.
pub(crate) const CMD_CONNECT: u8 = 0x01;
pub(crate) const CMD_BIND: u8 = 0x02;
pub(crate) const CMD_UDP_ASSOCIATE: u8 = 0x03;
/// Tor's extensions (socks-extensions.txt, "Name lookup").
pub(crate) const CMD_RESOLVE: u8 = 0xF0;
pub(crate) const CMD_RESOLVE_PTR: u8 = 0xF1;

/// SOCKS 5 methods.
pub(crate) const METHOD_NO_AUTH: u8 = 0x00;
pub(crate) const METHOD_USER_PASS: u8 = 0x02;
pub(crate) const METHOD_NONE_ACCEPTABLE: u8 = 0xFF;

/// SOCKS 4 reply codes.
pub(crate) const SOCKS4_GRANTED: u8 = 0x5A;
pub(crate) const SOCKS4_REJECTED: u8 = 0x5B;

/// The command a SOCKS command byte stands for (None: unknown).
pub(crate) fn command(byte: u8) -> Option<Command> {
    match byte {
        CMD_CONNECT => Some(Command::Connect),
        CMD_BIND => Some(Command::Bind),
        CMD_UDP_ASSOCIATE => Some(Command::UdpAssociate),
        CMD_RESOLVE => Some(Command::Resolve),
        CMD_RESOLVE_PTR => Some(Command::ResolvePtr),
        _ => None,
    }
}

/// A requested address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A host name, as the bytes sent.
    Name(Vec<u8>),
}

impl Addr {
    /// The host as text bytes (what canaries are searched in).
    pub(crate) fn host_bytes(&self) -> Vec<u8> {
        match self {
            Addr::V4(a) => a.to_string().into_bytes(),
            Addr::V6(a) => a.to_string().into_bytes(),
            Addr::Name(n) => n.clone(),
        }
    }

    /// `host:port`, `a.b.c.d:port` or `[v6]:port`.
    pub(crate) fn destination(&self, port: u16) -> String {
        match self {
            Addr::V4(a) => format!("{a}:{port}"),
            Addr::V6(a) => format!("[{a}]:{port}"),
            Addr::Name(n) => format!("{}:{port}", text(n)),
        }
    }
}

/// A SOCKS 4 or 4a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Socks4Request {
    pub cmd: u8,
    pub port: u16,
    pub ip: Ipv4Addr,
    pub userid: Vec<u8>,
    /// The SOCKS 4a host name (when `ip` is 0.0.0.x, x != 0).
    pub host: Option<Vec<u8>>,
}

/// Parses a SOCKS 4/4a request: VN=4 CD DSTPORT(2) DSTIP(4) USERID NUL [HOST NUL].
/// `max_field` bounds the userid and the host name.
pub(crate) fn parse_socks4(buf: &[u8], max_field: usize) -> Step<Socks4Request> {
    if buf.is_empty() {
        return Step::Need;
    }
    if buf[0] != 4 {
        return Step::Bad(
            format!("not SOCKS 4: version byte {:#04x}", buf[0]),
            Some(Reply::Rejected),
        );
    }
    if buf.len() < 8 {
        return Step::Need;
    }
    let cmd = buf[1];
    let port = u16::from_be_bytes([buf[2], buf[3]]);
    let ip = Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]);
    let (userid, after) = match nul_field(&buf[8..], max_field, "SOCKS 4 userid") {
        Step::Done(n, field) => (field, 8 + n),
        Step::Need => return Step::Need,
        Step::Bad(why, _) => return Step::Bad(why, Some(Reply::Rejected)),
    };
    let octets = ip.octets();
    if octets[..3] == [0, 0, 0] && octets[3] != 0 {
        return match nul_field(&buf[after..], max_field, "SOCKS 4a host name") {
            Step::Done(n, host) => Step::Done(
                after + n,
                Socks4Request {
                    cmd,
                    port,
                    ip,
                    userid,
                    host: Some(host),
                },
            ),
            Step::Need => Step::Need,
            Step::Bad(why, _) => Step::Bad(why, Some(Reply::Rejected)),
        };
    }
    Step::Done(
        after,
        Socks4Request {
            cmd,
            port,
            ip,
            userid,
            host: None,
        },
    )
}

/// A NUL-terminated field of at most `max` bytes: the field and the bytes it took.
fn nul_field(buf: &[u8], max: usize, what: &str) -> Step<Vec<u8>> {
    let window = &buf[..buf.len().min(max + 1)];
    match window.iter().position(|&b| b == 0) {
        Some(n) => Step::Done(n + 1, buf[..n].to_vec()),
        None if buf.len() > max => Step::Bad(format!("{what} longer than {max} bytes"), None),
        None => Step::Need,
    }
}

/// Parses a SOCKS 5 method selection message: VER=5 NMETHODS METHODS.
pub(crate) fn parse_greeting(buf: &[u8]) -> Step<Vec<u8>> {
    if buf.is_empty() {
        return Step::Need;
    }
    if buf[0] != 5 {
        return Step::Bad(format!("not SOCKS 5: version byte {:#04x}", buf[0]), None);
    }
    if buf.len() < 2 {
        return Step::Need;
    }
    let n = buf[1] as usize;
    if buf.len() < 2 + n {
        return Step::Need;
    }
    Step::Done(2 + n, buf[2..2 + n].to_vec())
}

/// The method the stand-in selects, as Tor does: username/password when offered (so
/// that the credentials can isolate the stream), else no authentication.
pub(crate) fn select_method(methods: &[u8]) -> u8 {
    if methods.contains(&METHOD_USER_PASS) {
        METHOD_USER_PASS
    } else if methods.contains(&METHOD_NO_AUTH) {
        METHOD_NO_AUTH
    } else {
        METHOD_NONE_ACCEPTABLE
    }
}

/// Parses an RFC 1929 username/password request: VER=1 ULEN UNAME PLEN PASSWD.
pub(crate) fn parse_auth(buf: &[u8]) -> Step<(Vec<u8>, Vec<u8>)> {
    if buf.is_empty() {
        return Step::Need;
    }
    if buf[0] != 1 {
        return Step::Bad(
            format!(
                "SOCKS 5 username/password negotiation with version {:#04x}, not 0x01",
                buf[0]
            ),
            None,
        );
    }
    if buf.len() < 2 {
        return Step::Need;
    }
    let ulen = buf[1] as usize;
    if buf.len() < 2 + ulen + 1 {
        return Step::Need;
    }
    let plen = buf[2 + ulen] as usize;
    let end = 3 + ulen + plen;
    if buf.len() < end {
        return Step::Need;
    }
    Step::Done(
        end,
        (buf[2..2 + ulen].to_vec(), buf[3 + ulen..end].to_vec()),
    )
}

/// A SOCKS 5 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Socks5Request {
    pub cmd: u8,
    pub addr: Addr,
    pub port: u16,
}

/// Parses a SOCKS 5 request: VER=5 CMD RSV ATYP DST.ADDR DST.PORT.
pub(crate) fn parse_request(buf: &[u8]) -> Step<Socks5Request> {
    if buf.is_empty() {
        return Step::Need;
    }
    if buf[0] != 5 {
        return Step::Bad(
            format!("SOCKS 5 request with version byte {:#04x}", buf[0]),
            Some(Reply::GeneralFailure),
        );
    }
    if buf.len() < 4 {
        return Step::Need;
    }
    let cmd = buf[1];
    let (addr, end) = match buf[3] {
        1 => {
            if buf.len() < 10 {
                return Step::Need;
            }
            (Addr::V4(Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7])), 8)
        }
        3 => {
            if buf.len() < 5 {
                return Step::Need;
            }
            let n = buf[4] as usize;
            if buf.len() < 5 + n + 2 {
                return Step::Need;
            }
            (Addr::Name(buf[5..5 + n].to_vec()), 5 + n)
        }
        4 => {
            if buf.len() < 22 {
                return Step::Need;
            }
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&buf[4..20]);
            (Addr::V6(Ipv6Addr::from(octets)), 20)
        }
        other => {
            return Step::Bad(
                format!("SOCKS 5 request with unknown address type {other:#04x}"),
                Some(Reply::AddressTypeNotSupported),
            )
        }
    };
    let port = u16::from_be_bytes([buf[end], buf[end + 1]]);
    Step::Done(end + 2, Socks5Request { cmd, addr, port })
}

/// A SOCKS 5 reply: VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT=0.
pub(crate) fn socks5_reply(reply: Reply, bound: &Addr) -> Vec<u8> {
    let code = reply.socks5_code().unwrap_or(0x01);
    let mut out = vec![5, code, 0];
    match bound {
        Addr::V4(a) => {
            out.push(1);
            out.extend_from_slice(&a.octets());
        }
        Addr::V6(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Addr::Name(n) => {
            let n = &n[..n.len().min(255)];
            out.push(3);
            out.push(n.len() as u8);
            out.extend_from_slice(n);
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// A SOCKS 4 reply: VN=0 CD DSTPORT DSTIP.
pub(crate) fn socks4_reply(granted: bool, ip: Ipv4Addr) -> [u8; 8] {
    let o = ip.octets();
    let cd = if granted {
        SOCKS4_GRANTED
    } else {
        SOCKS4_REJECTED
    };
    [0, cd, 0, 0, o[0], o[1], o[2], o[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks4_and_4a() {
        let mut req = vec![4, 1, 0, 80, 93, 184, 216, 34];
        req.extend_from_slice(b"user\0");
        assert_eq!(parse_socks4(&req[..7], 255), Step::Need);
        assert_eq!(parse_socks4(&req[..11], 255), Step::Need);
        let Step::Done(n, r) = parse_socks4(&req, 255) else {
            panic!()
        };
        assert_eq!(n, req.len());
        assert_eq!(r.userid, b"user");
        assert_eq!(r.host, None);
        assert_eq!(r.ip, Ipv4Addr::new(93, 184, 216, 34));

        let mut req = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        req.extend_from_slice(b"example.com\0trailing");
        let Step::Done(n, r) = parse_socks4(&req, 255) else {
            panic!()
        };
        assert_eq!(&req[n..], b"trailing");
        assert_eq!(r.host.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(r.port, 443);
        assert!(r.userid.is_empty());

        let long = [&[4u8, 1, 0, 80, 1, 2, 3, 4][..], &[b'a'; 300]].concat();
        assert!(matches!(parse_socks4(&long, 255), Step::Bad(..)));
    }

    #[test]
    fn socks5_messages() {
        assert_eq!(parse_greeting(&[5]), Step::Need);
        assert_eq!(parse_greeting(&[5, 2, 0]), Step::Need);
        assert_eq!(parse_greeting(&[5, 2, 0, 2, 9]), Step::Done(4, vec![0, 2]));
        assert_eq!(select_method(&[0, 2]), METHOD_USER_PASS);
        assert_eq!(select_method(&[0]), METHOD_NO_AUTH);
        assert_eq!(select_method(&[1]), METHOD_NONE_ACCEPTABLE);
        assert_eq!(select_method(&[]), METHOD_NONE_ACCEPTABLE);

        let auth = [1, 2, b'u', b'1', 3, b'p', b'w', b'd'];
        assert_eq!(parse_auth(&auth[..7]), Step::Need);
        assert_eq!(
            parse_auth(&auth),
            Step::Done(8, (b"u1".to_vec(), b"pwd".to_vec()))
        );
        assert!(matches!(parse_auth(&[5, 0]), Step::Bad(..)));
        // Empty username and password (some clients send them).
        assert_eq!(parse_auth(&[1, 0, 0]), Step::Done(3, (vec![], vec![])));

        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.com");
        req.extend_from_slice(&[0, 80]);
        assert_eq!(parse_request(&req[..req.len() - 1]), Step::Need);
        let Step::Done(n, r) = parse_request(&req) else {
            panic!()
        };
        assert_eq!(n, req.len());
        assert_eq!(r.addr.destination(r.port), "example.com:80");

        let v6 = [
            &[5u8, 1, 0, 4][..],
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
            &[1, 187],
        ]
        .concat();
        let Step::Done(_, r) = parse_request(&v6) else {
            panic!()
        };
        assert_eq!(r.addr.destination(r.port), "[2001:db8::1]:443");
        let Step::Bad(_, reply) = parse_request(&[5, 1, 0, 9, 0, 0]) else {
            panic!()
        };
        assert_eq!(reply, Some(Reply::AddressTypeNotSupported));
    }

    #[test]
    fn replies() {
        assert_eq!(
            socks5_reply(Reply::HostUnreachable, &Addr::V4(Ipv4Addr::UNSPECIFIED)),
            [5, 4, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            socks5_reply(Reply::Succeeded, &Addr::Name(b"a.b".to_vec())),
            [5, 0, 0, 3, 3, b'a', b'.', b'b', 0, 0]
        );
        assert_eq!(
            socks4_reply(false, Ipv4Addr::UNSPECIFIED),
            [0, 0x5B, 0, 0, 0, 0, 0, 0]
        );
    }
}
