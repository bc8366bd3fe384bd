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
//! Files: `procfs.rs` reads those sources; this file answers the questions from them,
//! with caches. `inherited.rs` ([`inherited_ip_sockets`]) lists the IP sockets
//! leakcheck's own process would hand to the program it starts: another concern, at
//! another time (before the run), from other sources (the descriptors themselves).

mod inherited;
pub(crate) mod procfs;

use crate::judge::{holds, Descriptor, Judge, Proto, Question};
pub use inherited::inherited_ip_sockets;
use procfs::{
    copied_socket, holds_inode, ip_socket, read_table, sock_proto_name, socket_inode, tables,
    TCP_LISTEN,
};
pub use procfs::{local_address, parse_table, TableEntry};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long "nobody of the tree holds this port" is believed before asking again.
const NEGATIVE_FOR: Duration = Duration::from_millis(50);

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
                        let answer = self.descriptor_knowing(asked.pid, asked.fd, &|local| {
                            judge.listens_on(local)
                        });
                        judge.note_descriptor(asked, answer);
                    }
                    Question::Client { pid, fd } => {
                        if let Some(addr) = local_address(pid, fd, Proto::Tcp) {
                            judge.note_client(pid, addr);
                        }
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
        self.descriptor_knowing(pid, fd, &|_| false)
    }

    /// What descriptor `fd` of `pid` is, knowing where the tree listens (`listens`: its
    /// TCP listeners the trace showed). A socket whose own copy settles it is answered
    /// from the copy: a UDP socket, an unconnected TCP one, or one accepted from such a
    /// listener; otherwise (a TCP socket that may have been accepted from a listener the
    /// trace did not show) from the network namespace's tables.
    pub fn descriptor_knowing(
        &mut self,
        pid: u32,
        fd: i32,
        listens: &dyn Fn(&SocketAddr) -> bool,
    ) -> Descriptor {
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
        let copied = copied_socket(pid, fd).and_then(|c| {
            let accepted = c.peer.is_some() && c.local.as_ref().is_some_and(listens);
            let settled = match c.proto {
                Some(Proto::Udp) => true,
                Some(Proto::Tcp) => c.peer.is_none() || accepted,
                None => false,
            };
            settled.then_some(Descriptor::Ip {
                v6: c.v6,
                proto: c.proto,
                peer: c.peer,
                accepted,
            })
        });
        let answer = match copied {
            Some(answer) => answer,
            None => match sock_proto_name(&path) {
                Some(name) => self.by_proto_name(pid, inode, &name),
                None => self.by_tables(pid, inode),
            },
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
        // Knowing the tree's listener, a copy of the socket settles it.
        assert_eq!(
            LiveLookups::new(false)
                .descriptor_knowing(me, server.as_raw_fd(), &|l| { l.port() == addr.port() }),
            Descriptor::Ip {
                v6: false,
                proto: Some(Proto::Tcp),
                peer: Some(peer),
                accepted: true
            }
        );
        assert_eq!(
            procfs::copied_socket(me, server.as_raw_fd()),
            Some(procfs::Copied {
                v6: false,
                proto: Some(Proto::Tcp),
                local: Some(addr),
                peer: Some(peer),
            })
        );
        let udp6 = std::net::UdpSocket::bind("[::1]:0").unwrap();
        assert!(matches!(
            procfs::copied_socket(me, udp6.as_raw_fd()),
            Some(procfs::Copied {
                v6: true,
                proto: Some(Proto::Udp),
                peer: None,
                ..
            })
        ));
        assert_eq!(procfs::copied_socket(me, a.as_raw_fd()), None);
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
