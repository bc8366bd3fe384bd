//! What procfs says about sockets: the `/proc/PID/net/{tcp,tcp6,udp,udp6}` tables, the
//! descriptors a process holds, and a socket's protocol name.

use crate::judge::{holds, Descriptor, Proto};
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP_LISTEN in the `st` column.
pub(super) const TCP_LISTEN: u8 = 0x0A;

/// One row of `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// Local address (IPv4-mapped IPv6 addresses as IPv4).
    pub local: SocketAddr,
    /// Remote address (`0.0.0.0:0` / `[::]:0` when not connected).
    pub remote: SocketAddr,
    /// The `st` column (TCP states; 07 for an unconnected UDP socket, 01 connected).
    pub state: u8,
    /// The socket's inode.
    pub inode: u64,
}

/// Parses the text of a `/proc/net/{tcp,udp}[6]` table; rows it cannot read are skipped.
pub fn parse_table(text: &str) -> Vec<TableEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(TableEntry {
                local: parse_hex_addr(fields.get(1)?)?,
                remote: parse_hex_addr(fields.get(2)?)?,
                state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
                inode: fields.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// `0100007F:1F90` → 127.0.0.1:8080; IPv6 as four 32-bit words, each in host order.
pub(super) fn parse_hex_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(octets);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

pub(super) fn read_table(pid: u32, name: &str) -> io::Result<Vec<TableEntry>> {
    Ok(parse_table(&std::fs::read_to_string(format!(
        "/proc/{pid}/net/{name}"
    ))?))
}

pub(super) fn tables(proto: Proto) -> [&'static str; 2] {
    match proto {
        Proto::Tcp => ["tcp", "tcp6"],
        Proto::Udp => ["udp", "udp6"],
    }
}

/// `socket:[12345]` → 12345.
pub(super) fn socket_inode(link: &std::path::Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The protocol name sockfs gives a socket (`TCP`, `UDPv6`, `UNIX-STREAM`, ...).
pub(super) fn sock_proto_name(path: &str) -> Option<String> {
    let path = CString::new(path).ok()?;
    let name = c"system.sockprotoname";
    let mut buf = [0u8; 64];
    // SAFETY: getxattr writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    let bytes = &buf[..n as usize];
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or(bytes);
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// The local address of socket `fd` of `pid` (a `proto` socket), from its table entry.
pub fn local_address(pid: u32, fd: i32, proto: Proto) -> Option<SocketAddr> {
    // A copy of the socket says at once; the tables (a walk of the kernel's connection
    // hash) only where it cannot be copied.
    if let Some(copied) = copied_socket(pid, fd) {
        if copied.proto == Some(proto) {
            return copied.local.filter(|local| local.port() != 0);
        }
    }
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let inode = socket_inode(&link)?;
    tables(proto)
        .into_iter()
        .filter_map(|table| read_table(pid, table).ok())
        .flatten()
        .find(|e| e.inode == inode)
        .map(|e| e.local)
        .filter(|local| local.port() != 0)
}

/// An IP socket's entry in `pid`'s tables of `proto`.
pub(super) fn ip_socket(pid: u32, inode: u64, proto: Proto) -> io::Result<Option<Descriptor>> {
    let mut found = None;
    let mut listeners = Vec::new();
    let mut read_any = None;
    for table in tables(proto) {
        let entries = match read_table(pid, table) {
            Ok(entries) => entries,
            Err(e) => {
                read_any.get_or_insert(Err(e));
                continue;
            }
        };
        read_any = Some(Ok(()));
        for entry in entries {
            if entry.inode == inode && inode != 0 {
                found = Some((entry, table.ends_with('6')));
            }
            if proto == Proto::Tcp && entry.state == TCP_LISTEN {
                listeners.push(entry.local);
            }
        }
    }
    if let Some(Err(e)) = read_any {
        return Err(e);
    }
    Ok(found.map(|(entry, v6)| {
        let connected = entry.remote.port() != 0 && !entry.remote.ip().is_unspecified();
        Descriptor::Ip {
            v6,
            proto: Some(proto),
            peer: connected.then_some(entry.remote),
            // Its local port is one the tree listens on: accept() made it.
            accepted: listeners.iter().any(|l| holds(l, &entry.local)),
        }
    }))
}

/// Whether process `pid` holds a socket with one of `inodes`.
pub(super) fn holds_inode(pid: u32, inodes: &[u64]) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.filter_map(Result::ok).any(|entry| {
        std::fs::read_link(entry.path())
            .ok()
            .and_then(|link| socket_inode(&link))
            .is_some_and(|inode| inodes.contains(&inode))
    })
}

/// What a copy of an IP socket tells of itself: no table walk (reading
/// `/proc/PID/net/tcp` walks the kernel's whole connection hash, about a millisecond
/// each time whatever the tree holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Copied {
    pub(super) v6: bool,
    pub(super) proto: Option<Proto>,
    pub(super) local: Option<SocketAddr>,
    pub(super) peer: Option<SocketAddr>,
}

/// Socket `fd` of `pid`, read from a copy of it taken with `pidfd_getfd` (Linux 5.6;
/// leakcheck traces `pid`, which the kernel requires). None when it cannot be copied (an
/// older kernel, the process gone) or is not an IPv4/IPv6 socket.
pub(super) fn copied_socket(pid: u32, fd: i32) -> Option<Copied> {
    use nix::sys::socket::{getpeername, getsockname, SockaddrLike, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let copy = crate::pidfd::copy_fd(pid as i32, fd).ok()?;
    let int_opt = |name: libc::c_int| -> Option<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let r = unsafe {
            libc::getsockopt(
                copy.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(value)
    };
    let v6 = match int_opt(libc::SO_DOMAIN)? {
        libc::AF_INET => false,
        libc::AF_INET6 => true,
        _ => return None,
    };
    let proto = match int_opt(libc::SO_PROTOCOL)? {
        libc::IPPROTO_TCP => Some(Proto::Tcp),
        libc::IPPROTO_UDP => Some(Proto::Udp),
        _ => None,
    };
    let ip = |s: SockaddrStorage| -> Option<SocketAddr> {
        if let Some(v4) = s.as_sockaddr_in() {
            return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
        }
        let v6 = s.as_sockaddr_in6()?;
        let addr = SocketAddr::from(std::net::SocketAddrV6::from(*v6));
        Some(match addr.ip() {
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
                None => addr,
            },
            _ => addr,
        })
    };
    let local = getsockname::<SockaddrStorage>(copy.as_raw_fd())
        .ok()
        .filter(|s| s.family().is_some())
        .and_then(ip);
    let peer = getpeername::<SockaddrStorage>(copy.as_raw_fd())
        .ok()
        .and_then(ip)
        .filter(|p| p.port() != 0 && !p.ip().is_unspecified());
    Some(Copied {
        v6,
        proto,
        local,
        peer,
    })
}
