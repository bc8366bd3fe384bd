//! The names strace gives numbers (address families, socket types, protocols, netlink
//! message types, ioctl requests, errnos), both ways: read back into libc's numbers, and
//! written for the native tracer's lines.
//!
//! A name that is not in a table reads as `None`: an event keeps "a name leakcheck has no
//! number for", which the judge treats as it treats any number it does not look for. The
//! native tracer names fewer numbers than strace does (the ones it has always named);
//! the others it writes as numbers, which read back as the same numbers.

use std::fmt::Write as _;

/// Linux's address families, as strace 6.1 names them (`AF_LOCAL` is `AF_UNIX`'s other
/// name). libc 0.2.191 lacks AF_KCM, AF_QIPCRTR, AF_SMC and AF_MCTP.
const FAMILIES: [(&str, i32); 47] = [
    ("AF_UNSPEC", libc::AF_UNSPEC),
    ("AF_UNIX", libc::AF_UNIX),
    ("AF_LOCAL", libc::AF_LOCAL),
    ("AF_INET", libc::AF_INET),
    ("AF_AX25", libc::AF_AX25),
    ("AF_IPX", libc::AF_IPX),
    ("AF_APPLETALK", libc::AF_APPLETALK),
    ("AF_NETROM", libc::AF_NETROM),
    ("AF_BRIDGE", libc::AF_BRIDGE),
    ("AF_ATMPVC", libc::AF_ATMPVC),
    ("AF_X25", libc::AF_X25),
    ("AF_INET6", libc::AF_INET6),
    ("AF_ROSE", libc::AF_ROSE),
    ("AF_DECnet", libc::AF_DECnet),
    ("AF_NETBEUI", libc::AF_NETBEUI),
    ("AF_SECURITY", libc::AF_SECURITY),
    ("AF_KEY", libc::AF_KEY),
    ("AF_NETLINK", libc::AF_NETLINK),
    ("AF_PACKET", libc::AF_PACKET),
    ("AF_ASH", libc::AF_ASH),
    ("AF_ECONET", libc::AF_ECONET),
    ("AF_ATMSVC", libc::AF_ATMSVC),
    ("AF_RDS", libc::AF_RDS),
    ("AF_SNA", libc::AF_SNA),
    ("AF_IRDA", libc::AF_IRDA),
    ("AF_PPPOX", libc::AF_PPPOX),
    ("AF_WANPIPE", libc::AF_WANPIPE),
    ("AF_LLC", libc::AF_LLC),
    ("AF_IB", libc::AF_IB),
    ("AF_MPLS", libc::AF_MPLS),
    ("AF_CAN", libc::AF_CAN),
    ("AF_TIPC", libc::AF_TIPC),
    ("AF_BLUETOOTH", libc::AF_BLUETOOTH),
    ("AF_IUCV", libc::AF_IUCV),
    ("AF_RXRPC", libc::AF_RXRPC),
    ("AF_ISDN", libc::AF_ISDN),
    ("AF_PHONET", libc::AF_PHONET),
    ("AF_IEEE802154", libc::AF_IEEE802154),
    ("AF_CAIF", libc::AF_CAIF),
    ("AF_ALG", libc::AF_ALG),
    ("AF_NFC", libc::AF_NFC),
    ("AF_VSOCK", libc::AF_VSOCK),
    ("AF_KCM", 41),
    ("AF_QIPCRTR", 42),
    ("AF_SMC", 43),
    ("AF_XDP", libc::AF_XDP),
    ("AF_MCTP", 45),
];

/// SOCK_PACKET, the obsolete packet interface (libc deprecates its constant: AF_PACKET
/// replaced it; it is a raw socket all the same).
#[allow(deprecated)]
pub(crate) const SOCK_PACKET: i32 = libc::SOCK_PACKET;

/// Socket types.
const SOCKET_TYPES: [(&str, i32); 7] = [
    ("SOCK_STREAM", libc::SOCK_STREAM),
    ("SOCK_DGRAM", libc::SOCK_DGRAM),
    ("SOCK_RAW", libc::SOCK_RAW),
    ("SOCK_RDM", libc::SOCK_RDM),
    ("SOCK_SEQPACKET", libc::SOCK_SEQPACKET),
    ("SOCK_DCCP", libc::SOCK_DCCP),
    ("SOCK_PACKET", SOCK_PACKET),
];

/// The flags strace prints with a socket type.
const SOCKET_FLAGS: [(&str, i32); 2] = [
    ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK),
    ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC),
];

/// The bits of a socket type that are its type, not flags (the kernel's SOCK_TYPE_MASK).
pub(crate) const SOCK_TYPE_MASK: i32 = 0xf;

/// IP protocols and netlink protocols (socket()'s third argument: its names depend on
/// the family, its numbers are read by the family).
const PROTOCOLS: [(&str, i32); 35] = [
    ("IPPROTO_IP", libc::IPPROTO_IP),
    ("IPPROTO_ICMP", libc::IPPROTO_ICMP),
    ("IPPROTO_IGMP", libc::IPPROTO_IGMP),
    ("IPPROTO_TCP", libc::IPPROTO_TCP),
    ("IPPROTO_UDP", libc::IPPROTO_UDP),
    ("IPPROTO_IPV6", libc::IPPROTO_IPV6),
    ("IPPROTO_ICMPV6", libc::IPPROTO_ICMPV6),
    ("IPPROTO_DCCP", libc::IPPROTO_DCCP),
    ("IPPROTO_GRE", libc::IPPROTO_GRE),
    ("IPPROTO_ESP", libc::IPPROTO_ESP),
    ("IPPROTO_AH", libc::IPPROTO_AH),
    ("IPPROTO_SCTP", libc::IPPROTO_SCTP),
    ("IPPROTO_UDPLITE", libc::IPPROTO_UDPLITE),
    ("IPPROTO_RAW", libc::IPPROTO_RAW),
    ("IPPROTO_MPTCP", libc::IPPROTO_MPTCP),
    ("NETLINK_ROUTE", libc::NETLINK_ROUTE),
    ("NETLINK_USERSOCK", libc::NETLINK_USERSOCK),
    ("NETLINK_FIREWALL", libc::NETLINK_FIREWALL),
    ("NETLINK_SOCK_DIAG", libc::NETLINK_SOCK_DIAG),
    ("NETLINK_NFLOG", libc::NETLINK_NFLOG),
    ("NETLINK_XFRM", libc::NETLINK_XFRM),
    ("NETLINK_SELINUX", libc::NETLINK_SELINUX),
    ("NETLINK_ISCSI", libc::NETLINK_ISCSI),
    ("NETLINK_AUDIT", libc::NETLINK_AUDIT),
    ("NETLINK_FIB_LOOKUP", libc::NETLINK_FIB_LOOKUP),
    ("NETLINK_CONNECTOR", libc::NETLINK_CONNECTOR),
    ("NETLINK_NETFILTER", libc::NETLINK_NETFILTER),
    ("NETLINK_IP6_FW", libc::NETLINK_IP6_FW),
    ("NETLINK_DNRTMSG", libc::NETLINK_DNRTMSG),
    ("NETLINK_KOBJECT_UEVENT", libc::NETLINK_KOBJECT_UEVENT),
    ("NETLINK_GENERIC", libc::NETLINK_GENERIC),
    ("NETLINK_SCSITRANSPORT", libc::NETLINK_SCSITRANSPORT),
    ("NETLINK_ECRYPTFS", libc::NETLINK_ECRYPTFS),
    ("NETLINK_RDMA", libc::NETLINK_RDMA),
    ("NETLINK_CRYPTO", libc::NETLINK_CRYPTO),
];

/// NETLINK_ROUTE's message types.
const ROUTE_TYPES: [(&str, u16); 19] = [
    ("RTM_NEWLINK", libc::RTM_NEWLINK),
    ("RTM_DELLINK", libc::RTM_DELLINK),
    ("RTM_GETLINK", libc::RTM_GETLINK),
    ("RTM_SETLINK", libc::RTM_SETLINK),
    ("RTM_NEWADDR", libc::RTM_NEWADDR),
    ("RTM_DELADDR", libc::RTM_DELADDR),
    ("RTM_GETADDR", libc::RTM_GETADDR),
    ("RTM_NEWROUTE", libc::RTM_NEWROUTE),
    ("RTM_DELROUTE", libc::RTM_DELROUTE),
    ("RTM_GETROUTE", libc::RTM_GETROUTE),
    ("RTM_NEWNEIGH", libc::RTM_NEWNEIGH),
    ("RTM_DELNEIGH", libc::RTM_DELNEIGH),
    ("RTM_GETNEIGH", libc::RTM_GETNEIGH),
    ("RTM_NEWRULE", libc::RTM_NEWRULE),
    ("RTM_DELRULE", libc::RTM_DELRULE),
    ("RTM_GETRULE", libc::RTM_GETRULE),
    ("RTM_GETADDRLABEL", libc::RTM_GETADDRLABEL),
    ("RTM_GETNETCONF", libc::RTM_GETNETCONF),
    ("RTM_GETNSID", libc::RTM_GETNSID),
];

/// The ioctl requests leakcheck looks for.
const IOCTLS: [(&str, u32); 2] = [
    ("SIOCGIFCONF", libc::SIOCGIFCONF as u32),
    ("SIOCGIFADDR", libc::SIOCGIFADDR as u32),
];

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A number as strace prints one: decimal, or hex with `0x`; a trailing comment
/// (`0x2d /* AF_??? */`) is not part of it.
pub(crate) fn number(text: &str) -> Option<i64> {
    let text = text.split("/*").next().unwrap_or("").trim();
    match text.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// An address family: its name or its number.
pub(crate) fn family(text: &str) -> Option<i32> {
    let text = text.trim();
    lookup(&FAMILIES, text).or_else(|| number(text).and_then(|n| i32::try_from(n).ok()))
}

/// A socket type without its flags (`SOCK_STREAM|SOCK_CLOEXEC` is SOCK_STREAM).
pub(crate) fn socket_type(text: &str) -> Option<i32> {
    let mut value = 0;
    for part in text.split('|') {
        let part = part.trim();
        value |= lookup(&SOCKET_TYPES, part)
            .or_else(|| lookup(&SOCKET_FLAGS, part))
            .or_else(|| number(part).and_then(|n| i32::try_from(n).ok()))?;
    }
    Some(value & SOCK_TYPE_MASK)
}

/// A protocol: its name or its number.
pub(crate) fn protocol(text: &str) -> Option<i32> {
    let text = text.trim();
    lookup(&PROTOCOLS, text).or_else(|| number(text).and_then(|n| i32::try_from(n).ok()))
}

/// A NETLINK_ROUTE message type by its name.
pub(crate) fn route_type(name: &str) -> Option<u16> {
    lookup(&ROUTE_TYPES, name)
}

/// An ioctl request: its name or its number.
pub(crate) fn ioctl_request(text: &str) -> Option<u32> {
    let text = text.trim();
    lookup(&IOCTLS, text).or_else(|| number(text).and_then(|n| u32::try_from(n).ok()))
}

/// The name the native tracer writes for an address family; None for one it writes as a
/// number.
pub(crate) fn family_name(family: u16) -> Option<&'static str> {
    Some(match family as i32 {
        libc::AF_UNSPEC => "AF_UNSPEC",
        libc::AF_UNIX => "AF_UNIX",
        libc::AF_INET => "AF_INET",
        libc::AF_INET6 => "AF_INET6",
        libc::AF_NETLINK => "AF_NETLINK",
        libc::AF_PACKET => "AF_PACKET",
        libc::AF_ALG => "AF_ALG",
        libc::AF_VSOCK => "AF_VSOCK",
        libc::AF_XDP => "AF_XDP",
        libc::AF_BLUETOOTH => "AF_BLUETOOTH",
        libc::AF_CAN => "AF_CAN",
        libc::AF_TIPC => "AF_TIPC",
        libc::AF_RDS => "AF_RDS",
        libc::AF_AX25 => "AF_AX25",
        libc::AF_IPX => "AF_IPX",
        libc::AF_APPLETALK => "AF_APPLETALK",
        libc::AF_IB => "AF_IB",
        42 => "AF_QIPCRTR",
        _ => return None,
    })
}

/// An address family, by name or as `0x2d /* AF_??? */`.
pub(crate) fn write_family(out: &mut String, family: u16) {
    match family_name(family) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{family:#x} /* AF_??? */");
        }
    }
}

/// A socket type and its flags (`SOCK_STREAM|SOCK_CLOEXEC`, `0x7 /* SOCK_??? */`).
pub(crate) fn write_socket_type(out: &mut String, ty: u64) {
    let base = ty & SOCK_TYPE_MASK as u64;
    match SOCKET_TYPES.iter().find(|(_, n)| *n as u64 == base) {
        Some((name, _)) => out.push_str(name),
        None => {
            let _ = write!(out, "{base:#x} /* SOCK_??? */");
        }
    }
    for (name, flag) in SOCKET_FLAGS {
        if ty & flag as u64 != 0 {
            out.push('|');
            out.push_str(name);
        }
    }
}

/// The name the native tracer writes for a NETLINK_ROUTE message type (the requests
/// that read the host's links, addresses and routes); None for one it writes as a
/// number.
pub(crate) fn route_type_name(ty: u16) -> Option<&'static str> {
    ROUTE_TYPES
        .iter()
        .find(|(_, n)| *n == ty)
        .map(|(name, _)| *name)
        .filter(|name| matches!(*name, "RTM_GETLINK" | "RTM_GETADDR" | "RTM_GETROUTE"))
}

/// The name of an ioctl request leakcheck looks for.
pub(crate) fn ioctl_name(request: u32) -> Option<&'static str> {
    IOCTLS
        .iter()
        .find(|(_, n)| *n == request)
        .map(|(name, _)| *name)
}

/// A failed call's result: `-1 ENOENT (No such file or directory)`, or
/// `-1 (errno N)` for a number without a name.
pub(crate) fn write_errno(out: &mut String, errno: i64) {
    let e = nix::errno::Errno::from_raw(errno as i32);
    if e == nix::errno::Errno::UnknownErrno {
        let _ = write!(out, "-1 (errno {errno})");
    } else {
        let _ = write!(out, "-1 {e:?} ({})", e.desc());
    }
}
