//! A connection's handshake and what follows: SOCKS or HTTP CONNECT, then the bait.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::bait::{Bait, Responder};
use super::config::*;
use super::conn::*;
use super::http::{self, NotConnect};
use super::listen::*;
use super::record::*;
use super::socks::{self, Addr, Step};
use super::stream::{escape, Command, Protocol, Reply, Stream};

pub(super) fn serve(
    sock: Sock,
    ep: &EndpointInfo,
    shared: &Shared,
    id: u64,
    client: Option<SocketAddr>,
) -> Stream {
    let config = &shared.config;
    let limits = &config.limits;
    let mut s = Stream::new(id, ep.name.clone());
    s.peer = client;
    s.client = client.map(|c| c.to_string());
    s.pid = sock.peer_pid();
    if let Some(identify) = &config.identify {
        let peer = Peer {
            proxy: ep.name.clone(),
            client,
            server: ep.server,
            pid: s.pid,
        };
        if s.pid.is_none() {
            s.pid = identify(&peer);
        }
    }
    sock.set_write_timeout(limits.idle.max(Duration::from_millis(100)));
    let conn = Conn {
        sock,
        wake: shared.wake.as_raw_fd(),
        buf: Vec::new(),
        pos: 0,
        deadline: Instant::now() + limits.stream,
        idle: limits.idle,
        handshake_bytes: limits.handshake_bytes.max(64),
        broken: false,
    };
    let mut session = Session {
        conn,
        s,
        config,
        http_connect: ep.http_connect,
    };
    session.run();
    session.conn.sock.shutdown_write();
    session.s
}

pub(super) struct Session<'a> {
    pub(super) conn: Conn,
    pub(super) s: Stream,
    pub(super) config: &'a Config,
    pub(super) http_connect: bool,
}

impl Session<'_> {
    pub(super) fn run(&mut self) {
        while self.conn.buf.is_empty() {
            if self.conn.fill().is_err() {
                // Connected and closed (or stayed silent) without a byte: a port probe.
                return;
            }
        }
        let result = match self.conn.buf[0] {
            4 => self.socks4(),
            5 => self.socks5(),
            b'A'..=b'Z' => self.http(),
            _ => Err(self.unknown_protocol()),
        };
        if let Err(failure) = result {
            self.fail(failure);
        }
    }

    pub(super) fn unknown_protocol(&self) -> Failure {
        let head = &self.conn.buf[..self.conn.buf.len().min(16)];
        let guess = if head.len() >= 3 && head[0] == 0x16 && head[1] == 3 {
            ": a TLS handshake (the client speaks TLS to the proxy port)"
        } else if head.starts_with(b"SSH-") {
            ": SSH"
        } else {
            ""
        };
        Failure::new(format!(
            "not a protocol the stand-in speaks (first bytes \"{}\"){guess}",
            escape(head)
        ))
    }

    /// Records a failed handshake: its reason, the answer (sent here), and everything
    /// from the failing message on as payload.
    pub(super) fn fail(&mut self, failure: Failure) {
        self.s.error = Some(failure.why);
        if let Some(reply) = failure.reply {
            if let Some(bytes) = reply_bytes(self.s.protocol, reply) {
                self.conn.send(&bytes);
            }
            self.s.reply = Some(reply);
        }
        self.collect(None, Some(Instant::now() + LINGER));
    }

    pub(super) fn socks5(&mut self) -> Result<(), Failure> {
        self.s.protocol = Protocol::Socks5;
        let methods = self.conn.parse("SOCKS 5 greeting", socks::parse_greeting)?;
        let method = socks::select_method(&methods);
        self.conn.send(&[5, method]);
        if method == socks::METHOD_NONE_ACCEPTABLE {
            self.s.reply = Some(Reply::NoAcceptableMethods);
            return Err(Failure::new(format!(
                "SOCKS 5 client offered no method the stand-in accepts (offered {methods:02x?}; \
                 Tor accepts 00 no-auth and 02 username/password)"
            )));
        }
        if method == socks::METHOD_USER_PASS {
            let (user, pass) = self
                .conn
                .parse("SOCKS 5 username/password", socks::parse_auth)?;
            self.s.set_username(&user);
            self.s.set_password(&pass);
            self.conn.send(&[1, 0]);
        }
        let req = self.conn.parse("SOCKS 5 request", socks::parse_request)?;
        self.s.destination = Some(req.addr.destination(req.port));
        self.s.raw.host = req.addr.host_bytes();
        let Some(command) = socks::command(req.cmd) else {
            return Err(Failure::with(
                format!("unknown SOCKS 5 command {:#04x}", req.cmd),
                Reply::CommandNotSupported,
            ));
        };
        self.s.command = Some(command);
        if req.addr == Addr::Name(Vec::new()) {
            return Err(Failure::with(
                "SOCKS 5 request with an empty host name",
                Reply::GeneralFailure,
            ));
        }
        let (reply, bound) = self.decide(command, &req.addr);
        self.conn.send(&socks::socks5_reply(reply, &bound));
        self.s.reply = Some(reply);
        self.after_reply(command, reply, req.port);
        Ok(())
    }

    /// The answer to a well-formed request, and the address to put in it.
    pub(super) fn decide(&self, command: Command, addr: &Addr) -> (Reply, Addr) {
        let zero = Addr::V4(Ipv4Addr::UNSPECIFIED);
        match command {
            Command::Bind | Command::UdpAssociate => (Reply::CommandNotSupported, zero),
            _ if self.config.mode == Mode::Refuse => (Reply::HostUnreachable, zero),
            Command::Connect => (Reply::Succeeded, zero),
            Command::Resolve => match addr {
                Addr::Name(_) => (Reply::Succeeded, Addr::V4(RESOLVE_ANSWER)),
                literal => (Reply::Succeeded, literal.clone()),
            },
            Command::ResolvePtr => match addr {
                Addr::Name(_) => (Reply::AddressTypeNotSupported, zero),
                _ => (Reply::Succeeded, Addr::Name(PTR_ANSWER.as_bytes().to_vec())),
            },
        }
    }

    pub(super) fn socks4(&mut self) -> Result<(), Failure> {
        self.s.protocol = Protocol::Socks4;
        let req = self.conn.parse("SOCKS 4 request", |b| {
            socks::parse_socks4(b, MAX_SOCKS4_FIELD)
        })?;
        let addr = match &req.host {
            Some(host) => {
                self.s.protocol = Protocol::Socks4a;
                Addr::Name(host.clone())
            }
            None => Addr::V4(req.ip),
        };
        if !req.userid.is_empty() {
            self.s.set_username(&req.userid);
        }
        self.s.destination = Some(addr.destination(req.port));
        self.s.raw.host = addr.host_bytes();
        let command = match req.cmd {
            socks::CMD_CONNECT | socks::CMD_BIND | socks::CMD_RESOLVE | socks::CMD_RESOLVE_PTR => {
                socks::command(req.cmd)
            }
            _ => None,
        };
        let Some(command) = command else {
            return Err(Failure::with(
                format!("unknown SOCKS 4 command {:#04x}", req.cmd),
                Reply::Rejected,
            ));
        };
        self.s.command = Some(command);
        if addr == Addr::Name(Vec::new()) {
            return Err(Failure::with(
                "SOCKS 4a request with an empty host name",
                Reply::Rejected,
            ));
        }
        let granted = match command {
            Command::Bind | Command::UdpAssociate | Command::ResolvePtr => None,
            _ if self.config.mode == Mode::Refuse => None,
            Command::Connect => Some(Ipv4Addr::UNSPECIFIED),
            Command::Resolve => Some(match addr {
                Addr::V4(ip) => ip,
                _ => RESOLVE_ANSWER,
            }),
        };
        let reply = if granted.is_some() {
            Reply::Succeeded
        } else {
            Reply::Rejected
        };
        self.conn.send(&socks::socks4_reply(
            granted.is_some(),
            granted.unwrap_or(Ipv4Addr::UNSPECIFIED),
        ));
        self.s.reply = Some(reply);
        self.after_reply(command, reply, req.port);
        Ok(())
    }

    pub(super) fn http(&mut self) -> Result<(), Failure> {
        let is_http = self
            .conn
            .parse("HTTP request line", |b| match http::looks_like_http(b) {
                Some(yes) => Step::Done(0, yes),
                None => Step::Need,
            })?;
        if !is_http {
            return Err(self.unknown_protocol());
        }
        let limit = self.conn.handshake_bytes;
        let head = |b: &[u8]| match http::parse_head(b, limit) {
            // The head stays unparsed: on failure it is part of the payload.
            Step::Done(n, ()) => Step::Done(0, n),
            Step::Need => Step::Need,
            Step::Bad(why, reply) => Step::Bad(why, reply),
        };
        if !self.http_connect {
            // Read the head (if it comes) so that it is searched as payload.
            let _ = self.conn.parse("HTTP request head", head);
            return Err(Failure::with(
                format!(
                    "an HTTP request (\"{}\") on a SOCKS port: the client uses it as an HTTP proxy",
                    escape(first_line(&self.conn.buf))
                ),
                Reply::NotAnHttpProxy,
            ));
        }
        if self.conn.buf.starts_with(b"CONNECT ") {
            self.s.protocol = Protocol::HttpConnect;
        }
        let n = self.conn.parse("HTTP CONNECT request head", head)?;
        let head = self.conn.buf[self.conn.pos..self.conn.pos + n].to_vec();
        match http::parse_connect(&head) {
            Ok(c) => {
                self.conn.pos += n;
                self.s.raw.header = head;
                if let Some(user) = &c.username {
                    self.s.set_username(user);
                }
                if let Some(pass) = &c.password {
                    self.s.set_password(pass);
                }
                self.s.isolation = c.isolation;
                self.s.command = Some(Command::Connect);
                self.s.destination = Some(c.addr.destination(c.port));
                self.s.raw.host = c.addr.host_bytes();
                let (reply, bytes) = match self.config.mode {
                    Mode::Accept => (Reply::Succeeded, http::OK),
                    Mode::Refuse => (Reply::BadGateway, http::BAD_GATEWAY),
                };
                self.conn.send(bytes);
                self.s.reply = Some(reply);
                self.after_reply(Command::Connect, reply, c.port);
                Ok(())
            }
            Err(NotConnect::Method(method)) => Err(Failure::with(
                format!(
                    "an HTTP {method} request (\"{}\"), not CONNECT: the stand-in is no plain HTTP proxy",
                    escape(first_line(&head))
                ),
                Reply::MethodNotAllowed,
            )),
            Err(NotConnect::Malformed(why)) => Err(Failure::with(why, Reply::BadRequest)),
        }
    }

    /// After the answer to a well-formed request: play the destination of a successful
    /// CONNECT; otherwise keep what the client pipelined and close.
    pub(super) fn after_reply(&mut self, command: Command, reply: Reply, port: u16) {
        if command == Command::Connect && reply == Reply::Succeeded {
            let mut responder = Responder::new(Bait::for_port(port), &self.config.bait_name);
            if let Some(greeting) = responder.greeting() {
                self.conn.send(&greeting);
            }
            self.collect(Some(&mut responder), None);
        } else {
            self.collect(None, Some(Instant::now() + LINGER));
        }
    }

    /// Reads the payload (what is left of the handshake buffer, then the socket) until
    /// the client closes or goes idle, the limits, or `until`; feeds it to a responder.
    pub(super) fn collect(
        &mut self,
        mut responder: Option<&mut Responder>,
        until: Option<Instant>,
    ) {
        let cap = self.config.limits.payload_bytes;
        let mut payload = self
            .conn
            .buf
            .split_off(self.conn.pos.min(self.conn.buf.len()));
        let mut out = Vec::new();
        if let Some(r) = responder.as_deref_mut() {
            r.feed(&payload, &mut out);
            self.conn.send(&out);
        }
        let mut chunk = [0u8; 8192];
        while payload.len() < cap && !self.conn.broken {
            if responder.as_deref().is_some_and(|r| r.done()) {
                break;
            }
            let mut idle = self.conn.idle;
            if let Some(until) = until {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                idle = idle.min(until - now);
            }
            let room = (cap - payload.len()).min(chunk.len());
            match self.conn.recv(&mut chunk[..room], idle) {
                Ok(n) => {
                    payload.extend_from_slice(&chunk[..n]);
                    if let Some(r) = responder.as_deref_mut() {
                        out.clear();
                        r.feed(&chunk[..n], &mut out);
                        self.conn.send(&out);
                    }
                }
                Err(_) => break,
            }
        }
        if payload.len() >= cap {
            payload.truncate(cap);
            self.s.raw.truncated = true;
        }
        self.s.sent_bytes = payload.len() as u64;
        self.s.raw.payload = payload;
    }
}

/// The bytes of an answer in a protocol.
pub(super) fn reply_bytes(protocol: Protocol, reply: Reply) -> Option<Vec<u8>> {
    match protocol {
        Protocol::Socks5 => reply
            .socks5_code()
            .map(|_| socks::socks5_reply(reply, &Addr::V4(Ipv4Addr::UNSPECIFIED))),
        Protocol::Socks4 | Protocol::Socks4a => {
            Some(socks::socks4_reply(reply == Reply::Succeeded, Ipv4Addr::UNSPECIFIED).to_vec())
        }
        Protocol::HttpConnect | Protocol::Unknown => match reply {
            Reply::BadRequest => Some(http::BAD_REQUEST.to_vec()),
            Reply::MethodNotAllowed => Some(http::METHOD_NOT_ALLOWED.to_vec()),
            Reply::NotAnHttpProxy => Some(http::NOT_AN_HTTP_PROXY.to_vec()),
            Reply::BadGateway => Some(http::BAD_GATEWAY.to_vec()),
            _ => None,
        },
    }
}

pub(super) fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len())
        .min(120);
    &buf[..end]
}
