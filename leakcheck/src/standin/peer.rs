//! Which process holds the client end of a loopback TCP stream: what the stand-in's
//! `identify` hook needs to map a stream to the traced process that opened it while the
//! connection is still open.
//!
//! The client's socket is the one whose local address is the accepted stream's peer
//! address and whose remote address is the listener's: found in
//! `/proc/thread-self/net/tcp{,6}` (the caller's network namespace), then its inode in
//! `/proc/*/fd`.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use super::config::Peer;
use crate::ports::procfs::parse_table;

/// The pid of the process holding the client socket of `peer` (lowest pid when several
/// share it), looked up in the network namespace of the calling thread (the
/// connection's thread: right when the stand-in's threads are in the namespace of its
/// listeners). For the `Config::identify` hook:
/// `identify: Some(Arc::new(standin::loopback_client_pid))`.
pub fn loopback_client_pid(peer: &Peer) -> Option<u32> {
    client_pid(peer, Path::new("/proc/thread-self/net"))
}

/// [`loopback_client_pid`] with the socket tables of another network namespace:
/// `/proc/PID/net` of any process in it (e.g. the traced program, when the listeners
/// were created in its namespace but the stand-in's threads run outside it).
pub fn client_pid(peer: &Peer, net: &Path) -> Option<u32> {
    let (client, server) = (peer.client?, peer.server?);
    let inode = client_inode(client, server, net)?;
    pid_with_socket(inode)
}

/// The inode of the socket with local address `client` and remote address `server` in
/// the tables under `net` (`/proc/thread-self/net`, `/proc/PID/net`).
pub fn client_inode(client: SocketAddr, server: SocketAddr, net: &Path) -> Option<u64> {
    let (client, server) = (canonical(client), canonical(server));
    for table in ["tcp", "tcp6"] {
        let path = net.join(table);
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for row in parse_table(&text) {
            if canonical(row.local) == client && canonical(row.remote) == server && row.inode != 0 {
                return Some(row.inode);
            }
        }
    }
    None
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// The lowest pid with a descriptor on `socket:[inode]`.
pub fn pid_with_socket(inode: u64) -> Option<u32> {
    let target = format!("socket:[{inode}]");
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn parses_tables() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:2382 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1\n";
        let rows: Vec<_> = parse_table(text)
            .into_iter()
            .map(|r| (r.local, r.remote, r.inode))
            .collect();
        if cfg!(target_endian = "little") {
            assert_eq!(
                rows,
                [(
                    "127.0.0.1:9090".parse().unwrap(),
                    "127.0.0.1:54321".parse().unwrap(),
                    12345
                )]
            );
        }
        let v6 = "x\n 0: 00000000000000000000000001000000:2382 00000000000000000000000001000000:D431 01 0:0 0:0 0 0 0 777 1\n";
        if cfg!(target_endian = "little") {
            assert_eq!(parse_table(v6)[0].local, "[::1]:9090".parse().unwrap());
        }
    }

    #[test]
    fn finds_our_own_client_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = TcpStream::connect(server).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let found = loopback_client_pid(&Peer {
            proxy: server.to_string(),
            client: Some(peer),
            server: Some(server),
            pid: None,
        });
        assert_eq!(found, Some(std::process::id()));
        let me = format!("/proc/{}/net", std::process::id());
        assert_eq!(
            client_inode(peer, server, Path::new(&me)),
            client_inode(peer, server, Path::new("/proc/thread-self/net"))
        );
    }
}
