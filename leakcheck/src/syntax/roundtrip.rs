//! A typed line's text parses into the event the line shows: `parse(render(line))` is
//! `line.event_kind()`, for the lines the native tracer writes (hand-picked shapes, then
//! many generated ones). This is what lets the native tracer skip the text: its events
//! are the ones its text would have given.

use super::*;
use crate::event::{EventKind, NetlinkType, ProcessEnd, SockAddr};
use std::borrow::Cow;

/// What the parser makes of a rendered line, checked against the line's own event.
fn both(line: &Line) -> Result<EventKind, String> {
    let mut text = String::new();
    render::line(&mut text, 7, line);
    let mut out = Vec::new();
    let parsed = Parser::new()
        .parse_line(&text, &mut out)
        .map(|()| {
            assert_eq!(out.len(), 1, "{text}: {out:?}");
            out.remove(0).kind
        })
        .map_err(|e| {
            assert_eq!(e.line, text);
            e.reason
        });
    let direct = line.event_kind();
    assert_eq!(normalized(direct.clone()), parsed, "{text}");
    direct
}

/// The text cannot say that a route message type it writes as a number is a route
/// type: it reads back as a bare number, which the judge treats alike.
fn normalized(kind: Result<EventKind, String>) -> Result<EventKind, String> {
    let mut kind = kind?;
    if let EventKind::Send { netlink_types, .. } = &mut kind {
        for t in netlink_types.iter_mut() {
            if let NetlinkType::Route(ty) = *t {
                if names::route_type_name(ty).is_none() {
                    *t = NetlinkType::Bare(ty);
                }
            }
        }
    }
    Ok(kind)
}

fn read(bytes: &[u8]) -> Addr {
    Addr::Read(SockAddrBytes::new(bytes).expect("a family"))
}

fn sockaddr_in(port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    b.extend(port.to_be_bytes());
    b.extend(ip);
    b.extend([0u8; 8]);
    b
}

fn connect(addr: Addr) -> Line<'static> {
    Line::Call(
        Call::Connect {
            fd: 3,
            addr,
            len: 16,
        },
        Ret::Errno(i64::from(libc::ENETUNREACH)),
    )
}

fn connect_dest(addr: &[u8]) -> SockAddr {
    match both(&connect(read(addr))) {
        Ok(EventKind::Connect {
            addr, ok: false, ..
        }) => addr,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ipv4_round_trips_through_the_parser() {
    assert_eq!(
        connect_dest(&sockaddr_in(53, [1, 2, 3, 4])),
        SockAddr::Ip("1.2.3.4:53".parse().unwrap())
    );
}

#[test]
fn ipv6_and_mapped_round_trip() {
    let mut b = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
    b.extend(443u16.to_be_bytes());
    b.extend([0u8; 4]);
    b.extend(
        "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend(1u32.to_ne_bytes());
    assert_eq!(
        connect_dest(&b),
        SockAddr::Ip("[2001:db8::1]:443".parse().unwrap())
    );
    b[8..24].copy_from_slice(
        &"::ffff:9.9.9.9"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    assert_eq!(
        connect_dest(&b),
        SockAddr::Ip("9.9.9.9:443".parse().unwrap())
    );
}

#[test]
fn short_addresses_are_undecoded() {
    let b = sockaddr_in(53, [1, 2, 3, 4]);
    assert!(matches!(connect_dest(&b[..6]), SockAddr::Undecoded(_)));
    let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
    v6.extend([0u8; 10]);
    assert!(matches!(connect_dest(&v6), SockAddr::Undecoded(_)));
    // Unreadable memory: the pointer.
    assert!(matches!(
        both(&connect(Addr::Pointer(0x1000))),
        Ok(EventKind::Connect { addr: SockAddr::Undecoded(raw), .. }) if raw == "0x1000"
    ));
    // No address at all: refused, as the parser refuses the line.
    assert_eq!(
        both(&connect(Addr::Null)),
        Err("connect with a NULL address".to_string())
    );
}

#[test]
fn unix_paths_abstract_names_and_unnamed() {
    let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    b.extend(b"/run/nscd/socket\0junk");
    assert_eq!(
        connect_dest(&b),
        SockAddr::Unix {
            path: "/run/nscd/socket".into(),
            is_abstract: false
        }
    );
    let mut b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    b.extend(b"\0we\"ird\n\xff name");
    assert_eq!(
        connect_dest(&b),
        SockAddr::Unix {
            path: String::from_utf8_lossy(b"we\"ird\n\xff name").into_owned(),
            is_abstract: true
        }
    );
    let b = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    assert_eq!(
        connect_dest(&b),
        SockAddr::Unix {
            path: String::new(),
            is_abstract: false
        }
    );
}

#[test]
fn other_families_are_named_or_numbered() {
    let mut b = (libc::AF_VSOCK as u16).to_ne_bytes().to_vec();
    b.extend([0u8; 14]);
    assert_eq!(connect_dest(&b), SockAddr::Other(Some(libc::AF_VSOCK)));
    let mut b = 0x2du16.to_ne_bytes().to_vec();
    b.extend([0u8; 14]);
    assert_eq!(connect_dest(&b), SockAddr::Other(Some(0x2d)));
    let mut b = (libc::AF_UNSPEC as u16).to_ne_bytes().to_vec();
    b.extend([0u8; 14]);
    assert_eq!(connect_dest(&b), SockAddr::Unspec);
}

fn sendto(buf: Buf, dest: Addr) -> Line {
    Line::Call(
        Call::SendTo {
            fd: 3,
            buf,
            len: 20,
            flags: 0,
            dest,
            addrlen: 0,
        },
        Ret::Unknown,
    )
}

#[test]
fn netlink_types_are_named_only_for_route() {
    let mut msg = 20u32.to_ne_bytes().to_vec();
    msg.extend(0x16u16.to_ne_bytes());
    msg.extend([0u8; 14]);
    let types = |protocol| {
        let buf = Buf::Netlink {
            bytes: Cow::Borrowed(&msg[..]),
            protocol,
        };
        match both(&sendto(buf, Addr::Null)) {
            Ok(EventKind::Send { netlink_types, .. }) => netlink_types,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        types(Some(libc::NETLINK_ROUTE)),
        [NetlinkType::Route(libc::RTM_GETADDR)]
    );
    assert_eq!(types(None), [NetlinkType::Bare(0x16)]);
    assert_eq!(types(Some(libc::NETLINK_GENERIC)), [NetlinkType::Other]);
}

#[test]
fn payload_strings_round_trip() {
    let payload: Vec<u8> = (0u8..=255).collect();
    let buf = Buf::Text {
        bytes: Cow::Borrowed(&payload[..]),
        cut: true,
    };
    match both(&sendto(buf, Addr::Null)) {
        Ok(EventKind::Send {
            payloads,
            destinations,
            ..
        }) => {
            assert_eq!(payloads, [payload]);
            assert!(destinations.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_messages_data_round_trips() {
    let queries: [&[u8]; 2] = [
        b"\x9f8\x01\0\0\x01query-a",
        b"\x9f9\x01\0\0\x01query-aaaa\"",
    ];
    let msgs: Vec<Msg> = queries
        .iter()
        .map(|q| Msg {
            name: Addr::Null,
            namelen: 0,
            iov: Iov::First {
                base: Buf::Text {
                    bytes: Cow::Borrowed(q),
                    cut: false,
                },
                len: q.len() as u64,
            },
            iovlen: 1,
        })
        .collect();
    let line = Line::Call(
        Call::SendMmsg {
            fd: 3,
            vec: Msgs::Read(&msgs),
            vlen: 2,
            flags: libc::MSG_NOSIGNAL as u32,
        },
        Ret::Unknown,
    );
    match both(&line) {
        Ok(EventKind::Send { payloads, .. }) => assert_eq!(payloads, queries),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_getsockname_without_result_tells_nothing() {
    // What a getsockname cut short by its task's death is written as.
    let line = Line::Call(
        Call::GetSockName {
            fd: 3,
            addr: 0x7ffc_0000,
            len: 0x7ffc_0010,
            name: None,
        },
        Ret::Unknown,
    );
    assert_eq!(both(&line), Ok(EventKind::Nothing));
}

/// xorshift64*: deterministic, so a failure names a case that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| match self.below(4) {
                // Bytes that need escapes, and printable ones.
                0 => [0u8, b'"', b'\\', b'\n', 0xff][self.below(5) as usize],
                _ => self.below(256) as u8,
            })
            .collect()
    }

    fn sockaddr(&mut self) -> Vec<u8> {
        let families = [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_UNIX,
            libc::AF_NETLINK,
            libc::AF_UNSPEC,
            libc::AF_PACKET,
            libc::AF_VSOCK,
            libc::AF_BRIDGE,
            0x2d,
            0x7fff,
        ];
        let family = families[self.below(families.len() as u64) as usize] as u16;
        let len = [2, 6, 8, 16, 23, 24, 28, 110, 128][self.below(9) as usize];
        let mut b = family.to_ne_bytes().to_vec();
        b.extend(self.bytes(len - 2));
        if family == libc::AF_INET6 as u16 && self.below(3) == 0 && b.len() >= 24 {
            // An IPv4-mapped address now and then.
            b[8..20].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        }
        b
    }

    fn addr(&mut self) -> Addr {
        match self.below(6) {
            0 => Addr::Null,
            1 => Addr::Pointer(self.next()),
            _ => read(&self.sockaddr()),
        }
    }

    fn netlink(&mut self) -> Vec<u8> {
        let mut b = Vec::new();
        for _ in 0..self.below(4) {
            let len = [16u32, 20, 3, 40, 0xffff_fff0][self.below(5) as usize];
            let ty = [
                libc::RTM_GETADDR,
                libc::RTM_GETLINK,
                libc::RTM_NEWADDR,
                0x10,
                0x7777,
            ][self.below(5) as usize];
            b.extend(len.to_ne_bytes());
            b.extend(ty.to_ne_bytes());
            let n = 10 + self.below(14) as usize;
            b.extend(self.bytes(n));
        }
        b
    }

    fn buf(&mut self) -> Buf<'static> {
        match self.below(3) {
            0 => Buf::Pointer(self.next()),
            1 => Buf::Text {
                bytes: Cow::Owned({
                    let n = self.below(70) as usize;
                    self.bytes(n)
                }),
                cut: self.below(2) == 0,
            },
            _ => Buf::Netlink {
                bytes: Cow::Owned(self.netlink()),
                protocol: [None, Some(libc::NETLINK_ROUTE), Some(libc::NETLINK_GENERIC)]
                    [self.below(3) as usize],
            },
        }
    }

    fn msg(&mut self) -> Msg<'static> {
        let iov = match self.below(3) {
            0 => Iov::Pointer(self.next()),
            // Netlink requests, and data to port 53 (DNS queries), have their buffer read.
            _ => Iov::First {
                base: self.buf(),
                len: self.below(5000),
            },
        };
        Msg {
            name: self.addr(),
            namelen: self.below(200) as u32,
            iov,
            iovlen: self.below(3),
        }
    }

    fn ret(&mut self) -> Ret {
        match self.below(4) {
            0 => Ret::Unknown,
            1 => Ret::Errno([libc::ENETUNREACH, libc::EPERM, 4000][self.below(3) as usize].into()),
            _ => Ret::Value([0, 3, 42, -5][self.below(4) as usize]),
        }
    }

    fn line(&mut self) -> Line<'static> {
        let fd = [3, 0, -1, 1024][self.below(4) as usize];
        let flags = [0, libc::MSG_NOSIGNAL, libc::MSG_FASTOPEN, -1][self.below(4) as usize] as u32;
        let call = match self.below(17) {
            0 => Call::Socket {
                family: [2, 10, 1, 16, 17, 40, 0x2d][self.below(7) as usize],
                ty: [1, 2, 3, 5, 7, 10, 0x80801][self.below(7) as usize],
                protocol: [0, 6, 17, 1, -1][self.below(5) as usize],
            },
            1 => Call::Connect {
                fd,
                addr: self.addr(),
                len: 16,
            },
            2 => Call::Bind {
                fd,
                addr: self.addr(),
                len: 16,
            },
            3 => Call::Listen { fd, backlog: 128 },
            4 => Call::GetSockName {
                fd,
                addr: self.next(),
                len: self.next(),
                name: (self.below(3) > 0).then(|| (self.addr(), 16)),
            },
            5 | 6 => Call::SendTo {
                fd,
                buf: self.buf(),
                len: self.below(100),
                flags,
                dest: self.addr(),
                addrlen: 16,
            },
            7 => Call::SendMsg {
                fd,
                msg: match self.below(4) {
                    0 => MsgHdr::Pointer(self.next()),
                    _ => MsgHdr::Read(self.msg()),
                },
                flags,
            },
            8 => Call::SendMmsg {
                fd,
                vec: match self.below(4) {
                    0 => Msgs::Pointer(self.next()),
                    _ => {
                        let n = self.below(4);
                        let msgs: Vec<Msg<'static>> = (0..n).map(|_| self.msg()).collect();
                        // Leaked: a test's few kilobytes.
                        Msgs::Read(Vec::leak(msgs))
                    }
                },
                vlen: 3,
                flags,
            },
            9 => Call::Ioctl {
                fd,
                request: [libc::SIOCGIFCONF as u32, libc::SIOCGIFADDR as u32, 0x5401]
                    [self.below(3) as usize],
                arg: self.next(),
            },
            10 => Call::IoUringSetup {
                entries: 8,
                params: self.next(),
            },
            11 => Call::IoUringEnter {
                fd,
                to_submit: 1,
                min_complete: 0,
            },
            12 => Call::IoUringRegister { fd, opcode: 2 },
            13 => Call::SetName {
                name: Cow::Owned({
                    let n = self.below(16) as usize;
                    self.bytes(n)
                }),
            },
            14 => match self.below(3) {
                0 => Call::CloneUntraced {
                    stack: self.next(),
                    flags: 0x11,
                },
                1 => Call::Ptrace {
                    seize: self.below(2) == 0,
                    pid: 99,
                },
                _ => Call::SeccompListener { prog: self.next() },
            },
            15 => Call::Exec {
                path: Cow::Owned(String::from_utf8_lossy(&self.bytes(12)).into_owned()),
            },
            _ => Call::Spawn(
                [
                    Spawn::Fork,
                    Spawn::Vfork,
                    Spawn::Clone { thread: true },
                    Spawn::Clone { thread: false },
                ][self.below(4) as usize],
            ),
        };
        let ret = match call {
            // Sends and the calls written at entry are never waited for.
            Call::SendTo { .. }
            | Call::SendMsg { .. }
            | Call::SendMmsg { .. }
            | Call::SetName { .. }
            | Call::CloneUntraced { .. }
            | Call::Ptrace { .. }
            | Call::SeccompListener { .. } => Ret::Unknown,
            Call::Exec { .. } => Ret::Value(0),
            Call::Spawn(_) => Ret::Value([1234, 0][self.below(2) as usize]),
            _ => self.ret(),
        };
        if self.below(20) == 0 {
            return Line::End(match self.below(2) {
                0 => ProcessEnd::Exited(self.below(256) as i32),
                _ => ProcessEnd::Killed("SIGKILL".into()),
            });
        }
        Line::Call(call, ret)
    }
}

#[test]
fn generated_lines_read_as_their_text_parses() {
    let mut rng = Rng(0x5eed_1eac_c4ec_0001);
    for _ in 0..20_000 {
        let _ = both(&rng.line());
    }
}
