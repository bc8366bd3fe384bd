//! Loopback tests of the stand-in: byte-level SOCKS 4/4a/5 and HTTP CONNECT clients
//! written here, against listeners on 127.0.0.1 (and a unix socket). Nothing in these
//! tests sends to any other address: destinations are only named to the stand-in,
//! which never connects anywhere.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::canary::tests::Rng;
use super::*;

/// The loopback tests run one at a time: each can then check that no stand-in thread
/// outlives its stand-in, and timing bounds are not disturbed by the others.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(mode: Mode) -> Config {
    Config {
        mode,
        canaries: Some(Canaries::recommended()),
        limits: Limits {
            idle: Duration::from_millis(400),
            ..Limits::default()
        },
        ..Config::default()
    }
}

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A stand-in on one SOCKS port and one SOCKS + HTTP CONNECT port.
struct Fixture {
    standin: Option<StandIn>,
    socks: SocketAddr,
    http: SocketAddr,
}

impl Fixture {
    fn new(config: Config) -> Fixture {
        let (a, b) = (loopback(), loopback());
        let (socks, http) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let listens = vec![
            Listen::tcp(a).unwrap(),
            Listen::tcp(b).unwrap().http_connect(true),
        ];
        let standin = StandIn::start(listens, config).unwrap();
        assert_eq!(standin.endpoints(), [socks.to_string(), http.to_string()]);
        Fixture {
            standin: Some(standin),
            socks,
            http,
        }
    }

    fn accept() -> Fixture {
        Fixture::new(config(Mode::Accept))
    }

    /// Waits for every stream to end, stops the stand-in and checks that its threads
    /// are gone.
    fn streams(&mut self) -> Vec<Stream> {
        let standin = self.standin.take().unwrap();
        assert!(standin.wait_idle(Duration::from_secs(20)));
        let recorded = standin.stop();
        assert_eq!(recorded.dropped, 0);
        assert_eq!(standin_threads(), 0, "stand-in threads left running");
        recorded.streams
    }
}

/// Threads of this process named by the stand-in (a joined thread may take a moment
/// to leave /proc).
fn standin_threads() -> usize {
    let count = || {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0;
        };
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("standin-"))
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let n = count();
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn read_n(s: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Everything until the stand-in closes (or an error).
fn read_all(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

enum Target<'a> {
    Name(&'a str),
    V4([u8; 4]),
    V6(Ipv6Addr),
}

fn greeting(creds: Option<(&str, &str)>) -> Vec<u8> {
    let mut out = match creds {
        Some(_) => vec![5, 2, 0, 2],
        None => vec![5, 1, 0],
    };
    if let Some((u, p)) = creds {
        out.extend_from_slice(&[1, u.len() as u8]);
        out.extend_from_slice(u.as_bytes());
        out.push(p.len() as u8);
        out.extend_from_slice(p.as_bytes());
    }
    out
}

fn request(cmd: u8, target: &Target, port: u16) -> Vec<u8> {
    let mut out = vec![5, cmd, 0];
    match target {
        Target::Name(n) => {
            out.extend_from_slice(&[3, n.len() as u8]);
            out.extend_from_slice(n.as_bytes());
        }
        Target::V4(a) => {
            out.push(1);
            out.extend_from_slice(a);
        }
        Target::V6(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    out
}

/// Reads the method selection (and the auth answer) of a greeting.
fn read_greeting_answers(s: &mut TcpStream, creds: bool) {
    if creds {
        assert_eq!(read_n(s, 2), [5, 2]);
        assert_eq!(read_n(s, 2), [1, 0]);
    } else {
        assert_eq!(read_n(s, 2), [5, 0]);
    }
}

/// Reads a SOCKS 5 reply: (REP, ATYP, BND.ADDR).
fn read_reply(s: &mut TcpStream) -> (u8, u8, Vec<u8>) {
    let head = read_n(s, 4);
    assert_eq!(head[0], 5);
    let addr = match head[3] {
        1 => read_n(s, 4),
        4 => read_n(s, 16),
        3 => {
            let n = read_n(s, 1)[0] as usize;
            read_n(s, n)
        }
        other => panic!("ATYP {other}"),
    };
    assert_eq!(read_n(s, 2), [0, 0]);
    (head[1], head[3], addr)
}

/// A SOCKS 5 CONNECT, step by step; returns the connected stream.
fn socks5_connect(
    addr: SocketAddr,
    creds: Option<(&str, &str)>,
    target: Target,
    port: u16,
) -> TcpStream {
    let mut s = connect(addr);
    let g = greeting(creds);
    let split = if creds.is_some() { 4 } else { 3 };
    s.write_all(&g[..split]).unwrap();
    if creds.is_some() {
        assert_eq!(read_n(&mut s, 2), [5, 2]);
        s.write_all(&g[split..]).unwrap();
        assert_eq!(read_n(&mut s, 2), [1, 0]);
    } else {
        assert_eq!(read_n(&mut s, 2), [5, 0]);
    }
    s.write_all(&request(1, &target, port)).unwrap();
    assert_eq!(read_reply(&mut s), (0, 1, vec![0, 0, 0, 0]));
    s
}

fn kinds(findings: &[StreamFinding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.kind.as_str()).collect()
}

#[test]
fn socks5_by_name_with_credentials_is_clean() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut s = socks5_connect(
        fx.socks,
        Some(("<torS0X>0", "session-1")),
        Target::Name("example.com"),
        80,
    );
    let client = s.local_addr().unwrap();
    let payload = b"GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    s.write_all(payload).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"");
    let streams = fx.streams();
    assert_eq!(streams.len(), 1);
    let st = &streams[0];
    let json = serde_json::to_value(st).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"proxy": fx.socks.to_string(), "protocol": "socks5",
            "username": "<torS0X>0", "password": "session-1", "command": "connect",
            "destination": "example.com:80", "sent_bytes": payload.len(),
            "reply": "succeeded", "client": client.to_string()})
    );
    assert_eq!(st.payload(), payload);
    assert_eq!(st.peer, Some(client));
    assert!(stream_findings(&streams).is_empty());
}

#[test]
fn socks5_by_address_without_credentials() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    for target in [
        Target::V4([192, 0, 2, 10]),
        Target::V6("2001:db8::10".parse().unwrap()),
    ] {
        let mut s = socks5_connect(fx.socks, None, target, 443);
        s.shutdown(Shutdown::Write).unwrap();
        read_all(&mut s);
    }
    let streams = fx.streams();
    let dest: Vec<_> = streams.iter().map(|s| s.destination.clone()).collect();
    assert_eq!(
        dest,
        [
            Some("192.0.2.10:443".to_string()),
            Some("[2001:db8::10]:443".to_string())
        ]
    );
    assert!(streams
        .iter()
        .all(|s| s.username.is_none() && s.password.is_none()));
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
}

#[test]
fn resolve_and_resolve_ptr() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    // SOCKS 5 RESOLVE of a name: the documentation address.
    let mut s = connect(fx.socks);
    s.write_all(&greeting(Some(("u", "p")))).unwrap();
    read_greeting_answers(&mut s, true);
    s.write_all(&request(0xF0, &Target::Name("torproject.org"), 0))
        .unwrap();
    assert_eq!(read_reply(&mut s), (0, 1, RESOLVE_ANSWER.octets().to_vec()));
    assert_eq!(read_all(&mut s), b"");
    // RESOLVE_PTR of an address: the fixed name.
    let mut s = connect(fx.socks);
    s.write_all(&greeting(Some(("u", "p")))).unwrap();
    read_greeting_answers(&mut s, true);
    s.write_all(&request(0xF1, &Target::V4([192, 0, 2, 1]), 0))
        .unwrap();
    assert_eq!(read_reply(&mut s), (0, 3, PTR_ANSWER.as_bytes().to_vec()));
    // RESOLVE_PTR of a name is refused.
    let mut s = connect(fx.socks);
    s.write_all(&greeting(Some(("u", "p")))).unwrap();
    read_greeting_answers(&mut s, true);
    s.write_all(&request(0xF1, &Target::Name("x.example"), 0))
        .unwrap();
    assert_eq!(read_reply(&mut s).0, 0x08);
    // SOCKS 4a RESOLVE.
    let mut s = connect(fx.socks);
    s.write_all(b"\x04\xf0\x00\x00\x00\x00\x00\x01user\x00example.net\x00")
        .unwrap();
    let r = read_n(&mut s, 8);
    assert_eq!(r[..2], [0, 0x5A]);
    assert_eq!(r[4..], RESOLVE_ANSWER.octets());
    let streams = fx.streams();
    let summary: Vec<_> = streams
        .iter()
        .map(|s| {
            (
                s.protocol,
                s.command,
                s.destination.clone().unwrap(),
                s.reply,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Protocol::Socks5,
                Some(Command::Resolve),
                "torproject.org:0".to_string(),
                Some(Reply::Succeeded)
            ),
            (
                Protocol::Socks5,
                Some(Command::ResolvePtr),
                "192.0.2.1:0".to_string(),
                Some(Reply::Succeeded)
            ),
            (
                Protocol::Socks5,
                Some(Command::ResolvePtr),
                "x.example:0".to_string(),
                Some(Reply::AddressTypeNotSupported)
            ),
            (
                Protocol::Socks4a,
                Some(Command::Resolve),
                "example.net:0".to_string(),
                Some(Reply::Succeeded)
            ),
        ]
    );
    // An address given to RESOLVE_PTR is no proxy-ip-request (that is the command).
    assert!(stream_findings(&streams).is_empty());
}

#[test]
fn socks4_and_socks4a() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut s = connect(fx.socks);
    s.write_all(b"\x04\x01\x00\x50\xc0\x00\x02\x0aalice\x00")
        .unwrap();
    assert_eq!(read_n(&mut s, 8), [0, 0x5A, 0, 0, 0, 0, 0, 0]);
    s.write_all(b"hello").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);

    let mut s = connect(fx.socks);
    s.write_all(b"\x04\x01\x01\xbb\x00\x00\x00\x07\x00example.org\x00")
        .unwrap();
    assert_eq!(read_n(&mut s, 8)[1], 0x5A);
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);

    let mut s = connect(fx.socks);
    s.write_all(b"\x04\x02\x00\x50\xc0\x00\x02\x0a\x00")
        .unwrap();
    assert_eq!(read_n(&mut s, 8)[1], 0x5B);

    let streams = fx.streams();
    assert_eq!(streams[0].protocol, Protocol::Socks4);
    assert_eq!(streams[0].username.as_deref(), Some("alice"));
    assert_eq!(streams[0].password, None);
    assert_eq!(streams[0].destination.as_deref(), Some("192.0.2.10:80"));
    assert_eq!(streams[0].sent_bytes, 5);
    assert_eq!(streams[1].protocol, Protocol::Socks4a);
    assert_eq!(streams[1].username, None);
    assert_eq!(streams[1].destination.as_deref(), Some("example.org:443"));
    assert_eq!(streams[2].command, Some(Command::Bind));
    assert_eq!(streams[2].reply, Some(Reply::Rejected));
    let f = stream_findings(&streams);
    // alice's userid isolates her stream (Tor treats it as a username).
    assert_eq!(
        kinds(&f),
        ["proxy-ip-request", "socks-no-auth", "socks-no-auth"]
    );
}

#[test]
fn pipelined_greeting_request_and_data() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut s = connect(fx.socks);
    let payload = b"PING pipelined payload\r\n";
    let all = [
        greeting(Some(("user", "pw"))),
        request(1, &Target::Name("example.com"), 6667),
        payload.to_vec(),
    ]
    .concat();
    s.write_all(&all).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let answers = read_all(&mut s);
    assert_eq!(answers, [5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    // SOCKS 4 with its payload in the same write.
    let mut s = connect(fx.socks);
    s.write_all(b"\x04\x01\x00\x50\x00\x00\x00\x01u\x00example.com\x00GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s)[1], 0x5A);
    let streams = fx.streams();
    assert_eq!(streams[0].payload(), payload);
    assert_eq!(streams[0].destination.as_deref(), Some("example.com:6667"));
    assert_eq!(streams[1].payload(), b"GET / HTTP/1.0\r\n\r\n");
    assert!(streams.iter().all(|s| s.error.is_none()));
}

#[test]
fn garbage_is_a_protocol_error_not_a_crash() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    // (bytes, what the stand-in must answer, the start of the error)
    let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
        (
            b"\x16\x03\x01\x00\x05hello".to_vec(),
            vec![],
            "not a protocol the stand-in speaks",
        ),
        (b"\xff\xfe\x00garbage".to_vec(), vec![], "not a protocol"),
        (
            [&[5u8, 1, 0][..], &[5, 1, 0, 9, 1, 2]].concat(),
            vec![5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0],
            "SOCKS 5 request with unknown address type",
        ),
        (
            [&[5u8, 1, 0][..], &[5, 0x7f, 0, 1, 1, 2, 3, 4, 0, 80]].concat(),
            vec![5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0],
            "unknown SOCKS 5 command",
        ),
        (
            vec![5, 1, 0x80],
            vec![5, 0xff],
            "SOCKS 5 client offered no method",
        ),
        (
            [&[5u8, 1, 2][..], &[9, 9, 9]].concat(),
            vec![5, 2],
            "SOCKS 5 username/password negotiation with version",
        ),
        (
            b"\x04\x09\x00\x50\x01\x02\x03\x04\x00".to_vec(),
            vec![0, 0x5B, 0, 0, 0, 0, 0, 0],
            "unknown SOCKS 4 command",
        ),
        (
            b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
            super::http::NOT_AN_HTTP_PROXY.to_vec(),
            "an HTTP request",
        ),
        (
            [&[4u8, 1, 0, 80, 1, 2, 3, 4][..], &[b'u'; 2000]].concat(),
            vec![0, 0x5B, 0, 0, 0, 0, 0, 0],
            "SOCKS 4 userid longer than",
        ),
    ];
    for (bytes, answer, _) in &cases {
        let mut s = connect(fx.socks);
        s.write_all(bytes).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(&read_all(&mut s), answer, "{bytes:02x?}");
    }
    // On the HTTP CONNECT endpoint: a plain GET, and a malformed CONNECT.
    let mut s = connect(fx.http);
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert!(read_all(&mut s).starts_with(b"HTTP/1.0 405"));
    let mut s = connect(fx.http);
    s.write_all(b"CONNECT nowhere HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_all(&mut s).starts_with(b"HTTP/1.0 400"));

    let streams = fx.streams();
    assert_eq!(streams.len(), cases.len() + 2);
    for (stream, (bytes, _, error)) in streams.iter().zip(&cases) {
        let e = stream.error.as_deref().unwrap_or("");
        assert!(e.starts_with(error), "{e:?} for {bytes:02x?}");
    }
    assert!(streams[cases.len()..].iter().all(|s| s.error.is_some()));
    // Everything the garbage client sent is kept for canary search.
    assert_eq!(streams[0].payload(), cases[0].0);
    let f = stream_findings(&streams);
    assert_eq!(f.len(), streams.len());
    assert!(f.iter().all(|f| f.kind == FindingKind::ProxyProtocolError));
}

#[test]
fn partial_and_idle_clients_time_out_boundedly() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    config.limits.idle = Duration::from_millis(300);
    config.limits.stream = Duration::from_millis(1500);
    let mut fx = Fixture::new(config);
    let start = Instant::now();
    // Half a greeting, then nothing.
    let mut partial = connect(fx.socks);
    partial.write_all(&[5, 2]).unwrap();
    // Nothing at all.
    let mut silent = connect(fx.socks);
    assert_eq!(read_all(&mut partial), b"");
    assert_eq!(read_all(&mut silent), b"");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    // A connected client that trickles a byte every 100 ms: cut at the stream limit.
    let mut trickle = socks5_connect(fx.socks, Some(("a", "b")), Target::Name("x.org"), 80);
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(4) {
        if trickle.write_all(b"x").is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut = start.elapsed();
    assert!(cut < Duration::from_secs(3), "{cut:?}");
    let streams = fx.streams();
    assert_eq!(streams.len(), 3);
    let e = streams[0].error.as_deref().unwrap();
    assert!(
        e.starts_with("incomplete SOCKS 5 greeting: the client sent nothing for"),
        "{e}"
    );
    assert_eq!(streams[0].payload(), [5, 2]);
    assert_eq!(streams[1].protocol, Protocol::Unknown);
    assert_eq!(streams[1].error, None);
    assert!(streams[1].is_probe() && !streams[0].is_probe());
    assert!(streams[2].sent_bytes > 5 && streams[2].sent_bytes <= sent);
    // A port probe is no finding; the half greeting is.
    assert_eq!(kinds(&stream_findings(&streams)), ["proxy-protocol-error"]);
}

#[test]
fn smtp_greeting_then_ehlo_with_the_canary_host_name() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut s = socks5_connect(
        fx.socks,
        Some(("<torS0X>0", "mail")),
        Target::Name("mx.example.net"),
        25,
    );
    let mut greeting = [0u8; 128];
    let n = s.read(&mut greeting).unwrap();
    assert_eq!(
        &greeting[..n],
        format!("220 {BAIT_NAME} ESMTP ready\r\n").as_bytes()
    );
    s.write_all(format!("EHLO {}\r\n", CANARY_HOST_NAME.to_uppercase()).as_bytes())
        .unwrap();
    let mut ehlo = [0u8; 256];
    let n = s.read(&mut ehlo).unwrap();
    assert!(ehlo[..n].starts_with(b"250-"));
    s.write_all(b"QUIT\r\n").unwrap();
    let rest = read_all(&mut s);
    assert_eq!(rest, b"221 2.0.0 Bye\r\n");
    let streams = fx.streams();
    let f = stream_findings(&streams);
    assert_eq!(kinds(&f), ["protocol-leak"]);
    let hit = f[0].hit.as_ref().unwrap();
    assert_eq!(hit.part, Part::Payload);
    assert_eq!(hit.form, Form::HostName);
    assert_eq!(hit.offset, 5);
    assert_eq!(hit.canary, CANARY_HOST_NAME);
    assert!(f[0]
        .message
        .contains("EHLO LEAKCHECK-CANARY-Q7X3V9.EXAMPLE\\r\\n"));
}

#[test]
fn http_connect_with_a_canary_address_and_a_clean_one() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let connect_head = |user: &str| {
        format!(
            "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\
             Proxy-Authorization: Basic {}\r\n\r\n",
            match user {
                "alice" => "YWxpY2U6czNjcmV0", // alice:s3cret
                _ => "Ym9iOnB3",               // bob:pw
            }
        )
    };
    let mut s = connect(fx.http);
    s.write_all(connect_head("alice").as_bytes()).unwrap();
    assert_eq!(read_n(&mut s, 19), b"HTTP/1.0 200 OK\r\n\r\n");
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 203.0.113.167\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);

    let mut s = connect(fx.http);
    s.write_all(connect_head("bob").as_bytes()).unwrap();
    assert_eq!(read_n(&mut s, 19), b"HTTP/1.0 200 OK\r\n\r\n");
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 203.0.113.16\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);

    // SOCKS still works on the HTTP CONNECT endpoint.
    let mut s = socks5_connect(fx.http, Some(("c", "d")), Target::Name("a.example"), 80);
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);

    let streams = fx.streams();
    assert_eq!(streams[0].protocol, Protocol::HttpConnect);
    assert_eq!(streams[0].username.as_deref(), Some("alice"));
    assert_eq!(streams[0].password.as_deref(), Some("s3cret"));
    assert_eq!(streams[0].destination.as_deref(), Some("example.com:80"));
    assert_eq!(streams[2].protocol, Protocol::Socks5);
    let f = stream_findings(&streams);
    assert_eq!(kinds(&f), ["protocol-leak"]);
    let hit = f[0].hit.as_ref().unwrap();
    assert_eq!(
        (hit.stream, hit.part, hit.form),
        (0, Part::Payload, Form::Dotted)
    );
    assert_eq!(hit.canary, "203.0.113.167");
}

#[test]
fn clean_tls_like_payloads_find_nothing() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut rng = Rng::new(99);
    for i in 0..20 {
        let mut s = socks5_connect(
            fx.socks,
            Some(("<torS0X>0", "tls")),
            Target::Name("www.example.com"),
            443,
        );
        let len = 2000 + 100 * i;
        let mut hello = vec![0x16, 0x03, 0x01, (len >> 8) as u8, len as u8];
        let mut body = vec![0u8; len];
        rng.fill(&mut body);
        hello.extend_from_slice(&body);
        s.write_all(&hello).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_all(&mut s);
    }
    let streams = fx.streams();
    assert_eq!(streams.len(), 20);
    assert!(streams.iter().all(|s| s.canary_hits.is_empty()));
    assert!(stream_findings(&streams).is_empty());
}

#[test]
fn refuse_mode_answers_like_tor_without_network() {
    let _serial = serial();
    let mut fx = Fixture::new(config(Mode::Refuse));
    // SOCKS 5 CONNECT, with optimistic data pipelined after the request.
    let mut s = connect(fx.socks);
    s.write_all(
        &[
            greeting(Some(("u", "p"))),
            request(1, &Target::Name("example.com"), 80),
            format!("EHLO {CANARY_HOST_NAME}\r\n").into_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), [5, 2, 1, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
    // SOCKS 5 RESOLVE.
    let mut s = connect(fx.socks);
    s.write_all(&[greeting(None), request(0xF0, &Target::Name("a.example"), 0)].concat())
        .unwrap();
    assert_eq!(read_all(&mut s), [5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
    // SOCKS 4a.
    let mut s = connect(fx.socks);
    s.write_all(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00")
        .unwrap();
    assert_eq!(read_all(&mut s), [0, 0x5B, 0, 0, 0, 0, 0, 0]);
    // HTTP CONNECT.
    let mut s = connect(fx.http);
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut s).starts_with(b"HTTP/1.0 502 "));
    let streams = fx.streams();
    let replies: Vec<_> = streams.iter().map(|s| s.reply.unwrap()).collect();
    assert_eq!(
        replies,
        [
            Reply::HostUnreachable,
            Reply::HostUnreachable,
            Reply::Rejected,
            Reply::BadGateway
        ]
    );
    // The optimistic data was still searched.
    let f = stream_findings(&streams[..1]);
    assert_eq!(kinds(&f), ["protocol-leak"]);
}

#[test]
fn thousands_of_streams_bounded_in_memory_and_time() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    config.limits.payload_total = 256 << 10;
    let mut fx = Fixture::new(config);
    let start = Instant::now();
    let socks = fx.socks;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..250 {
                    let mut s = connect(socks);
                    let user = format!("w{w}");
                    let all = [
                        greeting(Some((&user, "p"))),
                        request(1, &Target::Name("example.com"), 80),
                        vec![b'a' + (i % 26) as u8; 1024],
                    ]
                    .concat();
                    s.write_all(&all).unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                    assert_eq!(read_all(&mut s).len(), 14);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let streams = fx.streams();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(streams.len(), 2000);
    assert!(streams
        .iter()
        .all(|s| s.sent_bytes == 1024 && s.error.is_none()));
    let kept: usize = streams.iter().map(|s| s.payload().len()).sum();
    assert!(kept <= 256 << 10, "{kept}");
    assert!(streams.iter().any(|s| s.raw.truncated));
    // Ids are in acceptance order, all distinct.
    assert!(streams.windows(2).all(|w| w[0].id < w[1].id));
    eprintln!("2000 streams in {took:?}");
}

#[test]
fn connections_beyond_the_cap_wait_and_are_all_served() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    config.limits.connections = 2;
    config.limits.idle = Duration::from_millis(200);
    let mut fx = Fixture::new(config);
    let start = Instant::now();
    let mut clients: Vec<TcpStream> = (0..6).map(|_| connect(fx.socks)).collect();
    for c in &mut clients {
        assert_eq!(read_all(c), b"");
    }
    let took = start.elapsed();
    // Three rounds of two idle clients.
    assert!(took >= Duration::from_millis(550), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(fx.streams().len(), 6);
}

#[test]
fn payload_is_capped_per_stream() {
    let _serial = serial();
    let mut fx = Fixture::accept();
    let mut s = socks5_connect(fx.socks, Some(("a", "b")), Target::Name("up.example"), 80);
    let big = vec![b'z'; 200 << 10];
    // The stand-in stops reading at the cap and closes: the write may fail.
    let _ = s.write_all(&big);
    let _ = s.shutdown(Shutdown::Write);
    read_all(&mut s);
    let streams = fx.streams();
    assert_eq!(streams[0].sent_bytes, 64 << 10);
    assert!(streams[0].raw.truncated);
}

#[test]
fn stop_is_prompt_and_records_streams_in_progress() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    config.limits.idle = Duration::from_secs(5);
    config.limits.stream = Duration::from_secs(30);
    let fx = Fixture::new(config);
    let mut clients = Vec::new();
    for i in 0..50 {
        clients.push(connect(fx.socks));
        let mut s = socks5_connect(fx.socks, Some(("a", "b")), Target::Name("x.example"), 80);
        s.write_all(format!("chunk {i}").as_bytes()).unwrap();
        clients.push(s);
    }
    // Let the stand-in read the chunks.
    let standin = fx.standin.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while standin.active() < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let recorded = standin.stop();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    assert_eq!(standin_threads(), 0);
    assert_eq!(recorded.streams.len(), 100);
    let with_data = recorded
        .streams
        .iter()
        .filter(|s| s.payload().starts_with(b"chunk "))
        .count();
    assert_eq!(with_data, 50);
    drop(clients);
}

#[test]
fn unix_endpoint_and_peer_pid() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("socks");
    let listener = UnixListener::bind(&path).unwrap();
    let name = format!("unix:{}", path.display());
    let standin =
        StandIn::start(vec![Listen::unix(listener).unwrap()], config(Mode::Accept)).unwrap();
    assert_eq!(standin.endpoints(), std::slice::from_ref(&name));
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        &[
            greeting(Some(("u", "p"))),
            request(1, &Target::Name("example.com"), 80),
        ]
        .concat(),
    )
    .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);
    assert!(standin.wait_idle(Duration::from_secs(10)));
    let streams = standin.stop().streams;
    assert_eq!(streams[0].proxy, name);
    assert_eq!(streams[0].pid, Some(std::process::id()));
    assert_eq!(streams[0].client, None);
}

#[test]
fn identify_hook_maps_tcp_clients_to_their_process() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    let seen: Arc<Mutex<Vec<Peer>>> = Arc::default();
    let seen2 = seen.clone();
    config.identify = Some(Arc::new(move |peer: &Peer| {
        seen2.lock().unwrap().push(peer.clone());
        loopback_client_pid(peer)
    }));
    let mut fx = Fixture::new(config);
    let mut s = socks5_connect(fx.socks, Some(("a", "b")), Target::Name("x.example"), 80);
    let client = s.local_addr().unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_all(&mut s);
    let streams = fx.streams();
    assert_eq!(streams[0].pid, Some(std::process::id()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].client, Some(client));
    assert_eq!(seen[0].server, Some(fx.socks));
}

#[test]
fn shared_isolation_across_tests_from_live_streams() {
    let _serial = serial();
    let mut per_test = Vec::new();
    for (test, password) in [("t1", "same"), ("t2", "same"), ("t3", "own")] {
        let mut fx = Fixture::accept();
        let mut s = socks5_connect(
            fx.socks,
            Some(("<torS0X>0", password)),
            Target::Name("example.com"),
            80,
        );
        s.shutdown(Shutdown::Write).unwrap();
        read_all(&mut s);
        let mut streams = fx.streams();
        // Each test got its own stand-in here; name the proxy as one would.
        for st in &mut streams {
            st.proxy = "127.0.0.1:9050".into();
        }
        per_test.push((test, streams));
    }
    let f = shared_isolation(per_test.iter().map(|(t, s)| (*t, s.as_slice())));
    let names: Vec<_> = f
        .iter()
        .map(|t| (t.test.as_str(), t.finding.others.join(",")))
        .collect();
    assert_eq!(names, [("t1", "t2".to_string()), ("t2", "t1".to_string())]);
}

/// curl, if installed, against the loopback stand-in (never anything else: every
/// destination is resolved by the stand-in, or an address only named to it).
#[test]
fn curl_through_the_stand_in() {
    let _serial = serial();
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("curl not installed: skipped");
        return;
    }
    let mut fx = Fixture::accept();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-S", "-m", "5", "--connect-timeout", "3"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let socks = fx.socks.to_string();
    let http = fx.http.to_string();
    run(&[
        "--socks5-hostname",
        &socks,
        "--proxy-user",
        "<torS0X>0:curl-1",
        "http://example.com/",
    ]);
    run(&["--socks4a", &socks, "http://example.org:8080/x"]);
    run(&["--socks5", &socks, "http://192.0.2.7/"]);
    run(&[
        "-p",
        "-x",
        &format!("http://{http}"),
        "--proxy-user",
        "bob:pw",
        "http://example.net/",
    ]);
    let streams = fx.streams();
    let summary: Vec<_> = streams
        .iter()
        .map(|s| {
            (
                s.protocol.as_str(),
                s.destination.clone().unwrap_or_default(),
                s.username.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "socks5",
                "example.com:80".to_string(),
                "<torS0X>0".to_string()
            ),
            ("socks4a", "example.org:8080".to_string(), String::new()),
            ("socks5", "192.0.2.7:80".to_string(), String::new()),
            (
                "http-connect",
                "example.net:80".to_string(),
                "bob".to_string()
            ),
        ]
    );
    assert_eq!(streams[0].password.as_deref(), Some("curl-1"));
    assert!(streams[0]
        .payload()
        .starts_with(b"GET / HTTP/1.1\r\nHost: example.com\r\n"));
    assert!(streams[3]
        .payload()
        .starts_with(b"GET / HTTP/1.1\r\nHost: example.net\r\n"));
    let f = stream_findings(&streams);
    assert_eq!(
        kinds(&f),
        ["socks-no-auth", "proxy-ip-request", "socks-no-auth"]
    );
}

/// Random bytes behind each protocol's first byte, written in random pieces: every
/// connection ends, is recorded, and none makes the stand-in fail.
#[test]
fn random_handshakes_never_break_the_stand_in() {
    let _serial = serial();
    let mut config = config(Mode::Accept);
    config.limits.idle = Duration::from_millis(100);
    let mut fx = Fixture::new(config);
    let mut rng = Rng::new(2024);
    let firsts = [4u8, 5, b'C', b'G', 0x16, 0];
    let start = Instant::now();
    for i in 0..300 {
        let mut bytes = vec![0u8; rng.below(48) as usize];
        rng.fill(&mut bytes);
        bytes.insert(0, firsts[i % firsts.len()]);
        if i % 3 == 0 && bytes.len() > 1 {
            // Plausible lengths make the parsers go further.
            bytes[1] = (bytes[1] % 4).max(1);
        }
        let mut s = connect(if i % 2 == 0 { fx.socks } else { fx.http });
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(8) as usize).min(rest.len());
            if s.write_all(&rest[..n]).is_err() {
                break;
            }
            rest = &rest[n..];
        }
        let _ = s.shutdown(Shutdown::Write);
        read_all(&mut s);
    }
    let streams = fx.streams();
    assert_eq!(streams.len(), 300);
    assert!(start.elapsed() < Duration::from_secs(60));
    for s in &streams {
        let e = s.error.as_deref().unwrap_or("");
        assert!(
            !e.contains("a bug") && !e.contains("could not serve"),
            "{e}"
        );
    }
}

#[test]
fn parsers_never_panic_on_random_prefixes() {
    let mut rng = Rng::new(77);
    for _ in 0..20_000 {
        let mut buf = vec![0u8; rng.below(40) as usize];
        rng.fill(&mut buf);
        if !buf.is_empty() {
            buf[0] = [4u8, 5, 1][rng.below(3) as usize];
        }
        if buf.len() > 1 && rng.below(2) == 0 {
            buf[1] %= 8;
        }
        let _ = super::socks::parse_socks4(&buf, 16);
        let _ = super::socks::parse_greeting(&buf);
        let _ = super::socks::parse_auth(&buf);
        let _ = super::socks::parse_request(&buf);
        let _ = super::http::parse_head(&buf, 32);
        let _ = super::http::parse_connect(&buf);
        let _ = super::http::looks_like_http(&buf);
        let _ = super::http::base64_decode(&buf);
    }
}
