//! The IP sockets leakcheck's own process hands to the program it starts.

use crate::judge::{InheritedSocket, Proto};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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
