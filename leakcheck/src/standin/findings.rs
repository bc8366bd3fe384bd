//! What the streams say about a test, as plain data: the caller turns each
//! [`StreamFinding`] into a leakcheck `Finding` of the kind [`FindingKind::as_str`]
//! names (DESIGN.md's `protocol-leak`, `proxy-ip-request`, `socks-no-auth`,
//! `shared-isolation`, `proxy-protocol-error`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::canary::{CanaryHit, Part};
use super::stream::{escape, Command, Protocol, Stream};

/// The kinds of DESIGN.md's table that the stand-in finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A canary in a requested host name, credentials or payload (default: leak).
    ProtocolLeak,
    /// The client gave the proxy an address, not a host name (default: warning).
    ProxyIpRequest,
    /// A proxied stream without credentials: Tor cannot isolate it (default: warning).
    SocksNoAuth,
    /// Two tests used the same credentials (default: warning).
    SharedIsolation,
    /// What a client sent was not a protocol the stand-in speaks (default: warning).
    ProxyProtocolError,
}

impl FindingKind {
    /// The JSON `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ProtocolLeak => "protocol-leak",
            FindingKind::ProxyIpRequest => "proxy-ip-request",
            FindingKind::SocksNoAuth => "socks-no-auth",
            FindingKind::SharedIsolation => "shared-isolation",
            FindingKind::ProxyProtocolError => "proxy-protocol-error",
        }
    }

    /// DESIGN.md's default: only `protocol-leak` is a leak.
    pub fn is_leak_by_default(self) -> bool {
        self == FindingKind::ProtocolLeak
    }

    /// One sentence: how to fix this kind.
    pub fn hint(self) -> &'static str {
        match self {
            FindingKind::ProtocolLeak => {
                "the program sends the host's identity (its host name or an interface \
                 address) through the proxy: do not put local names or addresses in \
                 protocol messages (SMTP EHLO, HTTP headers, peer announcements)"
            }
            FindingKind::ProxyIpRequest => {
                "pass the host name to the proxy (socks5h://, SOCKS 4a, ATYP 3) instead \
                 of resolving it first: a local lookup leaks the name to the DNS resolver"
            }
            FindingKind::SocksNoAuth => {
                "send SOCKS credentials (with Tor: username <torS0X>0 and an isolation \
                 string as the password) so that unrelated streams get separate circuits"
            }
            FindingKind::SharedIsolation => {
                "derive SOCKS credentials from what should be isolated (a session, an \
                 identity), not a constant shared by unrelated activities"
            }
            FindingKind::ProxyProtocolError => {
                "the client spoke something other than SOCKS 4/4a/5 or HTTP CONNECT to \
                 the proxy port (a misconfigured proxy type, plain HTTP or TLS to a \
                 SOCKS port, a truncated handshake)"
            }
        }
    }
}

/// One finding about streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamFinding {
    /// The kind.
    pub kind: FindingKind,
    /// The first stream it was seen on ([`Stream::id`]).
    pub stream: u64,
    /// The proxy endpoint (`127.0.0.1:9050`, `unix:/path`): the finding's `destination`.
    pub proxy: String,
    /// The protocol of that stream.
    pub protocol: Protocol,
    /// What the client asked for through the proxy, if it got that far.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination: Option<String>,
    /// The client's process, where known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// The client's address (`127.0.0.1:PORT`), where known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<String>,
    /// One line for the reader (the finding's `trace`).
    pub message: String,
    /// For `protocol-leak`: where the canary was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hit: Option<CanaryHit>,
    /// For `shared-isolation`: the other tests that used the same credentials.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub others: Vec<String>,
    /// How many streams this finding stands for.
    pub occurrences: u64,
}

impl StreamFinding {
    fn new(kind: FindingKind, s: &Stream, message: String) -> StreamFinding {
        StreamFinding {
            kind,
            stream: s.id,
            proxy: s.proxy.clone(),
            protocol: s.protocol,
            destination: s.destination.clone(),
            pid: s.pid,
            client: s.client.clone(),
            message,
            hit: None,
            others: Vec::new(),
            occurrences: 1,
        }
    }

    /// What makes two findings the same (folded into one with a count).
    fn fold_key(&self) -> (FindingKind, String, Option<String>, Option<(Part, String)>) {
        let hit = self.hit.as_ref().map(|h| (h.part, h.canary.clone()));
        let dest = match self.kind {
            // Errors fold by their message (the same malformation on one port).
            FindingKind::ProxyProtocolError => Some(self.message.clone()),
            _ => self.destination.clone(),
        };
        (self.kind, self.proxy.clone(), dest, hit)
    }
}

/// The findings of one test's streams (from their [`Stream::canary_hits`], which the
/// stand-in fills when it has canaries): `protocol-leak` for each canary in each part
/// of a stream, `proxy-ip-request`, `socks-no-auth`, `proxy-protocol-error`. Identical
/// findings on several streams are folded into one with `occurrences`.
pub fn stream_findings(streams: &[Stream]) -> Vec<StreamFinding> {
    let mut out: Vec<StreamFinding> = Vec::new();
    let mut index: BTreeMap<_, usize> = BTreeMap::new();
    let mut push = |f: StreamFinding| {
        let key = f.fold_key();
        match index.get(&key) {
            Some(&i) => out[i].occurrences += 1,
            None => {
                index.insert(key, out.len());
                out.push(f);
            }
        }
    };
    for s in streams {
        let what = describe(s);
        let mut seen: Vec<(Part, &str)> = Vec::new();
        for hit in &s.canary_hits {
            if seen.contains(&(hit.part, hit.canary.as_str())) {
                continue;
            }
            seen.push((hit.part, hit.canary.as_str()));
            let mut f = StreamFinding::new(
                FindingKind::ProtocolLeak,
                s,
                format!(
                    "canary {} ({} form) in the {} of {what}, at byte {}: \"{}\"",
                    hit.canary,
                    hit.form.as_str(),
                    hit.part.as_str(),
                    hit.offset,
                    hit.context
                ),
            );
            f.hit = Some(hit.clone());
            push(f);
        }
        if let Some(error) = &s.error {
            push(StreamFinding::new(
                FindingKind::ProxyProtocolError,
                s,
                format!("{} on {}: {error}", s.protocol, s.proxy),
            ));
            continue;
        }
        let Some(command) = s.command else {
            // Connected and closed without a byte: a port probe, not a stream.
            continue;
        };
        if command == Command::Connect && host_is_address(s) {
            push(StreamFinding::new(
                FindingKind::ProxyIpRequest,
                s,
                format!("{what}: the client asked for an address, not a host name"),
            ));
        }
        if !s.has_credentials() {
            push(StreamFinding::new(
                FindingKind::SocksNoAuth,
                s,
                format!("{what} without credentials: Tor cannot isolate it"),
            ));
        } else if let Some(format) = unknown_tor_format(s) {
            push(StreamFinding::new(
                FindingKind::ProxyProtocolError,
                s,
                format!(
                    "{what}: username <torS0X>{format} is a Tor SOCKS extension format \
                     that Tor does not know (proposal 351): Tor rejects such streams"
                ),
            ));
        }
    }
    out
}

/// `socks5 connect to example.com:80 on 127.0.0.1:9050`.
fn describe(s: &Stream) -> String {
    s.what()
}

fn host_is_address(s: &Stream) -> bool {
    std::str::from_utf8(&s.raw.host)
        .ok()
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some()
}

/// Tor proposal 351: usernames starting `<torS0X>` select an extension format; `0`
/// (isolation string in the password) and `1` (RPC object) are defined.
const TOR_EXTENSION_PREFIX: &[u8] = b"<torS0X>";

fn unknown_tor_format(s: &Stream) -> Option<String> {
    let user = s.raw.username.as_deref()?;
    let format = user.strip_prefix(TOR_EXTENSION_PREFIX)?;
    match format {
        b"0" | b"1" => None,
        other => Some(escape(other)),
    }
}

/// What isolates a stream from others in Tor (IsolateSOCKSAuth, on by default): the
/// listener (each SocksPort is its own session group) and the credentials. With Tor's
/// extended format (proposal 351) the username `<torS0X>0` says the password is the
/// isolation string; the pair (username, password) still identifies the isolation.
/// Absent and empty credentials are the same (Tor compares lengths and bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IsolationKey {
    /// The listener.
    pub proxy: String,
    /// The username (or SOCKS 4 userid), escaped as in [`Stream::username`].
    pub username: String,
    /// The password.
    pub password: String,
    /// HTTP CONNECT's `X-Tor-Stream-Isolation`.
    pub isolation: String,
}

impl IsolationKey {
    /// The key of a stream that carries credentials (None without: see
    /// `socks-no-auth`, which reports those).
    pub fn of(s: &Stream) -> Option<IsolationKey> {
        if !s.has_credentials() || s.command.is_none() {
            return None;
        }
        Some(IsolationKey {
            proxy: s.proxy.clone(),
            username: s.username.clone().unwrap_or_default(),
            password: s.password.clone().unwrap_or_default(),
            isolation: s.isolation.clone().unwrap_or_default(),
        })
    }

    fn describe(&self) -> String {
        let mut out = format!("username {:?} password {:?}", self.username, self.password);
        if !self.isolation.is_empty() {
            out.push_str(&format!(" X-Tor-Stream-Isolation {:?}", self.isolation));
        }
        out
    }
}

/// A finding that belongs to one test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFinding {
    /// The test's name, as given.
    pub test: String,
    /// The finding.
    pub finding: StreamFinding,
}

/// `shared-isolation`: given each test's streams, the tests that used the same
/// credentials on the same listener as another test (Tor would put their streams on the
/// same circuits). One finding per test and credentials, naming the other tests in
/// `others`, on the test's first stream with them. Streams without credentials are not
/// compared (each is already a `socks-no-auth`).
pub fn shared_isolation<'a, I>(tests: I) -> Vec<TestFinding>
where
    I: IntoIterator<Item = (&'a str, &'a [Stream])>,
{
    // key -> test -> (first stream, number of streams)
    let mut by_key: BTreeMap<IsolationKey, Vec<(&'a str, &'a Stream, u64)>> = BTreeMap::new();
    for (test, streams) in tests {
        for s in streams {
            let Some(key) = IsolationKey::of(s) else {
                continue;
            };
            let users = by_key.entry(key).or_default();
            match users.iter_mut().find(|(t, _, _)| *t == test) {
                Some(entry) => entry.2 += 1,
                None => users.push((test, s, 1)),
            }
        }
    }
    let mut out = Vec::new();
    for (key, users) in &by_key {
        if users.len() < 2 {
            continue;
        }
        for (test, stream, count) in users {
            let others: Vec<String> = users
                .iter()
                .filter(|(t, _, _)| t != test)
                .map(|(t, _, _)| t.to_string())
                .collect();
            let mut f = StreamFinding::new(
                FindingKind::SharedIsolation,
                stream,
                format!(
                    "{} on {} also used by {}: Tor gives their streams the same circuits",
                    key.describe(),
                    key.proxy,
                    others.join(", ")
                ),
            );
            f.others = others;
            f.occurrences = *count;
            out.push(TestFinding {
                test: test.to_string(),
                finding: f,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standin::canary::{Canaries, Form};
    use crate::standin::stream::Reply;

    fn stream(id: u64, dest: &str, host: &str, creds: Option<(&str, &str)>) -> Stream {
        let mut s = Stream::new(id, "127.0.0.1:9050");
        s.protocol = Protocol::Socks5;
        s.command = Some(Command::Connect);
        s.destination = Some(dest.into());
        s.raw.host = host.as_bytes().to_vec();
        s.reply = Some(Reply::Succeeded);
        if let Some((u, p)) = creds {
            s.set_username(u.as_bytes());
            s.set_password(p.as_bytes());
        }
        s
    }

    fn kinds(f: &[StreamFinding]) -> Vec<&'static str> {
        f.iter().map(|f| f.kind.as_str()).collect()
    }

    #[test]
    fn ip_request_and_no_auth() {
        let streams = [
            stream(0, "93.184.216.34:80", "93.184.216.34", None),
            stream(
                1,
                "[2001:db8::5]:80",
                "2001:db8::5",
                Some(("<torS0X>0", "a")),
            ),
            stream(2, "example.com:80", "example.com", Some(("u", "p"))),
            stream(3, "example.com:80", "example.com", None),
            stream(4, "example.com:80", "example.com", None),
        ];
        let f = stream_findings(&streams);
        assert_eq!(
            kinds(&f),
            [
                "proxy-ip-request",
                "socks-no-auth",
                "proxy-ip-request",
                "socks-no-auth"
            ]
        );
        assert_eq!(f[3].occurrences, 2);
        assert_eq!(f[3].stream, 3);
        assert!(
            f[0].message.contains("93.184.216.34:80"),
            "{}",
            f[0].message
        );
        // Empty credentials are none.
        let f = stream_findings(&[stream(0, "a.b:1", "a.b", Some(("", "")))]);
        assert_eq!(kinds(&f), ["socks-no-auth"]);
    }

    #[test]
    fn protocol_leak_from_hits_and_errors() {
        let c = Canaries::recommended();
        let mut s = stream(5, "mail.example:25", "mail.example", Some(("u", "p")));
        s.raw.payload = b"EHLO leakcheck-canary-q7x3v9\r\nQUIT\r\n".to_vec();
        s.canary_hits = s.scan(&c);
        let mut bad = Stream::new(6, "127.0.0.1:9050");
        bad.error = Some("not a proxy protocol".into());
        let f = stream_findings(&[s, bad]);
        assert_eq!(kinds(&f), ["protocol-leak", "proxy-protocol-error"]);
        let hit = f[0].hit.as_ref().unwrap();
        assert_eq!(
            (hit.part, hit.form, hit.offset),
            (Part::Payload, Form::HostName, 5)
        );
        assert!(
            f[0].message.contains("EHLO leakcheck-canary-q7x3v9"),
            "{}",
            f[0].message
        );
        assert!(FindingKind::ProtocolLeak.is_leak_by_default());
        assert!(!FindingKind::SocksNoAuth.is_leak_by_default());
    }

    #[test]
    fn unknown_tor_extension_format() {
        let f = stream_findings(&[stream(0, "a.b:1", "a.b", Some(("<torS0X>7", "x")))]);
        assert_eq!(kinds(&f), ["proxy-protocol-error"]);
    }

    #[test]
    fn shared_isolation_names_each_other() {
        let a = [
            stream(0, "a.b:1", "a.b", Some(("<torS0X>0", "same"))),
            stream(1, "a.b:1", "a.b", Some(("<torS0X>0", "same"))),
            stream(2, "a.b:1", "a.b", Some(("<torS0X>0", "only-a"))),
        ];
        let b = [stream(3, "c.d:1", "c.d", Some(("<torS0X>0", "same")))];
        let c = [stream(4, "c.d:1", "c.d", Some(("<torS0X>0", "other")))];
        let mut d_stream = stream(5, "c.d:1", "c.d", Some(("<torS0X>0", "same")));
        d_stream.proxy = "127.0.0.1:9150".into();
        let d = [d_stream];
        let none = [stream(6, "c.d:1", "c.d", None)];
        let none2 = [stream(7, "c.d:1", "c.d", None)];
        let f = shared_isolation([
            ("a", &a[..]),
            ("b", &b[..]),
            ("c", &c[..]),
            ("d", &d[..]),
            ("n1", &none[..]),
            ("n2", &none2[..]),
        ]);
        let summary: Vec<(&str, Vec<String>, u64, u64)> = f
            .iter()
            .map(|t| {
                (
                    t.test.as_str(),
                    t.finding.others.clone(),
                    t.finding.stream,
                    t.finding.occurrences,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", vec!["b".to_string()], 0, 2),
                ("b", vec!["a".to_string()], 3, 1)
            ]
        );
        assert_eq!(f[0].finding.kind, FindingKind::SharedIsolation);
        assert!(f[0].finding.message.contains("\"same\""));
    }
}
