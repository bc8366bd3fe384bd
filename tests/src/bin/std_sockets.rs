//! Ordinary use of Rust std sockets whose descriptors the trace never shows created:
//! `UnixStream::pair` (socketpair), `TcpListener::accept` (accept4) and `try_clone`
//! (fcntl F_DUPFD_CLOEXEC). std writes with `send(fd, buf, len, MSG_NOSIGNAL)`, a
//! `sendto` without address, so leakcheck must look each descriptor up while the
//! program runs; none of this may make the verdict unverified. Loopback only.
//!
//! Usage: `std-sockets [ROUNDS]` (default 1); exits right after its last send, which is
//! the hardest case for a look-up that runs behind the program.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        round();
    }
    // The last send, then exit at once.
    let (mut a, _b) = UnixStream::pair().expect("socketpair");
    a.write_all(b"bye").expect("send");
}

fn round() {
    let (mut a, mut b) = UnixStream::pair().expect("socketpair");
    a.write_all(b"x").expect("send");
    let mut one = [0u8; 1];
    b.read_exact(&mut one).expect("recv");
    let mut b2 = b.try_clone().expect("try_clone");
    b2.write_all(b"y").expect("send");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let mut client = TcpStream::connect(addr).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    server.write_all(b"hello").expect("send");
    let mut server2 = server.try_clone().expect("try_clone");
    server2.write_all(b"again").expect("send");
    client.write_all(b"q").expect("send");
    let mut client2 = client.try_clone().expect("try_clone");
    client2.write_all(b"r").expect("send");
    let mut buf = [0u8; 10];
    client.read_exact(&mut buf).expect("recv");
    drop((server, server2));
}
