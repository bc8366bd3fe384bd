//! Live look-ups for the judge: who holds a loopback port, and what a descriptor the trace
//! never showed is. The judge itself does no I/O; while a traced program runs it asks
//! [`Question`]s about the event it just observed, and [`LiveLookups::answer`] answers
//! them from procfs before the next event (see `leakcheck::trace`).
//!
//! Sources:
//! - `/proc/PID/net/{tcp,tcp6,udp,udp6}`: the sockets of PID's network namespace, with
//!   their local and remote addresses, state and inode;
//! - `/proc/PID/fd/*`: which inodes the processes of the traced tree hold;
//! - `getxattr(/proc/PID/fd/N, "system.sockprotoname")`: a socket's protocol name
//!   (`TCP`, `UDPv6`, `UNIX-STREAM`, `NETLINK`, ...) in one call.
//!
//! [`inherited_ip_sockets`] lists the IP sockets leakcheck's own process would hand to
//! the program it starts.

use crate::judge::{holds, Descriptor, InheritedSocket, Judge, Proto, Question};
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// TCP_LISTEN in the `st` column.
const TCP_LISTEN: u8 = 0x0A;
/// How long "nobody of the tree holds this port" is believed before asking again.
const NEGATIVE_FOR: Duration = Duration::from_millis(50);

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
fn parse_hex_addr(text: &str) -> Option<SocketAddr> {
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

fn read_table(pid: u32, name: &str) -> io::Result<Vec<TableEntry>> {
    Ok(parse_table(&std::fs::read_to_string(format!(
        "/proc/{pid}/net/{name}"
    ))?))
}

fn tables(proto: Proto) -> [&'static str; 2] {
    match proto {
        Proto::Tcp => ["tcp", "tcp6"],
        Proto::Udp => ["udp", "udp6"],
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &std::path::Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The protocol name sockfs gives a socket (`TCP`, `UDPv6`, `UNIX-STREAM`, ...).
fn sock_proto_name(path: &str) -> Option<String> {
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

/// Answers the judge's questions about the live system, with caches so that a program
/// that repeats itself costs little.
#[derive(Debug, Default)]
pub struct LiveLookups {
    /// The run has a network namespace of its own: every socket in it is the tree's.
    isolated: bool,
    /// leakcheck's own network namespace (`net:[N]`).
    own_netns: Option<std::path::PathBuf>,
    /// Destinations found not owned, and when.
    not_owned: HashMap<(Proto, SocketAddr), Instant>,
    /// Descriptors looked up, by socket inode (only answers that cannot change).
    descriptors: HashMap<u64, Descriptor>,
}

impl LiveLookups {
    /// Look-ups for a run; `isolated` when it runs in a network namespace of its own.
    pub fn new(isolated: bool) -> LiveLookups {
        LiveLookups {
            isolated,
            own_netns: std::fs::read_link("/proc/self/ns/net").ok(),
            ..LiveLookups::default()
        }
    }

    /// Answers every question the judge has raised (answers may raise more: a
    /// descriptor's peer may be a loopback port to look up in turn).
    pub fn answer(&mut self, judge: &mut Judge) {
        for _ in 0..4 {
            let questions = judge.take_questions();
            if questions.is_empty() {
                return;
            }
            for question in questions {
                match question {
                    Question::Owned { pid, proto, addr } => {
                        if self.owned(judge, pid, proto, addr) {
                            judge.note_owned(proto, addr);
                        }
                    }
                    Question::Local { pid, fd, proto } => {
                        if let Some(addr) = local_address(pid, fd, proto) {
                            judge.note_local(pid, fd, addr);
                        }
                    }
                    Question::Descriptor(asked) => {
                        let answer = self.descriptor(asked.pid, asked.fd);
                        judge.note_descriptor(asked, answer);
                    }
                }
            }
        }
    }

    /// Whether a socket of the traced tree holds `addr` under `proto` now, in the network
    /// namespace of `pid` (or of another live process of the tree when `pid` is gone).
    pub fn owned(&mut self, judge: &Judge, pid: u32, proto: Proto, addr: SocketAddr) -> bool {
        if let Some(when) = self.not_owned.get(&(proto, addr)) {
            if when.elapsed() < NEGATIVE_FOR {
                return false;
            }
        }
        let owned = self.find_owner(judge, pid, proto, addr);
        if owned {
            self.not_owned.remove(&(proto, addr));
        } else {
            self.not_owned.insert((proto, addr), Instant::now());
        }
        owned
    }

    fn find_owner(&self, judge: &Judge, pid: u32, proto: Proto, addr: SocketAddr) -> bool {
        let candidates = std::iter::once(pid)
            .chain(judge.root_pid())
            .chain(judge.live_pids());
        for asker in candidates {
            let mut read_any = false;
            let mut inodes = Vec::new();
            for table in tables(proto) {
                let Ok(entries) = read_table(asker, table) else {
                    continue;
                };
                read_any = true;
                inodes.extend(
                    entries
                        .iter()
                        .filter(|e| proto == Proto::Udp || e.state == TCP_LISTEN)
                        .filter(|e| holds(&e.local, &addr))
                        .map(|e| e.inode),
                );
            }
            if !read_any {
                // The process is gone: ask another one of the tree.
                continue;
            }
            if inodes.is_empty() {
                return false;
            }
            if self.isolated {
                let netns = std::fs::read_link(format!("/proc/{asker}/ns/net")).ok();
                if netns.is_some() && netns != self.own_netns {
                    // The run's own namespace: only the tree lives there.
                    return true;
                }
            }
            let holders = std::iter::once(asker)
                .chain(judge.root_pid())
                .chain(judge.live_pids());
            return holders.into_iter().any(|p| holds_inode(p, &inodes));
        }
        false
    }

    /// What descriptor `fd` of `pid` is.
    pub fn descriptor(&mut self, pid: u32, fd: i32) -> Descriptor {
        let path = format!("/proc/{pid}/fd/{fd}");
        let link = match std::fs::read_link(&path) {
            Ok(link) => link,
            Err(e) => return Descriptor::Unknown(format!("{path}: {e}")),
        };
        let Some(inode) = socket_inode(&link) else {
            // A pipe or a file: a send on it fails (ENOTSOCK).
            return Descriptor::Local;
        };
        if let Some(known) = self.descriptors.get(&inode) {
            return known.clone();
        }
        let answer = match sock_proto_name(&path) {
            Some(name) => self.by_proto_name(pid, inode, &name),
            None => self.by_tables(pid, inode),
        };
        // A TCP socket's peer and any socket's family never change; a UDP socket may be
        // connected elsewhere, and an unconnected TCP socket may connect later.
        let lasting = match &answer {
            Descriptor::Local | Descriptor::Raw(_) => true,
            Descriptor::Ip { proto, peer, .. } => *proto == Some(Proto::Tcp) && peer.is_some(),
            Descriptor::Unknown(_) => false,
        };
        if lasting {
            self.descriptors.insert(inode, answer.clone());
        }
        answer
    }

    fn by_proto_name(&self, pid: u32, inode: u64, name: &str) -> Descriptor {
        let proto = match name {
            n if n.starts_with("UNIX") || n == "NETLINK" => return Descriptor::Local,
            "TCP" | "TCPv6" => Proto::Tcp,
            "UDP" | "UDPv6" => Proto::Udp,
            other => return Descriptor::Raw(other.to_string()),
        };
        match ip_socket(pid, inode, proto) {
            Ok(Some(answer)) => answer,
            Ok(None) => Descriptor::Unknown(format!(
                "socket:[{inode}] ({name}) is in no table of /proc/{pid}/net"
            )),
            Err(e) => Descriptor::Unknown(format!("/proc/{pid}/net: {e}")),
        }
    }

    /// Without sockfs's protocol name: the inode in each table.
    fn by_tables(&self, pid: u32, inode: u64) -> Descriptor {
        for proto in [Proto::Tcp, Proto::Udp] {
            if let Ok(Some(answer)) = ip_socket(pid, inode, proto) {
                return answer;
            }
        }
        for (table, column) in [("unix", 6), ("netlink", 9)] {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
                continue;
            };
            let found = text.lines().skip(1).any(|line| {
                line.split_whitespace()
                    .nth(column)
                    .and_then(|i| i.parse().ok())
                    == Some(inode)
            });
            if found {
                return Descriptor::Local;
            }
        }
        Descriptor::Unknown(format!(
            "socket:[{inode}] is in no table of /proc/{pid}/net"
        ))
    }
}

/// The local address of socket `fd` of `pid` (a `proto` socket), from its table entry.
pub fn local_address(pid: u32, fd: i32, proto: Proto) -> Option<SocketAddr> {
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
fn ip_socket(pid: u32, inode: u64, proto: Proto) -> io::Result<Option<Descriptor>> {
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
fn holds_inode(pid: u32, inodes: &[u64]) -> bool {
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

/// The IPv4/IPv6 sockets of this process that a program it starts inherits (descriptors
/// without FD_CLOEXEC), with their peers: connections made before the trace began.
pub fn inherited_ip_sockets() -> Vec<InheritedSocket> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let fds: Vec<i32> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut sockets: Vec<InheritedSocket> = fds.into_iter().filter_map(inherited_socket).collect();
    sockets.sort_by_key(|s| s.fd);
    sockets
}

fn inherited_socket(fd: i32) -> Option<InheritedSocket> {
    // SAFETY: fcntl, fstat, getsockopt and getpeername only read the descriptor's state
    // into locals; a descriptor closed meanwhile gives EBADF.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || flags & libc::FD_CLOEXEC != 0 {
            return None;
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        let int_opt = |opt: libc::c_int| -> Option<libc::c_int> {
            let mut value: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let r = libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            );
            (r == 0).then_some(value)
        };
        let domain = int_opt(libc::SO_DOMAIN)?;
        if domain != libc::AF_INET && domain != libc::AF_INET6 {
            return None;
        }
        let ty = int_opt(libc::SO_TYPE).unwrap_or(-1);
        let protocol = int_opt(libc::SO_PROTOCOL).unwrap_or(-1);
        let proto = match (ty, protocol) {
            (libc::SOCK_STREAM, libc::IPPROTO_TCP) => Some(Proto::Tcp),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDP) => Some(Proto::Udp),
            _ => None,
        };
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let peer = if libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        ) == 0
        {
            sockaddr_to_std(&storage)
        } else {
            None
        };
        Some(InheritedSocket {
            fd,
            v6: domain == libc::AF_INET6,
            proto,
            raw: ty == libc::SOCK_RAW,
            peer,
        })
    }
}

fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let v6 = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let ip = match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            };
            Some(SocketAddr::new(ip, u16::from_be(sin6.sin6_port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn tables_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:9C40 0200007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 67 1 0000000000000000 100 0 0 10 0\n";
        let entries = parse_table(tcp);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(entries[0].state, TCP_LISTEN);
        assert_eq!(entries[0].inode, 12345);
        assert_eq!(entries[1].remote, "127.0.0.2:80".parse().unwrap());
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0\n   1: 0000000000000000FFFF00000100007F:2329 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 98 1 0000000000000000 100 0 0 10 0\n";
        let entries = parse_table(tcp6);
        assert_eq!(entries[0].local, "[::1]:9000".parse().unwrap());
        assert_eq!(entries[1].local, "127.0.0.1:9001".parse().unwrap());
    }

    #[test]
    fn own_descriptors_are_looked_up() {
        let me = std::process::id();
        let mut lookups = LiveLookups::new(false);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(lookups.descriptor(me, a.as_raw_fd()), Descriptor::Local);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server, peer) = listener.accept().unwrap();
        server.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        client.read_exact(&mut one).unwrap();
        assert_eq!(
            lookups.descriptor(me, client.as_raw_fd()),
            Descriptor::Ip {
                v6: false,
                proto: Some(Proto::Tcp),
                peer: Some(addr),
                accepted: false
            }
        );
        assert_eq!(
            lookups.descriptor(me, server.as_raw_fd()),
            Descriptor::Ip {
                v6: false,
                proto: Some(Proto::Tcp),
                peer: Some(peer),
                accepted: true
            }
        );
        let clone = client.try_clone().unwrap();
        assert!(matches!(
            lookups.descriptor(me, clone.as_raw_fd()),
            Descriptor::Ip { peer: Some(p), .. } if p == addr
        ));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            local_address(me, udp.as_raw_fd(), Proto::Udp),
            Some(udp.local_addr().unwrap())
        );
        assert_eq!(
            local_address(me, listener.as_raw_fd(), Proto::Tcp),
            Some(addr)
        );
        assert!(matches!(
            lookups.descriptor(me, 1_000_000),
            Descriptor::Unknown(_)
        ));
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(lookups.descriptor(me, file.as_raw_fd()), Descriptor::Local);
    }

    #[test]
    fn inherited_sockets_are_listed_with_their_peers() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.connect("127.0.0.1:9").unwrap();
        let fd = udp.as_raw_fd();
        assert!(!inherited_ip_sockets().iter().any(|s| s.fd == fd));
        // SAFETY: clears FD_CLOEXEC on our own socket (loopback only).
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        let listed = inherited_ip_sockets();
        // SAFETY: back to close-on-exec before any other test spawns a child.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let socket = listed.iter().find(|s| s.fd == fd).expect("listed");
        assert_eq!(socket.peer, Some("127.0.0.1:9".parse().unwrap()));
        assert_eq!(socket.proto, Some(Proto::Udp));
        assert!(!socket.v6 && !socket.raw);
    }
}
