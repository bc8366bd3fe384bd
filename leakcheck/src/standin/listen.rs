//! The listening sockets the stand-in serves on.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

pub(super) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A bound listening socket to serve on.
pub struct Listen {
    pub(super) listener: Listener,
    pub(super) name: String,
    pub(super) http_connect: bool,
    pub(super) server: Option<SocketAddr>,
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

    pub(super) fn raw_fd(&self) -> RawFd {
        match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    pub(super) fn set_nonblocking(&self) -> io::Result<()> {
        match &self.listener {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l) => l.set_nonblocking(true),
        }
    }

    pub(super) fn accept(&self) -> io::Result<(Sock, Option<SocketAddr>)> {
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

/// An accepted client socket.
pub(super) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    pub(super) fn raw_fd(&self) -> RawFd {
        match self {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
        }
    }

    pub(super) fn set_write_timeout(&self, t: Duration) {
        let _ = match self {
            Sock::Tcp(s) => s.set_write_timeout(Some(t)),
            Sock::Unix(s) => s.set_write_timeout(Some(t)),
        };
    }

    pub(super) fn shutdown_write(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// `SO_PEERCRED`'s pid (unix sockets).
    pub(super) fn peer_pid(&self) -> Option<u32> {
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
