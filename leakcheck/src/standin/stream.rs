//! One record per stream the stand-in served: DESIGN.md's `streams` objects.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

pub use super::canary::escape;
use super::canary::{context, Canaries, CanaryHit, Form, Part};

/// The proxy protocol a client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// SOCKS 4 with an IPv4 address.
    Socks4,
    /// SOCKS 4a: SOCKS 4 with a host name.
    Socks4a,
    /// SOCKS 5 (RFC 1928).
    Socks5,
    /// HTTP `CONNECT` (only on endpoints configured for it).
    HttpConnect,
    /// Nothing the stand-in speaks (see [`Stream::error`]), or nothing at all: a client
    /// that connected and closed without sending a byte (a port probe).
    Unknown,
}

impl Protocol {
    /// The report's name: `socks4`, `socks4a`, `socks5`, `http-connect`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Socks4 => "socks4",
            Protocol::Socks4a => "socks4a",
            Protocol::Socks5 => "socks5",
            Protocol::HttpConnect => "http-connect",
            Protocol::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the client asked the proxy to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// Open a TCP stream (SOCKS CONNECT, HTTP CONNECT).
    Connect,
    /// Tor's RESOLVE (0xF0): a host name to an address.
    Resolve,
    /// Tor's RESOLVE_PTR (0xF1): an address to a host name.
    ResolvePtr,
    /// SOCKS BIND (Tor does not support it).
    Bind,
    /// SOCKS 5 UDP ASSOCIATE (Tor does not support it).
    UdpAssociate,
}

impl Command {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "connect",
            Command::Resolve => "resolve",
            Command::ResolvePtr => "resolve-ptr",
            Command::Bind => "bind",
            Command::UdpAssociate => "udp-associate",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the stand-in answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// SOCKS 5 0x00, SOCKS 4 0x5A, HTTP 200.
    Succeeded,
    /// SOCKS 5 0x01 (also a malformed request).
    GeneralFailure,
    /// SOCKS 5 0x02.
    NotAllowed,
    /// SOCKS 5 0x03.
    NetworkUnreachable,
    /// SOCKS 5 0x04: what Tor answers when it cannot reach the destination.
    HostUnreachable,
    /// SOCKS 5 0x05.
    ConnectionRefused,
    /// SOCKS 5 0x06.
    TtlExpired,
    /// SOCKS 5 0x07: BIND, UDP ASSOCIATE or an unknown command.
    CommandNotSupported,
    /// SOCKS 5 0x08.
    AddressTypeNotSupported,
    /// SOCKS 5 method selection 0xFF: the client offered neither no-auth nor
    /// username/password.
    NoAcceptableMethods,
    /// SOCKS 4 0x5B: request rejected or failed.
    Rejected,
    /// HTTP 400.
    BadRequest,
    /// HTTP 405: an HTTP method other than CONNECT on an HTTP CONNECT endpoint.
    MethodNotAllowed,
    /// HTTP 501: an HTTP request on a SOCKS-only endpoint (Tor's "not an HTTP proxy").
    NotAnHttpProxy,
    /// HTTP 502: the destination could not be reached (refuse mode).
    BadGateway,
}

impl Reply {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reply::Succeeded => "succeeded",
            Reply::GeneralFailure => "general-failure",
            Reply::NotAllowed => "not-allowed",
            Reply::NetworkUnreachable => "network-unreachable",
            Reply::HostUnreachable => "host-unreachable",
            Reply::ConnectionRefused => "connection-refused",
            Reply::TtlExpired => "ttl-expired",
            Reply::CommandNotSupported => "command-not-supported",
            Reply::AddressTypeNotSupported => "address-type-not-supported",
            Reply::NoAcceptableMethods => "no-acceptable-methods",
            Reply::Rejected => "rejected",
            Reply::BadRequest => "bad-request",
            Reply::MethodNotAllowed => "method-not-allowed",
            Reply::NotAnHttpProxy => "not-an-http-proxy",
            Reply::BadGateway => "bad-gateway",
        }
    }

    /// The SOCKS 5 reply code (REP field), where the reply is one.
    pub fn socks5_code(self) -> Option<u8> {
        Some(match self {
            Reply::Succeeded => 0x00,
            Reply::GeneralFailure => 0x01,
            Reply::NotAllowed => 0x02,
            Reply::NetworkUnreachable => 0x03,
            Reply::HostUnreachable => 0x04,
            Reply::ConnectionRefused => 0x05,
            Reply::TtlExpired => 0x06,
            Reply::CommandNotSupported => 0x07,
            Reply::AddressTypeNotSupported => 0x08,
            _ => return None,
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The bytes of a stream as they were received, for canary search: never in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Raw {
    /// The requested host (a name as sent, or an address's text form); empty when the
    /// request never got that far.
    pub host: Vec<u8>,
    /// The username (SOCKS 5 RFC 1929 UNAME, SOCKS 4 USERID, HTTP Basic user).
    pub username: Option<Vec<u8>>,
    /// The password (SOCKS 5 PASSWD, HTTP Basic password).
    pub password: Option<Vec<u8>>,
    /// An HTTP CONNECT request's head (request line and headers).
    pub header: Vec<u8>,
    /// What the client sent after the handshake (at most `Limits::payload_bytes`); for a
    /// stream that failed to parse, everything it sent.
    pub payload: Vec<u8>,
    /// True when the client sent more than was kept (the per-stream cap, or the total
    /// budget of kept payloads was reached).
    pub truncated: bool,
}

/// One stream the stand-in served.
///
/// In JSON, the fields of DESIGN.md's `streams` objects (`proxy`, `protocol`,
/// `username`, `password`, `command`, `destination`, `sent_bytes`, `reply`) plus a few
/// additions (`error`, `isolation`, `client`, `pid`), each absent when empty. Raw bytes,
/// payload and canary hits are not serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// Sequence number within one stand-in (order of acceptance); canary hits and
    /// findings name streams by it.
    #[serde(skip)]
    pub id: u64,
    /// The endpoint the client reached: `127.0.0.1:9050`, `[::1]:9050`, `unix:/path`.
    pub proxy: String,
    /// The protocol the client spoke.
    pub protocol: Protocol,
    /// The username sent (SOCKS 4 userid included); absent when none was sent. Bytes that
    /// are not UTF-8 are written `\xNN`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    /// The password sent; absent when none was sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub password: Option<String>,
    /// What was asked; absent when the request could not be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<Command>,
    /// `host:port`, `a.b.c.d:port` or `[v6]:port`, as the client asked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination: Option<String>,
    /// Payload bytes received after the handshake.
    pub sent_bytes: u64,
    /// What the stand-in answered; absent when it never answered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reply: Option<Reply>,
    /// Why what the client sent is not a protocol the stand-in speaks (malformed,
    /// truncated, timed out mid-handshake, another protocol): a `proxy-protocol-error`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// HTTP CONNECT's `X-Tor-Stream-Isolation` header, which Tor's HTTP tunnel port uses
    /// for isolation like SOCKS credentials.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub isolation: Option<String>,
    /// The client's address (`127.0.0.1:PORT`: the local address of the client's socket);
    /// absent for unix sockets.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<String>,
    /// The client's process, where known (`SO_PEERCRED` on unix sockets, or the
    /// `Config::identify` hook).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// The client's socket address, parsed.
    #[serde(skip)]
    pub peer: Option<SocketAddr>,
    /// The bytes as received.
    #[serde(skip)]
    pub raw: Raw,
    /// Canaries found in this stream (filled by the stand-in when it has
    /// `Config::canaries`, or by [`Stream::scan`]).
    #[serde(skip)]
    pub canary_hits: Vec<CanaryHit>,
}

impl Stream {
    /// An empty record for a stream that reached `proxy`.
    pub fn new(id: u64, proxy: impl Into<String>) -> Stream {
        Stream {
            id,
            proxy: proxy.into(),
            protocol: Protocol::Unknown,
            username: None,
            password: None,
            command: None,
            destination: None,
            sent_bytes: 0,
            reply: None,
            error: None,
            isolation: None,
            client: None,
            pid: None,
            peer: None,
            raw: Raw::default(),
            canary_hits: Vec::new(),
        }
    }

    /// True for a connection that closed (or stayed silent) without sending a byte: a
    /// port probe ("is the proxy up?"), not a proxied stream; the report may omit it.
    pub fn is_probe(&self) -> bool {
        self.protocol == Protocol::Unknown
            && self.command.is_none()
            && self.error.is_none()
            && self.raw.payload.is_empty()
    }

    /// The payload kept for canary search.
    pub fn payload(&self) -> &[u8] {
        &self.raw.payload
    }

    /// True when the stream carried SOCKS or HTTP credentials (or Tor's HTTP isolation
    /// header) that are not all empty.
    pub fn has_credentials(&self) -> bool {
        let set = |v: &Option<Vec<u8>>| v.as_ref().is_some_and(|v| !v.is_empty());
        set(&self.raw.username) || set(&self.raw.password) || self.isolation.is_some()
    }

    /// Records the username bytes (and their text form).
    pub(crate) fn set_username(&mut self, bytes: &[u8]) {
        self.username = Some(text(bytes));
        self.raw.username = Some(bytes.to_vec());
    }

    /// Records the password bytes (and their text form).
    pub(crate) fn set_password(&mut self, bytes: &[u8]) {
        self.password = Some(text(bytes));
        self.raw.password = Some(bytes.to_vec());
    }
}

/// Bytes as text: UTF-8 as is, other bytes as `\xNN` (and a backslash as `\\` then, so
/// that the form cannot be confused).
pub fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

impl Stream {
    /// The stream in one line, for a reader: `socks5 connect to example.com:80 on
    /// 127.0.0.1:9050, username "u", 38 bytes sent, reply succeeded`.
    pub fn summary(&self) -> String {
        let mut text = self.what();
        match &self.username {
            Some(user) => text.push_str(&format!(", username {user:?}")),
            None => text.push_str(", no credentials"),
        }
        text.push_str(&format!(", {} bytes sent", self.sent_bytes));
        if let Some(reply) = &self.reply {
            text.push_str(&format!(", reply {}", reply.as_str()));
        }
        text
    }

    /// What the stream asked for: `socks5 connect to example.com:80 on 127.0.0.1:9050`.
    pub fn what(&self) -> String {
        let command = self.command.map_or("stream", |c| c.as_str());
        match &self.destination {
            Some(d) => format!("{} {command} to {d} on {}", self.protocol, self.proxy),
            None => format!("{} {command} on {}", self.protocol, self.proxy),
        }
    }

    /// The canaries in this stream's parts: the first hit of each canary in each form and
    /// part.
    pub fn scan(&self, canaries: &Canaries) -> Vec<CanaryHit> {
        let mut hits = Vec::new();
        if canaries.is_empty() {
            return hits;
        }
        let raw = &self.raw;
        let parts: [(Part, Option<&[u8]>); 6] = [
            (Part::Destination, Some(&raw.host)),
            (Part::Username, raw.username.as_deref()),
            (Part::Password, raw.password.as_deref()),
            (
                Part::Isolation,
                self.isolation.as_deref().map(str::as_bytes),
            ),
            (Part::Header, Some(&raw.header)),
            (Part::Payload, Some(&raw.payload)),
        ];
        for (part, data) in parts {
            let Some(data) = data else { continue };
            let mut seen: Vec<(String, Form)> = Vec::new();
            for m in canaries.find(data) {
                if seen.iter().any(|(c, f)| *c == m.canary && *f == m.form) {
                    continue;
                }
                seen.push((m.canary.clone(), m.form));
                hits.push(CanaryHit {
                    stream: self.id,
                    part,
                    context: context(data, m.offset, m.len),
                    canary: m.canary,
                    form: m.form,
                    offset: m.offset,
                });
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_design_fields_and_skips_the_raw_bytes() {
        let mut s = Stream::new(7, "127.0.0.1:9050");
        s.protocol = Protocol::Socks5;
        s.set_username(b"<torS0X>0");
        s.set_password(b"id-A");
        s.command = Some(Command::Connect);
        s.destination = Some("example.com:80".into());
        s.sent_bytes = 38;
        s.reply = Some(Reply::Succeeded);
        s.raw.payload = b"GET / HTTP/1.1\r\n".to_vec();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"proxy": "127.0.0.1:9050", "protocol": "socks5",
                "username": "<torS0X>0", "password": "id-A", "command": "connect",
                "destination": "example.com:80", "sent_bytes": 38, "reply": "succeeded"})
        );
        let back: Stream = serde_json::from_value(json).unwrap();
        assert_eq!(back.destination, s.destination);
        assert!(back.raw.payload.is_empty());
    }

    #[test]
    fn kebab_names() {
        let names: Vec<String> = [Command::ResolvePtr, Command::UdpAssociate]
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        assert_eq!(names, ["\"resolve-ptr\"", "\"udp-associate\""]);
        assert_eq!(
            serde_json::to_string(&Protocol::HttpConnect).unwrap(),
            "\"http-connect\""
        );
        assert_eq!(
            serde_json::to_string(&Reply::HostUnreachable).unwrap(),
            "\"host-unreachable\""
        );
        assert_eq!(Reply::HostUnreachable.as_str(), "host-unreachable");
    }

    #[test]
    fn text_escapes_only_what_is_not_utf8() {
        assert_eq!(text(b"plain"), "plain");
        assert_eq!(text(b"a\\b"), "a\\b");
        assert_eq!(text(b"a\xffb\\"), "a\\xffb\\\\");
        assert_eq!(escape(b"EHLO x\r\n\x00\xcb"), "EHLO x\\r\\n\\x00\\xcb");
    }
}
