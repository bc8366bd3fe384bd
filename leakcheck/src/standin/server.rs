//! The stand-in proxy server: one accept thread per listener, one bounded thread per
//! connection, every stream recorded.
//!
//! It never connects anywhere: after a successful CONNECT it plays the destination
//! itself (see `bait`), reads what the client sends (bounded in bytes and time) and
//! closes. Stopping wakes every thread through a pipe that all of them poll, and joins
//! them.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::bait::{Bait, Responder};
use super::canary::Canaries;
use super::http::{self, NotConnect};
use super::socks::{self, Addr, Step};
use super::stream::{escape, Command, Protocol, Reply, Stream};

/// What the stand-in answers a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Success, then the stand-in plays the destination (`--stand-in=accept`).
    #[default]
    Accept,
    /// What Tor answers when it cannot reach the destination: SOCKS 5 0x04 (host
    /// unreachable), SOCKS 4 0x5B, HTTP 502 (`--stand-in=refuse`).
    Refuse,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "accept" => Ok(Mode::Accept),
            "refuse" => Ok(Mode::Refuse),
            other => Err(format!(
                "unknown stand-in mode {other:?}: expected \"accept\" or \"refuse\""
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Mode::Accept => "accept",
            Mode::Refuse => "refuse",
        })
    }
}

/// Bounds on what one client can make the stand-in hold or wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The handshake (SOCKS messages, HTTP request head) may be this long.
    pub handshake_bytes: usize,
    /// Payload read and kept per stream; the stream ends when it is reached.
    pub payload_bytes: usize,
    /// Payload kept across all streams not yet taken; beyond it payloads are cut (after
    /// their canary search).
    pub payload_total: usize,
    /// A stream ends after this long without data from the client.
    pub idle: Duration,
    /// A stream ends this long after it was accepted, whatever it does.
    pub stream: Duration,
    /// Connections served at the same time; more wait in the listen backlog.
    pub connections: usize,
    /// Streams held (not yet taken); more are counted in `Recorded::dropped`.
    pub streams: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_bytes: 16 << 10,
            payload_bytes: 64 << 10,
            payload_total: 64 << 20,
            idle: Duration::from_secs(1),
            stream: Duration::from_secs(5),
            connections: 256,
            streams: 100_000,
        }
    }
}

/// What the `identify` hook learns about a client when its connection is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The endpoint's name.
    pub proxy: String,
    /// The client's address (TCP).
    pub client: Option<SocketAddr>,
    /// The listener's address (TCP).
    pub server: Option<SocketAddr>,
    /// The client's pid from `SO_PEERCRED` (unix sockets).
    pub pid: Option<u32>,
}

/// Maps a client to its pid while its connection is open (e.g.
/// [`super::loopback_client_pid`]); called on the connection's thread.
pub type Identify = Arc<dyn Fn(&Peer) -> Option<u32> + Send + Sync>;

/// The answer to RESOLVE (TEST-NET-2, RFC 5737).
pub const RESOLVE_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The answer to RESOLVE_PTR.
pub const PTR_ANSWER: &str = "resolved.leakcheck.invalid";
/// The name bait servers greet with.
pub const BAIT_NAME: &str = "mail.leakcheck.invalid";

/// Longest SOCKS 4 userid or 4a host name.
const MAX_SOCKS4_FIELD: usize = 1024;
/// How long a stream that was answered with an error (or a RESOLVE) is still read, to
/// keep what the client pipelined and to let it read the answer before the close.
const LINGER: Duration = Duration::from_millis(200);

/// The stand-in's configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// Accept or refuse.
    pub mode: Mode,
    /// Bounds.
    pub limits: Limits,
    /// When set, each stream is searched when it ends (before its payload can be cut)
    /// and its hits put in [`Stream::canary_hits`].
    pub canaries: Option<Canaries>,
    /// The name bait servers greet with ([`BAIT_NAME`] when empty).
    pub bait_name: String,
    /// Maps a client to a pid at accept time (unix clients get theirs from
    /// `SO_PEERCRED`).
    pub identify: Option<Identify>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("limits", &self.limits)
            .field("canaries", &self.canaries)
            .field("bait_name", &self.bait_name)
            .field("identify", &self.identify.as_ref().map(|_| "fn"))
            .finish()
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A bound listening socket to serve on.
pub struct Listen {
    listener: Listener,
    name: String,
    http_connect: bool,
    server: Option<SocketAddr>,
}

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listen")
            .field("name", &self.name)
            .field("http_connect", &self.http_connect)
            .finish()
    }
}

impl Listen {
    /// A TCP listener, named by its address (`127.0.0.1:9050`, `[::1]:9050`).
    pub fn tcp(listener: TcpListener) -> io::Result<Listen> {
        let addr = listener.local_addr()?;
        Ok(Listen {
            listener: Listener::Tcp(listener),
            name: addr.to_string(),
            http_connect: false,
            server: Some(addr),
        })
    }

    /// A unix listener, named `unix:PATH` (or `unix:@NAME` when abstract).
    pub fn unix(listener: UnixListener) -> io::Result<Listen> {
        let addr = listener.local_addr()?;
        let name = if let Some(path) = addr.as_pathname() {
            format!("unix:{}", path.display())
        } else {
            use std::os::linux::net::SocketAddrExt;
            match addr.as_abstract_name() {
                Some(n) => format!("unix:@{}", String::from_utf8_lossy(n)),
                None => "unix:".to_string(),
            }
        };
        Ok(Listen {
            listener: Listener::Unix(listener),
            name,
            http_connect: false,
            server: None,
        })
    }

    /// Whether this endpoint also speaks HTTP CONNECT (like Tor's HTTPTunnelPort).
    pub fn http_connect(mut self, yes: bool) -> Listen {
        self.http_connect = yes;
        self
    }

    /// Another name for the report's `proxy` field.
    pub fn named(mut self, name: impl Into<String>) -> Listen {
        self.name = name.into();
        self
    }

    /// The report's name of this endpoint.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn raw_fd(&self) -> RawFd {
        match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match &self.listener {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l) => l.set_nonblocking(true),
        }
    }

    fn accept(&self) -> io::Result<(Sock, Option<SocketAddr>)> {
        match &self.listener {
            Listener::Tcp(l) => {
                let (s, a) = l.accept()?;
                s.set_nonblocking(false)?;
                Ok((Sock::Tcp(s), Some(a)))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept()?;
                s.set_nonblocking(false)?;
                Ok((Sock::Unix(s), None))
            }
        }
    }
}

/// Streams taken from the stand-in.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The streams that ended, in the order they were accepted.
    pub streams: Vec<Stream>,
    /// Streams not recorded because `Limits::streams` were held: when not zero, the
    /// record is incomplete (the wiring should make the verdict unverified).
    pub dropped: u64,
}

#[derive(Default)]
struct State {
    streams: Vec<Stream>,
    dropped: u64,
    kept: usize,
    active: usize,
}

struct Shared {
    config: Config,
    /// The read end of the stop pipe: readable (hung up) once stopping.
    wake: OwnedFd,
    stopping: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
    next_id: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn record(&self, mut s: Stream) {
        if let Some(canaries) = &self.config.canaries {
            s.canary_hits = canaries.scan_stream(&s);
        }
        let limits = &self.config.limits;
        let mut st = self.state();
        if st.streams.len() >= limits.streams {
            st.dropped += 1;
            return;
        }
        let room = limits.payload_total.saturating_sub(st.kept);
        if s.raw.payload.len() > room {
            s.raw.payload.truncate(room);
            s.raw.payload.shrink_to_fit();
            s.raw.truncated = true;
        }
        st.kept += s.raw.payload.len();
        st.streams.push(s);
    }
}

/// Decrements the active count when a connection's thread ends (or never starts).
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        let mut st = self.0.state();
        st.active -= 1;
        self.0.changed.notify_all();
    }
}

/// A running stand-in. Dropping it stops it (like [`StandIn::stop`], discarding the
/// streams).
pub struct StandIn {
    shared: Arc<Shared>,
    wake_tx: Option<OwnedFd>,
    threads: Vec<JoinHandle<()>>,
    endpoints: Vec<String>,
}

impl fmt::Debug for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandIn")
            .field("endpoints", &self.endpoints)
            .field("active", &self.active())
            .finish()
    }
}

impl StandIn {
    /// Serves on each listener until stopped.
    pub fn start(listens: Vec<Listen>, mut config: Config) -> io::Result<StandIn> {
        if config.bait_name.is_empty() {
            config.bait_name = BAIT_NAME.to_string();
        }
        config.limits.connections = config.limits.connections.max(1);
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (wake, wake_tx) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let shared = Arc::new(Shared {
            config,
            wake,
            stopping: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(0),
        });
        let mut standin = StandIn {
            shared,
            wake_tx: Some(wake_tx),
            threads: Vec::new(),
            endpoints: listens.iter().map(|l| l.name.clone()).collect(),
        };
        for listen in listens {
            listen.set_nonblocking()?;
            let shared = standin.shared.clone();
            let thread = thread::Builder::new()
                .name("standin-accept".into())
                .spawn(move || accept_loop(listen, shared))?;
            standin.threads.push(thread);
        }
        Ok(standin)
    }

    /// The endpoints' names, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.shared.state().active
    }

    /// Waits until no connection is being served (every stream so far has ended and is
    /// recorded), at most `timeout`; false when some still are.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        while st.active > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// The streams that ended since the last call (the stand-in keeps serving).
    pub fn take(&self) -> Recorded {
        let mut st = self.shared.state();
        let mut streams = std::mem::take(&mut st.streams);
        let dropped = std::mem::take(&mut st.dropped);
        st.kept = 0;
        drop(st);
        streams.sort_by_key(|s| s.id);
        Recorded { streams, dropped }
    }

    /// Stops serving: wakes every thread, ends the streams in progress (each recorded
    /// with what it got so far), joins all threads and returns the streams not yet
    /// taken.
    pub fn stop(mut self) -> Recorded {
        self.shutdown();
        self.take()
    }

    fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Closing the write end makes the read end readable (POLLHUP) for every poller.
        drop(self.wake_tx.take());
        {
            let _st = self.shared.state();
            self.shared.changed.notify_all();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What an accept thread knows about its endpoint.
struct EndpointInfo {
    name: String,
    http_connect: bool,
    server: Option<SocketAddr>,
}

fn accept_loop(listen: Listen, shared: Arc<Shared>) {
    let info = Arc::new(EndpointInfo {
        name: listen.name.clone(),
        http_connect: listen.http_connect,
        server: listen.server,
    });
    let mut children: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        {
            let mut st = shared.state();
            while st.active >= shared.config.limits.connections && !shared.stopping() {
                st = shared
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        match wait_fd(listen.raw_fd(), shared.wake.as_raw_fd(), None) {
            Wait::Stopped => break,
            Wait::Timeout => continue,
            Wait::Ready => {}
        }
        let (sock, client) = match listen.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                ) {
                    // EMFILE and the like: do not spin.
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        // Join the threads that have ended, so that handles do not pile up.
        let (done, running): (Vec<_>, Vec<_>) = children.drain(..).partition(|h| h.is_finished());
        children = running;
        for h in done {
            let _ = h.join();
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        shared.state().active += 1;
        let active = Active(shared.clone());
        let (shared2, info2) = (shared.clone(), info.clone());
        let spawned = thread::Builder::new()
            .name("standin-stream".into())
            .stack_size(256 << 10)
            .spawn(move || {
                let _active = active;
                let stream = catch_unwind(AssertUnwindSafe(|| {
                    serve(sock, &info2, &shared2, id, client)
                }))
                .unwrap_or_else(|_| {
                    let mut s = Stream::new(id, info2.name.clone());
                    s.error = Some("the stand-in failed on this stream (a bug)".into());
                    s
                });
                shared2.record(stream);
            });
        match spawned {
            Ok(h) => children.push(h),
            Err(e) => {
                let mut s = Stream::new(id, info.name.clone());
                s.client = client.map(|c| c.to_string());
                s.peer = client;
                s.error = Some(format!("the stand-in could not serve this stream: {e}"));
                shared.record(s);
            }
        }
    }
    for h in children {
        let _ = h.join();
    }
}

enum Wait {
    Ready,
    Timeout,
    Stopped,
}

/// Waits until `fd` is readable, `wake` says stop, or the timeout passes.
fn wait_fd(fd: RawFd, wake: RawFd, timeout: Option<Duration>) -> Wait {
    let ms: i32 = match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    };
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd structures.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Wait::Ready;
        }
        if fds[1].revents != 0 {
            return Wait::Stopped;
        }
        return if r == 0 { Wait::Timeout } else { Wait::Ready };
    }
}

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn raw_fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }

    fn set_write_timeout(&self, t: Duration) {
        let _ = match self {
            Sock::Tcp(s) => s.set_write_timeout(Some(t)),
            Sock::Unix(s) => s.set_write_timeout(Some(t)),
        };
    }

    fn shutdown_write(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// `SO_PEERCRED`'s pid (unix sockets).
    fn peer_pid(&self) -> Option<u32> {
        let Sock::Unix(s) = self else { return None };
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` and `len` are valid for getsockopt to write a ucred into.
        let r = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        (r == 0 && cred.pid > 0).then_some(cred.pid as u32)
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Idle,
    Deadline,
    Stopped,
    Error,
}

/// A connection: the socket, what was received during the handshake, and the clock.
struct Conn {
    sock: Sock,
    wake: RawFd,
    /// Bytes received before the end of the handshake; `pos` is how far they were
    /// parsed.
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
    idle: Duration,
    handshake_bytes: usize,
    broken: bool,
}

impl Conn {
    fn recv(&mut self, chunk: &mut [u8], idle: Duration) -> Result<usize, End> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(End::Deadline);
        }
        match wait_fd(
            self.sock.raw_fd(),
            self.wake,
            Some(idle.min(self.deadline - now)),
        ) {
            Wait::Stopped => return Err(End::Stopped),
            Wait::Timeout if Instant::now() >= self.deadline => return Err(End::Deadline),
            Wait::Timeout => return Err(End::Idle),
            Wait::Ready => {}
        }
        loop {
            match self.sock.read(chunk) {
                Ok(0) => return Err(End::Eof),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(End::Idle),
                Err(_) => return Err(End::Error),
            }
        }
    }

    /// Reads more handshake bytes.
    fn fill(&mut self) -> Result<usize, End> {
        let mut chunk = [0u8; 4096];
        let n = self.recv(&mut chunk, self.idle)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Parses the next handshake message, reading as needed.
    fn parse<T>(&mut self, what: &str, parse: impl Fn(&[u8]) -> Step<T>) -> Result<T, Failure> {
        loop {
            match parse(&self.buf[self.pos..]) {
                Step::Done(n, v) => {
                    self.pos += n;
                    return Ok(v);
                }
                Step::Bad(why, reply) => return Err(Failure { why, reply }),
                Step::Need => {
                    if self.buf.len() >= self.handshake_bytes {
                        return Err(Failure::new(format!(
                            "{what} not complete within {} bytes",
                            self.handshake_bytes
                        )));
                    }
                    if let Err(end) = self.fill() {
                        let got = self.buf.len() - self.pos;
                        return Err(Failure::new(incomplete(what, end, got, self.idle)));
                    }
                }
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if self.broken || bytes.is_empty() {
            return;
        }
        if self.sock.write_all(bytes).is_err() {
            self.broken = true;
        }
    }
}

fn incomplete(what: &str, end: End, got: usize, idle: Duration) -> String {
    let why = match end {
        End::Eof => "the client closed the connection".to_string(),
        End::Idle => format!("the client sent nothing for {idle:?}"),
        End::Deadline => "the stream's time limit passed".to_string(),
        End::Stopped => "the stand-in stopped".to_string(),
        End::Error => "the connection failed".to_string(),
    };
    format!("incomplete {what}: {why} after {got} bytes of it")
}

/// A handshake that failed: why, and what to answer.
#[derive(Debug)]
struct Failure {
    why: String,
    reply: Option<Reply>,
}

impl Failure {
    fn new(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            reply: None,
        }
    }

    fn with(why: impl Into<String>, reply: Reply) -> Failure {
        Failure {
            why: why.into(),
            reply: Some(reply),
        }
    }
}

fn serve(
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

struct Session<'a> {
    conn: Conn,
    s: Stream,
    config: &'a Config,
    http_connect: bool,
}

impl Session<'_> {
    fn run(&mut self) {
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

    fn unknown_protocol(&self) -> Failure {
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
    fn fail(&mut self, failure: Failure) {
        self.s.error = Some(failure.why);
        if let Some(reply) = failure.reply {
            if let Some(bytes) = reply_bytes(self.s.protocol, reply) {
                self.conn.send(&bytes);
            }
            self.s.reply = Some(reply);
        }
        self.collect(None, Some(Instant::now() + LINGER));
    }

    fn socks5(&mut self) -> Result<(), Failure> {
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
    fn decide(&self, command: Command, addr: &Addr) -> (Reply, Addr) {
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

    fn socks4(&mut self) -> Result<(), Failure> {
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

    fn http(&mut self) -> Result<(), Failure> {
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
    fn after_reply(&mut self, command: Command, reply: Reply, port: u16) {
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
    fn collect(&mut self, mut responder: Option<&mut Responder>, until: Option<Instant>) {
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
fn reply_bytes(protocol: Protocol, reply: Reply) -> Option<Vec<u8>> {
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

fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len())
        .min(120);
    &buf[..end]
}
