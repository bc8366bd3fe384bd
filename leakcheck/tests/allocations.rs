//! The native tracer's hot path: a send under seccomp notification becomes an event while
//! its caller waits. Building the event from the typed line must not allocate more than
//! the text round trip it replaced (render the line, parse it back), and here it
//! allocates once: the destinations' vector.
//!
//! A counting global allocator; one test function, so nothing else allocates meanwhile.

use leakcheck::syntax::Parser;
use leakcheck::syntax::{
    render, Addr, Buf, Call, Iov, Line, Msg, MsgHdr, Msgs, Ret, SockAddrBytes,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn loopback(port: u16) -> Addr {
    let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    b.extend(port.to_be_bytes());
    b.extend([127, 0, 0, 1]);
    b.extend([0u8; 8]);
    Addr::Read(SockAddrBytes::new(&b).unwrap())
}

fn msg(port: u16) -> Msg<'static> {
    Msg {
        name: loopback(port),
        namelen: 16,
        iov: Iov::Pointer(0x7ffc_0000_1000),
        iovlen: 1,
    }
}

#[test]
fn a_send_event_allocates_no_more_than_its_text_did() {
    let msgs = [msg(9), msg(10)];
    let lines = [
        Line::Call(
            Call::SendTo {
                fd: 3,
                buf: Buf::Pointer(0x5555_0000_2000),
                len: 8,
                flags: 0,
                dest: loopback(9),
                addrlen: 16,
            },
            Ret::Unknown,
        ),
        Line::Call(
            Call::SendMsg {
                fd: 3,
                msg: MsgHdr::Read(msg(9)),
                flags: 0,
            },
            Ret::Unknown,
        ),
        Line::Call(
            Call::SendMmsg {
                fd: 3,
                vec: Msgs::Read(&msgs),
                vlen: 2,
                flags: 0,
            },
            Ret::Unknown,
        ),
    ];
    let mut text = String::with_capacity(1024);
    let mut parser = Parser::new();
    let mut events = Vec::with_capacity(4);
    for line in &lines {
        // Warm the buffers the text path reuses.
        text.clear();
        render::line(&mut text, 4242, line);
        let typed = allocations(|| {
            let kind = line.event_kind().expect("an event");
            std::hint::black_box(kind);
        });
        let round_trip = allocations(|| {
            text.clear();
            render::line(&mut text, 4242, line);
            events.clear();
            parser.parse_line(&text, &mut events).expect("parses");
            std::hint::black_box(&events);
        });
        println!("{text}\n  typed: {typed} allocations, text round trip: {round_trip}");
        assert_eq!(typed, 1, "{text}");
        assert!(typed <= round_trip, "{text}");
    }
}
