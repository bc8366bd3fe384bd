//! One client connection: waiting on it, reading it within bounds, and why it ended.

use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::listen::*;
use super::socks::Step;
use super::stream::Reply;

pub(super) enum Wait {
    Ready,
    Timeout,
    Stopped,
}

/// Waits until `fd` is readable, `wake` says stop, or the timeout passes.
pub(super) fn wait_fd(fd: RawFd, wake: RawFd, timeout: Option<Duration>) -> Wait {
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

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Eof,
    Idle,
    Deadline,
    Stopped,
    Error,
}

/// A connection: the socket, what was received during the handshake, and the clock.
pub(super) struct Conn {
    pub(super) sock: Sock,
    pub(super) wake: RawFd,
    /// Bytes received before the end of the handshake; `pos` is how far they were
    /// parsed.
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    pub(super) deadline: Instant,
    pub(super) idle: Duration,
    pub(super) handshake_bytes: usize,
    pub(super) broken: bool,
}

impl Conn {
    pub(super) fn recv(&mut self, chunk: &mut [u8], idle: Duration) -> Result<usize, End> {
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
    pub(super) fn fill(&mut self) -> Result<usize, End> {
        let mut chunk = [0u8; 4096];
        let n = self.recv(&mut chunk, self.idle)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Parses the next handshake message, reading as needed.
    pub(super) fn parse<T>(
        &mut self,
        what: &str,
        parse: impl Fn(&[u8]) -> Step<T>,
    ) -> Result<T, Failure> {
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

    pub(super) fn send(&mut self, bytes: &[u8]) {
        if self.broken || bytes.is_empty() {
            return;
        }
        if self.sock.write_all(bytes).is_err() {
            self.broken = true;
        }
    }
}

pub(super) fn incomplete(what: &str, end: End, got: usize, idle: Duration) -> String {
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
pub(super) struct Failure {
    pub(super) why: String,
    pub(super) reply: Option<Reply>,
}

impl Failure {
    pub(super) fn new(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            reply: None,
        }
    }

    pub(super) fn with(why: impl Into<String>, reply: Reply) -> Failure {
        Failure {
            why: why.into(),
            reply: Some(reply),
        }
    }
}
