//! Canaries: the host's identity, planted where a program can learn it (the host name
//! of the run's UTS namespace, addresses on its loopback interface), and searched for in
//! everything a program sends through the proxy.
//!
//! Each canary is searched in the forms a program could send it in:
//!
//! | canary | forms |
//! |---|---|
//! | host name | the name, case-insensitively (a name shorter than 16 characters only as a whole name: `web1` does not match `web10`); DNS wire labels when it has dots |
//! | IPv4 | dotted (not inside a longer number: `203.0.113.5` does not match `203.0.113.50` or `1.203.0.113.5`); hex in network and in host (little-endian) order (`cb007105`, `057100cb`, any case, as a whole hex token: `0xcb007105` matches); decimal (`3405803781`, a whole number); the 4 network-order bytes; the 16 bytes of `::ffff:a.b.c.d`; `5.113.0.203.in-addr.arpa` (text and DNS wire) |
//! | IPv6 | canonical (RFC 5952), uncompressed and fully expanded text (any case, not inside a longer address); 32 hex digits; the 16 bytes; the `ip6.arpa` nibble name (text and DNS wire) |
//!
//! **False hits.** Every text form is at least 8 characters long and bounded by
//! characters that cannot continue it, so random or realistic data does not contain one
//! by chance (the shortest, an 8-digit hex token, needs 8 hex digits between two non-hex
//! bytes: about 2^-50 per offset in random bytes). The 16-byte forms are about 2^-128.
//! The one form short enough to occur by chance is an IPv4 address's 4 raw bytes
//! (2^-32 per offset of uniformly random data: one chance hit per 4 GiB). Three things
//! keep it negligible:
//! - it is not searched inside TLS records (a payload that starts with TLS record
//!   headers: the ClientHello's random, session id and key shares, and all ciphertext,
//!   which cannot carry a plaintext address anyway). TLS is nearly all the random-looking
//!   data that goes through a Tor client;
//! - the recommended canary [`CANARY_IPV4`] (`203.0.113.167` = `cb 00 71 a7`) is a byte
//!   string text cannot contain (`cb 00` is invalid UTF-8, no byte is printable ASCII but
//!   `q`, and `a7` is not a letter in Latin-1 either);
//! - and a payload is at most 64 KiB, so that a stream of random non-TLS bytes has at most
//!   a 1.5e-5 chance of a false 4-byte hit.
//!
//! Measured (`measure_false_hit_rate`, ignored by default): no hit of any form in 1 GiB
//! of random bytes; the 3-byte prefix of the 4-byte form hit at 5.3e-8 per offset
//! (2^-24 = 6.0e-8 expected), i.e. about 2e-10 per offset for the 4 bytes. 2,000
//! ClientHello-like TLS records of 1-4 KB followed by 4 KB of application data, and
//! 2,000 HTTP requests full of numbers, hex and neighbouring addresses
//! (`203.0.113.16`, `198.51.100.x`): no hit.
//!
//! Real host addresses (common byte patterns like `0a 00 00 02`) should be added with
//! [`Canaries::add_address_text_only`], which does not search the 4 raw bytes.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The recommended canary host name (for `sethostname` in the run's UTS namespace). It
/// has a domain (RFC 2606's `.example`) as a host's fully qualified name does, so that a
/// client that sends its FQDN (Python's smtplib: `socket.getfqdn()`, when it holds a dot)
/// sends it; its first label alone is found as well (`hostname -s`).
pub const CANARY_HOST_NAME: &str = "leakcheck-canary-q7x3v9.example";
/// The first label of [`CANARY_HOST_NAME`]: the short host name.
pub const CANARY_SHORT_NAME: &str = "leakcheck-canary-q7x3v9";
/// The recommended IPv4 canary (TEST-NET-3, RFC 5737), to put on `lo`.
pub const CANARY_IPV4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 167);
/// The recommended IPv6 canary (documentation prefix, RFC 3849), to put on `lo`.
pub const CANARY_IPV6: Ipv6Addr = Ipv6Addr::new(
    0x2001, 0x0db8, 0x5c4e, 0x91a7, 0x3f0d, 0xb26e, 0x8a15, 0xc943,
);

/// The form in which a canary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// The host name as text.
    HostName,
    /// The host name as DNS wire labels.
    DnsWire,
    /// `a.b.c.d`.
    Dotted,
    /// 8 (IPv4) or 32 (IPv6) hex digits in network order.
    Hex,
    /// 8 hex digits of the address read as a little-endian number (`/proc/net/tcp`).
    HexLe,
    /// The IPv4 address as one decimal number.
    Decimal,
    /// The raw network-order bytes (4 or 16).
    Bytes,
    /// The 16 bytes of the IPv4-mapped IPv6 address.
    MappedBytes,
    /// `d.c.b.a.in-addr.arpa`.
    ReverseDns,
    /// `d.c.b.a.in-addr.arpa` as DNS wire labels.
    ReverseDnsWire,
    /// RFC 5952 text (`2001:db8::1`).
    Canonical,
    /// Text without `::` nor leading zeros (`2001:db8:0:0:0:0:0:1`).
    Uncompressed,
    /// Text with all 32 digits (`2001:0db8:0000:...`).
    Expanded,
    /// The `ip6.arpa` nibble name.
    Nibble,
    /// The `ip6.arpa` nibble name as DNS wire labels.
    NibbleWire,
}

impl Form {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::HostName => "host-name",
            Form::DnsWire => "dns-wire",
            Form::Dotted => "dotted",
            Form::Hex => "hex",
            Form::HexLe => "hex-le",
            Form::Decimal => "decimal",
            Form::Bytes => "bytes",
            Form::MappedBytes => "mapped-bytes",
            Form::ReverseDns => "reverse-dns",
            Form::ReverseDnsWire => "reverse-dns-wire",
            Form::Canonical => "canonical",
            Form::Uncompressed => "uncompressed",
            Form::Expanded => "expanded",
            Form::Nibble => "nibble",
            Form::NibbleWire => "nibble-wire",
        }
    }
}

/// Which part of a stream a canary was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// The requested host name (or address).
    Destination,
    /// The SOCKS username / userid, or the HTTP Basic user.
    Username,
    /// The SOCKS or HTTP Basic password.
    Password,
    /// HTTP CONNECT's `X-Tor-Stream-Isolation` header.
    Isolation,
    /// HTTP CONNECT's request head.
    Header,
    /// What was sent after the handshake (or, for a stream that was not a protocol the
    /// stand-in speaks, everything sent).
    Payload,
}

impl Part {
    /// The report's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Destination => "destination",
            Part::Username => "username",
            Part::Password => "password",
            Part::Isolation => "isolation",
            Part::Header => "header",
            Part::Payload => "payload",
        }
    }
}

/// A canary found in some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The canary as planted (`leakcheck-canary-q7x3v9.example`, `203.0.113.167`, ...).
    pub canary: String,
    /// The form it was found in.
    pub form: Form,
    /// Byte offset in the data searched.
    pub offset: usize,
    /// Length of the match.
    pub len: usize,
}

/// A canary found in a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryHit {
    /// The stream's [`Stream::id`].
    pub stream: u64,
    /// Where in the stream.
    pub part: Part,
    /// The canary as planted.
    pub canary: String,
    /// The form it was found in.
    pub form: Form,
    /// Byte offset in that part.
    pub offset: usize,
    /// About 60 bytes around it, escaped (`\r`, `\n`, `\xNN`).
    pub context: String,
}

/// How a pattern must be delimited so that it is not part of a longer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// Anything may follow or precede.
    Any,
    /// No decimal digit.
    Digit,
    /// No digit, nor `.` and a digit (`1.203.0.113.5`, `203.0.113.5.7`).
    Dotted,
    /// No hex digit.
    Hex,
    /// No letter, digit, `-` or `_`.
    Label,
    /// No hex digit nor `:`.
    V6,
}

#[derive(Debug, Clone)]
struct Pattern {
    bytes: Vec<u8>,
    fold: bool,
    before: Edge,
    after: Edge,
    canary: usize,
    form: Form,
    /// Short enough to occur by chance in random bytes: not searched in TLS records.
    chance: bool,
}

/// Host names at least this long are searched anywhere, shorter ones as whole names.
const DISTINCTIVE: usize = 16;

/// At most this many matches are returned for one search.
const MAX_MATCHES: usize = 256;

/// A set of canaries and the search for them.
#[derive(Debug, Clone)]
pub struct Canaries {
    names: Vec<String>,
    addresses: Vec<IpAddr>,
    canaries: Vec<String>,
    patterns: Vec<Pattern>,
    /// Pattern indices by first byte.
    first: Vec<Vec<u16>>,
}

impl Default for Canaries {
    fn default() -> Canaries {
        Canaries {
            names: Vec::new(),
            addresses: Vec::new(),
            canaries: Vec::new(),
            patterns: Vec::new(),
            first: vec![Vec::new(); 256],
        }
    }
}

impl Canaries {
    /// The canaries of a host name and addresses (each address in all its forms).
    pub fn new(host_name: &str, addresses: &[IpAddr]) -> Canaries {
        let mut canaries = Canaries::default();
        if !host_name.is_empty() {
            canaries.add_host_name(host_name);
        }
        for &addr in addresses {
            canaries.add_address(addr);
        }
        canaries
    }

    /// [`CANARY_HOST_NAME`], [`CANARY_IPV4`] and [`CANARY_IPV6`].
    pub fn recommended() -> Canaries {
        Canaries::new(
            CANARY_HOST_NAME,
            &[IpAddr::V4(CANARY_IPV4), IpAddr::V6(CANARY_IPV6)],
        )
    }

    /// The host names searched for.
    pub fn host_names(&self) -> &[String] {
        &self.names
    }

    /// The addresses searched for.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addresses
    }

    /// True when there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Adds a host name (e.g. the real host's name, when it is distinctive: a short or
    /// common name like `localhost` or `ubuntu` would match innocent text).
    pub fn add_host_name(&mut self, name: &str) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || self.names.contains(&name) {
            return;
        }
        let c = self.canary(&name);
        self.names.push(name.clone());
        // A long, distinctive name is found anywhere (`user-NAME` is a leak too); a short
        // one only as a whole name, so that `web1` does not match `web10`.
        let edge = if name.len() >= DISTINCTIVE {
            Edge::Any
        } else {
            Edge::Label
        };
        self.push(c, Form::HostName, name.as_bytes(), true, edge, edge);
        if let Some((short, _)) = name.split_once('.') {
            self.push(c, Form::DnsWire, &wire(&name), true, Edge::Any, Edge::Any);
            // The short name alone (`hostname -s`, a greeting without the domain), when it
            // is distinctive on its own; inside the whole name the longer match covers it.
            if short.len() >= DISTINCTIVE {
                self.push(
                    c,
                    Form::HostName,
                    short.as_bytes(),
                    true,
                    Edge::Any,
                    Edge::Any,
                );
            }
        }
    }

    /// Adds an address in all its forms.
    pub fn add_address(&mut self, addr: IpAddr) {
        self.add_addr(addr, true);
    }

    /// Adds an address without its 4 raw bytes (an IPv4 address's only form short
    /// enough to occur by chance): for real addresses with common byte patterns.
    pub fn add_address_text_only(&mut self, addr: IpAddr) {
        self.add_addr(addr, false);
    }

    fn add_addr(&mut self, addr: IpAddr, raw: bool) {
        let addr = addr.to_canonical();
        if self.addresses.contains(&addr) {
            return;
        }
        self.addresses.push(addr);
        let c = self.canary(&addr.to_string());
        match addr {
            IpAddr::V4(a) => self.add_v4(c, a, raw),
            IpAddr::V6(a) => self.add_v6(c, a),
        }
    }

    fn add_v4(&mut self, c: usize, a: Ipv4Addr, raw: bool) {
        let n = u32::from(a);
        let o = a.octets();
        self.push(
            c,
            Form::Dotted,
            a.to_string().as_bytes(),
            false,
            Edge::Dotted,
            Edge::Dotted,
        );
        let hex = format!("{n:08x}");
        self.push(c, Form::Hex, hex.as_bytes(), true, Edge::Hex, Edge::Hex);
        let le = format!("{:08x}", n.swap_bytes());
        self.push(c, Form::HexLe, le.as_bytes(), true, Edge::Hex, Edge::Hex);
        if n >= 10_000_000 {
            let dec = n.to_string();
            self.push(
                c,
                Form::Decimal,
                dec.as_bytes(),
                false,
                Edge::Digit,
                Edge::Digit,
            );
        }
        if raw {
            self.patterns.push(Pattern {
                bytes: o.to_vec(),
                fold: false,
                before: Edge::Any,
                after: Edge::Any,
                canary: c,
                form: Form::Bytes,
                chance: true,
            });
            self.index_last();
        }
        let mapped = a.to_ipv6_mapped().octets();
        self.push(c, Form::MappedBytes, &mapped, false, Edge::Any, Edge::Any);
        let rev = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
        self.push(
            c,
            Form::ReverseDns,
            rev.as_bytes(),
            true,
            Edge::Dotted,
            Edge::Label,
        );
        self.push(
            c,
            Form::ReverseDnsWire,
            &wire(&rev),
            true,
            Edge::Any,
            Edge::Any,
        );
    }

    fn add_v6(&mut self, c: usize, a: Ipv6Addr) {
        let seg = a.segments();
        let canonical = a.to_string();
        let uncompressed = seg
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":");
        let expanded = seg
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":");
        let hex: String = a.octets().iter().map(|b| format!("{b:02x}")).collect();
        for (form, text) in [
            (Form::Canonical, &canonical),
            (Form::Uncompressed, &uncompressed),
            (Form::Expanded, &expanded),
        ] {
            self.push(c, form, text.as_bytes(), true, Edge::V6, Edge::V6);
        }
        self.push(c, Form::Hex, hex.as_bytes(), true, Edge::Hex, Edge::Hex);
        self.push(c, Form::Bytes, &a.octets(), false, Edge::Any, Edge::Any);
        let mut nibble: String = hex.chars().rev().flat_map(|ch| [ch, '.']).collect();
        nibble.push_str("ip6.arpa");
        self.push(
            c,
            Form::Nibble,
            nibble.as_bytes(),
            true,
            Edge::Label,
            Edge::Label,
        );
        self.push(
            c,
            Form::NibbleWire,
            &wire(&nibble),
            true,
            Edge::Any,
            Edge::Any,
        );
    }

    fn canary(&mut self, text: &str) -> usize {
        self.canaries.push(text.to_string());
        self.canaries.len() - 1
    }

    fn push(&mut self, canary: usize, form: Form, bytes: &[u8], fold: bool, b: Edge, a: Edge) {
        let bytes = if fold {
            bytes.to_ascii_lowercase()
        } else {
            bytes.to_vec()
        };
        // Forms that coincide (an address with no zero group has the same canonical and
        // uncompressed text) are searched once.
        if self
            .patterns
            .iter()
            .any(|p| p.canary == canary && p.bytes == bytes && p.fold == fold)
        {
            return;
        }
        self.patterns.push(Pattern {
            bytes,
            fold,
            before: b,
            after: a,
            canary,
            form,
            chance: false,
        });
        self.index_last();
    }

    fn index_last(&mut self) {
        let i = self.patterns.len() - 1;
        let p = &self.patterns[i];
        let b = p.bytes[0];
        let mut firsts = vec![b];
        if p.fold && b.is_ascii_alphabetic() {
            firsts.push(b.to_ascii_uppercase());
        }
        for f in firsts {
            self.first[f as usize].push(i as u16);
        }
    }

    /// Every canary in `data` (at most 256 matches), in order of offset.
    pub fn find(&self, data: &[u8]) -> Vec<Match> {
        let mut out: Vec<(usize, Match)> = Vec::new();
        if self.patterns.is_empty() {
            return Vec::new();
        }
        let tls = tls_bodies(data);
        for i in 0..data.len() {
            for &p in &self.first[data[i] as usize] {
                let p = &self.patterns[p as usize];
                let end = i + p.bytes.len();
                if end > data.len() {
                    continue;
                }
                let candidate = &data[i..end];
                let equal = if p.fold {
                    candidate.eq_ignore_ascii_case(&p.bytes)
                } else {
                    candidate == p.bytes.as_slice()
                };
                if !equal || !before_ok(p.before, data, i) || !after_ok(p.after, data, end) {
                    continue;
                }
                if p.chance && tls.iter().any(|&(s, e)| i < e && end > s) {
                    continue;
                }
                out.push((
                    p.canary,
                    Match {
                        canary: self.canaries[p.canary].clone(),
                        form: p.form,
                        offset: i,
                        len: p.bytes.len(),
                    },
                ));
                if out.len() >= MAX_MATCHES {
                    break;
                }
            }
            if out.len() >= MAX_MATCHES {
                break;
            }
        }
        // A longer match of the same canary covers a shorter one inside it (the 4 bytes
        // inside the 16 of `::ffff:a.b.c.d`, the dotted address inside its text).
        let covered = |(c, m): &(usize, Match)| {
            out.iter().any(|(c2, m2)| {
                c2 == c
                    && m2.len > m.len
                    && m2.offset <= m.offset
                    && m2.offset + m2.len >= m.offset + m.len
            })
        };
        let keep: Vec<bool> = out.iter().map(|x| !covered(x)).collect();
        out.into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((_, m), _)| m)
            .collect()
    }
}

/// About 60 bytes around a match, escaped.
pub(super) fn context(data: &[u8], offset: usize, len: usize) -> String {
    let pad = 60usize.saturating_sub(len) / 2;
    let start = offset.saturating_sub(pad);
    let end = (offset + len + pad).min(data.len());
    escape(&data[start..end])
}

/// A dotted name as DNS wire labels (without the root label).
fn wire(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 1);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let label = &label.as_bytes()[..label.len().min(63)];
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out
}

fn blocks(edge: Edge, b: u8) -> bool {
    match edge {
        Edge::Any => false,
        Edge::Digit | Edge::Dotted => b.is_ascii_digit(),
        Edge::Hex => b.is_ascii_hexdigit(),
        Edge::Label => b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
        Edge::V6 => b.is_ascii_hexdigit() || b == b':',
    }
}

fn before_ok(edge: Edge, data: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let p = data[i - 1];
    if blocks(edge, p) {
        return false;
    }
    !(edge == Edge::Dotted && p == b'.' && i >= 2 && data[i - 2].is_ascii_digit())
}

fn after_ok(edge: Edge, data: &[u8], end: usize) -> bool {
    let Some(&n) = data.get(end) else {
        return true;
    };
    if blocks(edge, n) {
        return false;
    }
    !(edge == Edge::Dotted && n == b'.' && data.get(end + 1).is_some_and(u8::is_ascii_digit))
}

/// The bodies of the TLS records a payload starts with (content types 20-24, version
/// 3.x): random-looking bytes in which no raw 4-byte address is searched.
fn tls_bodies(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 5 <= data.len() {
        let (kind, major, minor) = (data[i], data[i + 1], data[i + 2]);
        if !(0x14..=0x18).contains(&kind) || major != 3 || minor > 4 {
            break;
        }
        let len = u16::from_be_bytes([data[i + 3], data[i + 4]]) as usize;
        let start = i + 5;
        out.push((start, (start + len).min(data.len())));
        i = start + len;
    }
    out
}

/// Bytes escaped for display on one line: printable ASCII as is, `\r`, `\n`, `\t`, `\\`
/// and `\xNN` otherwise.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::standin::stream::Stream;

    /// A small deterministic generator (xorshift64*), so that the random tests repeat.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub(crate) fn fill(&mut self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let v = self.next().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn forms(c: &Canaries, data: &[u8]) -> Vec<(String, Form)> {
        c.find(data)
            .into_iter()
            .map(|m| (m.canary, m.form))
            .collect()
    }

    fn v4() -> String {
        CANARY_IPV4.to_string()
    }

    #[test]
    fn host_name_case_insensitive_and_whole() {
        let c = Canaries::recommended();
        let name = CANARY_HOST_NAME.to_string();
        assert_eq!(
            forms(&c, b"EHLO LeakCheck-Canary-Q7X3V9\r\n"),
            [(name.clone(), Form::HostName)]
        );
        assert_eq!(
            forms(&c, b"Host: leakcheck-canary-q7x3v9.local"),
            [(name.clone(), Form::HostName)]
        );
        // The whole name is one match, not two (the short name inside it is covered).
        assert_eq!(
            forms(&c, b"EHLO leakcheck-canary-q7x3v9.EXAMPLE\r\n"),
            [(name.clone(), Form::HostName)]
        );
        assert_eq!(
            forms(&c, b"\x17leakcheck-canary-q7x3v9\x07example\x00"),
            [(name.clone(), Form::DnsWire)]
        );
        assert_eq!(forms(&c, b"user-leakcheck-canary-q7x3v9").len(), 1);
        assert!(forms(&c, b"leakcheck-canary-q7x3v").is_empty());
        let short = Canaries::new("web1", &[]);
        assert_eq!(forms(&short, b"EHLO WEB1.corp\r\n").len(), 1);
        for innocent in [&b"web10"[..], b"myweb1", b"web1-a", b"x_web1"] {
            assert!(forms(&short, innocent).is_empty(), "{innocent:?}");
        }
        let mut c = Canaries::new("host.example.org", &[]);
        c.add_host_name("Other.Example");
        assert_eq!(
            forms(&c, b"\x04host\x07example\x03org\x00"),
            [("host.example.org".to_string(), Form::DnsWire)]
        );
        assert_eq!(c.host_names(), ["host.example.org", "other.example"]);
    }

    #[test]
    fn ipv4_text_forms_and_boundaries() {
        let c = Canaries::recommended();
        let a = v4();
        assert_eq!(
            forms(&c, b"X-Real-IP: 203.0.113.167\r\n"),
            [(a.clone(), Form::Dotted)]
        );
        for innocent in [
            &b"203.0.113.1670"[..],
            b"1203.0.113.167",
            b"203.0.113.16",
            b"1.203.0.113.167",
            b"203.0.113.167.4",
            b"version 10.203.0.113.1678",
        ] {
            assert!(forms(&c, innocent).is_empty(), "{innocent:?}");
        }
        assert_eq!(forms(&c, b"ip=203.0.113.167.").len(), 1);
        assert_eq!(forms(&c, b"addr 0xCB0071A7;"), [(a.clone(), Form::Hex)]);
        assert_eq!(forms(&c, b"a77100cb:0050"), [(a.clone(), Form::HexLe)]);
        assert!(forms(&c, b"0cb0071a7").is_empty());
        assert!(forms(&c, b"cb0071a70").is_empty());
        assert_eq!(forms(&c, b"n=3405803943&"), [(a.clone(), Form::Decimal)]);
        assert!(forms(&c, b"34058039431").is_empty());
        assert_eq!(
            forms(&c, b"PTR 167.113.0.203.IN-ADDR.ARPA."),
            [(a.clone(), Form::ReverseDns)]
        );
        assert_eq!(
            forms(&c, b"\x03167\x03113\x010\x03203\x07in-addr\x04arpa\x00"),
            [(a.clone(), Form::ReverseDnsWire)]
        );
    }

    #[test]
    fn ipv4_binary_forms() {
        let c = Canaries::recommended();
        let a = v4();
        assert_eq!(
            forms(&c, b"\x00\x01\xcb\x00\x71\xa7\x1f\x90"),
            [(a.clone(), Form::Bytes)]
        );
        let mapped = [&[0u8; 10][..], &[0xff, 0xff, 0xcb, 0x00, 0x71, 0xa7]].concat();
        assert_eq!(forms(&c, &mapped), [(a.clone(), Form::MappedBytes)]);
        // Inside a TLS record the 4 bytes are not searched; the text forms are.
        let mut tls = vec![0x16, 0x03, 0x01, 0x00, 0x40];
        tls.extend_from_slice(&[0x11; 20]);
        tls.extend_from_slice(&[0xcb, 0x00, 0x71, 0xa7]);
        tls.extend_from_slice(b"203.0.113.167");
        tls.resize(5 + 0x40, 0x22);
        assert_eq!(forms(&c, &tls), [(a.clone(), Form::Dotted)]);
        // After the TLS records end, they are searched again.
        tls.extend_from_slice(b"\x00\xcb\x00\x71\xa7");
        assert_eq!(forms(&c, &tls).len(), 2);
        // Text-only addresses have no 4-byte form.
        let mut t = Canaries::default();
        t.add_address_text_only("10.0.0.2".parse().unwrap());
        assert!(forms(&t, b"\x0a\x00\x00\x02").is_empty());
        assert_eq!(forms(&t, b"from 10.0.0.2 ").len(), 1);
    }

    #[test]
    fn ipv6_forms() {
        let c = Canaries::recommended();
        let a = CANARY_IPV6.to_string();
        assert_eq!(a, "2001:db8:5c4e:91a7:3f0d:b26e:8a15:c943");
        assert_eq!(
            forms(&c, b"[2001:DB8:5C4E:91A7:3F0D:B26E:8A15:C943]:80"),
            [(a.clone(), Form::Canonical)]
        );
        assert_eq!(
            forms(&c, b"2001:0db8:5c4e:91a7:3f0d:b26e:8a15:c943 "),
            [(a.clone(), Form::Expanded)]
        );
        assert!(forms(&c, b"2001:db8:5c4e:91a7:3f0d:b26e:8a15:c9431").is_empty());
        assert!(forms(&c, b"1:2001:db8:5c4e:91a7:3f0d:b26e:8a15:c943").is_empty());
        assert_eq!(
            forms(&c, b"20010db85c4e91a73f0db26e8a15c943 01 40 20 80 lo"),
            [(a.clone(), Form::Hex)]
        );
        assert_eq!(forms(&c, &CANARY_IPV6.octets()), [(a.clone(), Form::Bytes)]);
        let nibble = b"3.4.9.c.5.1.a.8.e.6.2.b.d.0.f.3.7.a.1.9.e.4.c.5.8.b.d.0.1.0.0.2.ip6.arpa";
        assert_eq!(forms(&c, nibble), [(a.clone(), Form::Nibble)]);

        let z = Canaries::new("", &["2001:db8::1".parse().unwrap()]);
        let z6 = "2001:db8::1".to_string();
        assert_eq!(forms(&z, b"[2001:db8::1]"), [(z6.clone(), Form::Canonical)]);
        assert!(forms(&z, b"[2001:db8::10]").is_empty());
        assert!(forms(&z, b"2001:db8::1:5").is_empty());
        assert_eq!(
            forms(&z, b"2001:db8:0:0:0:0:0:1"),
            [(z6.clone(), Form::Uncompressed)]
        );
        assert_eq!(
            forms(&z, b"2001:0DB8:0000:0000:0000:0000:0000:0001"),
            [(z6, Form::Expanded)]
        );
    }

    #[test]
    fn a_streams_scan_reports_part_offset_and_context() {
        let c = Canaries::recommended();
        let mut s = Stream::new(3, "127.0.0.1:9050");
        s.raw.host = b"mail.example.com".to_vec();
        s.raw.username = Some(b"user-leakcheck-canary-q7x3v9".to_vec());
        s.raw.payload =
            b"EHLO leakcheck-canary-q7x3v9\r\nEHLO leakcheck-canary-q7x3v9\r\n".to_vec();
        let hits = s.scan(&c);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0].part, Part::Username);
        assert_eq!(hits[0].offset, 5);
        assert_eq!(hits[1].part, Part::Payload);
        assert_eq!(hits[1].stream, 3);
        assert_eq!(hits[1].offset, 5);
        assert!(hits[1]
            .context
            .starts_with("EHLO leakcheck-canary-q7x3v9\\r\\nEHLO"));
    }

    /// Realistic payloads that carry no canary: nothing may be found.
    #[test]
    fn no_false_hits_in_realistic_payloads() {
        let c = Canaries::recommended();
        let mut rng = Rng::new(0x5eed);
        let mut total = 0usize;
        for i in 0..2000 {
            // A TLS ClientHello-like record of 1-4 KB: header, random, extensions.
            let len = 1000 + rng.below(3000) as usize;
            let mut hello = vec![0x16, 0x03, 0x01, (len >> 8) as u8, len as u8];
            let mut body = vec![0u8; len];
            rng.fill(&mut body);
            body[0] = 0x01;
            hello.extend_from_slice(&body);
            // Application data after it.
            let mut app = vec![0x17, 0x03, 0x03, 0x10, 0x00];
            let mut data = vec![0u8; 0x1000];
            rng.fill(&mut data);
            app.extend_from_slice(&data);
            hello.extend_from_slice(&app);
            total += hello.len();
            assert!(c.find(&hello).is_empty(), "TLS sample {i}");

            let http = format!(
                "GET /api/v{}/items/{:x}?id={}&ts={} HTTP/1.1\r\nHost: 203.0.113.{}:8080\r\n\
                 User-Agent: client/{}.{}.{}\r\nX-Forwarded-For: 198.51.100.{}\r\n\
                 X-Trace: {:016x}{:016x}\r\nCookie: s={:x}\r\n\r\n",
                rng.below(9),
                rng.next(),
                rng.next(),
                rng.below(1 << 33),
                rng.below(167),
                rng.below(20),
                rng.below(20),
                rng.below(200),
                rng.below(256),
                rng.next(),
                rng.next(),
                rng.next()
            );
            total += http.len();
            assert!(c.find(http.as_bytes()).is_empty(), "{http}");
        }
        assert!(total > 10_000_000);
    }

    /// Uniformly random bytes: count chance hits of every form. The expected number is
    /// 2^-32 per offset for the 4-byte form (0.002 in 8 MiB), nil for the others.
    #[test]
    fn false_hit_rate_on_random_bytes() {
        let c = Canaries::recommended();
        let mut rng = Rng::new(42);
        let mut buf = vec![0u8; 1 << 20];
        let mut hits = 0;
        for _ in 0..8 {
            rng.fill(&mut buf);
            hits += c.find(&buf).len();
        }
        assert_eq!(hits, 0);
    }

    /// `cargo test -p leakcheck --lib standin::canary -- --ignored --nocapture`: the
    /// measurement reported in the module docs, on 1 GiB of random bytes and with a
    /// 3-byte prefix of the 4-byte form to estimate its rate.
    #[test]
    #[ignore]
    fn measure_false_hit_rate() {
        let c = Canaries::recommended();
        let mut probe = Canaries::default();
        // The first 3 of the 4 bytes: 2^-24 per offset, enough hits to measure.
        probe.patterns.push(Pattern {
            bytes: CANARY_IPV4.octets()[..3].to_vec(),
            fold: false,
            before: Edge::Any,
            after: Edge::Any,
            canary: probe.canaries.len(),
            form: Form::Bytes,
            chance: true,
        });
        probe.canaries.push("prefix".into());
        probe.index_last();
        let mut rng = Rng::new(7);
        let mut buf = vec![0u8; 64 << 10];
        let (mut hits, mut prefix, mut bytes) = (0usize, 0usize, 0usize);
        let start = std::time::Instant::now();
        for _ in 0..(1 << 14) {
            rng.fill(&mut buf);
            hits += c.find(&buf).len();
            prefix += probe.find(&buf).len();
            bytes += buf.len();
        }
        let per_offset3 = prefix as f64 / bytes as f64;
        println!(
            "{} MiB random in {:?}: {hits} canary hits; 3-byte prefix rate {per_offset3:.3e} \
             per offset (2^-24 = {:.3e}), so the 4-byte form is ~{:.3e} per offset",
            bytes >> 20,
            start.elapsed(),
            2f64.powi(-24),
            per_offset3 / 256.0
        );
    }
}
